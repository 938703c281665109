# %% [markdown]
# # 3. Attribute-aware spatial attention
#
# Where a garment shows its collar is not where it shows its skirt length. ASEN's {cite}`ma2020asen` first
# module, the
# attribute-aware spatial attention (ASA), in the form ASEN++ gives it (the global branch of this book's
# "ASEN"; the AAAI paper's own module differs in small ways, see below), turns the attribute into a *where to look* map over the image's
# feature grid and pools the features with it. This chapter writes the module down, recomputes it by hand
# against the library, and then looks at its maps: for the same images under all eight attributes, before
# training and after the book's ASEN model has been trained, overlaid on the images, and summarised by how
# concentrated the maps are and where they sit.

# %% tags=["parameters"]
profile = "cpu"
dataset = "SynthFashion"
data_root = None
device = "auto"
seed = 0
runs_root = "runs/synthfashion"
results_dir = "results/book"

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

import asen.book
from asen.book import glue
from asen.checkpoint import load_model
from asen.data import ImageSet, collate_images, global_view, open_image
from asen.model import build_model
from asen.plots import image_grid, show_attention, show_image
from asen.runs import write_json

ctx = asen.book.setup(globals())  # seed, device, data and run cache
print(ctx)
files, meta = ctx.files, ctx.files.meta
results: dict = {"profile": ctx.profile}

# %% [markdown]
# ## The module
#
# The backbone turns an image into a feature map $F \in \mathbb{R}^{C \times h \times w}$; the attribute $a$
# has a learned embedding $e_a$. ASA (ASEN++ Eq. 1-3) projects both into a common space of $C'$ dimensions,
# with $\tanh$ to keep them bounded, and scores each position by their inner product:
#
# $$
# s_{ij} = \operatorname{softmax}_{ij}\!\left(\frac{1}{\sqrt{C'}}\sum_{c=1}^{C'}
#   \tanh(W_F F_{:,ij} + b_F)_c \,\tanh(W_a e_a + b_a)_c\right),
# \qquad
# \bar f = \sum_{ij} s_{ij}\, F_{:,ij} .
# $$
#
# $W_F$ is a $1\times 1$ convolution. The map $s$ sums to one over the $h \times w$ positions, and the pooled
# feature $\bar f$ is a weighted sum of the feature vectors: a uniform map gives global average pooling, a
# one-hot map picks a single position. The attribute enters only through $\tanh(W_a e_a + b_a)$, a direction in
# the common space: each attribute "asks" for image regions whose features point the same way.
#
# The AAAI code computes the same idea a little differently: a one-hot attribute through a linear layer without
# bias, a $\tanh$ of the product and a $1\times 1$ convolution before the softmax, no $1/\sqrt{C'}$
# (`asen.aaai.ASENet`, trained beside this one in [chapter 8](08_main_table.ipynb)).
#
# The book's trained ASEN (ASEN++'s global branch, stage 1) comes from `ctx.trained("asen")`: trained on first
# use and loaded from `runs_root` by every later chapter.

# %%
ckpt = ctx.trained("asen")
trained, cfg, info = load_model(ckpt, ctx.device)
torch.manual_seed(seed)
untrained = build_model(cfg.model, meta.num_attributes, ctx.device).eval()
print(
    f"trained model: {ckpt.parent.parent.name}, best epoch {info['epoch'] + 1}, "
    f"validation MAP {info['mAP']:.2f}"
)

# %% [markdown]
# First the formula by hand, on a few test images, against the library's `SpatialAttention`:

# %%
test_set = ImageSet(files.root, files.filenames["test"], cfg.data.global_size)
queries = files.queries["test"]
rng = np.random.default_rng(seed)
picked = queries[rng.choice(len(queries), size=3, replace=False)]
x = collate_images([test_set[int(i)] for i in picked[:, 0]])["image"].to(
    ctx.device
)  # (3, 3, G, G)
attrs = torch.as_tensor(picked[:, 1], device=ctx.device)
branch = trained.global_branch
with torch.no_grad():
    feat = branch.backbone(x)  # (B, C, h, w)
    e = trained.attr_embedding(attrs)  # (B, A)
    img = torch.tanh(branch.spatial.conv(feat))  # (B, C', h, w)
    att = torch.tanh(branch.spatial.attr_transform(e))  # (B, C')
    logits = torch.einsum("bchw,bc->bhw", img, att) / math.sqrt(att.shape[1])
    s = torch.softmax(logits.flatten(1), dim=1).view_as(logits)  # (B, h, w)
    pooled_by_hand = torch.einsum("bchw,bhw->bc", feat, s)
    pooled, maps = branch.spatial(feat, e)
torch.testing.assert_close(s, maps)
torch.testing.assert_close(pooled_by_hand, pooled)
b, c, h, w = feat.shape
results["feature_map"] = {
    "channels": c,
    "height": h,
    "width": w,
    "common_dim": att.shape[1],
}
glue(
    fm_channels=c,
    fm_height=h,
    fm_width=w,
    fm_input=cfg.data.global_size,
    positions=h * w,
)

# %% [markdown]
# The backbone of this build gives a **{glue:text}`fm_channels` x {glue:text}`fm_height` x
# {glue:text}`fm_width`** feature map for a {glue:text}`fm_input` px input, so each attention map has
# {glue:text}`positions` positions (the paper's ResNet-50 gives 1024 x 14 x 14 at 224 px).

# %% [markdown]
# ## One image, eight questions
#
# The same three test images, under each of the eight attributes: the attention maps of the untrained network
# (top block) and of the trained ASEN (bottom block), overlaid on the images. The colour is the attention
# relative to a uniform map ($s_{ij} \cdot hw$: 1 = uniform, red = several times the uniform weight), on one
# scale for all panels, so a flat map looks flat.


# %%
def maps_all_attributes(model, images: torch.Tensor) -> np.ndarray:
    """(B, A, h, w) attention maps of every image under every attribute."""
    n_attr = meta.num_attributes
    with torch.no_grad():
        _, m = model(
            images.repeat_interleave(n_attr, dim=0),
            torch.arange(n_attr, device=ctx.device).repeat(len(images)),
        )
    return m.view(len(images), n_attr, *m.shape[1:]).cpu().numpy()


def square_original(image_id: int):
    """The full-resolution picture, centre-cropped square like the global view (so the
    map lines up)."""
    pic = open_image(files.root / files.filenames["test"][image_id])
    return global_view(pic, min(pic.size))


originals = [square_original(int(i)) for i in picked[:, 0]]
maps_before, maps_after = maps_all_attributes(untrained, x), maps_all_attributes(
    trained, x
)
vmax = max(
    2.0, float(np.percentile(np.concatenate([maps_before, maps_after]) * h * w, 99.5))
)

# %% tags=["hide-input"]
n_img, n_attr = len(originals), meta.num_attributes
fig, axes = image_grid(2 * n_img, n_attr + 1, size=1.45)
for block, (maps_, label) in enumerate(
    ((maps_before, "untrained"), (maps_after, "trained"))
):
    for r in range(n_img):
        row = block * n_img + r
        q_attr, q_val = int(picked[r, 1]), int(picked[r, 2])
        show_image(
            axes[row, 0],
            originals[r],
            (
                f"{label}\n{meta.value_names[q_attr][q_val]}"
                if r == 0
                else meta.value_names[q_attr][q_val]
            ),
        )
        for a in range(n_attr):
            overlay = show_attention(
                axes[row, a + 1],
                originals[r],
                maps_[r, a],
                meta.attributes[a].replace("_", "\n") if row == 0 else None,
                vmax=vmax,
            )
fig.colorbar(overlay, ax=axes, shrink=0.4, label="attention / uniform attention")
fig.suptitle(
    "Spatial attention of the same images under each attribute "
    "(top: untrained, bottom: trained)"
)
plt.show()

# %% [markdown]
# ## How concentrated, and where?
#
# Two numbers summarise a map. Its **normalised entropy** $-\sum_{ij} s_{ij}\log s_{ij} / \log(hw)$ is 1 for a
# uniform map and 0 for a single position. Its **vertical centre** $\sum_{ij} s_{ij}\, (i + \tfrac12)/h$ is the
# height it looks at, from 0 (top of the image) to 1 (bottom). Averaged over the test queries of each
# attribute, each under its own attribute:


# %%
def attention_stats(
    model, items: np.ndarray, batch: int = 64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item: normalised entropy, vertical centre; and the mean map per attribute
    (A, h, w)."""
    ent, centre, sums, counts = [], [], None, np.zeros(meta.num_attributes)
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        xb = collate_images([test_set[int(i)] for i in chunk[:, 0]])["image"].to(
            ctx.device
        )
        with torch.no_grad():
            _, m = model(xb, torch.as_tensor(chunk[:, 1], device=ctx.device))
        m = m.cpu().numpy()  # (b, h, w)
        hw = m.shape[1] * m.shape[2]
        ent.append(-(m * np.log(m + 1e-12)).sum(axis=(1, 2)) / np.log(hw))
        rows = (np.arange(m.shape[1]) + 0.5) / m.shape[1]
        centre.append((m.sum(axis=2) * rows).sum(axis=1))
        sums = np.zeros((meta.num_attributes, *m.shape[1:])) if sums is None else sums
        np.add.at(sums, chunk[:, 1], m)
        np.add.at(counts, chunk[:, 1], 1)
    return (
        np.concatenate(ent),
        np.concatenate(centre),
        sums / np.maximum(counts, 1)[:, None, None],
    )


ent_before, centre_before, _ = attention_stats(untrained, queries)
ent_after, centre_after, mean_maps = attention_stats(trained, queries)
stats = pd.DataFrame(
    {
        "attribute": [meta.attributes[a] for a in queries[:, 1]],
        "entropy untrained": ent_before,
        "entropy trained": ent_after,
        "centre untrained": centre_before,
        "centre trained": centre_after,
    }
)
per_attr = stats.groupby("attribute", sort=False).mean().reindex(list(meta.attributes))
display(per_attr.round(4))
results["per_attribute"] = per_attr.to_dict(orient="index")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
pos = np.arange(meta.num_attributes)
for k, (col, label) in enumerate((("untrained", "untrained"), ("trained", "trained"))):
    axes[0].bar(
        pos + (k - 0.5) * 0.38, per_attr[f"entropy {col}"], width=0.38, label=label
    )
    axes[1].bar(
        pos + (k - 0.5) * 0.38, per_attr[f"centre {col}"], width=0.38, label=label
    )
axes[0].set_ylabel("normalised entropy (1 = uniform)")
axes[0].set_title("How spread out the attention is")
axes[1].set_ylabel("vertical centre (0 = top, 1 = bottom)")
axes[1].set_title("Where the attention sits")
axes[1].axhline(0.5, color="grey", lw=0.8, ls=":")
for ax in axes:
    ax.set_xticks(pos, [a.replace("_", "\n") for a in meta.attributes], fontsize=8)
    ax.set_xlabel("attribute (test queries of that attribute)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
fig.tight_layout()
plt.show()

# %%
design = ["collar_design", "lapel_design", "neckline_design", "neck_design"]
length = ["skirt_length", "sleeve_length", "coat_length", "pant_length"]
e0, e1 = float(ent_before.mean()), float(ent_after.mean())
c_design, c_length = float(per_attr.loc[design, "centre trained"].mean()), float(
    per_attr.loc[length, "centre trained"].mean()
)
results["summary"] = {
    "entropy_untrained": e0,
    "entropy_trained": e1,
    "centre_design_trained": c_design,
    "centre_length_trained": c_length,
    "validation_map": info["mAP"],
}
glue(
    entropy_untrained=e0,
    entropy_trained=e1,
    centre_design=c_design,
    centre_length=c_length,
    build_profile=ctx.profile,
    validation_map=info["mAP"],
)

# %% [markdown]
# Before training the maps are almost uniform (mean normalised entropy
# **{glue:text}`entropy_untrained:.4f`**): the random projections barely prefer any position, so ASA starts
# as global average pooling. After training the mean entropy is **{glue:text}`entropy_trained:.4f`**. A clear
# drop means the maps have concentrated; a value still close to the untrained one means this model's pooling
# is still close to global average pooling. Where the maps sit is the other half of the lesson: the evidence
# of the design attributes is near the neck, so a specialised model looks higher up for them than for the
# length attributes. On average the trained maps of the design attributes sit at height
# **{glue:text}`centre_design:.2f`** and those of the length attributes at **{glue:text}`centre_length:.2f`**
# (0 is the top of the image). This page was built with the {glue:text}`build_profile` profile
# (validation MAP of the model {glue:text}`validation_map:.1f`); a model trained for a handful of steps
# (`smoke`) cannot be expected to have specialised its attention, and even a fully trained one may not, so
# the text gives both numbers and claims neither way.

# %% tags=["hide-input"]
# The claims above, checked: a false claim fails the build.
assert e0 > 0.95, "the untrained maps are almost uniform"
assert 0 <= c_design <= 1 and 0 <= c_length <= 1

# %% [markdown]
# The mean map per attribute over its test queries (trained model) shows the same on the image grid:

# %% tags=["hide-input"]
fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
for a, ax in enumerate(axes.flat):
    im = ax.imshow(mean_maps[a], cmap="viridis")
    ax.set_title(meta.attributes[a], fontsize=9)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    fig.colorbar(im, ax=ax, fraction=0.046)
fig.suptitle(
    f"Mean attention map per attribute over its test queries "
    f"(trained, {h} x {w} grid)"
)
fig.tight_layout()
plt.show()

# %%
write_json(ctx.results_dir / "03_spatial_attention.json", results)

# %% [markdown]
# ## Exercises
#
# 1. Show that with $W_F = 0$ the map is uniform, and that ASA then equals global average pooling. Check it
#    numerically by zeroing `spatial.conv.weight` and `spatial.conv.bias` of the untrained model.
# 2. The logits are divided by $\sqrt{C'}$. What happens to the maps of the *untrained* model if you remove the
#    scaling (multiply the logits by $\sqrt{C'}$)? Relate the answer to the entropy before training.
# 3. Compute the entropy of the trained maps separately for the queries whose value is *Invisible*. Are they
#    more or less concentrated than the others, and why might that be?
# 4. Feed an image under an attribute it was *not* labelled with (e.g. a skirt image under `collar_design`).
#    Does the map still move to the neck? What does that tell you about how the attribute is used?
# 5. The spatial map is computed once per (image, attribute). For a gallery of $N$ images and $A$ attributes,
#    how many backbone passes and how many attention passes does indexing need? Propose a cheaper schedule.
#
# :::{dropdown} Hint for exercise 1
# With $W_F = 0$ every logit is the same (the bias), so the softmax gives $1/(hw)$ everywhere and the weighted
# sum of the features is their mean: global average pooling. Zero both tensors and compare with
# `features.mean(dim=(2, 3))`.
# :::
#
# :::{dropdown} Hint for exercise 2
# Multiplying the logits by $\sqrt{C'}$ sharpens the softmax: even random projections then favour a few
# positions, so the untrained maps are already concentrated (lower entropy than the {glue:text}`entropy_untrained:.3f` measured above), and
# training starts from an arbitrary focus instead of from global pooling.
# :::
#
# :::{dropdown} Hint for exercise 3
# Select the queries with value 0 and average the normalised entropy of their maps. Invisible images hide the
# region (cropped, covered, seen from behind), so there is no consistent place to look: expect flatter maps.
# :::
#
# :::{dropdown} Hint for exercise 4
# The map is steered by the attribute, not by the image's label: under `collar_design` it moves towards the
# neck whatever the garment, because the attribute embedding tells ASA where that attribute's evidence usually
# is. The attribute is a query into the image.
# :::
#
# :::{dropdown} Hint for exercise 5
# The backbone features do not depend on the attribute: $N$ backbone passes, then $N \cdot A$ attention passes
# on the cached feature maps, which are cheap. Batch the $A$ attributes of one image together on its features.
# :::
