import json
import subprocess
import sys

import pytest

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


def test_evaluate_an_official_checkpoint_with_the_authors_yaml(toy_root, tmp_path, capsys):
    """`asen evaluate --asenpp-config ... --checkpoint ...` on a checkpoint in the official layout."""
    import torch
    import yaml

    from test_checkpoint import official_state

    state = official_state()
    for branch in ("global", "local"):  # the toy dataset has 2 attributes, the official file 8
        key = f"choices.{branch}.attrnet.attr_embedding.weight"
        state[key] = state["choices.global.attrnet.attr_embedding.weight"][:2].clone()
    ckpt = tmp_path / "model_best.pth.tar"
    torch.save({"model": state, "epoch": 20, "mAP": 0.6}, ckpt)
    base, s2 = tmp_path / "Toy.yaml", tmp_path / "s2.yaml"
    base.write_text(yaml.safe_dump({"DATA": {"BASE_PATH": str(toy_root.parent), "DATASET": toy_root.name,
                                             "GLOBAL_SIZE": 64, "LOCAL_SIZE": 32, "TEST_BATCHSIZE": 32},
                                    "MODEL": {"GLOBAL": {"BACKBONE": {"NAME": "resnet50"}}}}))
    s2.write_text(yaml.safe_dump({"MODEL": {"LOCAL": {"ENABLE": True, "BACKBONE": {"NAME": "resnet34"}}}}))
    out = tmp_path / "official.json"
    code = main(["evaluate", "--checkpoint", str(ckpt), "--asenpp-config", str(base), "--asenpp-config", str(s2),
                 "--device", "cpu", "--quiet", "--out", str(out), "--set", "data.num_workers=0"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "ASEN++ (global + local, beta=0.6)" in printed and "local branch MAP" in printed
    result = json.loads(out.read_text())
    assert set(result["fused"]["per_attribute"]) == {"colour", "position"} and result["beta"] == 0.6
