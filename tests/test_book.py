import pytest

from asen.book import setup


def test_setup_never_overwrites_a_dataset_of_another_size(tmp_path):
    ctx = setup("smoke", data_root=str(tmp_path / "synth"), runs_root=str(tmp_path / "runs"),
                results_dir=str(tmp_path / "results"), device="cpu")
    assert ctx.files.meta.num_attributes == 8 and ctx.device.type == "cpu" and ctx.seeds == (0,)
    before = sorted(p.name for p in (tmp_path / "synth").iterdir())
    with pytest.raises(ValueError, match="size 'tiny' but profile 'cpu' needs 'small'"):
        setup("cpu", data_root=str(tmp_path / "synth"), runs_root=str(tmp_path / "runs"),
              results_dir=str(tmp_path / "results"), device="cpu")
    assert sorted(p.name for p in (tmp_path / "synth").iterdir()) == before
    with pytest.raises(ValueError, match="profile must be one of"):
        setup("laptop")


def test_setup_picks_the_default_profile_for_cpu(monkeypatch):
    import asen.book as book

    monkeypatch.setattr(book, "default_profile", lambda: "runtime-choice")
    with pytest.raises(ValueError, match="got 'runtime-choice'"):  # setup used default_profile() for "cpu"
        setup("cpu")
    monkeypatch.undo()
    monkeypatch.delenv("ASEN_PROFILE", raising=False)
    monkeypatch.setattr(book.torch.cuda, "is_available", lambda: True)  # a CUDA runtime, Colab or not
    assert book.default_profile() == "gpu" and book.default_profile("smoke") == "smoke"
    monkeypatch.setattr(book.torch.cuda, "is_available", lambda: False)
    assert book.default_profile() == "cpu"
    monkeypatch.setenv("ASEN_PROFILE", "smoke")
    assert book.default_profile() == "smoke"
    assert book.SYNTH_SIZE["gpu"] == book.SYNTH_SIZE["cpu"] == "small"  # the gpu profile uses the 224 px renders


def test_book_runs_cover_every_chapter_request(toy_root, tmp_path):
    """The runs the book build pre-trains are the ones the chapters ask for (same config hashes)."""
    from asen.book import BookContext, book_runs
    from asen.data import load_split_files
    from asen.reproduce import run_dir_of

    files = load_split_files(toy_root)
    ctx = BookContext("cpu", "Toy", toy_root, __import__("torch").device("cpu"), 0, tmp_path / "runs",
                      tmp_path / "res", files)
    stage1, stage2 = book_runs(ctx)
    names = sorted(c.name for c in stage1)
    # the AAAI rows for the first seed only on the cpu profile (the book's time budget), the others for all three
    assert names == sorted([f"{m}_s1_seed{s}" for m in ("asen", "triplet", "csn") for s in (0, 1, 2)]
                           + ["asen_aaai_s1_seed0", "asen_v2_s1_seed0", "no_asa_s1_seed0", "no_aca_s1_seed0"])
    assert sorted(c.name for c in stage2) == sorted(["asen_s2_seed0", "asen_s2_seed1", "asen_s2_seed2",
                                                     "no_asa_s2_seed0", "no_aca_s2_seed0", "no_zoom_s2_seed0"])
    no_zoom = next(c for c in stage2 if c.name == "no_zoom_s2_seed0")  # continues ASEN++'s own stage-1 run
    assert no_zoom.train.init_from == next(c for c in stage2 if c.name == "asen_s2_seed0").train.init_from
    assert (no_zoom.train.crop_threshold, no_zoom.eval.crop_threshold) == (0.0, 0.0)
    p = ctx.protocol
    asen0 = p.stage1_config("asen", 0)
    assert asen0.hash() in {c.hash() for c in stage1}  # what ctx.trained("asen") would train
    s2 = p.stage2_config("asen", 0, run_dir_of(asen0, ctx.runs_root) / "checkpoints" / "best.pt")
    assert s2.hash() in {c.hash() for c in stage2}


def test_chapter_8_uses_every_trained_seed_of_the_fewer_seed_rows(toy_root, tmp_path, monkeypatch):
    """Chapter 8's AAAI rows: the seeds already trained (all three after `make reproduce`), else the first."""
    import asen.book as book
    import asen.reproduce as reproduce
    from asen.data import load_split_files

    files = load_split_files(toy_root)
    ctx = book.BookContext("cpu", "Toy", toy_root, __import__("torch").device("cpu"), 0, tmp_path / "runs",
                           tmp_path / "res", files)
    assert book.main_table_method_seeds(ctx) == {"asen_aaai": (0,), "asen_v2": (0,)}
    trained = {("asen_aaai_s1_seed0",), ("asen_aaai_s1_seed2",)}
    monkeypatch.setattr(reproduce, "_finished", lambda cfg, root: (cfg.name,) in trained)
    assert book.main_table_method_seeds(ctx) == {"asen_aaai": (0, 2), "asen_v2": (0,)}
    smoke = book.BookContext("smoke", "Toy", toy_root, ctx.device, 0, tmp_path / "runs", tmp_path / "res", files)
    assert book.main_table_method_seeds(smoke) == {}
