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


# ------------------------------------------------------------------------------------ safe reading of files
class _RunsCode:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_read_checkpoint_names_the_file_and_what_is_wrong(tmp_path, monkeypatch):
    from asen.checkpoint import CheckpointNotFoundError, load_model, read_checkpoint

    good = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.ones(2)}, "epoch": 3}, good)
    assert read_checkpoint(good)["epoch"] == 3
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "notes.pt").write_text("epoch 3, mAP 64.6\n")
    cases = {
        tmp_path / "missing.pt": "no such file",
        tmp_path / "empty.pt": r"the file is empty \(0 bytes",
        tmp_path / "cut.pt": r"not a readable PyTorch checkpoint \(truncated, or another kind of file: ",
        tmp_path / "notes.pt": r"not a readable PyTorch checkpoint \(truncated, or another kind of file: ",
    }
    for path, what in cases.items():
        for load in (lambda p: read_checkpoint(p, "a stage-1 best.pt"), load_model, load_asenpp):
            with pytest.raises(CheckpointError) as err:
                load(path)
            msg = str(err.value)
            assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
            assert __import__("re").search(what, msg), msg
        with pytest.raises(CheckpointError, match="expected a stage-1 best.pt$"):
            read_checkpoint(path, "a stage-1 best.pt")
    with pytest.raises(FileNotFoundError):  # still a FileNotFoundError for callers that catch that
        load_model(tmp_path / "missing.pt")
    assert issubclass(CheckpointNotFoundError, CheckpointError)


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, monkeypatch):
    from asen.checkpoint import load_model, read_checkpoint

    monkeypatch.chdir(tmp_path)
    torch.save({"model": {}, "payload": _RunsCode()}, tmp_path / "evil.pt")
    for load in (read_checkpoint, load_model):
        with pytest.raises(CheckpointError, match=rf"^{tmp_path / 'evil.pt'}: refused: it holds a Python object "
                                                  r"\((builtins\.)?exec\).*could run code"):
            load(tmp_path / "evil.pt")
    assert not (tmp_path / "PWNED").exists()


def test_the_authors_formats_load_with_weights_only(official, tmp_path):
    import numpy as np

    from asen.checkpoint import read_checkpoint

    # ASEN++: {'model', 'epoch', 'mAP'}
    torch.save(official, tmp_path / "model_best.pth.tar")
    assert load_asenpp(tmp_path / "model_best.pth.tar").checkpoint_info["epoch"] == 17
    # the AAAI code: {'epoch', 'state_dict', 'prec'}; 'prec' a float or a NumPy float
    for prec in (61.2, np.float64(61.2)):
        torch.save({"epoch": 9, "state_dict": {"module.fc.weight": torch.zeros(2, 2)}, "prec": prec},
                   tmp_path / "aaai.pth.tar")
        ckpt = read_checkpoint(tmp_path / "aaai.pth.tar")
        assert ckpt["epoch"] == 9 and float(ckpt["prec"]) == pytest.approx(61.2)


def test_checkpoints_of_the_previous_version_still_load(tmp_path):
    """Before, the RNG state held NumPy's raw state tuple (a pickled ndarray): admitted by the NumPy allow-list."""
    import numpy as np

    from asen.checkpoint import read_checkpoint
    from asen.runs import set_rng_state

    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}
    torch.save({"model": {"w": torch.ones(1)}, "rng": state, "epoch": 2}, tmp_path / "old.pt")
    expected = np.random.random(4)
    ckpt = read_checkpoint(tmp_path / "old.pt")
    set_rng_state(ckpt["rng"])
    np.testing.assert_array_equal(np.random.random(4), expected)
