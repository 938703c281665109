"""A user error (bad value, bad or missing file, a file where a folder is expected, existing output) ends in one
line ``error: ...`` naming the thing, with exit status 2, never a traceback (asen.cli.errors). None trains."""
import errno
import json
import shutil

import numpy as np
import pytest
import torch

from asen.cli import error_message, main
from asen.errors import BadValue, UserError


def _one_error(capsys) -> str:
    """The only line on stderr, which must be ``error: ...``."""
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _argparse_error(capsys, argv: list[str]) -> str:
    """argparse's refusal of an option value: exit status 2, its last line names the option."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


@pytest.fixture
def bad_bytes_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"good line\n\xff\xfe bad line\n")
    return path


# --------------------------------------------------------------------------------------- numeric options
@pytest.mark.parametrize("argv, option", [
    (["synth", "--workers", "0"], "--workers"),
    (["synth", "--seed", "-1"], "--seed"),
    (["doctor", "x", "--max-images", "-1"], "--max-images"),
    (["doctor", "x", "--workers", "0"], "--workers"),
    (["search", "--index", "i", "--checkpoint", "c", "--image", "q", "--attribute", "0", "-k", "0"], "-k"),
    (["rerank", "--checkpoint", "c", "--image", "q", "--attribute", "0", "--results", "r", "--alpha", "1.5"],
     "--alpha"),
    (["rerank", "--checkpoint", "c", "--image", "q", "--attribute", "0", "--results", "r", "--beta", "nan"],
     "--beta"),
    (["rerank", "--checkpoint", "c", "--image", "q", "--attribute", "0", "--results", "r", "--batch-size", "0"],
     "--batch-size"),
    (["index", "build", "--checkpoint", "c", "--images", "i", "--out", "o", "--num-workers", "-1"], "--num-workers"),
    (["reproduce", "--plan", "--seeds", "-1"], "--seeds"),
    (["reproduce", "--plan", "--jobs", "-1"], "--jobs"),
])
def test_numeric_options_are_checked_by_the_parser(capsys, argv, option):
    last = _argparse_error(capsys, argv)
    assert f"argument {option}" in last and "expected" in last


def test_device_must_be_known(capsys):
    assert main(["train", "-c", "fashionai_s1", "--device", "bogus"]) == 2
    line = _one_error(capsys)
    assert "--device 'bogus'" in line and "auto, cpu, cuda or cuda:N" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_cuda_without_cuda_is_a_user_error(capsys):
    assert main(["train", "-c", "fashionai_s1", "--device", "cuda"]) == 2
    assert "--device cuda: CUDA is not available" in _one_error(capsys)


# ------------------------------------------------------------------------------------------------ configs
def test_an_empty_section_changes_nothing(tmp_path):
    from asen.config import load_config

    (tmp_path / "a.yaml").write_text("name: a\ntrain:\n  margin: 0.3\n")
    (tmp_path / "b.yaml").write_text("train:\neval:\n")
    cfg = load_config([tmp_path / "a.yaml", tmp_path / "b.yaml"], ["train.lr=1e-3"])
    assert cfg.train.margin == 0.3 and cfg.train.lr == 1e-3


@pytest.mark.parametrize("config, expected", [
    ("", "--config '': empty config name"),
    ("FOLDER", "is a folder"),
    ("LATIN", "not UTF-8 text"),
])
def test_bad_config_files(tmp_path, capsys, config, expected):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: x\n# caf\xe9\n")
    config = {"FOLDER": str(tmp_path), "LATIN": str(latin)}.get(config, config)
    assert main(["train", "-c", config]) == 2
    line = _one_error(capsys)
    assert expected in line and (config in line or not config)


@pytest.mark.parametrize("override", ["train.lr=inf", "train.margin=.inf", "eval.beta=nan", "model.csn_mask_mean=inf"])
def test_non_finite_numbers_are_refused_at_load_time(capsys, override):
    assert main(["train", "-c", "fashionai_s1", "--set", override]) == 2
    line = _one_error(capsys)
    assert f"--set {override}" in line and "must be a finite number" in line


# ------------------------------------------------------------------------------------------- data folders
def test_num_values_must_be_whole_numbers(toy_root, tmp_path, capsys):
    root = shutil.copytree(toy_root, tmp_path / "Toy")
    meta = json.loads((root / "meta.json").read_text())
    meta["num_values"][1] = "three"
    (root / "meta.json").write_text(json.dumps(meta))
    assert main(["train", "-c", "fashionai_s1", "--device", "cpu", "--set", f"data.root={root}",
                 "--run-dir", str(tmp_path / "run")]) == 2
    line = _one_error(capsys)
    assert str(root / "meta.json") in line and "'num_values[1]'" in line and "'three'" in line


def test_a_label_file_that_is_not_utf8(toy_root, tmp_path, capsys):
    root = shutil.copytree(toy_root, tmp_path / "Toy")
    queries = root / "query_test.txt"
    n = len(queries.read_text().splitlines())
    with open(queries, "ab") as fh:
        fh.write(b"1 0 \xff\n")
    from asen.layout import DataError, load_split_files

    with pytest.raises(DataError, match=f"query_test.txt, line {n + 1}: not UTF-8"):
        load_split_files(root)
    assert main(["doctor", str(root), "--no-images", "--no-progress"]) == 1  # a problem reported, no crash
    out = capsys.readouterr().out
    assert f"query_test.txt, line {n + 1}: not UTF-8" in out


def test_a_file_given_for_a_dataset_folder(toy_root, tmp_path, capsys):
    meta = toy_root / "meta.json"
    assert main(["train", "-c", "fashionai_s1", "--device", "cpu", "--set", f"data.root={meta}",
                 "--run-dir", str(tmp_path / "run")]) == 2
    assert f"{meta} is a file, not a folder" in _one_error(capsys)
    assert main(["doctor", str(meta), "--no-progress"]) == 1
    assert f"{meta} is a file, not a folder" in capsys.readouterr().out


def test_doctor_json_creates_its_folder_and_refuses_a_folder(toy_root, tmp_path, capsys):
    out = tmp_path / "new" / "report.json"
    assert main(["doctor", str(toy_root), "--no-images", "--no-progress", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["errors"] == []
    capsys.readouterr()
    assert main(["doctor", str(toy_root), "--no-images", "--no-progress", "--json", str(tmp_path)]) == 2
    assert f"--json {tmp_path}: a folder, not a file" in _one_error(capsys)


# ---------------------------------------------------------------------------------------------- synth
def test_synth_output_that_cannot_be_used(tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert main(["synth", "--size", "tiny", "--out", str(other)]) == 2
    assert f"refusing to overwrite {other}" in _one_error(capsys)
    assert (other / "keep.txt").read_text() == "mine"
    a_file = other / "keep.txt"
    assert main(["synth", "--size", "tiny", "--out", str(a_file)]) == 2
    assert f"{a_file}: it exists and is not a folder" in _one_error(capsys)


def test_synth_empty_preview_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["synth", "--preview", ""]) == 2
    assert "--preview ''" in _one_error(capsys)
    assert list(tmp_path.iterdir()) == []  # nothing generated into ./data/SynthFashion


# ------------------------------------------------------------------------------------------------- train
def test_train_run_dir_checks(toy_root, tmp_path, capsys):
    base = ["train", "-c", "fashionai_s1", "--device", "cpu", "--set", f"data.root={toy_root}"]
    assert main([*base, "--run-dir", ""]) == 2
    assert "--run-dir ''" in _one_error(capsys)
    missing = tmp_path / "no_such_run"
    assert main([*base, "--run-dir", str(missing), "--resume"]) == 2
    assert f"no run folder {missing} to resume" in _one_error(capsys)
    assert not missing.exists()
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main([*base, "--run-dir", str(a_file)]) == 2
    assert f"--run-dir {a_file}: a file, not a folder" in _one_error(capsys)


@pytest.mark.parametrize("content", [b"PK\x03\x04 truncated", b"model:\n  backbone: resnet_tiny\n"])
def test_pretrained_weights_that_are_not_a_checkpoint(toy_root, tmp_path, capsys, content):
    weights = tmp_path / "weights.pt"
    weights.write_bytes(content)
    assert main(["train", "-c", "fashionai_s1", "--device", "cpu", "--quiet", "--run-dir", str(tmp_path / "run"),
                 "--set", f"data.root={toy_root}", "--set", "model.backbone=resnet_tiny",
                 "--set", f"model.pretrained={weights}", "--set", "model.tiny_width=8"]) == 2
    line = _one_error(capsys)
    assert f"{weights}: not a readable PyTorch checkpoint" in line and "model.pretrained" in line


def test_asenpp_config_with_a_checkpoint_of_asen_train(tmp_path, capsys):
    """--asenpp-config is for the authors' checkpoints: with one of asen train's, the line names the file and
    says to leave the option out (it named neither, and advised a library function)."""
    from asen.config import load_config
    from asen.model import build_model

    cfg = load_config(["synthfashion_cpu"], ["model.tiny_width=8"])
    ckpt = tmp_path / "best.pt"
    torch.save({"model": build_model(cfg.model, 2, "cpu").state_dict(), "config": cfg.to_dict(),
                "num_attributes": 2}, ckpt)
    assert main(["evaluate", "--checkpoint", str(ckpt), "--device", "cpu", "--asenpp-config", "fashionai_s1"]) == 2
    line = _one_error(capsys)
    assert f"{ckpt}: not an official ASEN++ checkpoint" in line and "without --asenpp-config" in line


def test_evaluate_out_is_checked_before_the_work(tmp_path, capsys):
    # the checkpoint does not exist: --out is refused before it is read
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--device", "cpu", "--out",
                 str(tmp_path)]) == 2
    assert f"--out {tmp_path}: a folder, not a file" in _one_error(capsys)


# ----------------------------------------------------------------------------------- reproduce, search
def test_reproduce_plan_needs_a_dataset_folder(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["reproduce", "--plan", "--data", str(a_file)]) == 2
    assert f"--data {a_file}: a file, not a folder" in _one_error(capsys)
    assert main(["reproduce", "--plan", "--data", str(tmp_path / "missing")]) == 2
    assert "no SynthFashion dataset there" in _one_error(capsys)


def test_output_folders_are_checked_before_the_work(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["reproduce", "--plan", "--out", str(a_file)]) == 2
    assert f"--out {a_file}: a file, not a folder" in _one_error(capsys)
    pytest.importorskip("faiss")
    assert main(["index", "build", "--checkpoint", "c.pt", "--images", str(tmp_path), "--out",
                 str(a_file / "index")]) == 2
    assert f"--out {a_file / 'index'}: {a_file} is a file, not a folder" in _one_error(capsys)


def test_search_index_that_is_a_file(tmp_path, capsys):
    pytest.importorskip("faiss")
    a_file = tmp_path / "index.json"
    a_file.write_text("{}")
    assert main(["search", "--index", str(a_file), "--checkpoint", "c.pt", "--image", "q.jpg",
                 "--attribute", "0"]) == 2
    assert f"--index {a_file} is a file, not a folder" in _one_error(capsys)
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "index.json").write_text("[]")  # another tool's JSON: was an AttributeError
    assert main(["search", "--index", str(tmp_path / "idx"), "--checkpoint", "c.pt", "--image", "q.jpg",
                 "--attribute", "0"]) == 2
    assert f"{tmp_path / 'idx' / 'index.json'}: not an asen search index (a JSON list" in _one_error(capsys)


def test_index_overwrite_deletes_nothing_when_the_arguments_are_wrong(tmp_path, toy_root, capsys):
    """`--overwrite` replaces an earlier index, but a mistyped --images or --checkpoint is refused before its
    files are deleted."""
    pytest.importorskip("faiss")
    index = tmp_path / "idx"
    index.mkdir()
    for name in ("index.json", "gallery.txt", "attr_0.faiss"):
        (index / name).write_text("earlier index")
    base = ["index", "build", "--out", str(index), "--overwrite", "--device", "cpu", "--quiet"]
    assert main([*base, "--checkpoint", "c.pt", "--images", str(tmp_path / "no_such_gallery")]) == 2
    assert "--images: no such folder or file" in _one_error(capsys)
    assert main([*base, "--checkpoint", str(tmp_path / "no_such.pt"), "--images", str(toy_root / "images")]) == 2
    assert "no_such.pt: no such file" in _one_error(capsys)
    assert sorted(p.name for p in index.iterdir()) == ["attr_0.faiss", "gallery.txt", "index.json"]


@pytest.mark.parametrize("command", [
    ["search", "--index", "idx", "--attribute", "0"],
    ["rerank", "--results", "r.txt", "--attribute", "0"],
])
def test_an_empty_results_path_is_refused_not_ignored(command, capsys):
    pytest.importorskip("faiss")
    assert main([*command, "--checkpoint", "c.pt", "--image", "q.jpg", "--out", ""]) == 2
    assert "--out '': empty path" in _one_error(capsys)


def test_rerank_results_that_cannot_be_read(tmp_path, capsys, bad_bytes_file):
    base = ["rerank", "--checkpoint", "c.pt", "--image", "q.jpg", "--attribute", "0", "--results"]
    assert main([*base, str(tmp_path)]) == 2
    assert f"--results {tmp_path}: a folder, not a file" in _one_error(capsys)
    assert main([*base, str(bad_bytes_file)]) == 2
    assert f"{bad_bytes_file}, line 2: not UTF-8 text" in _one_error(capsys)
    nan = tmp_path / "nan.txt"
    nan.write_text("a.jpg\t0.9\nb.jpg\tnan\n")  # was read, and made every score of --alpha 0.5 NaN
    assert main([*base, str(nan), "--alpha", "0.5"]) == 2
    assert f"{nan}, line 2: the score must be a finite number, got 'nan'" in _one_error(capsys)


# --------------------------------------------------------------------------- library values, safety net
def test_library_range_checks_are_user_errors_and_value_errors():
    from asen.embed import fuse
    from asen.search.vectors import search_vectors
    from asen.synth.layout import check_seed

    for call in (lambda: fuse(np.zeros((1, 2)), np.zeros((1, 2)), 1.5), lambda: check_seed(-1),
                 lambda: search_vectors(None, np.zeros((1, 2), np.float32), 0)):
        with pytest.raises(ValueError) as exc:
            call()
        assert isinstance(exc.value, BadValue) and isinstance(exc.value, UserError)


def test_in_batch_sampler_too_few_images_is_a_user_error(toy_root):
    from asen.data import InBatchSampler, load_split_files

    files = load_split_files(toy_root, ("train",))
    with pytest.raises(BadValue, match="data.images_per_batch=1 gives"):
        InBatchSampler(files.train_labels, files.meta, images_per_batch=1, attributes_per_batch=1, steps=1, seed=0)


@pytest.mark.parametrize("exc, expected", [
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp/.out.x.tmp", None, "/tmp/out"),
     "/tmp/out: expected a file, got a folder"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/tmp/f.txt/x.json"),
     "/tmp/f.txt/x.json: expected a folder"),
    (FileExistsError(errno.EEXIST, "File exists", "/tmp/out"), "/tmp/out: already exists"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/x.jpg"),
     "/data/x.jpg: no such file or folder: check the path"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x"), "/root/x: permission denied"),
    (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/.ev.json.x1.tmp"), "/mnt/ro: a read-only file system"),
    (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/run"), "/mnt/ro: a read-only file system"),
    (OSError(errno.EDQUOT, "Disk quota exceeded", "/home/u/runs/a/log.jsonl"),
     "disk quota exceeded while writing /home/u/runs/a/log.jsonl: free space"),
])
def test_os_path_errors_name_the_users_path(exc, expected):
    message = error_message(exc)
    assert message is not None and message.startswith(expected) and ".tmp" not in message


def test_a_missing_file_without_a_path_keeps_its_own_message():
    """Our own FileNotFoundErrors carry their message (which names the file and what to do) and no filename."""
    assert error_message(FileNotFoundError("data/x: no meta.json; run asen synth first")) == \
        "data/x: no meta.json; run asen synth first"


# ----------------------------------------------------------------------------------- interrupted commands
def test_sigterm_ends_a_command_through_its_cleanup_with_status_143(tmp_path):
    """A SIGTERM while `asen synth` renders leaves no half-written temporary folder (its cleanup ran) and no
    traceback; the handler is the command's only while it runs."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import os, signal, sys, time
        import asen.synth.layout as layout
        from asen.cli import main

        def render_then_killed(tmp, *args):
            (tmp / "images" / "train" / "half.jpg").write_bytes(b"x")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)

        layout._render_all = render_then_killed
        before = signal.getsignal(signal.SIGTERM)
        try:
            main(["synth", "--size", "tiny", "--workers", "1", "--quiet", "--out", {str(tmp_path / "ds")!r}])
        finally:
            print("restored", signal.getsignal(signal.SIGTERM) is before)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 143, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip().endswith("restored True")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_ends_a_command_in_one_line_with_status_130(monkeypatch, capsys):
    import sys
    from types import SimpleNamespace

    cli_main = sys.modules["asen.cli.main"]
    args = cli_main.build_parser().parse_args(["doctor", "nowhere"])

    def interrupted(_args):
        raise KeyboardInterrupt

    args.func = interrupted
    monkeypatch.setattr(cli_main, "build_parser", lambda: SimpleNamespace(parse_args=lambda argv: args))
    assert main(["doctor", "nowhere"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"
