from pathlib import Path

import pytest
import torch
import yaml

from asen.checkpoint import CheckpointError, load_asenpp, ours_to_official

# a copy of the official checkpoint layout (keys, shapes, dtypes) from the project's reference notes
TSV = Path(__file__).parent / "data" / "asenpp_checkpoint_keys_fashionai_s2.tsv"


def official_rows():
    path = TSV
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, dtype = line.split("\t")
        dims = () if shape == "scalar" else tuple(int(d) for d in shape.split("x"))
        rows.append((key, dims, dtype))
    return rows


def official_state(seed=0, local=True):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, dims, dtype in official_rows():
        if not local and key.startswith("choices.local."):
            continue
        if dtype == "int64":
            state[key] = torch.tensor(7, dtype=torch.int64) if not dims else torch.zeros(dims, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = torch.rand(dims, generator=g) + 0.5
        else:
            state[key] = torch.randn(dims, generator=g) * 0.05
    if local:  # the shared attribute embedding is stored twice, with the same values
        state["choices.local.attrnet.attr_embedding.weight"] = state["choices.global.attrnet.attr_embedding.weight"]
    return state


@pytest.fixture(scope="module")
def official():
    return {"model": official_state(), "epoch": 17, "mAP": 0.6457}


def authors_yaml(tmp_path, local=True):
    base, s2 = tmp_path / "FashionAI.yaml", tmp_path / "s2.yaml"
    base.write_text(yaml.safe_dump({"DATA": {"DATASET": "FashionAI", "BASE_PATH": "data", "NUM_ATTRIBUTES": 8},
                                    "MODEL": {"GLOBAL": {"BACKBONE": {"NAME": "resnet50"}}}}))
    s2.write_text(yaml.safe_dump({"MODEL": {"LOCAL": {"ENABLE": local, "BACKBONE": {"NAME": "resnet34"}}}}))
    return [base, s2]


def test_tsv_layout_loads_strictly(official, tmp_path):
    rows = official_rows()
    assert len(rows) == 458
    model = load_asenpp(official, authors_yaml(tmp_path))
    assert not model.training
    assert model.checkpoint_info["epoch"] == 17 and model.checkpoint_info["mAP"] == pytest.approx(0.6457)
    assert sum(p.numel() for p in model.parameters()) == 20984064  # the reference's count (shared embedding once)
    # every official tensor landed in the model, exported back under exactly the official names and shapes
    exported = ours_to_official(model.state_dict())
    assert set(exported) == {k for k, _, _ in rows}
    for key, dims, _ in rows:
        assert tuple(exported[key].shape) == dims
        torch.testing.assert_close(exported[key], official["model"][key])
    # and a file on disk works the same
    path = tmp_path / "model_best.pth.tar"
    torch.save(official, path)
    assert sum(p.numel() for p in load_asenpp(path, authors_yaml(tmp_path)).parameters()) == 20984064


def test_embeddings_come_from_the_weights(official, tmp_path):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 224, 224)
    attrs = torch.tensor([1, 5])
    model = load_asenpp(official, authors_yaml(tmp_path))
    with torch.no_grad():
        g1, maps = model(x, attrs, "global")
        l1, _ = model(torch.randn(2, 3, 112, 112), attrs, "local")
        assert g1.shape == (2, 1024) and maps.shape == (2, 14, 14) and l1.shape == (2, 1024)
        # the same weights give the same output; a changed weight changes it
        again = load_asenpp(official, authors_yaml(tmp_path))
        torch.testing.assert_close(again(x, attrs, "global")[0], g1)
        changed = {k: v.clone() for k, v in official["model"].items()}
        changed["choices.global.attnnet.feature_fc.bias"] += 1.0
        g2, _ = load_asenpp({"model": changed}, authors_yaml(tmp_path))(x, attrs, "global")
        torch.testing.assert_close(g2, g1 + 1.0, rtol=1e-4, atol=1e-4)
        changed["choices.global.attrnet.attr_embedding.weight"] = changed["choices.global.attrnet.attr_embedding.weight"] + 1
        changed["choices.local.attrnet.attr_embedding.weight"] = changed["choices.global.attrnet.attr_embedding.weight"]
        g3, _ = load_asenpp({"model": changed}, authors_yaml(tmp_path))(x, attrs, "global")
        assert not torch.allclose(g3, g2)


def test_stage1_checkpoint_and_mismatches(tmp_path):
    s1 = official_state(local=False)
    model = load_asenpp({"model": s1}, authors_yaml(tmp_path, local=False))
    assert model.local_branch is None
    with pytest.raises(CheckpointError, match="local_branch"):
        load_asenpp({"model": s1}, authors_yaml(tmp_path, local=True))
    bad = dict(s1)
    bad["choices.global.attnnet.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="extra"):
        load_asenpp({"model": bad})
    broken = dict(official_state())
    broken["choices.local.attrnet.attr_embedding.weight"] = torch.zeros(8, 512)
    with pytest.raises(CheckpointError, match="shared attribute embedding"):
        load_asenpp({"model": broken})
