# %% [markdown]
# # 4. Attribute-aware channel attention
#
# Spatial attention decides *where* to look; ASEN's {cite}`ma2020asen` second module, the attribute-aware
# channel attention (ACA, here in ASEN++'s form, the global branch of this book's "ASEN"),
# decides *which features* matter for an attribute. It multiplies the pooled feature vector by a mask of
# per-channel weights in $(0, 1)$ computed from the feature and the attribute. This chapter recomputes the mask
# by hand against the library, shows the masks of the trained ASEN per attribute and channel, measures how much
# of a mask is set by the attribute rather than by the image, compares the attributes' masks with each other,
# and finally switches ACA off (a separately trained ablation model) to see what it contributes to retrieval.

# %% tags=["parameters"]
profile = "cpu"
dataset = "SynthFashion"
data_root = None
device = "auto"
seed = 0
runs_root = "runs/synthfashion"
results_dir = "results/book"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from IPython.display import display

import asen.book
from asen.book import glue
from asen.checkpoint import load_model
from asen.data import ImageSet, collate_images
from asen.reproduce import evaluate_checkpoint
from asen.runs import write_json

ctx = asen.book.setup(globals())  # seed, device, data and run cache
print(ctx)
files, meta = ctx.files, ctx.files.meta
results: dict = {"profile": ctx.profile}

# %% [markdown]
# ## The module
#
# After spatial attention, the image is one vector $\bar f \in \mathbb{R}^C$. ACA (ASEN++ Eq. 4-6) maps the
# attribute embedding $e_a$ through its own layer, concatenates it with $\bar f$, and computes a mask with a
# two-layer bottleneck (reduction rate $r = 2$), as in squeeze-and-excitation networks:
#
# $$
# m = \sigma\!\bigl(W_2\,\delta(W_1 [\bar f;\ \delta(W_a e_a + b_a)] + b_1) + b_2\bigr) \in (0,1)^C,
# \qquad f' = m \odot \bar f ,
# $$
#
# with $\delta$ the ReLU and $\sigma$ the sigmoid. A mask value near 0 switches a channel off for this attribute
# (and this image); near 1 it passes the channel unchanged. The re-weighted $f'$ then goes through `feature_fc`
# to the embedding. The book's trained ASEN, and the same recomputation by hand as in chapter 3:

# %%
ckpt = ctx.trained("asen")
model, cfg, info = load_model(ckpt, ctx.device)
channel = model.global_branch.channel
test_set = ImageSet(files.root, files.filenames["test"], cfg.data.global_size)


def pooled_features(
    image_ids: np.ndarray, attrs: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spatially pooled features (B, C) and attribute embeddings (B, A) of images
    under attributes."""
    x = collate_images([test_set[int(i)] for i in image_ids])["image"].to(ctx.device)
    a = torch.as_tensor(attrs, device=ctx.device)
    with torch.no_grad():
        e = model.attr_embedding(a)
        pooled, _ = model.global_branch.spatial(model.global_branch.backbone(x), e)
    return pooled, e


def mask_by_hand(pooled: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    att = torch.relu(channel.attr_transform(e))  # (B, A)
    hidden = torch.relu(channel.fc1(torch.cat([pooled, att], dim=1)))  # (B, C/r)
    return torch.sigmoid(channel.fc2(hidden))  # (B, C)


queries = files.queries["test"]
pooled, e = pooled_features(queries[:8, 0], queries[:8, 1])
with torch.no_grad():
    torch.testing.assert_close(pooled * mask_by_hand(pooled, e), channel(pooled, e))
C = pooled.shape[1]
print(f"{C} channels, bottleneck of {channel.fc1.out_features}")
print("the mask recomputed by hand matches the library")

# %% [markdown]
# ## Masks per attribute and channel
#
# Every test-query image is now embedded under **every** attribute (not only the one it is labelled with), so
# the masks of different attributes are compared on the same images.

# %%
rng = np.random.default_rng(seed)
image_ids = np.unique(queries[:, 0])
image_ids = rng.choice(image_ids, size=min(len(image_ids), 256), replace=False)
A = meta.num_attributes
masks = np.zeros((A, len(image_ids), C), dtype=np.float32)  # attribute, image, channel
for a in range(A):
    for start in range(0, len(image_ids), 64):
        ids = image_ids[start : start + 64]
        p, e = pooled_features(ids, np.full(len(ids), a))
        with torch.no_grad():
            masks[a, start : start + len(ids)] = mask_by_hand(p, e).cpu().numpy()
mean_mask = masks.mean(axis=1)  # (A, C)
# channels whose mean mask differs most between attributes first
order = np.argsort(-mean_mask.std(axis=0))

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(12, 3.6))
sns.heatmap(
    mean_mask[:, order],
    ax=ax,
    cmap="mako",
    vmin=0,
    vmax=1,
    cbar_kws={"label": "mean mask value"},
    yticklabels=list(meta.attributes),
    xticklabels=False,
)
ax.set_xlabel(
    f"channel ({C}, sorted by how much the attributes disagree on it, left = most)"
)
ax.set_ylabel("attribute")
ax.set_title(
    "Channel attention masks of the trained ASEN, "
    f"averaged over {len(image_ids)} test images"
)
plt.show()

# %% [markdown]
# How much of a mask is decided by the attribute, and how much by the image? Split the variance of all mask
# values $m_{a,i,c}$ (attribute $a$, image $i$, channel $c$) per channel into the part explained by the
# attribute (the variance of the per-attribute means) and the rest (images within an attribute):

# %%
total_var = masks.var(axis=(0, 1))  # (C,) over attributes and images
between = mean_mask.var(axis=0)  # (C,) variance of the attribute means
share = float(between.sum() / max(total_var.sum(), 1e-12))
saturation = {
    "below 0.1": float((masks < 0.1).mean()),
    "above 0.9": float((masks > 0.9).mean()),
}
results["masks"] = {
    "channels": C,
    "images": int(len(image_ids)),
    "attribute_share_of_variance": share,
    "mean": float(masks.mean()),
    "fraction": saturation,
}
glue(
    mask_images=len(image_ids),
    n_attributes=A,
    mask_mean=masks.mean(),
    mask_std=masks.std(),
    below=100 * saturation["below 0.1"],
    above=100 * saturation["above 0.9"],
    attribute_share=100 * share,
)

# %% [markdown]
# Across {glue:text}`mask_images` images and {glue:text}`n_attributes` attributes the mask values average
# **{glue:text}`mask_mean:.2f`** (standard deviation {glue:text}`mask_std:.3f`);
# {glue:text}`below:.1f` % of them are below 0.1 (channel switched off) and {glue:text}`above:.1f` % above
# 0.9. The attribute explains **{glue:text}`attribute_share:.1f` %** of the variance of the mask values;
# the rest varies from image to image under the same attribute. Above one half, the masks are mainly
# *attribute* masks: each attribute selects its own channels. Below it, they depend more on the image than
# on the attribute, and ACA acts as an image-dependent gate that the attribute only shifts. A small standard
# deviation means ACA barely re-weights anything yet, as expected of a model trained for a few steps (the
# `smoke` profile).

# %% tags=["hide-input"]
# The claims above, checked: a false claim fails the build.
assert 0 <= share <= 1 + 1e-6
assert saturation["below 0.1"] + saturation["above 0.9"] <= 1

# %% [markdown]
# ## Which attributes use the same channels?
#
# The correlation between the attributes' mean masks (over channels) shows which attributes share features.
# One would expect the four design attributes, all read around the neck, to resemble each other more than they
# resemble the length attributes.

# %% tags=["hide-input"]
corr = np.corrcoef(mean_mask)
fig, ax = plt.subplots(figsize=(6.4, 5.2))
sns.heatmap(
    corr,
    ax=ax,
    cmap="vlag",
    vmin=-1,
    vmax=1,
    annot=True,
    fmt=".2f",
    annot_kws={"fontsize": 7},
    xticklabels=list(meta.attributes),
    yticklabels=list(meta.attributes),
    cbar_kws={"label": "correlation of mean masks"},
)
ax.set_title("Similarity of the attributes' channel masks")
plt.show()

# %%
design = [
    meta.attributes.index(a)
    for a in ("collar_design", "lapel_design", "neckline_design", "neck_design")
]
length = [
    meta.attributes.index(a)
    for a in ("skirt_length", "sleeve_length", "coat_length", "pant_length")
]
within = lambda idx: float(  # noqa: E731
    np.mean([corr[i, j] for i in idx for j in idx if i < j])
)
across = float(np.mean([corr[i, j] for i in design for j in length]))
results["correlation"] = {
    "within_design": within(design),
    "within_length": within(length),
    "across": across,
}
glue(within_design=within(design), within_length=within(length), across=across)

# %% [markdown]
# Mean correlation within the design attributes **{glue:text}`within_design:.2f`**, within the length
# attributes **{glue:text}`within_length:.2f`**, across the two groups **{glue:text}`across:.2f`**. Where
# attributes read from the same region share channels, both within-group correlations stand clearly above
# the across-group one; where they do not, this model's masks do not separate the two groups.

# %% [markdown]
# ## Switching ACA off
#
# The ablation model `no_aca` is trained exactly like ASEN (same data, steps and seed) with
# `model.channel_attention: false`, so the pooled feature goes to `feature_fc` unmasked. It is the same run
# that the ablation chapter uses ([chapter 9](09_ablations.ipynb)), trained once for the whole book. Test MAP
# per attribute of both models:

# %%
ablation = ctx.trained("no_aca")
scores = {}
for name, path in (("ASEN", ckpt), ("ASEN w/o ACA", ablation)):
    table = evaluate_checkpoint(
        path, files, ctx.device, progress=False, image_cache=ctx.image_cache
    )["main"]
    scores[name] = {**table.per_attribute, "overall": table.overall}
scores_df = pd.DataFrame(scores)
display(scores_df.round(2))

# %% tags=["hide-input"]
ax = scores_df.plot.bar(figsize=(10, 3.8), width=0.75, color=["#2a6f97", "#c9ada7"])
ax.set_ylabel("test MAP (%)")
ax.set_xlabel("attribute")
ax.set_title(
    "Test MAP with and without attribute-aware channel attention "
    "(stage 1, one seed)"
)
ax.set_xticklabels(
    [t.get_text().replace("_", "\n") for t in ax.get_xticklabels()],
    rotation=0,
    fontsize=8,
)
ax.grid(axis="y", alpha=0.3)
ax.legend()
plt.show()

# %%
gap = scores["ASEN"]["overall"] - scores["ASEN w/o ACA"]["overall"]
n_q = len(queries)
results["ablation"] = {
    "asen": scores["ASEN"],
    "no_aca": scores["ASEN w/o ACA"],
    "gap": gap,
    "queries": n_q,
}
write_json(ctx.results_dir / "04_channel_attention.json", results)
glue(
    map_aca=scores["ASEN"]["overall"],
    map_no_aca=scores["ASEN w/o ACA"]["overall"],
    aca_gap=gap,
    n_queries=n_q,
)

# %% [markdown]
# With ACA the overall test MAP is **{glue:text}`map_aca:.2f`**, without it **{glue:text}`map_no_aca:.2f`**:
# a difference of **{glue:text}`aca_gap:+.2f`** points. This is one seed on {glue:text}`n_queries` test
# queries, and one seed does not tell a small gap from seed-to-seed noise: it needs several seeds before it
# means anything ([chapter 9](09_ablations.ipynb) shows the ablation over three seeds once `make ablations`
# has run; in the cpu profile without it, for the first seed only).

# %% [markdown]
# ## Exercises
#
# 1. ACA's mask depends on the image as well as the attribute. Modify `mask_by_hand` so that it uses only the
#    attribute (replace $\bar f$ by zeros). How different are those masks from the mean masks above?
# 2. A sigmoid mask can only scale channels down. Why can it still change *which* images are nearest neighbours
#    under an attribute? Construct a 2-channel example where masking swaps the order of two candidates.
# 3. With $C$ channels and reduction rate $r$, how many parameters does ACA add for the paper's ResNet-50
#    ($C = 1024$, attribute embedding 512)? Compare with the backbone's parameters.
# 4. Sort the channels by the mask of `collar_design` and show the 8 test images with the highest pooled
#    feature $\bar f_c$ for the top channel $c$. What does the channel respond to?
# 5. Train `no_aca` with two more seeds (`ctx.trained("no_aca", seed=1)`) and ASEN likewise, and decide whether
#    the gap above is larger than the seed-to-seed spread.
#
# :::{dropdown} Hint for exercise 1
# `mask_by_hand` computes $\sigma(W_2\,\delta(W_1 [\bar f; e]))$: pass `torch.zeros_like(pooled)` for the pooled
# features and compare the result with the per-attribute mean masks (e.g. the mean absolute difference, or
# the correlation over channels). Small differences mean the mask is mostly a property of the attribute.
# :::
#
# :::{dropdown} Hint for exercise 2
# Scaling two channels by different factors changes the dot products unequally. Query $q = (1, 1)$,
# candidates $a = (2, 0)$ and $b = (0, 1.5)$: unmasked, $q \cdot a = 2 > q \cdot b = 1.5$; with the mask
# $(0.5, 1)$, $0.5 \cdot 2 = 1 < 1.5$, and $b$ overtakes $a$.
# :::
#
# :::{dropdown} Hint for exercise 3
# Count the layers of `asen.attention.ChannelAttention`: the attribute transform ($d \times d$), the first
# layer from $C + d$ inputs to $C / r$ and the second from $C / r$ to $C$, plus biases:
# $d^2 + (C + d)\,C/r + C^2/r$. With $C = 1024$, $d = 512$ and $r = 2$ (the library's default) that is about
# 1.6M, against about 25M for the whole ResNet-50.
# :::
#
# :::{dropdown} Hint for exercise 4
# Take the channel with the largest mean mask under `collar_design`, compute $\bar f_c$ for every test image
# with `pooled_features`, and show the 8 largest with `asen.plots.image_grid`. Look for what they share
# (a region, an edge direction, a colour) rather than their labels.
# :::
#
# :::{dropdown} Hint for exercise 5
# Compare the gap between ASEN and `no_aca` with the spread of each over its three seeds: a gap smaller than
# about twice the standard error of the paired differences is not established by these runs.
# :::
