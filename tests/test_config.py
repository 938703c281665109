import pytest
import yaml

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


# (key, bad value, what the message must say is allowed)
BAD_CHOICES = [
    ("data.sampler", "randm", "one of random, aaai, in_batch"),
    ("data.crop_mode", "batch", "one of batched, per_image"),
    ("model.backbone", "resnet51", "one of resnet18, resnet34, resnet50, resnet_tiny"),
    ("model.local_backbone", "vgg16", "one of resnet18, resnet34, resnet50, resnet_tiny"),
    ("model.head", "triplet", "one of asen, csn, asen_aaai, asen_v2"),
    ("model.embed_norm", "layernorm", "one of none, batchnorm, attribute_batchnorm"),
    ("train.scheduler", "cosin", "one of step, cosine"),
    ("train.amp", "fp32", "one of none, bf16, fp16, auto"),
    ("train.local_init", "copy", "one of pretrained, global"),
    ("train.stage", 3, "one of 0, 1, 2"),
    ("eval.split", "train", "one of valid, test"),
]

BAD_RANGES = [
    ("data.global_size", 0, ">= 1"), ("data.local_size", 0, ">= 1"), ("data.num_triplets", 0, ">= 1"),
    ("data.batch_size", 0, ">= 1"), ("data.images_per_batch", 0, ">= 1"), ("data.attributes_per_batch", 0, ">= 1"),
    ("data.steps_per_epoch", -1, ">= 0 (0: num_triplets // batch_size)"), ("data.eval_batch_size", 0, ">= 1"),
    ("data.num_workers", -1, ">= 0"),
    ("data.max_eval_queries", -2, ">= 0 (0: all)"), ("data.crop_sampling_ratio", 0, "-1 (adaptive) or >= 1"),
    ("model.attr_embed_size", 0, ">= 1"), ("model.spatial_dim", 0, ">= 1"), ("model.local_spatial_dim", 0, ">= 1"),
    ("model.embed_size", 0, ">= 1"), ("model.reduction", 0, ">= 1"), ("model.csn_mask_std", -0.1, ">= 0"),
    ("model.tiny_width", 0, ">= 1"), ("model.tiny_blocks", 0, ">= 1"),
    ("train.epochs", 0, ">= 1"), ("train.lr", 0.0, "> 0"), ("train.lr", -1e-4, "> 0"), ("train.local_lr", 0.0, "> 0"),
    ("train.weight_decay", -1e-5, ">= 0"), ("train.lr_decay", 0.0, "in (0, 1]"), ("train.lr_decay", 1.5, "in (0, 1]"),
    ("train.lr_step", 0, ">= 1"), ("train.margin", -0.1, ">= 0"), ("train.global_weight", -1.0, ">= 0"),
    ("train.local_weight", -0.1, ">= 0"), ("train.align_weight", -0.1, ">= 0"),
    ("train.crop_threshold", 1.0, "in [0, 1) (pixels above it are kept)"),
    ("train.crop_threshold", -0.1, "in [0, 1) (pixels above it are kept)"),
    ("train.csn_mask_l1", -1.0, ">= 0"), ("train.seed", -1, ">= 0"), ("train.eval_every", 0, ">= 1"),
    ("train.grad_clip", -1.0, ">= 0 (0: off)"), ("eval.beta", 1.2, "in [0, 1]"), ("eval.beta", -0.1, "in [0, 1]"),
    ("eval.crop_threshold", 1.5, "in [0, 1) (pixels above it are kept)"),
    ("pretrain.source_size", 0, ">= 1"), ("pretrain.min_scale", 0.0, "in (0, 1]"),
    ("pretrain.aspect_jitter", -0.1, ">= 0"), ("pretrain.jitter_p", 1.1, "in [0, 1]"),
    ("pretrain.colour_jitter", 1.5, "in [0, 1]"), ("pretrain.grey_p", -0.2, "in [0, 1]"),
    ("pretrain.temperature", 0.0, "> 0"), ("pretrain.projection_dim", 0, ">= 1"),
]


def _write(path, key, value):
    section, name = key.split(".")
    path.write_text(yaml.safe_dump({section: {name: value}}))
    return path


@pytest.mark.parametrize("key,value,allowed", BAD_CHOICES + BAD_RANGES)
def test_bad_value_in_a_file_names_file_key_value_and_what_is_allowed(tmp_path, key, value, allowed):
    path = _write(tmp_path / "x.yaml", key, value)
    with pytest.raises(ConfigError) as exc:
        load_config(["fashionai_s1", path])
    message = str(exc.value)
    assert message == f"{path}: '{key}' must be {allowed}; got {value!r}"
    assert "\n" not in message


@pytest.mark.parametrize("key,value,allowed", BAD_CHOICES + BAD_RANGES)
def test_bad_value_from_set_names_the_override(key, value, allowed):
    with pytest.raises(ConfigError) as exc:
        load_config(["fashionai_s1"], [f"{key}={value}"])
    assert str(exc.value) == f"--set {key}={value}: '{key}' must be {allowed}; got {value!r}"


def test_the_example_message_of_a_misspelled_scheduler(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("train:\n  scheduler: cosin\n")
    with pytest.raises(ConfigError) as exc:
        load_config([path])
    assert str(exc.value) == f"{path}: 'train.scheduler' must be one of step, cosine; got 'cosin'"


def test_a_later_file_or_override_may_fix_a_value_and_the_last_setter_is_named(tmp_path):
    bad = _write(tmp_path / "bad.yaml", "train.scheduler", "cosin")
    good = _write(tmp_path / "good.yaml", "train.scheduler", "cosine")
    assert load_config([bad, good]).train.scheduler == "cosine"
    assert load_config([bad], ["train.scheduler=step"]).train.scheduler == "step"
    # a good value later replaced by a bad one: the error names the one that set it last
    with pytest.raises(ConfigError, match=rf"^{bad}: 'train.scheduler'"):
        load_config([good, bad])
    with pytest.raises(ConfigError, match=r"^--set train.lr=0: 'train.lr' must be > 0; got 0.0$"):
        load_config([good], ["train.lr=0"])
    # an unrelated later file leaves the blame with the file that set the value
    other = _write(tmp_path / "other.yaml", "train.epochs", 3)
    with pytest.raises(ConfigError, match=rf"^{bad}: "):
        load_config([bad, other])


def test_images_per_batch_zero_is_rejected_not_raised_silently():
    with pytest.raises(ConfigError, match=r"'data.images_per_batch' must be >= 1; got 0"):
        load_config(["synthfashion_cpu"], ["data.images_per_batch=0"])


@pytest.mark.parametrize("key", ["model.pretrained", "model.local_pretrained"])
def test_pretrained_is_imagenet_none_or_a_path_not_checked_for_existence(tmp_path, key):
    for ok in ("imagenet", "none", "runs/x/checkpoints/best.pt", str(tmp_path / "missing.pth"), "weights.pth"):
        assert getattr(load_config([], [f"{key}={ok}"]).model, key.split(".")[1]) == ok
    for bad in ("ImageNet", "imagenet1k", "None", ""):
        with pytest.raises(ConfigError) as exc:
            load_config([], [f"{key}={bad}"])
        assert str(exc.value) == (f"--set {key}={bad}: '{key}' must be one of imagenet, none or a path to a state "
                                  f"dict (e.g. runs/x/checkpoints/best.pt); got {bad!r}")


def test_mapping_overrides_replace_and_with_overrides_are_validated():
    with pytest.raises(ConfigError, match=r"^override train.epochs=0: 'train.epochs' must be >= 1; got 0$"):
        load_config([], {"train.epochs": 0})
    cfg = load_config(["fashionai_s1"])
    with pytest.raises(ConfigError, match=r"^replace\(eval.beta=2.0\): 'eval.beta' must be in \[0, 1\]; got 2.0$"):
        cfg.replace(**{"eval.beta": 2.0})
    with pytest.raises(ConfigError, match=r"^--set eval.split=train: 'eval.split' must be one of valid, test"):
        cfg.with_overrides(["eval.split=train"])
    with pytest.raises(ConfigError, match=r"'name' must not be empty"):
        load_config([], ["name="])


@pytest.mark.parametrize("name", ["../elsewhere", "a/b", "..", "a\\b"])
def test_name_is_a_folder_name(name):
    """``name`` names the run folder runs/<name>: a path in it would put the run elsewhere."""
    with pytest.raises(ConfigError, match=r"^--set name=.*: 'name' must be a folder name, without / or \\ "):
        load_config([], [f"name={name}"])


def test_name_from_a_yaml_list_is_refused(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: [a, b]\n")
    with pytest.raises(ConfigError, match=rf"^{path}: 'name' must be a string .*; got \['a', 'b'\]$"):
        load_config([path])


def test_the_choice_tuples_match_the_consumers():
    from asen.backbones import BACKBONES
    from asen.config import CHOICES, HEADS

    assert CHOICES["model.backbone"]() == tuple(BACKBONES) and CHOICES["model.head"] is HEADS
    cfg = load_config(["synthfashion_cpu"])
    for head in HEADS:  # every allowed head builds
        from asen.model import ASEN

        ASEN(cfg.replace(**{"model.head": head}).model, num_attributes=2)


def test_type_errors_and_bad_yaml_are_one_line_naming_the_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("train:\n  epochs: ten\n")
    with pytest.raises(ConfigError) as exc:
        load_config(["fashionai_s1", path])
    assert str(exc.value) == f"{path}: 'train.epochs' must be an integer; got 'ten'"
    path.write_text("train:\n  lr: [1\n")
    with pytest.raises(ConfigError) as exc:
        load_config([path])
    assert str(exc.value).startswith(f"{path}: not valid YAML: ") and "\n" not in str(exc.value)
    path.write_text("train:\n  lr: 1e-3\n  local_lr: abc\n")  # PyYAML reads 1e-3 as a string
    with pytest.raises(ConfigError) as exc:
        load_config([path])
    assert str(exc.value) == f"{path}: 'train.local_lr' must be a number; got 'abc'"
    path.write_text("train:\n  lr: 1e-3\n")
    assert load_config([path]).train.lr == pytest.approx(1e-3)
