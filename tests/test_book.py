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


def test_setup_picks_the_default_profile_for_cpu(monkeypatch, capsys):
    import asen.book as book

    monkeypatch.setattr(book, "default_profile", lambda: "runtime-choice")
    with pytest.raises(ValueError, match="got 'runtime-choice'"):  # setup used default_profile() for "cpu"
        setup("cpu")
    monkeypatch.undo()
    monkeypatch.delenv("ASEN_PROFILE", raising=False)
    monkeypatch.setattr(book.torch.cuda, "is_available", lambda: True)  # a CUDA runtime, Colab or not
    asked = []

    def weights(ok):
        return lambda names: asked.append(tuple(names)) or ((True, "") if ok else (False, "offline"))

    monkeypatch.setattr("asen.backbones.imagenet_weights_available", weights(True))
    assert book.default_profile() == "gpu" and book.default_profile("smoke") == "smoke"
    assert asked == [("resnet50", "resnet34")]  # the gpu profile's two backbones, checked once (not for smoke)
    # without the weights the gpu profile stays at chance: the cpu protocol runs, and one line says why
    monkeypatch.setattr("asen.backbones.imagenet_weights_available", weights(False))
    assert book.default_profile() == "cpu"
    assert "ImageNet weights cannot be loaded (offline): running the cpu profile" in capsys.readouterr().err
    monkeypatch.setattr(book.torch.cuda, "is_available", lambda: False)
    assert book.default_profile() == "cpu"
    monkeypatch.setenv("ASEN_PROFILE", "smoke")
    assert book.default_profile() == "smoke"
    assert book.SYNTH_SIZE["gpu"] == book.SYNTH_SIZE["cpu"] == "small"  # the gpu profile uses the 224 px renders


def test_chapter_8_uses_every_trained_seed_of_the_fewer_seed_rows(toy_root, tmp_path, monkeypatch):
    """Chapter 8's AAAI rows: the seeds already trained (all three after `make reproduce`), else the first."""
    import asen.book as book
    from asen.data import load_split_files
    from asen.reproduce import cache

    files = load_split_files(toy_root)
    ctx = book.BookContext("cpu", "Toy", toy_root, __import__("torch").device("cpu"), 0, tmp_path / "runs",
                           tmp_path / "res", files)
    assert book.main_table_method_seeds(ctx) == {"asen_aaai": (0,), "asen_v2": (0,)}
    trained = {("asen_aaai_s1_seed0",), ("asen_aaai_s1_seed2",)}
    monkeypatch.setattr(cache, "is_finished", lambda cfg, root: (cfg.name,) in trained)
    assert book.main_table_method_seeds(ctx) == {"asen_aaai": (0, 2), "asen_v2": (0,)}
    smoke = book.BookContext("smoke", "Toy", toy_root, ctx.device, 0, tmp_path / "runs", tmp_path / "res", files)
    assert book.main_table_method_seeds(smoke) == {}


def test_setup_takes_the_parameters_cell_as_is(tmp_path):
    """A chapter calls setup(globals()): the parameters cell's names are read, anything else is ignored."""
    import asen.book as book

    namespace = {"profile": "smoke", "dataset": "SynthFashion", "data_root": str(tmp_path / "synth"),
                 "device": "cpu", "seed": 3, "runs_root": str(tmp_path / "runs"),
                 "results_dir": str(tmp_path / "res"), "unrelated": object()}
    ctx = book.setup(namespace)
    assert (ctx.profile, ctx.seed, ctx.runs_root, ctx.results_dir) == ("smoke", 3, tmp_path / "runs",
                                                                       tmp_path / "res")
    assert repr(ctx) == f"device: cpu | profile: smoke | data: {tmp_path / 'synth'}"
    assert not ctx.trains_fully
    del namespace["seed"]
    with pytest.raises(ValueError, match="^the parameters cell does not set seed$"):
        book.setup(namespace)


def test_glue_hands_plain_numbers_to_myst_nb(monkeypatch, capsys):
    import sys

    import numpy as np

    import asen.book as book

    glued = {}
    fake = type(sys)("myst_nb")
    fake.glue = lambda name, value, display=True: glued.update({name: (value, display)})
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    book.glue(ap=np.float64(0.25), n=np.int64(3), name="ASEN")
    assert glued == {"ap": (0.25, False), "n": (3, False), "name": ("ASEN", False)}
    assert type(glued["ap"][0]) is float and type(glued["n"][0]) is int  # a format spec applies to them
    assert capsys.readouterr().out == ""
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # not installed (Colab): the values are printed
    book.glue(ap=np.float64(0.25), n=3)
    assert capsys.readouterr().out == "ap = 0.25\nn = 3\n"


def test_epoch_log_reads_the_epochs_of_a_run(tmp_path):
    import json

    from asen.book import epoch_log

    run = tmp_path / "asen_s1_seed0-abc"
    (run / "checkpoints").mkdir(parents=True)
    lines = [{"epoch": 1, "loss": 0.5, "valid_map": 10.0}, {"event": "resume"},
             {"epoch": 1, "loss": 0.4, "valid_map": 11.0}, {"epoch": 2, "loss": 0.3, "valid_map": 12.0}]
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    log = epoch_log(run / "checkpoints" / "best.pt")  # a checkpoint of the run will do
    assert list(log.index) == [1, 2] and log["loss"].tolist() == [0.4, 0.3]  # the resumed epoch 1 wins
    assert epoch_log(run).equals(log)
    with pytest.raises(ValueError, match="has no epoch records"):
        epoch_log(tmp_path)


def test_first_query_is_the_first_row_of_the_attribute():
    import numpy as np

    from asen.book import first_query

    items = np.array([[10, 0, 1], [11, 1, 2], [12, 0, 3], [13, 1, 0]])
    assert (first_query(items, 0), first_query(items, 1)) == (0, 1)
    with pytest.raises(ValueError, match="no query of attribute 2"):
        first_query(items, 2)


def test_train_images_per_second_runs_forward_and_backward():
    import torch

    from asen.book import train_images_per_second

    calls = []

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x, a, branch):
            calls.append((x.shape, a.shape, branch))
            return x.mean(dim=(1, 2, 3))[:, None] * self.w, None

    model = Tiny()
    rate = train_images_per_second(model, "global", size=8, batch=4, steps=2)
    assert rate > 0 and len(calls) == 3 and calls[0] == ((4, 3, 8, 8), (4,), "global")  # one warm-up step
    assert model.w.grad is None  # cleared afterwards


def test_saved_gpu_benchmark_takes_the_first_cuda_run(tmp_path):
    import json

    from asen.book import saved_gpu_benchmark

    def result(device):
        return {"machine": {"device": device, "gpu": "H200"},
                "results": {"train": {"paper": {"stage1": {"a": {"images_per_s": 300.0},
                                                           "b": {"images_per_s": 500.0}},
                                                "stage2_crop": {"batched": {"images_per_s": 120.0}}}}}}

    (tmp_path / "cpu.json").write_text(json.dumps(result("cpu")))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "gpu.json").write_text(json.dumps(result("cuda")))
    paths = [tmp_path / n for n in ("cpu.json", "broken.json", "missing.json", "gpu.json")]
    assert saved_gpu_benchmark(paths) == {"file": str(tmp_path / "gpu.json"), "gpu": "H200", "stage1": 500.0,
                                          "stage2": 120.0}
    assert saved_gpu_benchmark(paths[:3]) is None
