"""The authors' ASEN++ yacs files (config/<D>/<D>.yaml, s1.yaml, s2.yaml) load as their code reads them."""
import json
from pathlib import Path

import pytest
import torch
import yaml

from asen.cli import main
from asen.config import AUTHORS_DEFAULTS, ConfigError, decode_yacs_value, load_config
from asen.published import ATTRIBUTES

# Values per attribute, as the authors' data files list them (DATA.ATTRIBUTES.NUM).
NUM_VALUES = {
    "FashionAI": [6, 9, 8, 6, 5, 5, 10, 5],
    "DARN": [20, 13, 55, 7, 28, 11, 26, 8, 17],
    "DeepFashion": [156, 218, 180, 216, 230],
}
DATASETS = tuple(NUM_VALUES)


AUTHORS_CONFIG = Path(__file__).parent / "data" / "authors_config"
"""The authors' config/<D>/{<D>,s1,s2}.yaml byte for byte (their repository Maryeon/asenpp at b443271: CRLF line
ends, no final newline, `1e-4` that PyYAML reads as a string)."""


def authors_files(folder, dataset):
    """Copy the authors' config/<D>/{<D>,s1,s2}.yaml under ``folder``; returns their paths."""
    d = folder / "config" / dataset
    d.mkdir(parents=True, exist_ok=True)
    paths = d / f"{dataset}.yaml", d / "s1.yaml", d / "s2.yaml"
    for path in paths:
        path.write_bytes((AUTHORS_CONFIG / dataset / path.name).read_bytes())
    return paths


def test_the_fixtures_are_the_authors_files():
    """What makes them the authors' format: Windows line ends, the data file's attribute lists, and a learning
    rate that only yacs' decoding turns into a number."""
    for dataset in DATASETS:
        data, s1, s2 = (AUTHORS_CONFIG / dataset / n for n in (f"{dataset}.yaml", "s1.yaml", "s2.yaml"))
        assert b"\r\n" in data.read_bytes() and b"\r\n" in s2.read_bytes()
        tree = yaml.safe_load(data.read_text())["DATA"]
        assert (tree["DATASET"], tree["NUM_ATTRIBUTES"], tree["ATTRIBUTES"]["NUM"]) == (
            dataset, len(NUM_VALUES[dataset]), NUM_VALUES[dataset])
        assert yaml.safe_load(s1.read_text()) == {"NAME": f"{dataset}_s1", "SAVE_DIR": "runs"}
        assert yaml.safe_load(s2.read_text())["SOLVER"]["BASE_LR"] == "1e-4"


def test_values_are_decoded_as_yacs_does():
    assert yaml.safe_load("BASE_LR: 1e-4")["BASE_LR"] == "1e-4"  # why decoding is needed
    assert decode_yacs_value("1e-4") == pytest.approx(1e-4) and isinstance(decode_yacs_value("1e-4"), float)
    assert decode_yacs_value("(1, 2)") == (1, 2) and decode_yacs_value("[0.5]") == [0.5]
    assert decode_yacs_value("resnet50") == "resnet50" and decode_yacs_value("data/x y") == "data/x y"
    assert decode_yacs_value("True") is True and decode_yacs_value(3) == 3


def _common(cfg, dataset):
    """What both stages take from the data file and the authors' defaults."""
    assert (cfg.data.dataset, cfg.data.root) == (dataset, f"data/{dataset}")
    assert (cfg.data.global_size, cfg.data.local_size) == (224, 112)
    assert (cfg.data.batch_size, cfg.data.eval_batch_size, cfg.data.num_triplets, cfg.data.num_workers) == (
        16, 64, 100_000, 4)
    assert cfg.data.sampler == "random" and cfg.train.scheduler == "step" and cfg.train.weight_decay == 0.0
    assert (cfg.model.backbone, cfg.model.local_backbone) == ("resnet50", "resnet34")
    assert (cfg.model.pretrained, cfg.model.local_pretrained, cfg.model.head) == ("imagenet", "imagenet", "asen")
    assert (cfg.model.embed_size, cfg.model.attr_embed_size, cfg.model.spatial_dim, cfg.model.local_spatial_dim,
            cfg.model.reduction) == (1024, 512, 512, 256, 2)
    assert cfg.model.spatial_attention and cfg.model.channel_attention
    assert (cfg.train.margin, cfg.eval.beta, cfg.train.eval_every) == (0.2, 0.6, 1)
    # DATA.ATTRIBUTES.NUM, checked against the dataset's meta.json when it is opened
    assert cfg.data.attribute_values == ",".join(map(str, NUM_VALUES[dataset]))


@pytest.mark.parametrize("dataset", DATASETS)
def test_stage1_files(tmp_path, dataset):
    data, s1, _ = authors_files(tmp_path, dataset)
    cfg = load_config([data, s1])
    _common(cfg, dataset)
    assert cfg.name == f"{dataset}_s1"
    assert cfg.train.stage == 1 and not cfg.model.local_branch
    assert (cfg.train.lr, cfg.train.lr_step, cfg.train.lr_decay, cfg.train.epochs) == (1e-4, 3, 0.9, 50)
    assert (cfg.train.crop_threshold, cfg.eval.crop_threshold) == (0.4, 0.4)  # the default; unused in stage 1
    assert (cfg.train.global_weight, cfg.train.local_weight, cfg.train.align_weight) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("dataset", DATASETS)
def test_stage2_files(tmp_path, dataset):
    data, _, s2 = authors_files(tmp_path, dataset)
    cfg = load_config([data, s2])
    _common(cfg, dataset)
    assert cfg.name == f"{dataset}_s2"
    assert cfg.train.stage == 2 and cfg.model.local_branch
    # with the local branch, BASE_LR is the local branch's and BASE_LR_SLOW the global branch's
    assert (cfg.train.lr, cfg.train.local_lr) == (1e-5, 1e-4)
    assert (cfg.train.lr_step, cfg.train.lr_decay, cfg.train.epochs) == (1, 0.9, 20)
    assert (cfg.train.crop_threshold, cfg.eval.crop_threshold) == (0.1, 0.1)
    assert (cfg.train.global_weight, cfg.train.local_weight, cfg.train.align_weight) == (1.0, 0.1, 0.1)
    assert load_config([s2, data]) == cfg  # merged before translation: the order of the two does not matter


def test_the_meaning_of_base_lr_comes_from_another_file(tmp_path):
    """BASE_LR in the data file; MODEL.LOCAL.ENABLE in the stage file: translated after the merge."""
    data = tmp_path / "D.yaml"
    data.write_text("DATA:\n  DATASET: D\nSOLVER:\n  BASE_LR: 3e-4\n  BASE_LR_SLOW: 2e-5\n")
    s1, s2 = tmp_path / "s1.yaml", tmp_path / "s2.yaml"
    s1.write_text("NAME: D_s1\n")
    s2.write_text("MODEL:\n  LOCAL:\n    ENABLE: True\n")
    assert load_config([data, s1]).train.lr == pytest.approx(3e-4)
    cfg = load_config([data, s2])
    assert (cfg.train.local_lr, cfg.train.lr) == (pytest.approx(3e-4), pytest.approx(2e-5))


def test_stage_file_alone_is_refused_without_a_dataset_and_takes_the_authors_defaults(tmp_path):
    _, s1, s2 = authors_files(tmp_path, "FashionAI")
    # a stage file names no dataset: alone it would train on the default folder unasked, so it is refused
    with pytest.raises(ConfigError, match=r"s1\.yaml: the authors' files name no dataset .* or set data\.root"):
        load_config([s1])
    with pytest.raises(ConfigError, match=r"s2\.yaml: the authors' files name no dataset"):
        load_config([s1, s2])
    cfg = load_config([s1], ["data.root=data/FashionAI"])
    assert cfg.data.root == "data/FashionAI"
    assert (cfg.train.epochs, cfg.train.lr_step, cfg.train.lr_decay, cfg.train.lr) == (50, 3, 0.9, 1e-4)
    assert cfg.model.backbone == "resnet50" and cfg.train.crop_threshold == 0.4 and cfg.eval.crop_threshold == 0.4
    # the authors' block is a whole configuration: it replaces an earlier file of ours key by key
    assert load_config(["synthfashion_cpu", s1]).model.backbone == "resnet50"
    # ... and a later file of ours, or --set, still overrides it (left to right)
    ours = tmp_path / "ours.yaml"
    ours.write_text("train:\n  epochs: 2\ndata:\n  root: data/FashionAI\n")
    cfg = load_config([s1, s2, ours], ["data.num_workers=0"])  # s1 and s2 merge flat, then ours
    assert (cfg.train.epochs, cfg.data.num_workers, cfg.train.stage, cfg.name) == (2, 0, 2, "FashionAI_s2")


# authors' key, a value a file may give, our key, what it becomes there
DIRECT = [
    ("MODEL.EMBED_SIZE", 256, "model.embed_size", 256),
    ("MODEL.ATTRIBUTE.EMBED_SIZE", 64, "model.attr_embed_size", 64),
    ("MODEL.GLOBAL.ATTENTION.SPATIAL.COMMON_EMBED_SIZE", 128, "model.spatial_dim", 128),
    ("MODEL.LOCAL.ATTENTION.SPATIAL.COMMON_EMBED_SIZE", 64, "model.local_spatial_dim", 64),
    ("INPUT.GLOBAL_SIZE", 256, "data.global_size", 256),
    ("INPUT.LOCAL_SIZE", 128, "data.local_size", 128),
    ("INPUT.THRESHOLD", 0.3, "train.crop_threshold", 0.3),
    ("INPUT.THRESHOLD", 0.3, "eval.crop_threshold", 0.3),
    ("DATA.NUM_WORKERS", 0, "data.num_workers", 0),
    ("DATA.NUM_TRIPLETS", 5000, "data.num_triplets", 5000),
    ("DATA.TRAIN_BATCHSIZE", 32, "data.batch_size", 32),
    ("DATA.TEST_BATCHSIZE", 8, "data.eval_batch_size", 8),
    ("DATA.BASE_PATH", "/datasets", "data.root", "/datasets/FashionAI"),
    ("SOLVER.STEP_SIZE", 5, "train.lr_step", 5),
    ("SOLVER.DECAY_RATE", 0.5, "train.lr_decay", 0.5),
    ("SOLVER.EPOCHS", 7, "train.epochs", 7),
    ("SOLVER.EVAL_STEPS", 2, "train.eval_every", 2),
    ("SOLVER.MARGIN", 0.3, "train.margin", 0.3),
    ("SOLVER.GLOBAL_WEIGHT", 0.5, "train.global_weight", 0.5),
    ("SOLVER.LOCAL_WEIGHT", 0.25, "train.local_weight", 0.25),
    ("SOLVER.ALIGN_WEIGHT", 0.75, "train.align_weight", 0.75),
    ("SOLVER.BETA", 0.5, "eval.beta", 0.5),
    ("SOLVER.BASE_LR", "2e-3", "train.local_lr", 2e-3),  # stage 2: BASE_LR is the local branch's
    ("SOLVER.BASE_LR_SLOW", "3e-6", "train.lr", 3e-6),
    ("MODEL.LOCAL.BACKBONE.NAME", "resnet18", "model.local_backbone", "resnet18"),
    ("NAME", "mine", "name", "mine"),
]


def _nest(dotted: str, value):
    tree = value
    for part in reversed(dotted.split(".")):
        tree = {part: tree}
    return tree


@pytest.mark.parametrize("key,value,ours,expected", DIRECT)
def test_every_mapped_key_reaches_its_field(tmp_path, key, value, ours, expected):
    data, _, s2 = authors_files(tmp_path, "FashionAI")
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump(_nest(key, value)))

    def value(cfg):
        return cfg.name if ours == "name" else getattr(getattr(cfg, ours.split(".")[0]), ours.split(".")[1])

    got = value(load_config([data, s2, extra]))
    assert got == expected and got != value(load_config([data, s2]))  # the key changed the field


def test_switches_and_global_backbone(tmp_path):
    data, s1, s2 = authors_files(tmp_path, "FashionAI")
    off = tmp_path / "off.yaml"
    off.write_text("MODEL:\n  GLOBAL:\n    ATTENTION:\n      SPATIAL: {ENABLE: False}\n      CHANNEL: {ENABLE: False, "
                   "REDUCTION_RATE: 4}\n  LOCAL:\n    ATTENTION:\n      SPATIAL: {ENABLE: False}\n      CHANNEL: "
                   "{ENABLE: False, REDUCTION_RATE: 4}\n")
    cfg = load_config([data, s2, off])
    assert not cfg.model.spatial_attention and not cfg.model.channel_attention and cfg.model.reduction == 4
    small = tmp_path / "small.yaml"
    small.write_text("MODEL:\n  GLOBAL:\n    BACKBONE: {NAME: resnet18, EMBED_SIZE: 256}\n")
    assert load_config([data, s1, small]).model.backbone == "resnet18"


def test_every_default_key_is_known(tmp_path):
    """A file may set any key of the authors' defaults to its default value without changing the result."""
    data, _, s2 = authors_files(tmp_path, "FashionAI")
    full = tmp_path / "full.yaml"
    tree: dict = {}
    for key, value in AUTHORS_DEFAULTS.items():
        if key not in ("NAME", "DATA.DATASET", "DATA.NUM_ATTRIBUTES", "DATA.ATTRIBUTES.NAME", "DATA.ATTRIBUTES.NUM"):
            node = tree
            *parents, last = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
    full.write_text(yaml.safe_dump(tree))
    assert load_config([data, full, s2]) == load_config([data, s2])


@pytest.mark.parametrize("text,message", [
    ("SOLVER:\n  BASE_LR_FAST: 1e-3\n", "unknown key 'SOLVER.BASE_LR_FAST' in the authors' config"),
    ("MODEL:\n  LOCAL:\n    THRESHOLD: 0.1\n", "unknown key 'MODEL.LOCAL.THRESHOLD' in the authors' config"),
    ("SOLVER:\n  OPTIMIZER_NAME: SGD\n", "'SOLVER.OPTIMIZER_NAME' must be 'Adam' (this project trains with Adam, "
                                         "as the paper); got 'SGD'"),
    ("INPUT:\n  PIXEL_MEAN: [0.5, 0.5, 0.5]\n", "'INPUT.PIXEL_MEAN' must be ImageNet's [0.485, 0.456, 0.406] (this "
                                                "project normalises every image with it); got [0.5, 0.5, 0.5]"),
    ("INPUT:\n  PIXEL_STD: '[0.229, 0.224, 0.2]'\n", "'INPUT.PIXEL_STD' must be ImageNet's"),
    ("DATA:\n  PATH_FILE:\n    TEST: test.txt\n", "'DATA.PATH_FILE.TEST' must be 'filenames_test.txt' (this project "
                                                   "reads filenames_test.txt from data.root); got 'test.txt'"),
    ("DATA:\n  GROUNDTRUTH:\n    QUERY:\n      VALID: q.txt\n", "'DATA.GROUNDTRUTH.QUERY.VALID' must be "
                                                             "'query_valid.txt'"),
    ("MODEL:\n  LOCAL:\n    ATTENTION:\n      SPATIAL:\n        ENABLE: False\n",
     "'MODEL.LOCAL.ATTENTION.SPATIAL.ENABLE' must equal MODEL.GLOBAL.ATTENTION.SPATIAL.ENABLE (True): both branches "
     "share one setting in this project; got False"),
    ("MODEL:\n  GLOBAL:\n    BACKBONE:\n      EMBED_SIZE: 2048\n", "'MODEL.GLOBAL.BACKBONE.EMBED_SIZE' must be 1024, "
                                                               "the channels of resnet50 after layer3; got 2048"),
    ("DATA:\n  NUM_ATTRIBUTES: 7\n", "'DATA.ATTRIBUTES.NAME' lists 8 entries ("),
    ("MODEL:\n  LOCAL:\n    ENABLE: 'yes'\n", "'MODEL.LOCAL.ENABLE' is 'yes' (str) where the authors' default is "
                                           "False (bool); yacs refuses a value of another type"),
    ("SOLVER:\n  BASE_LR: 1\n", "'SOLVER.BASE_LR' is 1 (int) where the authors' default is 0.0001 (float); yacs "
                                "refuses a value of another type (write 1.0)"),
    ("SOLVER:\n  EPOCHS: 20.0\n", "'SOLVER.EPOCHS' is 20.0 (float) where the authors' default is 50 (int)"),
])
def test_what_this_project_cannot_do_is_an_error_naming_the_file_and_key(tmp_path, text, message):
    data, _, s2 = authors_files(tmp_path, "FashionAI")
    extra = tmp_path / "extra.yaml"
    extra.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config([data, s2, extra])
    assert str(exc.value).startswith(f"{extra}: ") and message in str(exc.value) and "\n" not in str(exc.value)


def test_attribute_count_mismatch_names_both_files(tmp_path):
    data, _, s2 = authors_files(tmp_path, "FashionAI")
    extra = tmp_path / "extra.yaml"
    extra.write_text("DATA:\n  NUM_ATTRIBUTES: 7\n")
    with pytest.raises(ConfigError) as exc:
        load_config([data, s2, extra])
    assert str(exc.value) == (f"{extra}: 'DATA.ATTRIBUTES.NAME' lists 8 entries ({data}) but 'DATA.NUM_ATTRIBUTES' "
                              f"is 7 ({extra}); one entry per attribute")


def test_value_counts_must_be_whole_numbers(tmp_path):
    data, _, s2 = authors_files(tmp_path, "FashionAI")
    text = data.read_text().replace("NUM: [6, 9, 8, 6, 5, 5, 10, 5]", "NUM: [6, 9, 8, 6, 5, 5, 10, five]")
    data.write_text(text)
    with pytest.raises(ConfigError, match=r"FashionAI\.yaml: 'DATA\.ATTRIBUTES\.NUM' must list whole numbers >= 1"):
        load_config([data, s2])
    with pytest.raises(ConfigError, match=r"--set data\.attribute_values=6,x: 'data\.attribute_values' must be whole "
                                          r"numbers >= 1, comma-separated"):
        load_config(["synthfashion_cpu"], ["data.attribute_values=6,x"])
    cfg = load_config(["synthfashion_cpu"])
    assert cfg.data.attribute_values == "" and cfg.hash() == load_config(["synthfashion_cpu"],
                                                                          ["data.attribute_values="]).hash()
    assert cfg.hash() != cfg.replace(**{"data.attribute_values": "6,9"}).hash()


def test_an_out_of_range_authors_value_names_their_file_and_key(tmp_path):
    data, _, s2 = authors_files(tmp_path, "FashionAI")
    s2.write_text(s2.read_text().replace("BASE_LR: 1e-4", "BASE_LR: -1e-4"))
    with pytest.raises(ConfigError) as exc:
        load_config([data, s2])
    assert str(exc.value) == f"{s2} (SOLVER.BASE_LR): 'train.local_lr' must be > 0; got -0.0001"
    data, _, s2 = authors_files(tmp_path, "FashionAI")  # the authors' file again
    s2.write_text(s2.read_text().replace("THRESHOLD: 0.1", "THRESHOLD: 1.5"))
    with pytest.raises(ConfigError, match=r"\(INPUT.THRESHOLD\): 'train.crop_threshold' must be in \[0, 1\)"):
        load_config([data, s2])


def _official_checkpoint(path, num_attributes):
    """A random checkpoint in the authors' layout (keys and shapes of their FashionAI stage-2 file)."""
    from test_checkpoint import official_state

    state = official_state()
    for branch in ("global", "local"):  # the toy dataset has fewer attributes than FashionAI's 8
        key = f"choices.{branch}.attrnet.attr_embedding.weight"
        state[key] = state["choices.global.attrnet.attr_embedding.weight"][:num_attributes].clone()
    torch.save({"model": state, "epoch": 20, "mAP": 0.6}, path)
    return path


def test_evaluate_an_official_checkpoint_with_the_authors_files(tmp_path, monkeypatch, capsys):
    """`asen evaluate --asenpp-config config/FashionAI/FashionAI.yaml --asenpp-config config/FashionAI/s2.yaml`,
    from a folder holding data/FashionAI (the authors' DATA.BASE_PATH default) in the split-file format."""
    from asen.toydata import META, make_toy_dataset

    root = make_toy_dataset(tmp_path / "data" / "FashionAI", n_train=16, n_query=6, n_cand=12)
    data, _, s2 = authors_files(tmp_path, "FashionAI")
    ckpt = _official_checkpoint(tmp_path / "model_best.pth.tar", len(META["attributes"]))
    monkeypatch.chdir(tmp_path)
    # their FashionAI.yaml expects FashionAI's 8 attributes with 6, 9, 8, ... values (DATA.ATTRIBUTES.NUM): the toy
    # data's 2 attributes of 3 values are refused, in one line naming both
    code = main(["evaluate", "--checkpoint", str(ckpt), "--asenpp-config", str(data), "--asenpp-config", str(s2),
                 "--device", "cpu", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data/FashionAI: its meta.json has 2 attributes with [3, 3] values, but the " \
        "config expects 8 with [6, 9, 8, 6, 5, 5, 10, 5]" in err
    # ... and evaluated when the data has FashionAI's structure (the toy images' labels fit in it)
    meta = dict(META, attributes=list(ATTRIBUTES["FashionAI"]), num_values=NUM_VALUES["FashionAI"],
                value_names=[[str(v) for v in range(n)] for n in NUM_VALUES["FashionAI"]])
    (root / "meta.json").write_text(json.dumps(meta))
    ckpt = _official_checkpoint(tmp_path / "model_best.pth.tar", len(ATTRIBUTES["FashionAI"]))
    out = tmp_path / "official.json"
    code = main(["evaluate", "--checkpoint", str(ckpt), "--asenpp-config", str(data), "--asenpp-config", str(s2),
                 "--device", "cpu", "--quiet", "--out", str(out),
                 "--set", "data.num_workers=0", "--set", "data.global_size=64", "--set", "data.local_size=32"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "FashionAI test: global branch MAP" in printed and "ASEN++ (global + local, beta=0.6)" in printed
    result = json.loads(out.read_text())
    assert (result["dataset"], result["split"], result["beta"]) == ("FashionAI", "test", 0.6)
    names = set(ATTRIBUTES["FashionAI"][:2])  # the toy queries' two attributes
    for part in ("global", "local", "fused"):
        assert set(result[part]["per_attribute"]) == names
        assert 0 <= result[part]["overall"] <= 100
    assert result["main"] == result["fused"]


def test_runtime_keys_of_their_defaults_are_read_and_left_alone(tmp_path):
    """LOGGER.LEVEL / LOGGER.STREAM / SAVE_DIR / DEVICE are the authors' runtime (where to log and save): a file may
    set them, as yacs allows, and nothing here changes."""
    data, _, s2 = authors_files(tmp_path, "FashionAI")
    extra = tmp_path / "runtime.yaml"
    extra.write_text("LOGGER:\n  LEVEL: 10\n  STREAM: stderr\nSAVE_DIR: elsewhere\nDEVICE: cpu\n")
    assert load_config([data, extra, s2]) == load_config([data, s2])


def test_the_authors_files_evaluate_with_their_crops(tmp_path):
    """Their LocalTransform cuts the box from the PIL image and resizes it with antialiasing: the authors' files
    select the per-image crop path (data.crop_mode per_image), so their checkpoints are read as trained; the
    shipped paper configs keep the batched crop (a declared departure)."""
    data, s1, s2 = authors_files(tmp_path, "FashionAI")
    assert load_config([data, s2]).data.crop_mode == "per_image"
    assert load_config([data, s1]).data.crop_mode == "per_image"
    assert load_config(["fashionai_s2"]).data.crop_mode == "batched"
