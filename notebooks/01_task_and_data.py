# %% [markdown]
# # 1. The task and the data
#
# Two dresses can be alike in their collar and unlike in their length. *Fine-grained fashion similarity*
# asks "how similar are these two garments **in attribute $a$**?" instead of "how similar are they?", and
# ASEN (Ma et al., AAAI 2020) and ASEN++ (Dong et al., IEEE TIP 2021) answer it by learning one embedding
# space per attribute. This chapter states the task and its metric, summarises the three real datasets of the
# paper (FashionAI, DARN, DeepFashion), and introduces **SynthFashion**, the generated dataset on which the
# whole book runs on a CPU: what its images look like per attribute and value, how it is split, and how well a
# model that knows nothing (random embeddings) scores on it, predicted from the value counts alone.

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
from IPython.display import Image, display

import asen.book
from asen.book import glue
from asen import published, synth
from asen.evaluate import invisible_values
from asen.metrics import average_precisions
from asen.reproduce import random_table
from asen.runs import write_json
from asen.synth.attributes import VALUE_WEIGHTS

ctx = asen.book.setup(globals())  # seed, device, data and run cache
print(ctx)
results: dict = {"profile": ctx.profile, "dataset": ctx.files.meta.name}

# %% [markdown]
# ## The task: similarity *in an attribute*
#
# Each training image carries labels $(a, v)$: attribute $a$ (say `collar_design`) has value $v$
# (say *Peter Pan*). A model $f(x, a) \in \mathbb{R}^D$ embeds an image *under an attribute*; two images are
# similar in $a$ when their embeddings under $a$ have a high cosine similarity. The same pair of images can be
# close under `collar_design` and far apart under `skirt_length`: that is what one attribute-agnostic
# embedding (the "Triplet network" baseline of the paper) cannot express.
#
# **Evaluation** (ASEN++ Sec. IV-A) is retrieval. The test split has *queries* and *candidates*, each an
# `(image, attribute, value)` triple. A query ranks every candidate of its attribute by similarity; the
# relevant candidates are those with the query's value. The average precision (AP) of a query is the mean,
# over the ranks $r$ of its relevant candidates, of the precision in the top $r$; the **MAP** of an attribute
# is the mean AP of its queries, and the overall MAP is the mean over *all* queries (so attributes with more
# queries weigh more). The library implements this in `asen.metrics` and tests it against scikit-learn.
#
# ## The three real datasets
#
# The paper evaluates on FashionAI {cite}`zou2019fashionai` (8 attributes of women's clothing, one attribute
# labelled per image), DARN {cite}`huang2015darn` (9 attributes, several per image) and DeepFashion
# {cite}`liu2016deepfashion` (5 attribute *types* with hundreds of values each).
# The split statistics below are those of the authors' split files (`asen.published`).

# %% tags=["hide-input"]
fashionai = pd.DataFrame(
    {
        name: {
            "values": st.values,
            "test queries": st.test_queries,
            "test candidates": st.test_candidates,
            "valid queries": st.valid_queries,
        }
        for name, st in published.FASHIONAI_SPLIT.items()
    }
).T.rename_axis("attribute")
fashionai.loc["total"] = fashionai.sum()
darn = pd.Series(
    published.NUM_VALUES["DARN"], index=published.ATTRIBUTES["DARN"], name="values"
)
deepfashion = pd.Series(
    published.NUM_VALUES["DeepFashion"],
    index=published.ATTRIBUTES["DeepFashion"],
    name="values",
)
glue(darn_images=published.DARN_DOWNLOADABLE_IMAGES)

# %% [markdown]
# **FashionAI** (split counts of the authors' files):

# %% tags=["hide-input"]
display(fashionai)

# %% [markdown]
# **DARN** (9 attributes; {glue:text}`darn_images:,` downloadable images as used by the authors) and
# **DeepFashion** (5 attribute types): values per attribute.

# %% tags=["hide-input"]
display(pd.concat({"DARN": darn, "DeepFashion": deepfashion}).to_frame("values").T)

# %% [markdown]
# Two things in these tables shape everything that follows. First, the *number of values* sets how hard
# retrieval is by chance: with $n$ equally frequent values a random ranking puts a relevant candidate first
# with probability $1/n$, so DeepFashion (hundreds of values per attribute) is far harder than FashionAI
# (5 to 10). Second, FashionAI's attributes are of two kinds: four *length* attributes, read from the overall
# silhouette (where a hem ends), and four *design* attributes, read from a small region around the neck. The
# design attributes motivate ASEN++'s local branch ([chapter 6](06_local_branch.ipynb)).

# %% tags=["hide-input"]
shares = (
    fashionai.loc[fashionai.index != "total", "test queries"]
    / fashionai.loc["total", "test queries"]
)
uniform = {
    "FashionAI": float((shares / fashionai.loc[shares.index, "values"]).sum()),
    "DARN": float((1.0 / darn).mean()),
    "DeepFashion": float((1.0 / deepfashion).mean()),
}
results["uniform_value_random_map"] = {k: 100 * v for k, v in uniform.items()}
glue(
    uniform_fashionai=100 * uniform["FashionAI"],
    uniform_darn=100 * uniform["DARN"],
    uniform_deepfashion=100 * uniform["DeepFashion"],
)

# %% [markdown]
# If every value of an attribute were equally frequent, random embeddings would score about
# **{glue:text}`uniform_fashionai:.1f` %** MAP on FashionAI (attributes weighted by their test queries),
# **{glue:text}`uniform_darn:.1f` %** on DARN and **{glue:text}`uniform_deepfashion:.2f` %** on DeepFashion
# (attributes weighted equally, as their query counts are not in our reference). Real value frequencies are
# uneven, which can only raise these numbers: the expected precision of a random ranking is
# $\sum_v p_v^2 \geq 1/n$ for value frequencies $p_v$. We derive the exact version below.

# %% [markdown]
# For orientation, the published figures on the real datasets that this project could verify at their source
# (later work that builds on ASEN, RPF {cite}`dong2023rpf` and AG-MAN {cite}`xiao2023agman`, and the AAAI code's
# own ASENet_V2 on FashionAI; `asen.published` keeps them, with their sources). The ASEN++ paper's own
# tables could not be read where this book was built, so its numbers are not printed anywhere in the book.

# %% tags=["hide-input"]
verified = pd.DataFrame(
    [
        {
            "method": r["method"],
            "dataset": r["dataset"],
            "overall MAP (%)": r["overall"],
            "source": r["source"],
        }
        for d in published.DATASETS
        for r in published.rows(d, verified=True)
    ]
)
display(verified.set_index(["dataset", "method"]))

# %% [markdown]
# ## SynthFashion: the book's dataset
#
# The real datasets need downloads (and, for the paper's configuration, a GPU). The book runs on
# **SynthFashion** (`asen.synth`), a procedural dataset with FashionAI's eight attributes and value names:
# people wearing garments drawn with Pillow, one attribute labelled per image, value 0 always *Invisible*.
# The grid below shows one row per attribute and one column per value; within a row the person, pose and
# framing are fixed and only the labelled value changes.

# %% tags=["hide-input"]
preview = synth.save_preview(
    ctx.results_dir / "01_synthfashion_preview.png", seed=seed, cell=96
)
display(Image(filename=str(preview)))

# %% [markdown]
# The length attributes (first four rows) change large regions of the picture; the design attributes (last
# four) change a small region around the neck. SynthFashion draws each design attribute's piece (a collar, a
# lapel facing, a neck piece) in a colour that stands out from the garment, so *where* to look can be seen even
# at the global branch's input size; *which* value it is lies in the piece's shape (pointed or rounded flaps, a
# notch, a roll, ribs, frills), a few pixels at the original's 224 px. Below, two values of each design
# attribute on the same person: the neck region at full resolution (top rows) and at the size the global
# branch sees (bottom rows), enlarged.

# %% tags=["hide-input"]
full = 224
global_size = ctx.protocol.stage1_config("asen", seed).data.global_size
design = ["collar_design", "lapel_design", "neckline_design", "neck_design"]
pair = (1, 3)  # two visible values of each attribute
fig, axes = plt.subplots(4, len(design), figsize=(2.7 * len(design), 11.5))
for col, name in enumerate(design):
    for row, value in enumerate(pair):
        img, info = synth.render_with_info(
            name, value, np.random.default_rng([seed, col]), full
        )
        x, y = info["neck_xy"]
        half = int(0.12 * info["scale"])
        box = (int(x) - half, int(y) - half, int(x) + half, int(y) + half)
        low = img.resize((global_size, global_size)).resize((full, full))
        value_name = dict(synth.ATTRIBUTES)[name][value]
        axes[row, col].imshow(img.crop(box))
        axes[row, col].set_title(
            f"{name}: {value_name}\n{full} px original", fontsize=9
        )
        axes[2 + row, col].imshow(low.crop(box))
        axes[2 + row, col].set_title(
            f"{value_name}\nat {global_size} px (global input)", fontsize=9
        )
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(
    "The neck region: the piece shows at the global input size, "
    "its shape only in the original"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## How the generated data is split
#
# SynthFashion uses the split-file layout of the real datasets (`filenames_*.txt`, `label_train.txt`,
# `query_*.txt`, `candidate_*.txt`, `meta.json`), so every line of code in this book runs unchanged on
# FashionAI. Its attributes get the same *shares* of queries as FashionAI's test split, with four candidates
# per query. The size depends on the profile this page was built with (`tiny` for `smoke`, `small` for `cpu`
# and `gpu`; `asen synth --size fashionai` writes FashionAI's own counts).

# %% tags=["hide-input"]
files, meta = ctx.files, ctx.files.meta
rows = []
for a, name in enumerate(meta.attributes):
    rows.append(
        {
            "attribute": name,
            "values": meta.num_values[a],
            "train images": int((files.train_labels[:, 1] == a).sum()),
            "valid queries": int((files.queries["valid"][:, 1] == a).sum()),
            "valid candidates": int((files.candidates["valid"][:, 1] == a).sum()),
            "test queries": int((files.queries["test"][:, 1] == a).sum()),
            "test candidates": int((files.candidates["test"][:, 1] == a).sum()),
        }
    )
split_stats = pd.DataFrame(rows).set_index("attribute")
split_stats.loc["total"] = split_stats.sum()
results["splits"] = split_stats.reset_index().to_dict(orient="records")
display(split_stats)

# %%
n_train, n_q, n_c = (
    int(split_stats.loc["total", k])
    for k in ("train images", "test queries", "test candidates")
)
per_attr_q = split_stats.drop("total")["test queries"]
largest = ", ".join(a for a in per_attr_q[per_attr_q == per_attr_q.max()].index)
smallest = ", ".join(a for a in per_attr_q[per_attr_q == per_attr_q.min()].index)
fa_queries = pd.Series(
    {a: st.test_queries for a, st in published.FASHIONAI_SPLIT.items()}
)
value_ratio = max(max(w) / min(w) for w in VALUE_WEIGHTS)
glue(
    n_train=n_train,
    n_test_queries=n_q,
    n_test_candidates=n_c,
    most_queried=largest,
    most_queries=per_attr_q.max(),
    least_queried=smallest,
    least_queries=per_attr_q.min(),
    fa_most=fa_queries.idxmax(),
    fa_most_queries=fa_queries.max(),
    fa_least=fa_queries.idxmin(),
    fa_least_queries=fa_queries.min(),
    value_ratio=value_ratio,
)

# %% [markdown]
# This build uses **{glue:text}`n_train`** training images, **{glue:text}`n_test_queries`** test queries
# and **{glue:text}`n_test_candidates`** test candidates. The most queried attribute is
# {glue:text}`most_queried` ({glue:text}`most_queries` queries) and the least queried
# {glue:text}`least_queried` ({glue:text}`least_queries`); in FashionAI they are {glue:text}`fa_most`
# ({glue:text}`fa_most_queries`) and {glue:text}`fa_least` ({glue:text}`fa_least_queries`). With few
# queries per attribute in a small build, rounding the shares moves attributes by a query or two, so the
# two orders need not agree.
#
# Within an attribute, values are mildly uneven (the generator's `VALUE_WEIGHTS`, at most
# {glue:text}`value_ratio:.1f` times apart), after a guaranteed minimum of two training images per value so
# that every value can form a triplet.

# %% tags=["hide-input"]
train = pd.DataFrame(files.train_labels, columns=["image", "attr", "value"])
train["attribute"] = [meta.attributes[a] for a in train["attr"]]
counts = train.groupby(["attribute", "value"]).size().rename("images").reset_index()
counts["share"] = counts["images"] / counts.groupby("attribute")["images"].transform(
    "sum"
)
grid = sns.catplot(
    data=counts,
    x="value",
    y="share",
    col="attribute",
    col_order=list(meta.attributes),
    col_wrap=4,
    kind="bar",
    height=2.2,
    aspect=1.2,
    color="#2a6f97",
    sharex=False,
)
grid.set_axis_labels("value id (0 = Invisible)", "share of the attribute's images")
grid.set_titles("{col_name}")
grid.figure.suptitle("Training images per value, within each attribute", y=1.03)
plt.show()

# %% [markdown]
# ## What random embeddings score, predicted from the value counts
#
# A model that knows nothing ranks the candidates in a uniformly random order. For a query whose value has
# $R$ relevant candidates among the $N$ candidates of its attribute, the expected AP has a closed form.
# Writing $\mathrm{rel}_r$ for "the candidate at rank $r$ is relevant" and $h_r$ for the relevant candidates
# in the top $r$,
#
# $$
# \mathbb{E}[\mathrm{AP}] = \frac{1}{R}\sum_{r=1}^{N}\frac{\mathbb{E}[\mathrm{rel}_r\, h_r]}{r}
# = \frac{1}{R}\sum_{r=1}^{N}\frac{1}{r}\left(\frac{R}{N} + (r-1)\frac{R(R-1)}{N(N-1)}\right)
# = \frac{R-1}{N-1} + \frac{N-R}{N(N-1)}\,H_N ,
# $$
#
# with $H_N = \sum_{r=1}^N 1/r$. For large $N$ it tends to $R/N = p_v$, the value's share among the candidates,
# so the MAP of an attribute tends to $\sum_v p_v^2$ (a query has value $v$ with probability $p_v$). The
# library implements the formula as `asen.metrics.expected_random_ap` (tested against a hand enumeration). First
# a check of it against the library's AP on simulated random rankings:

# %%
from asen.metrics import expected_random_ap

rng = np.random.default_rng(seed)
for R, N in [(1, 10), (3, 20), (7, 40)]:
    labels = np.array([1] * R + [0] * (N - R))
    # 4000 random rankings of the same N candidates
    scores = rng.standard_normal((4000, 1, N))
    aps = [
        average_precisions(np.ones((1, 1)), s.T, np.array([1]), labels)[0]
        for s in scores
    ]
    se = np.std(aps) / np.sqrt(len(aps))
    print(
        f"R={R:2d} N={N:2d}: formula {expected_random_ap(R, N):.4f}, "
        f"simulated {np.mean(aps):.4f} +- {se:.4f}"
    )
    assert abs(np.mean(aps) - expected_random_ap(R, N)) < 4 * se

# %% [markdown]
# Now the prediction for this build's test split, attribute by attribute, next to the MAP the library's
# Random-embeddings baseline (`asen.reproduce.random_table`, random unit vectors) actually scores, averaged
# over 10 draws. The last column is the large-$N$ limit $\sum_v p_v^2$ over the candidates.

# %%
q_items, c_items = files.queries["test"], files.candidates["test"]
predicted, limit = {}, {}
for a, name in enumerate(meta.attributes):
    cand = c_items[c_items[:, 1] == a, 2]
    queries = q_items[q_items[:, 1] == a, 2]
    N = len(cand)
    predicted[name] = 100 * np.mean(
        [expected_random_ap(int((cand == v).sum()), N) for v in queries]
    )
    p = np.bincount(cand, minlength=meta.num_values[a]) / N
    limit[name] = 100 * float((p**2).sum())
draws = [random_table(files, s) for s in range(10)]
measured = {
    name: np.mean([t.per_attribute[name] for t in draws]) for name in meta.attributes
}
n_queries = np.array([(q_items[:, 1] == a).sum() for a in range(meta.num_attributes)])
overall_pred = float(
    np.dot(n_queries, [predicted[n] for n in meta.attributes]) / n_queries.sum()
)
overall_meas = float(np.mean([t.overall for t in draws]))
random_df = pd.DataFrame(
    {
        "queries": n_queries,
        "predicted MAP": predicted,
        "random embeddings (10 draws)": measured,
        "large-N limit": limit,
    },
    index=list(meta.attributes),
).round(2)
random_df.loc["overall"] = [
    n_queries.sum(),
    round(overall_pred, 2),
    round(overall_meas, 2),
    round(float(np.dot(n_queries, list(limit.values())) / n_queries.sum()), 2),
]
display(random_df)

# %% [markdown]
# The generator's value weights (`VALUE_WEIGHTS`) fix the large-$N$ limit for FashionAI's query shares; the
# library states it as `asen.synth.attributes.random_map_estimate`. Re-deriving it from the weights gives the
# same value:

# %%
from asen.synth.attributes import QUERY_COUNTS, random_map_estimate

shares_q = np.array(QUERY_COUNTS) / sum(QUERY_COUNTS)
ours = float(
    sum(s * sum((np.array(w) / sum(w)) ** 2) for s, w in zip(shares_q, VALUE_WEIGHTS))
)
assert abs(ours - random_map_estimate()) < 1e-12
print(f"large-N random MAP of the generator's design: {100 * ours:.2f} %")

# %%
invisible = invisible_values(meta)
results["random_map"] = {
    "predicted_overall": overall_pred,
    "measured_overall_10_draws": overall_meas,
    "design_estimate": 100 * ours,
    "per_attribute_predicted": predicted,
    "per_attribute_measured": measured,
}
limit_overall = float(random_df.loc["overall", "large-N limit"])
draw_sd = float(np.std([t.overall for t in draws], ddof=1))
lowest_floor = min(predicted, key=predicted.get)
glue(
    overall_pred=overall_pred,
    overall_meas=overall_meas,
    random_draws=len(draws),
    limit_overall=limit_overall,
    design_limit=100 * ours,
    bonus=overall_pred - limit_overall,
    n_invisible_attributes=len(invisible),
    lowest_floor=lowest_floor.replace("_", " "),
    lowest_floor_map=predicted[lowest_floor],
)
write_json(ctx.results_dir / "01_task_and_data.json", results)

# %% [markdown]
# On this build the value counts predict a random MAP of **{glue:text}`overall_pred:.2f` %**, and random
# embeddings score **{glue:text}`overall_meas:.2f` %** on average over {glue:text}`random_draws` draws:
# prediction and measurement agree up to sampling noise (checked below), which shrinks with the number of
# queries ({glue:text}`n_test_queries` here; single attributes with a handful of queries can be off by a few
# points). The large-$N$ limit is **{glue:text}`limit_overall:.2f` %** (the generator's design value for
# FashionAI's shares is {glue:text}`design_limit:.2f` %), and the exact expectation is
# {glue:text}`bonus:+.1f` points from it. The difference comes mostly from the term
# $\frac{N-R}{N(N-1)}H_N \approx (1-p_v)\frac{\ln N}{N}$, which is positive: in a short candidate list a
# random ranking often puts a relevant candidate near the top by luck, and that first hit's precision counts
# fully. The bonus fades only like $\ln N / N$, so random-embedding MAPs are comparable only between splits
# of the same size. Every model in this book must beat this floor. Value 0 (*Invisible*) exists in all
# {glue:text}`n_invisible_attributes` attributes; it is easy to recognise (the garment part is hidden or cut
# off), so the book also reports MAP without the Invisible queries.

# %% tags=["hide-input"]
# The claims above, checked: a false claim fails the build.
assert abs(overall_pred - overall_meas) < 5 * draw_sd / np.sqrt(len(draws))
assert len(invisible) == meta.num_attributes

# %% [markdown]
# ## Exercises
#
# 1. Prove that $\sum_v p_v^2 \geq 1/n$ for $n$ values with shares $p_v$, with equality only for equal shares.
#    Which FashionAI attribute would you expect to have the lowest random MAP, and why?
# 2. Use `expected_random_ap` to plot the expected AP of a random ranking against $N$ for $R/N = 0.2$ fixed.
#    How large must $N$ be before the large-$N$ limit is within 0.5 points?
# 3. Render 16 images of `collar_design` with `asen.synth.render_image` at 64 px and at 224 px. For which
#    values can *you* still tell the collar apart at 64 px? (`asen synth --design 1` draws the first design of
#    SynthFashion, whose details are 1 px outlines in the garment's own fabric: try it too.)
# 4. The overall MAP weights attributes by their query counts. Recompute the random-embeddings overall MAP
#    above with equal attribute weights. When would the two definitions rank two models differently?
# 5. DARN images carry several attributes each. How would you build `label_train.txt` lines for an image with
#    a known `color` and `sleeve length`, and how does that change triplet sampling
#    ([chapter 2](02_triplets_and_loss.ipynb))?
#
# :::{dropdown} Hint for exercise 1
# Apply the Cauchy–Schwarz inequality to the vectors $(p_1, \dots, p_n)$ and $(1, \dots, 1)$:
# $1 = (\sum_v p_v)^2 \le n \sum_v p_v^2$, with equality exactly when the $p_v$ are proportional to the ones,
# i.e. all equal. The lowest floor belongs to the attribute with the most values and the most even shares:
# in FashionAI that is neckline design (10 values). On this build's SynthFashion split the predicted floor is
# lowest for {glue:text}`lowest_floor` ({glue:text}`lowest_floor_map:.1f` %).
# :::
#
# :::{dropdown} Hint for exercise 2
# `[expected_random_ap(int(0.2 * n), n) for n in ns]` for `ns` from 10 to 5,000 on a log axis. The excess over
# $R/N$ decays roughly like $0.8 \ln N / N$: 5.7 points at $N = 50$, 0.93 at 500, 0.52 at 1,000, so $N$ must
# pass about 1,050 before the limit is within half a point.
# :::
#
# :::{dropdown} Hint for exercise 3
# At 64 px the collar or neck piece still shows as a patch of contrasting colour (where to look), but pointed
# and rounded flaps, a notch or ribs blur into the same blob (which value). `asen synth --design 1` draws the
# details as 1 px outlines in the garment's fabric: at 64 px not even the region shows.
# :::
#
# :::{dropdown} Hint for exercise 4
# Equal weights: `np.mean(list(per_attribute.values()))`. The definitions disagree when one model is better on
# the attributes with many queries and the other on those with few: the query-weighted mean rewards the
# first, the equal-weight mean can prefer the second.
# :::
#
# :::{dropdown} Hint for exercise 5
# One line per labelled attribute of the image, `<image index> <attribute> <value>`, the format of
# SynthFashion's `label_train.txt` (e.g. `17 2 4` and `17 6 1`). The sampler draws triplets per attribute, so
# the same image can be an anchor under `color` and a negative under `sleeve length` in the same epoch, and
# attributes with more labelled images are sampled more often unless the sampler balances them.
# :::
