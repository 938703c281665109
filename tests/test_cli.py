import errno
import json
import subprocess
import sys

import pytest
import torch

from asen.cli import build_parser, main


def test_help_explains_recommended_values(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "train" in out and "evaluate" in out and "synth" in out
    train_help = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "fashionai_s1" in train_help and "--resume" in train_help and "train.lr" in train_help


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "asen", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("asen ")


def test_missing_data_folder_message(tmp_path, capsys):
    code = main(["train", "-c", "fashionai_s1", "--set", f"data.root={tmp_path}/FashionAI", "--quiet",
                 "--run-dir", str(tmp_path / "run"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "dataset folder not found" in err and "FashionAI" in err and "prepare_fashionai" in err


def test_unknown_override_is_an_error(capsys):
    code = main(["train", "-c", "fashionai_s1", "--set", "train.learning_rate=1"])
    assert code == 2 and "unknown key 'train.learning_rate'" in capsys.readouterr().err


def test_train_then_evaluate(toy_root, tmp_path, capsys):
    over = ["model.backbone=resnet_tiny", "model.pretrained=none", "model.tiny_width=8", "model.attr_embed_size=16",
            "model.spatial_dim=16", "model.embed_size=32", "model.embed_norm=batchnorm", f"data.root={toy_root}",
            "data.global_size=32", "data.sampler=in_batch", "data.images_per_batch=32", "data.steps_per_epoch=3",
            "data.num_workers=0", "train.epochs=1", "train.lr=3e-3"]
    args = ["train", "-c", "fashionai_s1", "--device", "cpu", "--quiet", "--run-dir", str(tmp_path / "run")]
    for o in over:
        args += ["--set", o]
    assert main(args) == 0
    ckpt = tmp_path / "run" / "checkpoints" / "best.pt"
    out_json = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(ckpt), "--device", "cpu", "--quiet", "--out", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "colour" in out and "position" in out and "overall" in out
    result = json.loads(out_json.read_text())
    assert 0 <= result["main"]["overall"] <= 100 and set(result["main"]["per_attribute"]) == {"colour", "position"}
    assert result["main"]["overall_without_invisible"] is not None
    # -c replaces the checkpoint's config: another input size than the model's is refused, unless --set says so
    again = ["evaluate", "--checkpoint", str(ckpt), "--device", "cpu", "--quiet", "-c", "fashionai_s1", "--set",
             f"data.root={toy_root}"]
    assert main(again) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --config fashionai_s1 sets data.global_size=224 (the checkpoint was trained at 32): the "
                   "model would see inputs of another size; to evaluate on another dataset folder give --set "
                   "data.root=<folder> without -c, or --set data.global_size=224 to mean it")
    assert main([*again, "--set", "data.global_size=32", "--out", str(out_json)]) == 0
    assert json.loads(out_json.read_text())["main"] == result["main"]


TOY = ["model.backbone=resnet_tiny", "model.pretrained=none", "model.tiny_width=8", "model.attr_embed_size=16",
       "model.spatial_dim=16", "model.embed_size=32", "data.global_size=32", "data.sampler=in_batch",
       "data.images_per_batch=32", "data.steps_per_epoch=2", "data.num_workers=0", "train.epochs=1"]


def _toy_train(toy_root, run_dir, *extra):
    args = ["train", "-c", "fashionai_s1", "--device", "cpu", "--quiet", "--run-dir", str(run_dir)]
    for o in [*TOY, f"data.root={toy_root}", *extra]:
        args += ["--set", o]
    return args


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_config_error_is_one_line_naming_the_override(capsys):
    assert main(["train", "-c", "fashionai_s1", "--set", "train.scheduler=cosin"]) == 2
    assert _one_error_line(capsys) == ("error: --set train.scheduler=cosin: 'train.scheduler' must be one of step, "
                                       "cosine; got 'cosin'")


def test_missing_config_is_an_error(capsys):
    assert main(["train", "--set", "train.lr=1e-4"]) == 2
    assert _one_error_line(capsys) == "error: give at least one --config (e.g. -c fashionai_s1, or -c synthfashion_cpu)"


def test_data_error_is_one_line(tmp_path, capsys):
    root = tmp_path / "Broken"
    root.mkdir()
    (root / "meta.json").write_text("{not json")
    assert main(_toy_train(root, tmp_path / "run")) == 2
    assert _one_error_line(capsys).startswith(f"error: {root / 'meta.json'}: not valid JSON (")


def test_missing_checkpoint_file_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    assert main(["evaluate", "--checkpoint", str(missing), "--device", "cpu"]) == 2
    assert _one_error_line(capsys) == (f"error: {missing}: no such file; expected a best.pt/last.pt written by asen "
                                       "train, or an official ASEN++ checkpoint")


def test_checkpoint_error_is_one_line(tmp_path, capsys):
    ckpt = tmp_path / "bare.pt"
    torch.save({"model": {"w": torch.zeros(1)}}, ckpt)
    assert main(["evaluate", "--checkpoint", str(ckpt), "--device", "cpu"]) == 2
    assert _one_error_line(capsys) == f"error: {ckpt}: no 'config' in the checkpoint (not written by asen train?)"


def test_training_divergence_is_one_line(toy_root, tmp_path, capsys, monkeypatch):
    import asen.train

    def diverge(*args, **kwargs):
        raise asen.train.TrainingDiverged("loss is nan at epoch 1, step 2; no checkpoint was written yet. "
                                          "Lower train.lr, or set train.grad_clip / train.amp=none.")

    monkeypatch.setattr(asen.train, "train", diverge)
    assert main(_toy_train(toy_root, tmp_path / "run")) == 2
    assert _one_error_line(capsys) == ("error: loss is nan at epoch 1, step 2; no checkpoint was written yet. "
                                       "Lower train.lr, or set train.grad_clip / train.amp=none.")


def test_disk_full_while_writing_a_file_names_it(toy_root, tmp_path, capsys, monkeypatch):
    import asen.runs

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(asen.runs.os, "fsync", full)
    run = tmp_path / "run"
    assert main(_toy_train(toy_root, run)) == 2
    # the first write that reaches the disk is the run folder's (its lock file, fsynced with the folder)
    assert _one_error_line(capsys) == (f"error: no space left on device while writing {run}: "
                                       "free space or choose another --run-dir/--out")


def test_disk_full_inside_torch_save_names_the_checkpoint(toy_root, tmp_path, capsys, monkeypatch):
    """torch.save on a full disk raises a RuntimeError from its zip writer, not an OSError."""
    import asen.runs

    def full(obj, f, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:595] . PytorchStreamWriter failed writing file "
                           "data/3: file write failed")

    monkeypatch.setattr(asen.runs.torch, "save", full)
    run = tmp_path / "run"
    assert main(_toy_train(toy_root, run)) == 2
    # best.pt is written before last.pt records it
    assert _one_error_line(capsys) == (f"error: no space left on device while writing {run / 'checkpoints'}/"
                                       "best.pt: free space or choose another --run-dir/--out")


@pytest.mark.parametrize("exc", [
    RuntimeError("[enforce fail at inline_container.cc:222] . file not found: archive/data.pkl"),
    RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    ValueError("a bug"),
    OSError(errno.EACCES, "Permission denied"),
])
def test_any_other_exception_is_a_bug_and_keeps_its_traceback(toy_root, tmp_path, monkeypatch, exc):
    import asen.train

    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(asen.train, "train", broken)
    with pytest.raises(type(exc)):
        main(_toy_train(toy_root, tmp_path / "run"))


def test_debug_shows_the_traceback_of_expected_failures(capsys):
    assert main(["--debug", "train", "-c", "fashionai_s1", "--set", "train.scheduler=cosin"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "ConfigError" in err
    assert err.splitlines()[-1].startswith("error: --set train.scheduler=cosin: 'train.scheduler' must be one of")


COMMANDS = ["train", "evaluate", "synth", "doctor", "reproduce", "index", "search", "rerank"]


@pytest.mark.parametrize("argv", [[], *([c] for c in COMMANDS), ["index", "build"]])
def test_help_imports_neither_torch_nor_the_trainer(argv):
    """`asen --help` and `asen <command> --help` build the whole parser; the handlers import what they run."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "asen", *argv, "--help"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("usage: asen")
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "asen.cli" in imported  # the -X importtime report is there
    heavy = {m for m in imported if m.split(".")[0] in ("torch", "torchvision")
             or m in ("asen.train", "asen.model", "asen.reproduce.cache", "asen.synth", "asen.search")}
    assert not heavy


def test_every_command_is_registered_once():
    sub = build_parser()._subparsers._group_actions[0]
    assert list(sub.choices) == COMMANDS
    assert all(callable(p.get_default("func")) for p in sub.choices.values())


def test_index_type_choices_are_the_search_packages():
    from asen.cli.search import INDEX_TYPES
    from asen.search import INDEX_TYPES as SEARCH_INDEX_TYPES

    assert INDEX_TYPES == SEARCH_INDEX_TYPES


def test_missing_faiss_is_one_line(tmp_path, capsys, monkeypatch):
    import asen.search

    def missing():
        raise ImportError("asen.search needs FAISS: install it with `pip install faiss-cpu`")

    monkeypatch.setattr(asen.search, "require_faiss", missing)
    assert main(["index", "build", "--checkpoint", str(tmp_path / "x.pt"), "--images", str(tmp_path),
                 "--out", str(tmp_path / "idx")]) == 2
    assert _one_error_line(capsys) == "error: asen.search needs FAISS: install it with `pip install faiss-cpu`"
    assert main(["search", "--index", str(tmp_path), "--checkpoint", str(tmp_path / "x.pt"), "--image", "q.jpg",
                 "--attribute", "0"]) == 2
    assert _one_error_line(capsys).startswith("error: asen.search needs FAISS")


def test_a_checkpoint_error_of_a_search_command_is_one_line(tmp_path, capsys):
    ckpt = tmp_path / "bare.pt"
    torch.save({"model": {"w": torch.zeros(1)}}, ckpt)
    results = tmp_path / "results.txt"
    results.write_text("a.jpg\n")
    assert main(["rerank", "--checkpoint", str(ckpt), "--image", "q.jpg", "--attribute", "0",
                 "--results", str(results), "--device", "cpu"]) == 2
    assert _one_error_line(capsys) == f"error: {ckpt}: no 'config' in the checkpoint (not written by asen train?)"


def test_doctor_exit_status_is_kept(tmp_path, capsys):
    """`asen doctor` returns 1 for a dataset with errors (its report, not an error line), as before."""
    assert main(["doctor", str(tmp_path / "nope"), "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "dataset folder not found" in out and err == ""
