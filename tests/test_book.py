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


def test_setup_picks_the_default_profile_on_colab(monkeypatch):
    import asen.book as book

    monkeypatch.setattr(book, "on_colab", lambda: True)
    monkeypatch.setattr(book, "default_profile", lambda: "colab-choice")
    with pytest.raises(ValueError, match="got 'colab-choice'"):  # setup used default_profile() for "cpu"
        setup("cpu")
    monkeypatch.undo()
    monkeypatch.setenv("ASEN_PROFILE", "smoke")
    assert book.default_profile() == "smoke"
