"""The runs the book pre-trains are read from the chapters' own training calls (asen.book.chapter_runs)."""
import json
from pathlib import Path

import pytest
import torch

import asen.backbones
from asen.book import BookContext, ChapterRunsError, book_runs, chapter_runs, chapter_sources
from asen.reproduce import default_data_root, run_dir_of

BASE = json.loads((Path(__file__).parent / "data" / "book_runs_bd269e5.json").read_text())


def context(profile: str, root=None, runs=Path("runs/synthfashion"), seed: int = 0) -> BookContext:
    """A chapter's context without data (reading the chapters needs none)."""
    return BookContext(profile, "SynthFashion", root or default_data_root(profile), torch.device("cpu"), seed,
                       runs, Path("results/book"), None)


@pytest.mark.parametrize("case", list(BASE["runs"]))
def test_the_chapters_ask_for_the_runs_book_runs_listed_before(case, tmp_path, monkeypatch):
    """Same run folders (names and config hashes) as the hand-written list of commit bd269e5, per profile.

    When a chapter trains something new, or a config change moves the hashes on purpose, regenerate
    tests/data/book_runs_bd269e5.json (the way its "about" says) and say so in the commit."""
    monkeypatch.chdir(tmp_path)  # relative data and runs folders, none trained: hashes as on any checkout
    profile, _, weights = case.partition(", ")
    if profile == "gpu":
        ok = weights == "ImageNet weights"
        monkeypatch.setattr(asen.backbones, "imagenet_weights_available", lambda names, timeout_s=30.0: (ok, "test"))
        monkeypatch.setattr("asen.reproduce.protocol._SAID", {"gpu"})  # no fallback message
    stage1, stage2 = book_runs(context(profile))
    assert all(c.train.stage == 1 for c in stage1) and all(c.train.stage == 2 for c in stage2)
    found = sorted(run_dir_of(c, Path("")).name for c in [*stage1, *stage2])
    assert len(found) == len(set(found)), "a run listed twice"
    assert found == BASE["runs"][case]


def test_each_chapter_asks_for_what_its_calls_train(toy_root, tmp_path):
    ctx = context("cpu", toy_root, tmp_path / "runs")
    p = ctx.protocol
    per_chapter = {path.stem[:2]: chapter_runs(ctx, path) for path in chapter_sources()}
    names = {k: [c.name for c in v] for k, v in per_chapter.items()}
    assert names["01"] == names["02"] == names["12"] == []  # no training
    assert names["03"] == ["asen_s1_seed0"]  # ctx.trained("asen")
    assert names["05"] == ["asen_s1_seed0", "triplet_s1_seed0"]  # a comprehension over a literal tuple
    assert names["06"] == ["asen_s1_seed0", "asen_s2_seed0"]  # stage 2 continues stage 1
    # what ctx.trained would train, config for config
    assert [c.hash() for c in per_chapter["03"]] == [p.stage1_config("asen", 0).hash()]
    s2 = p.stage2_config("asen", 0, run_dir_of(p.stage1_config("asen", 0), ctx.runs_root) / "checkpoints" / "best.pt")
    assert per_chapter["06"][1].hash() == s2.hash()
    # chapter 9's seeds are computed from ctx as the chapter computes them: the first seed on the cpu profile
    assert {c.train.seed for c in per_chapter["09"]} == {0}
    no_zoom = next(c for c in per_chapter["09"] if c.name == "no_zoom_s2_seed0")  # continues ASEN++'s stage 1
    assert no_zoom.train.init_from == next(c for c in per_chapter["09"] if c.name == "asen_s2_seed0").train.init_from
    assert (no_zoom.train.crop_threshold, no_zoom.eval.crop_threshold) == (0.0, 0.0)


def test_chapter_8_pretrains_the_seeds_it_will_use(toy_root, tmp_path, monkeypatch):
    """The AAAI rows' seeds come from asen.book.main_table_method_seeds(ctx), as chapter 8 passes them."""
    from asen.reproduce import cache

    ctx = context("cpu", toy_root, tmp_path / "runs")
    chapter_8 = next(p for p in chapter_sources() if p.stem.startswith("08"))
    aaai = lambda: sorted(c.name for c in chapter_runs(ctx, chapter_8) if c.name.startswith("asen_aaai"))  # noqa: E731
    assert aaai() == ["asen_aaai_s1_seed0"]
    trained = {"asen_aaai_s1_seed0", "asen_aaai_s1_seed2"}
    monkeypatch.setattr(cache, "is_finished", lambda cfg, root: cfg.name in trained)
    assert aaai() == ["asen_aaai_s1_seed0", "asen_aaai_s1_seed2"]


def test_another_seed_pretrains_what_the_chapters_use_with_it(toy_root, tmp_path):
    """With seed 5 chapters 3-7, 10 and 11 train seed 5 (chapter 4 its no_aca run too), and chapter 8 the AAAI rows
    for it (main_table_method_seeds), the other rows for the profile's seeds."""
    stage1, stage2 = book_runs(context("cpu", toy_root, tmp_path / "runs", seed=5))
    seed5 = sorted(c.name for c in [*stage1, *stage2] if c.train.seed == 5)
    assert seed5 == ["asen_aaai_s1_seed5", "asen_s1_seed5", "asen_s2_seed5", "asen_v2_s1_seed5", "no_aca_s1_seed5",
                     "triplet_s1_seed5"]


def write_chapter(tmp_path, code: str) -> Path:
    path = tmp_path / "99_test.py"
    path.write_text("# %% [markdown]\n# # Title\n\n# %%\nimport asen.book\nimport asen.reproduce\n"
                    "from asen.reproduce import run_ablations as ablate\n\nctx = asen.book.setup(globals())\n\n"
                    "# %%\n" + code)
    return path


@pytest.mark.parametrize("code, names", [
    ('for m in ("triplet", "csn"):\n    ctx.trained(m)\n', ["triplet_s1_seed0", "csn_s1_seed0"]),
    ('methods = {"asen": "A", "csn": "C"}\nckpts = [ctx.trained(m, 2) for m in methods if m != "csn"]\n',
     ["asen_s1_seed0", "asen_s2_seed0"]),
    ("seeds = ctx.seeds[1:]\nctx.trained(seed=max(seeds))\n", ["asen_s1_seed2"]),
    ('ctx.trained(*("no_asa",), **{"seed": 1})\n', ["no_asa_s1_seed1"]),
    ("if ctx.profile == 'smoke':\n    ablate(ctx.protocol, [1])\n", ["asen_s1_seed1", "asen_s2_seed1",
                                                                    "no_asa_s1_seed1", "no_asa_s2_seed1",
                                                                    "no_aca_s1_seed1", "no_aca_s2_seed1",
                                                                    "no_zoom_s2_seed1"]),
    ('asen.reproduce.run_main_table(ctx.protocol, [0], methods=("random", "asenpp"))\n',
     ["asen_s1_seed0", "asen_s2_seed0"]),
    ("model.train()\nprint(ctx.trained)\n", []),  # neither trains
])
def test_training_calls_are_read_with_their_arguments(tmp_path, toy_root, code, names):
    ctx = context("cpu", toy_root, tmp_path / "runs")
    assert [c.name for c in chapter_runs(ctx, write_chapter(tmp_path, code))] == names


@pytest.mark.parametrize("code, message", [
    ("m = 'asen'\nm = 'csn'\nctx.trained(m)\n", r"line 14: the runs depend on `m`, which the chapter sets more"),
    ("for m in ('a',):\n    pass\nctx.trained(m)\n", "the runs depend on `m`"),
    ("def f(method):\n    return ctx.trained(method)\n", "set inside a function of the chapter"),
    ("ctx.trained(seed=len(ctx.trained('csn').name))\n", r"depend on `ctx.trained\('csn'\)`, which the book does"),
    ("import random\nctx.trained(seed=random.randint(0, 2))\n", "which the book does not call"),
    ("ctx.trained(undefined)\n", "`undefined` is not defined at the chapter's top level"),
    ("ctx.trained(ctx.no_such_thing)\n", "cannot be computed before the chapter runs: AttributeError"),
    ("ctx.trained('asen', stag=2)\n", "ctx.trained: got an unexpected keyword argument 'stag'"),
    ("asen.reproduce.ensure_trained(None, None, None)\n", "asen.reproduce.ensure_trained trains runs the book"),
])
def test_what_cannot_be_read_without_running_the_chapter_is_refused(tmp_path, toy_root, code, message):
    ctx = context("cpu", toy_root, tmp_path / "runs")
    with pytest.raises(ChapterRunsError, match=message):
        chapter_runs(ctx, write_chapter(tmp_path, code))


def test_the_book_build_pretrains_the_runs_of_the_chapters_it_executes(tmp_path, monkeypatch):
    """tools/execute_notebooks.py --only 06: the runs of chapter 6 only, trained before the chapter runs."""
    import asen.book
    import asen.reproduce
    from tools import execute_notebooks

    trained = []
    monkeypatch.setattr(asen.reproduce, "train_all", lambda protocol, configs, desc: trained.extend(configs))
    monkeypatch.setattr(execute_notebooks, "run_all", lambda *a, **k: [])
    params = ["--profile", "smoke", "--device", "cpu", "--data-root", str(tmp_path / "data"),
              "--runs-root", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "res")]
    assert execute_notebooks.main([*params, "--only", "06"]) == 0
    assert [c.name for c in trained] == ["asen_s1_seed0", "asen_s2_seed0"]
    trained.clear()
    assert execute_notebooks.main([*params, "--only", "01", "02"]) == 0
    assert trained == []
