# %% [markdown]
# # 2. Triplets and the ranking loss
#
# ASEN learns from *relative* judgements: "under attribute $a$, image $x^+$ is more like the anchor $x$ than
# image $x^-$ is". This chapter shows where such triplets come from (the paper's random sampler and the
# in-batch sampler of the book's CPU protocol, every valid triplet of a batch as in {cite}`hermans2017defense`,
# with real SynthFashion triplets on screen), what the margin ranking loss {cite}`hoffer2015triplet` on cosine
# similarity does (on a toy 2-D example where every quantity can be drawn), why an
# untrained network cannot start learning without a normalisation layer, and the alignment loss that ties
# ASEN++'s two branches together.

# %% tags=["parameters"]
profile = "cpu"
dataset = "SynthFashion"
data_root = None
device = "auto"
seed = 0
runs_root = "runs/synthfashion"
results_dir = "results/book"

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from IPython.display import display

import asen.book
from asen.book import glue
from asen.data import ImageSet, RandomTripletSampler, collate_images, open_image
from asen.losses import alignment_loss, in_batch_triplet_loss, triplet_loss
from asen.model import build_model
from asen.plots import image_grid, show_image
from asen.runs import write_json
from asen.train import make_sampler

ctx = asen.book.setup(globals())  # seed, device, data and run cache
print(ctx)
files, meta = ctx.files, ctx.files.meta
# the configuration every stage-1 model of the book trains with
cfg = ctx.protocol.stage1_config("asen", seed)
results: dict = {"profile": ctx.profile}

# %% [markdown]
# ## The paper's sampler: one random triplet at a time
#
# `asen.data.RandomTripletSampler` follows the reference code: pick an attribute uniformly at random, pick two
# distinct values of it, take two distinct training images with the first value (anchor and positive) and one
# with the second (negative). The paper draws 100,000 triplets an epoch in batches of 16. Here are four of them,
# drawn with this page's seed:

# %% tags=["hide-input"]
sampler = RandomTripletSampler(
    files.train_labels, meta, num_triplets=4, batch_size=4, seed=seed
)
batch = next(sampler.epoch(0))
label_of = {(int(i), int(a)): int(v) for i, a, v in files.train_labels}
n = len(batch["attributes"])
fig, axes = image_grid(n, 3, size=2.1)
for t in range(n):
    attr = int(batch["attributes"][t])
    for col, role in enumerate(("anchor", "positive", "negative")):
        image_id = int(batch["images"][col * n + t])
        value = label_of[(image_id, attr)]
        show_image(
            axes[t, col],
            open_image(files.root / files.filenames["train"][image_id]),
            f"{role}\n{meta.value_names[attr][value]}",
        )
    axes[t, 0].set_ylabel(meta.attributes[attr], fontsize=9)
fig.suptitle(
    "Random triplets: anchor and positive share the value of the row's attribute"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# Everything else in the images (the person, the other garments, the background) is *noise* for this triplet:
# the loss asks the embedding under the row's attribute to ignore it. Note that a triplet says nothing about
# other attributes: the positive may differ from the anchor in every other respect.
#
# ## The CPU protocol's sampler: every triplet inside a batch
#
# With one random triplet at a time, a step of 16 triplets uses 48 images for 16 comparisons. The book's
# CPU protocol (`data.sampler: in_batch`, a documented departure from the paper) instead fills a batch with
# many images of one attribute (`data.attributes_per_batch`, 1 in the protocol), several per value, and the loss (`asen.losses.in_batch_triplet_loss`) uses
# *every* valid triplet in it: $(i, j, k)$ with all three labelled with the same attribute, $i \neq j$ of the
# same value and $k$ of another value. One batch of this page's configuration:

# %%
in_batch = make_sampler(cfg, files)
ib = next(in_batch.epoch(0))
composition = pd.crosstab(
    pd.Series([meta.attributes[a] for a in ib["attributes"]], name="attribute"),
    pd.Series(ib["values"], name="value"),
)
display(composition)

# %% [markdown]
# The number of valid triplets follows from the composition: within an attribute with $n_v$ images of value
# $v$ and $n$ images in all, there are $n_v (n_v - 1)$ ordered anchor-positive pairs, each with $n - n_v$
# negatives. The loss function counts them on its own; the two agree:

# %%
counted = sum(
    int(row[row > 0].mul(row[row > 0] - 1).mul(row.sum() - row[row > 0]).sum())
    for _, row in composition.iterrows()
)
emb = torch.randn(len(ib["images"]), 8)
_, valid = in_batch_triplet_loss(
    emb,
    torch.as_tensor(ib["attributes"]),
    torch.as_tensor(ib["values"]),
    cfg.train.margin,
)
assert counted == valid
per_step_random = cfg.data.batch_size
results["triplets_per_step"] = {
    "in_batch": valid,
    "images_in_batch": len(ib["images"]),
    "random_sampler_triplets": per_step_random,
    "random_sampler_images": 3 * per_step_random,
}
glue(
    batch_images=len(ib["images"]),
    batch_triplets=valid,
    random_triplets=per_step_random,
    random_images=3 * per_step_random,
    comparisons_per_image=valid / len(ib["images"]),
)

# %% [markdown]
# This batch of **{glue:text}`batch_images`** images holds **{glue:text}`batch_triplets:,`** valid
# triplets, against **{glue:text}`random_triplets`** triplets from {glue:text}`random_images` images for the
# paper's sampler: {glue:text}`comparisons_per_image:.0f` comparisons per image instead of 1/3. The price
# is that triplets in a batch share images, so they are far from independent; on a small compute budget the
# book's CPU protocol takes that trade.

# %% tags=["hide-input"]
# The claims above, checked: a false claim fails the build.
assert valid / len(ib["images"]) > 1 / 3

# %% tags=["hide-input"]
order = np.lexsort((ib["values"], ib["attributes"]))
a, v = ib["attributes"][order], ib["values"][order]
same_attr = a[:, None] == a[None, :]
relation = np.where(
    same_attr & (v[:, None] == v[None, :]), 1, np.where(same_attr, -1, 0)
)
np.fill_diagonal(relation, 0)
fig, ax = plt.subplots(figsize=(5.2, 4.4))
im = ax.imshow(relation, cmap="coolwarm_r", vmin=-1, vmax=1, interpolation="nearest")
cbar = fig.colorbar(im, ax=ax, ticks=[-1, 0, 1])
cbar.ax.set_yticklabels(["negative pair", "not compared", "positive pair"])
ax.set_xlabel("image in the batch (sorted by attribute, value)")
ax.set_ylabel("anchor")
ax.set_title("Which pairs the in-batch loss compares")
plt.show()

# %% [markdown]
# Each blue block on the diagonal is one value (anchor-positive pairs); the red band around it holds its
# negatives, the attribute's other values. With several attributes a batch (`data.attributes_per_batch` above 1)
# each attribute would get its own larger block, and images of different attributes would never be compared:
# under different attributes the question "is $x$ more like $y$ than $z$?" has no answer.
#
# ## The margin ranking loss, in two dimensions
#
# ASEN++ (Eq. 9) trains with a hinge on cosine similarities, margin $m = 0.2$:
#
# $$
# \mathcal{L}(x, x^+, x^-; a) = \max\bigl(0,\; m - \cos(f(x, a), f(x^+, a)) + \cos(f(x, a), f(x^-, a))\bigr).
# $$
#
# The loss is zero once the positive is more similar to the anchor than the negative *by at least the margin*.
# With 2-D unit vectors, put the anchor at angle 0, the positive at angle $\theta^+$ and the negative at
# $\theta^-$: the loss is $\max(0, m - \cos\theta^+ + \cos\theta^-)$. The library's `triplet_loss` computes
# exactly this:

# %%
margin = cfg.train.margin
angles = torch.linspace(0, np.pi, 91)  # 2-degree steps
# (91, 91): positive angle x negative angle
tp, tn = torch.meshgrid(angles, angles, indexing="ij")
unit = lambda t: torch.stack([torch.cos(t), torch.sin(t)], dim=-1)  # noqa: E731
anchor = unit(torch.zeros_like(tp)).reshape(-1, 2)
loss_grid = torch.stack(
    [
        triplet_loss(a[None], p[None], q[None], margin)
        for a, p, q in zip(anchor, unit(tp).reshape(-1, 2), unit(tn).reshape(-1, 2))
    ]
).reshape(tp.shape)
torch.testing.assert_close(
    loss_grid, torch.relu(margin - torch.cos(tp) + torch.cos(tn))
)

# %% tags=["hide-input"]
deg = np.degrees(angles.numpy())
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
im = axes[0].imshow(
    loss_grid.numpy(),
    origin="lower",
    extent=[0, 180, 0, 180],
    cmap="magma",
    aspect="auto",
)
axes[0].contour(
    deg, deg, loss_grid.numpy(), levels=[1e-6], colors="white", linewidths=1.5
)
axes[0].plot([0, 180], [0, 180], ls=":", color="grey", label=r"$\theta^+ = \theta^-$")
fig.colorbar(im, ax=axes[0], label="loss")
axes[0].set_xlabel(r"negative angle $\theta^-$ (degrees)")
axes[0].set_ylabel(r"positive angle $\theta^+$ (degrees)")
axes[0].set_title("Hinge loss; white line: where it reaches 0")
axes[0].legend(loc="upper left")
theta_pos = 30.0
row = int(np.argmin(np.abs(deg - theta_pos)))
axes[1].plot(deg, np.cos(np.radians(deg)), label=r"$\cos\theta^-$ (anchor-negative)")
axes[1].axhline(
    np.cos(np.radians(theta_pos)),
    color="C2",
    ls="--",
    label=rf"$\cos\theta^+$, $\theta^+={theta_pos:.0f}°$",
)
axes[1].axhline(
    np.cos(np.radians(theta_pos)) - margin,
    color="C2",
    ls=":",
    label=r"$\cos\theta^+ - m$",
)
axes[1].plot(deg, loss_grid[row].numpy(), color="C3", lw=2.5, label="loss")
axes[1].set_xlabel(r"negative angle $\theta^-$ (degrees)")
axes[1].set_ylabel("cosine / loss")
axes[1].set_title(rf"One slice: positive fixed at {theta_pos:.0f}°")
axes[1].legend(fontsize=8)
axes[1].grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
zero_from = float(deg[np.argmax(loss_grid[row].numpy() <= 0)])
results["toy"] = {
    "margin": margin,
    "theta_pos": theta_pos,
    "loss_zero_from_theta_neg": zero_from,
    "loss_at_collapse": float(loss_grid[0, 0]),
}
glue(
    theta_pos=theta_pos,
    zero_from=zero_from,
    margin=margin,
    loss_at_collapse=float(loss_grid[0, 0]),
)

# %% [markdown]
# With the positive at {glue:text}`theta_pos:.0f`° the loss is zero only once the negative is at least
# **{glue:text}`zero_from:.0f`°** away from the anchor ($\cos\theta^- \le \cos\theta^+ - m$, with
# $m$ = {glue:text}`margin:g`); below that it falls linearly in $\cos\theta^-$. When everything sits on top
# of everything else ($\theta^+ = \theta^- = 0$) the loss equals the margin,
# **{glue:text}`loss_at_collapse:.2f`**, and its gradient pushes the negative away and pulls the positive
# in with equal force.

# %% tags=["hide-input"]
# The claims above, checked: a false claim fails the build.
cos_pos = np.cos(np.radians(theta_pos))
assert np.cos(np.radians(zero_from)) <= cos_pos - margin + 1e-6
assert np.cos(np.radians(zero_from - 2)) > cos_pos - margin  # 2-degree grid
assert np.isclose(float(loss_grid[0, 0]), margin)

# %% [markdown]
# ## Learning a toy embedding with the in-batch loss
#
# Give twelve items of three values a free 2-D embedding each, and minimise `in_batch_triplet_loss` with Adam.
# The loss arranges the values on the circle so that every item is closer (by the margin) to its own value
# than to any other:

# %%
torch.manual_seed(seed)
toy_values = torch.arange(12) % 3
toy_attrs = torch.zeros(12, dtype=torch.long)
# all start near one direction
points = torch.nn.Parameter(torch.randn(12, 2) * 0.1 + torch.tensor([1.0, 0.0]))
start = F.normalize(points.detach().clone(), dim=1)
opt = torch.optim.Adam([points], lr=0.05)
history = []
for step in range(150):
    loss, n_valid = in_batch_triplet_loss(points, toy_attrs, toy_values, margin)
    opt.zero_grad()
    loss.backward()
    opt.step()
    history.append(float(loss.detach()))
final = F.normalize(points.detach(), dim=1)

# %% [markdown]
# The loop above relies on the library's vectorised loss. For teaching, the same number by brute force over
# every triplet, with the same rule (mean over the triplets that still violate the margin):


# %%
def in_batch_loss_by_hand(
    z: torch.Tensor, attrs: torch.Tensor, values: torch.Tensor, m: float
) -> torch.Tensor:
    z = F.normalize(z, dim=1)
    terms = []
    for i in range(len(z)):
        for j in range(len(z)):
            for k in range(len(z)):
                if (
                    i != j
                    and attrs[i] == attrs[j] == attrs[k]
                    and values[i] == values[j] != values[k]
                ):
                    terms.append(torch.relu(m - z[i] @ z[j] + z[i] @ z[k]))
    terms = torch.stack(terms)
    return terms[terms > 0].mean() if (terms > 0).any() else terms.sum() * 0


check = torch.randn(12, 2)
torch.testing.assert_close(
    in_batch_loss_by_hand(check, toy_attrs, toy_values, margin),
    in_batch_triplet_loss(check, toy_attrs, toy_values, margin)[0],
)

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
circle = np.linspace(0, 2 * np.pi, 200)
for ax, pts, title in (
    (axes[0], start, "before: near one direction"),
    (axes[1], final, "after 150 Adam steps"),
):
    ax.plot(np.cos(circle), np.sin(circle), color="lightgrey")
    for value in range(3):
        sel = pts[toy_values == value].numpy()
        ax.scatter(sel[:, 0], sel[:, 1], s=60, label=f"value {value}", alpha=0.8)
    ax.set_aspect("equal")
    ax.set_xlabel("dimension 1")
    ax.set_ylabel("dimension 2")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
axes[2].plot(history)
axes[2].set_xlabel("step")
axes[2].set_ylabel("in-batch loss")
axes[2].set_title(f"loss over {n_valid} valid triplets")
axes[2].grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Why an untrained network needs a normalisation layer
#
# The toy above starts with all points close together but *free to move*. A randomly initialised deep network
# is worse: its outputs for different images are almost parallel, so every cosine is close to 1, the loss sits
# at the margin, and the gradients that would separate the images are tiny. The book's small CPU backbone has
# no ImageNet weights (it starts from a label-free pre-training, see chapter 8) and the layers above it start
# random, so the CPU protocol adds a `BatchNorm1d` per attribute after the last linear layer
# (`model.embed_norm: attribute_batchnorm`, a documented departure; the paper starts from ImageNet weights and
# does not need it). The protocol's batches hold one attribute each, so on such a batch the per-attribute
# layer is one `BatchNorm1d` (`embed_norm: batchnorm`), which the code below uses. Pairwise cosines of the
# embeddings of one training batch, for the same untrained network (random backbone) with and without the
# normalisation:

# %%
images = ImageSet(files.root, files.filenames["train"], cfg.data.global_size)
x = collate_images([images[int(i)] for i in ib["images"]])["image"].to(ctx.device)
attrs_t = torch.as_tensor(ib["attributes"], device=ctx.device)
cosines = {}
for norm in ("none", "batchnorm"):
    torch.manual_seed(seed)
    model = build_model(
        dataclasses.replace(cfg.model, embed_norm=norm, pretrained="none"),
        meta.num_attributes,
        ctx.device,
    )
    model.train()  # BatchNorm uses the batch's statistics, as during training
    with torch.no_grad():
        e, _ = model(x, attrs_t)
    z = F.normalize(e, dim=1)
    sim = (z @ z.T).cpu().numpy()
    cosines[norm] = sim[np.triu_indices(len(sim), 1)]
    results.setdefault("untrained_cosine", {})[norm] = {
        "mean": float(cosines[norm].mean()),
        "std": float(cosines[norm].std()),
    }

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(7, 3.6))
for norm, label in (
    ("none", "no normalisation (paper)"),
    ("batchnorm", "BatchNorm1d (CPU protocol)"),
):
    ax.hist(cosines[norm], bins=60, range=(-1, 1), alpha=0.6, label=label)
ax.axvline(1 - margin, color="grey", ls=":", label=f"1 - margin = {1 - margin:.1f}")
ax.set_xlabel("cosine similarity between two images' embeddings (untrained)")
ax.set_ylabel("pairs")
ax.set_title("Start-up collapse: untrained embeddings are nearly parallel")
ax.legend()
plt.show()

# %%
u = results["untrained_cosine"]
glue(
    cos_none=u["none"]["mean"],
    cos_none_sd=u["none"]["std"],
    cos_bn=u["batchnorm"]["mean"],
    cos_bn_sd=u["batchnorm"]["std"],
)

# %% [markdown]
# Without normalisation the mean pairwise cosine of the untrained network is **{glue:text}`cos_none:.2f`**
# (spread {glue:text}`cos_none_sd:.2f`); with the BatchNorm layer it is **{glue:text}`cos_bn:.2f`** (spread
# {glue:text}`cos_bn_sd:.2f`). Near-parallel embeddings make $\cos(x,x^+) - \cos(x,x^-)$ tiny for every
# triplet, so the loss is stuck at the margin; centred embeddings start the hinge in its useful range.

# %% tags=["hide-input"]
# The claims above, checked: a false claim fails the build.
assert u["none"]["mean"] > 1 - margin, "without a norm: near-parallel"
assert abs(u["batchnorm"]["mean"]) < u["none"]["mean"] - margin

# %% [markdown]
# ## The alignment loss of ASEN++
#
# ASEN++ embeds an image twice under attribute $a$: from the whole image (global branch) and from a zoomed crop
# (local branch, [chapter 6](06_local_branch.ipynb)). Both embeddings live in spaces that are later fused, so
# stage 2 adds an alignment term (Eq. 11) that pulls the two embeddings of the same image together:
# $\mathcal{L}_{align} = \operatorname{mean}_i\,(1 - \cos(g_i, l_i))$ over the images of a batch (with the paper's
# random triplets, the mean over each of anchors, positives and negatives, summed). With the two embeddings at an angle
# $\varphi$ it is $1 - \cos\varphi$: zero when they agree, 1 when they are orthogonal.

# %%
phis = torch.linspace(0, np.pi, 91)
g = unit(torch.zeros_like(phis))
align = torch.stack(
    [alignment_loss(g[i : i + 1], unit(phis[i : i + 1])) for i in range(len(phis))]
)
torch.testing.assert_close(align, 1 - torch.cos(phis))
results["alignment_at_90deg"] = float(align[45])

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(np.degrees(phis.numpy()), align.numpy(), label=r"$1 - \cos\varphi$")
ax.set_xlabel(r"angle $\varphi$ between global and local embedding (degrees)")
ax.set_ylabel("alignment loss")
ax.set_title("Alignment loss of one image")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# Unlike the hinge, the alignment loss never switches off: it keeps pulling until the branches agree. ASEN++
# therefore gives it a small weight (0.1 in the paper) next to the two ranking losses, so that agreement does
# not override what each branch learns about the attribute.

# %%
write_json(ctx.results_dir / "02_triplets_and_loss.json", results)

# %% [markdown]
# ## Exercises
#
# 1. With the composition formula above, how many valid triplets does a batch of 96 images hold when it covers
#    one attribute with 6 equally frequent values? Two attributes with 48 images each? Which uses the images
#    better?
# 2. In the toy example, set the margin to 0.8 and then to 1.5. What arrangement of the three values does the
#    loss reach, and why can it not reach zero for the larger margin?
# 3. Replace the mean over *violating* triplets in the in-batch loss by the mean over *all* valid triplets.
#    Rerun the toy: how does the loss curve change, and why does the library average only the active ones?
# 4. The paper's sampler picks the attribute uniformly. SynthFashion's attributes have different numbers of
#    values. Compute, per attribute, the probability that a random triplet's negative differs from the anchor
#    by exactly one value id. Does that matter for what the model learns?
# 5. Repeat the start-up-collapse histogram with `model.eval()` instead of `model.train()`. Explain the result.
#
# :::{dropdown} Hint for exercise 1
# A batch of one attribute with values of $n_v$ images each holds $\sum_v n_v (n_v - 1)(n - n_v)$ valid triplets
# (anchor, another image of its value, an image of another value). Six values of 16 in 96 images:
# $6 \cdot 16 \cdot 15 \cdot 80 = 115{,}200$. Two attributes of 48 images, six values of 8 each:
# $2 \cdot 6 \cdot 8 \cdot 7 \cdot 40 = 26{,}880$. One attribute a step gives about four times as many.
# :::
#
# :::{dropdown} Hint for exercise 2
# Three unit vectors can be at most 120° apart pairwise (cosine −0.5), so the largest gap
# $\cos(a, p) - \cos(a, n)$ the loss can see is $1 - (-0.5) = 1.5$. A margin of 0.8 is met with room to spare;
# 1.5 only in the exact equilateral arrangement with every value collapsed to one point, and any larger margin
# never.
# :::
#
# :::{dropdown} Hint for exercise 3
# Averaging over all valid triplets divides the same gradient by a count that includes the triplets already
# satisfied: as training succeeds, the loss and its gradient shrink towards zero although hard triplets remain.
# Averaging over the active (violating) ones keeps the step size tied to what is still wrong.
# :::
#
# :::{dropdown} Hint for exercise 4
# For an attribute with $K$ values the negative's value is drawn among the other $K - 1$ (weighted by their
# shares); count how many of those are the anchor's id ± 1. Value ids are arbitrary labels: the loss treats
# every other value alike, so "one id apart" means nothing to the model.
# :::
#
# :::{dropdown} Hint for exercise 5
# In `eval()` mode BatchNorm uses its running statistics (mean 0, variance 1 at initialisation) instead of the
# batch's, so nothing re-centres the embeddings: they stay nearly parallel and the histogram shows the start-up
# collapse the normalisation layer was added to prevent.
# :::
