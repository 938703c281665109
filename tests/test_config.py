import pytest

from asen.config import CONFIG_DIR, ConfigError, load_config


@pytest.mark.parametrize("dataset", ["fashionai", "darn", "deepfashion"])
def test_shipped_paper_configs(dataset):
    s1 = load_config([f"{dataset}_s1"])
    assert (s1.model.backbone, s1.model.pretrained, s1.data.global_size) == ("resnet50", "imagenet", 224)
    assert (s1.data.batch_size, s1.data.num_triplets, s1.train.epochs) == (16, 100_000, 50)
    assert (s1.train.lr, s1.train.lr_decay, s1.train.lr_step, s1.train.margin) == (1e-4, 0.9, 3, 0.2)
    assert not s1.model.local_branch and s1.train.stage == 1
    s2 = load_config([f"{dataset}_s1", f"{dataset}_s2"])
    assert s2.model.local_branch and s2.train.stage == 2 and s2.model.local_backbone == "resnet34"
    assert (s2.train.lr, s2.train.local_lr, s2.train.lr_step, s2.train.epochs) == (1e-5, 1e-4, 1, 20)
    assert (s2.train.global_weight, s2.train.local_weight, s2.train.align_weight) == (1.0, 0.1, 0.1)
    assert (s2.train.crop_threshold, s2.eval.beta, s2.data.local_size) == (0.1, 0.6, 112)


def test_merge_left_to_right_and_overrides(tmp_path):
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("train: {lr: 0.5, epochs: 3}\ndata: {root: x}\n")
    b.write_text("train: {lr: 0.25}\n")
    cfg = load_config([a, b], ["train.epochs=7", "model.backbone=resnet18", "train.amp=bf16"])
    assert cfg.train.lr == 0.25 and cfg.train.epochs == 7 and cfg.data.root == "x"
    assert cfg.model.backbone == "resnet18" and cfg.train.amp == "bf16"
    assert load_config([a], ["train.lr=1e-3"]).train.lr == pytest.approx(1e-3)


def test_unknown_key_names_key_and_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: 1.0\n  learning_rate: 2.0\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*train\.learning_rate"):
        load_config([bad])
    with pytest.raises(ConfigError, match="unknown section 'optim'"):
        load_config([], ["optim.lr=1"])
    with pytest.raises(ConfigError, match="train.epochs.*integer"):
        load_config([], ["train.epochs=ten"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(["no_such_config"])


def test_frozen_and_hash():
    cfg = load_config(["fashionai_s1"])
    with pytest.raises(Exception):
        cfg.train.lr = 1.0  # type: ignore[misc]
    assert cfg.hash() == load_config(["fashionai_s1"]).hash()
    assert cfg.hash() != cfg.replace(**{"train.lr": 1e-3}).hash()


def test_every_shipped_config_loads():
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert len(names) >= 6
    for name in names:
        load_config([name])
