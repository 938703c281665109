"""FAISS search and reranking (asen.search): exact index == brute-force NumPy, per attribute; ASEN++ fused
features; rerank == manual attribute-specific cosine; errors; the CLI glue. Random-init tiny models."""
import json

import numpy as np
import pytest
import torch

pytest.importorskip("faiss")

from asen import search as S  # noqa: E402
from asen.config import load_config  # noqa: E402
from asen.data import DataError, ImageSet, load_split_files  # noqa: E402
from asen.embed import extract_features, fuse  # noqa: E402
from asen.errors import UserError  # noqa: E402
from asen.model import build_model  # noqa: E402

TINY_MODEL = {
    "model.backbone": "resnet_tiny", "model.local_backbone": "resnet_tiny", "model.pretrained": "none",
    "model.local_pretrained": "none", "model.tiny_width": 8, "model.attr_embed_size": 16, "model.spatial_dim": 16,
    "model.local_spatial_dim": 16, "model.embed_size": 32,
}
K = 5


def tiny_cfg(root, **extra):
    over = {**TINY_MODEL, "data.root": str(root), "data.global_size": 32, "data.local_size": 32, **extra}
    return load_config(["fashionai_s1"], [f"{k}={v}" for k, v in over.items()])


def make_model(cfg, seed=0):
    torch.manual_seed(seed)
    return build_model(cfg.model, 2, "cpu").eval()


def reference_features(model, images, attr, local=False, beta=0.6):
    """Features through asen.embed.extract_features (one attribute per item)."""
    items = np.array([[i, attr, 0] for i in range(len(images))])
    f = extract_features(model, images, items, "cpu", S.EmbedSettings(local_size=32, crop_threshold=0.1),
                         batch_size=16, progress=False)
    return fuse(f["global"], f["local"], beta).astype(np.float32) if local else f["global"]


def assert_same_topk(scores, ids, ref_scores, ref_ids, atol=1e-5):
    np.testing.assert_allclose(scores, ref_scores, atol=atol)
    differ = ids != ref_ids
    # a different id is only allowed where two candidates tie
    assert np.all(np.abs(scores - ref_scores)[differ] < atol), (ids, ref_ids)


@pytest.fixture(scope="module")
def gallery(toy_root):
    files = load_split_files(toy_root, ("test",))
    return ImageSet(toy_root, files.filenames["test"], 32)


@pytest.fixture(scope="module")
def built(toy_root, gallery, tmp_path_factory):
    cfg = tiny_cfg(toy_root)
    model = make_model(cfg)
    out = S.build_index(model, gallery, "all", tmp_path_factory.mktemp("idx") / "flat", "cpu", batch_size=16,
                        config=cfg, checkpoint="ckpt.pt", progress=False)
    return cfg, model, S.load_index(out)


@pytest.fixture(scope="module")
def ref(built, gallery):
    """{attribute: reference gallery features} of the built model."""
    return {a: reference_features(built[1], gallery, a) for a in (0, 1)}


def test_index_folder_contents(built, gallery):
    cfg, _, idx = built
    assert idx.attribute_names == ["colour", "position"] and idx.attributes == [0, 1]
    assert idx.paths == [str(gallery.root / f) for f in gallery.filenames]
    info = idx.info
    assert info["index_type"] == "flat" and info["dim"] == 32 and info["num_items"] == len(gallery)
    assert info["config_hash"] == cfg.hash() and info["checkpoint"] == "ckpt.pt"
    assert info["settings"]["global_size"] == 32 and info["feature"] == "global"
    assert all((idx.root / e["file"]).exists() for e in info["attributes"])
    assert not list(idx.root.glob("features_*.npy"))  # removed unless keep_features


@pytest.mark.parametrize("attr", [0, 1])
def test_flat_index_equals_brute_force(built, ref, attr):
    _, model, idx = built
    feats = ref[attr]
    queries = feats[::4]
    # the NumPy reference written out in full: score every candidate, sort by -score (ties by id)
    scores = queries @ feats.T
    ref_ids = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    ref_scores = np.take_along_axis(scores, ref_ids, axis=1)
    fs, fi = idx.search_vectors(attr, queries, K)
    assert fi.shape == (len(queries), K) and fs.dtype == np.float32 and fi.dtype == np.int64
    assert_same_topk(fs, fi, ref_scores, ref_ids)
    es, ei = S.exact_search(feats, queries, K)
    assert_same_topk(es, ei, ref_scores, ref_ids)
    assert (fi[:, 0] == np.arange(0, len(feats), 4)).all()  # each gallery image finds itself first


@pytest.mark.parametrize("variant", [
    {},
    {"model.channels_last": True},
    {"model.head": "csn", "model.spatial_attention": False, "model.channel_attention": False},
    {"model.embed_norm": "batchnorm", "model.channel_attention": False},
    {"model.embed_norm": "attribute_batchnorm"},
])
def test_shared_backbone_embedding_equals_model_forward(toy_root, gallery, variant):
    # the embedder runs the global backbone once for all attributes; it must equal model.forward per attribute
    cfg = tiny_cfg(toy_root, **variant)
    model = make_model(cfg, seed=3)
    feats = S.embed_images(model, gallery, [0, 1], "cpu", S.EmbedSettings(global_size=32), batch_size=16)
    x = torch.stack([gallery[i]["image"] for i in range(len(gallery))])
    for a in (0, 1):
        with torch.no_grad():
            g, _ = model(x, torch.full((len(x),), a, dtype=torch.long), branch="global")
        expected = torch.nn.functional.normalize(g.float(), dim=1).numpy()
        np.testing.assert_allclose(feats[a], expected, atol=1e-5)
        np.testing.assert_allclose(reference_features(model, gallery, a), expected, atol=1e-5)


def test_attributes_give_different_neighbours(built, ref):
    _, model, idx = built
    q = {a: ref[a][:10] for a in (0, 1)}
    ids = {a: idx.search_vectors(a, q[a], K)[1] for a in (0, 1)}
    assert (ids[0] != ids[1]).any()


def test_search_a_query_image(built, gallery, ref):
    _, model, idx = built
    query = str(gallery.root / gallery.filenames[3])
    for attr, name in enumerate(["colour", "position"]):
        results = S.search(idx.root, model, query, name, K, "cpu")
        feats = ref[attr]
        ref_scores, ref_ids = S.exact_search(feats, feats[3], K)
        assert [p for p, _ in results] == [idx.paths[i] for i in ref_ids[0]]
        np.testing.assert_allclose([s for _, s in results], ref_scores[0], atol=1e-5)
        assert results[0][0] == query and results[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(S.search(idx, model, query, 1, 1000, "cpu")) == len(gallery)  # k capped at the gallery size


def test_local_branch_index_holds_fused_features(toy_root, gallery, tmp_path):
    cfg = tiny_cfg(toy_root, **{"model.local_branch": True, "train.stage": 2, "eval.beta": 0.7})
    model = make_model(cfg, seed=1)
    out = S.build_index(model, gallery, ["position"], tmp_path / "fused", "cpu", batch_size=16, config=cfg,
                        keep_features=True, progress=False)
    idx = S.load_index(out)
    assert idx.attributes == [1] and idx.dim == 64 and idx.settings.beta == 0.7
    ref = reference_features(model, gallery, 1, local=True, beta=0.7)
    np.testing.assert_allclose(np.load(out / "features_1.npy"), ref, atol=1e-5)
    fs, fi = idx.search_vectors("position", ref[:8], K)
    assert_same_topk(fs, fi, *S.exact_search(ref, ref[:8], K))
    with pytest.raises(DataError, match="not indexed.*indexed: position"):
        idx.index("colour")
    # a global-only model does not fit this 64-d fused index (another model: refused by its weights)
    with pytest.raises(S.IndexMismatchError, match="other weights"):
        S.search(idx, make_model(tiny_cfg(toy_root)), idx.paths[0], 1, K, "cpu")


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes(kind, ref):
    feats = ref[0]
    index = S.make_index(feats, kind, nprobe=64)
    ids = S.search_vectors(index, feats[:20], K)[1]
    ref = S.exact_search(feats, feats[:20], K)[1]
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, ref)])
    assert recall >= 0.95


def _recall(index, gallery, queries, k=10):
    ids = S.search_vectors(index, queries, k)[1]
    ref = S.exact_search(gallery, queries, k)[1]
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, ref)])


def test_approximate_indexes_on_a_gallery_large_enough_to_be_approximate():
    """The toy gallery (60 images) gets one IVF cell and a trivially exact HNSW graph; 4000 random 16-d vectors
    get 102 cells (n // 39), where nprobe and ef_search decide the recall."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:200]
    ivf = S.make_index(x, "ivf", nprobe=64)
    assert ivf.nlist == 4000 // 39 and ivf.nprobe == 64
    assert _recall(ivf, x, q) >= 0.95
    assert _recall(S.make_index(x, "ivf", nprobe=1), x, q) < 0.6  # one cell of 102: approximate indeed
    hnsw = S.make_index(x, "hnsw")
    assert hnsw.hnsw.efSearch == 128 and _recall(hnsw, x, q) >= 0.95
    assert _recall(S.make_index(x, "hnsw", hnsw_m=4, ef_search=1), x, q) < 0.6


@pytest.mark.parametrize("kind, params, read", [
    ("hnsw", {"ef_search": 7}, lambda index: index.hnsw.efSearch),
    ("ivf", {"nprobe": 3}, lambda index: index.nprobe),
])
def test_a_loaded_index_searches_with_the_parameters_it_was_built_with(built, gallery, tmp_path, kind, params, read):
    """index.json keeps the search parameters and loading applies them: an IVF file does not store its nprobe."""
    cfg, model, _ = built
    out = S.build_index(model, gallery, [0], tmp_path / kind, "cpu", batch_size=16, config=cfg, index_type=kind,
                        index_params=params, progress=False)
    (value,) = params.values()
    assert read(S.load_index(out).index(0)) == value
    if kind == "ivf":
        faiss = pytest.importorskip("faiss")
        assert read(faiss.read_index(str(out / "attr_0.faiss"))) != value  # the file alone has FAISS's default


def test_rerank_orders_by_attribute_specific_cosine(built, ref):
    _, model, idx = built
    query, results = idx.paths[0], idx.paths[10:30]
    settings = idx.settings  # the gallery's input size (32 px), not the default 224
    for attr in (0, 1):
        feats = ref[attr]
        cos = feats[10:30] @ feats[0]
        order = np.argsort(-cos, kind="stable")
        out = S.rerank(model, query, results, attr, "cpu", settings=settings)
        assert [p for p, _ in out] == [results[i] for i in order]
        np.testing.assert_allclose([s for _, s in out], cos[order], atol=1e-5)
    # blended with original scores; attribute by name
    original = np.linspace(1.0, 0.0, len(results))
    out = S.rerank(model, query, results, "position", "cpu", alpha=0.3, original_scores=original,
                   attribute_names=["colour", "position"], settings=settings)
    blend = 0.3 * (ref[1][10:30] @ ref[1][0]) + 0.7 * original
    order = np.argsort(-blend, kind="stable")
    assert [p for p, _ in out] == [results[i] for i in order]
    np.testing.assert_allclose([s for _, s in out], blend[order], atol=1e-5)
    assert S.rerank(model, query, [], 0, "cpu") == []


def test_errors(built, tmp_path):
    _, model, idx = built
    with pytest.raises(DataError, match=r"unknown attribute 'sleeve_length'.*colour.*position"):
        idx.attribute_index("sleeve_length")
    with pytest.raises(DataError, match="out of range"):
        idx.attribute_index(7)
    with pytest.raises(DataError, match="unknown attribute"):
        S.search(idx, model, idx.paths[0], "collar_design", K, "cpu")
    with pytest.raises(FileNotFoundError, match="index folder not found"):
        S.load_index(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no index.json"):
        S.search(tmp_path / "empty", model, idx.paths[0], 0, K, "cpu")
    with pytest.raises(ValueError, match="original_scores"):
        S.rerank(model, idx.paths[0], idx.paths[:3], 0, "cpu", alpha=0.5)
    with pytest.raises(DataError, match="unknown attribute 'neck'"):
        S.rerank(model, idx.paths[0], idx.paths[:3], "neck", "cpu")
    with pytest.raises(ValueError, match="index type"):
        S.make_index(np.zeros((4, 8), np.float32), "lsh")
    bad = tmp_path / "results.txt"
    bad.write_text("a.png\t0.5\nb.png\n")
    with pytest.raises(DataError, match="some lines have a score"):
        S.read_results(bad)


def _cli():
    from asen.cli import build_parser

    parser = build_parser()

    def call(*argv):  # the handler itself: a user error propagates (`asen` would print it as one line)
        args = parser.parse_args([str(a) for a in argv])
        return args.func(args)
    return call


def test_cli_index_search_rerank(toy_root, gallery, tmp_path, capsys):
    cfg = tiny_cfg(toy_root)
    model = make_model(cfg, seed=2)
    ckpt = tmp_path / "best.pt"
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "num_attributes": 2}, ckpt)
    listing = tmp_path / "gallery.txt"
    listing.write_text("\n".join(gallery.filenames[:24]) + "\n")
    cli = _cli()
    common = ["--checkpoint", ckpt, "--device", "cpu", "--quiet"]
    assert cli("index", "build", *common, "--images", listing, "--root", toy_root, "--attributes", "colour",
               "--out", tmp_path / "idx") == 0
    info = json.loads((tmp_path / "idx" / "index.json").read_text())
    assert info["num_items"] == 24 and [e["name"] for e in info["attributes"]] == ["colour"]
    query = toy_root / gallery.filenames[5]
    capsys.readouterr()
    assert cli("search", "--index", tmp_path / "idx", *common, "--image", query, "--attribute", "colour", "-k", 4,
               "--out", tmp_path / "res.txt") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "rank" in lines[1] and "score" in lines[1] and "path" in lines[1]
    assert lines[3].split()[0] == "1" and lines[3].split()[2] == str(query) and len(lines) >= 3 + 4
    res = (tmp_path / "res.txt").read_text().splitlines()
    assert len(res) == 4 and res[0].split("\t")[0] == str(query)
    with pytest.raises(DataError, match="not indexed"):
        cli("search", "--index", tmp_path / "idx", *common, "--image", query, "--attribute", "position")
    other = tmp_path / "other.pt"  # same config, other weights: its scores would mean nothing for this index
    torch.save({"model": make_model(cfg, seed=5).state_dict(), "config": cfg.to_dict(), "num_attributes": 2}, other)
    with pytest.raises(S.IndexMismatchError, match=rf"^{other} has other weights than the model the index "
                                                   rf"{tmp_path / 'idx'} was built with \({ckpt}\)"):
        cli("search", "--index", tmp_path / "idx", "--checkpoint", other, "--device", "cpu", "--quiet",
            "--image", query, "--attribute", "colour")
    assert cli("rerank", *common, "--image", query, "--attribute", "1", "--results", tmp_path / "res.txt",
               "--alpha", 0.5, "--out", tmp_path / "rr.txt") == 0
    out = capsys.readouterr().out
    assert "reranked by 'position'" in out and "was" in out
    assert {r.split("\t")[0] for r in (tmp_path / "rr.txt").read_text().splitlines()} == \
        {r.split("\t")[0] for r in res}
    # order and scores of a longer list whose original scores rise down the list (a random-init model's cosines
    # are all near 1): 0.5 * the 'position' cosine to the query + 0.5 * the original score, by hand
    feats = reference_features(model, gallery, 1)
    ids, original = list(range(6, 18)), np.linspace(0.0, 0.55, 12)
    (tmp_path / "general.txt").write_text("".join(f"{toy_root / gallery.filenames[i]}\t{s:.6f}\n"
                                                  for i, s in zip(ids, original)))
    assert cli("rerank", *common, "--image", query, "--attribute", "position", "--results",
               tmp_path / "general.txt", "--alpha", 0.5, "--out", tmp_path / "rr2.txt") == 0
    blend = 0.5 * (feats[ids] @ feats[5]) + 0.5 * original
    order = np.argsort(-blend, kind="stable")
    rr = [r.split("\t") for r in (tmp_path / "rr2.txt").read_text().splitlines()]
    assert [p for p, _ in rr] == [str(toy_root / gallery.filenames[ids[i]]) for i in order]
    np.testing.assert_allclose([float(s) for _, s in rr], blend[order], atol=2e-6)
    with pytest.raises(DataError, match=r"unknown attribute 'collar'.*colour"):
        cli("rerank", *common, "--image", query, "--attribute", "collar", "--results", tmp_path / "res.txt")
    assert cli("index", "build", *common, "--images", toy_root / "images", "--attributes", "all",
               "--out", tmp_path / "dir_idx", "--index-type", "hnsw") == 0
    assert json.loads((tmp_path / "dir_idx" / "index.json").read_text())["num_items"] == 240
    # an earlier index is replaced only when asked, and none of its files outlives it
    before = (tmp_path / "idx" / "attr_0.faiss").read_bytes()
    with pytest.raises(UserError, match=rf"^--out {tmp_path / 'idx'} holds an index already \(3 files\); give "
                                        r"--overwrite"):
        cli("index", "build", *common, "--images", listing, "--root", toy_root, "--attributes", "position",
            "--out", tmp_path / "idx")
    assert (tmp_path / "idx" / "attr_0.faiss").read_bytes() == before
    assert cli("index", "build", *common, "--images", listing, "--root", toy_root, "--attributes", "position",
               "--out", tmp_path / "idx", "--overwrite") == 0
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["attr_1.faiss", "gallery.txt", "index.json"]
    # a folder of other files is never written into
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"keep me")
    for extra in ([], ["--overwrite"]):
        with pytest.raises(UserError, match=r"a folder that holds other files, not an index"):
            cli("index", "build", *common, "--images", listing, "--root", toy_root, "--out", tmp_path / "photos",
                *extra)
    assert [p.name for p in (tmp_path / "photos").iterdir()] == ["holiday.jpg"]
    # an index beside other files: refused, and the index is not deleted first
    (tmp_path / "idx" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match=r"besides an index it holds other files \(notes\.txt\)"):
        cli("index", "build", *common, "--images", listing, "--root", toy_root, "--out", tmp_path / "idx",
            "--overwrite")
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == [
        "attr_1.faiss", "gallery.txt", "index.json", "notes.txt"]


def test_an_index_refuses_other_weights_and_changed_files(built, tmp_path):
    import shutil

    cfg, model, idx = built
    root = tmp_path / "idx"
    shutil.copytree(idx.root, root)
    query = idx.paths[0]
    assert S.search(root, model, query, 0, K, "cpu")[0][0] == query
    assert idx.info["weights_sha256"] and all(e["sha256"] for e in idx.info["attributes"])
    other = make_model(cfg, seed=1)  # same config, other weights
    with pytest.raises(S.IndexMismatchError, match=rf"^the model has other weights than the model the index {root} "
                                                   r"was built with \(ckpt\.pt\)"):
        S.search(root, other, query, 0, K, "cpu")
    # one attribute's .faiss file swapped for another's
    (root / "attr_0.faiss").write_bytes((root / "attr_1.faiss").read_bytes())
    with pytest.raises(S.IndexMismatchError, match=rf"^{root / 'attr_0.faiss'} is not the file this index was built "
                                                   r"with .*rebuild the index"):
        S.search(root, model, query, 0, K, "cpu")
    assert S.search(root, model, query, 1, K, "cpu")  # the untouched attribute still answers
    # a changed gallery list
    (root / "gallery.txt").write_text("".join(p + "\n" for p in reversed(idx.paths)))
    with pytest.raises(S.IndexMismatchError, match=rf"^{root / 'gallery.txt'} is not the file this index"):
        S.load_index(root)
    # an index written before fingerprints existed cannot be checked: rebuild it
    info = dict(idx.info, version=1)
    info.pop("weights_sha256")
    (root / "index.json").write_text(json.dumps(info))
    with pytest.raises(S.IndexMismatchError, match=r"index version 1 records no fingerprint.*rebuild it"):
        S.load_index(root)


def test_exact_search_breaks_ties_by_the_lower_id():
    """The brute-force reference keeps, among candidates tied with the k-th score, the lowest ids (argpartition alone
    keeps an arbitrary few of them: 984-988 of 1,000 equal vectors)."""
    gallery = np.ones((1000, 4), np.float32)
    scores, ids = S.exact_search(gallery, gallery[:2], 5)
    assert ids.tolist() == [[0, 1, 2, 3, 4]] * 2 and np.all(scores == 4)
    # distinct scores above a tie at the boundary: the better ones first, then the lowest tied ids
    gallery = np.zeros((50, 2), np.float32)
    gallery[:, 0] = 1
    gallery[[40, 7], 0] = [3, 2]
    scores, ids = S.exact_search(gallery, np.array([1, 0], np.float32), 4)
    assert ids.tolist() == [[40, 7, 0, 1]] and scores.tolist() == [[3, 2, 1, 1]]


@pytest.mark.parametrize("edit, message", [
    ({"dim": "1024"}, r"'dim' must be a JSON number, got '1024'"),
    ({"version": None}, r"'version' must be a JSON number, got None"),
    ({"attribute_names": "colour"}, r"'attribute_names' must be a JSON list \(array\), got 'colour'"),
    ({"attributes": [{"index": "0", "file": "attr_0.faiss"}]}, r"attributes\[0\] must be an object with an integer"),
])
def test_an_index_json_edited_by_hand_is_refused_naming_the_field(built, tmp_path, edit, message):
    """A field that loading or searching reads, of another type, ends in one line naming it, not a traceback."""
    import shutil

    root = tmp_path / "idx"
    shutil.copytree(built[2].root, root)
    info = json.loads((root / "index.json").read_text())
    (root / "index.json").write_text(json.dumps({**info, **edit}))
    with pytest.raises(DataError, match=rf"^{root / 'index.json'}: {message}.*rebuild the index"):
        S.load_index(root)


def test_an_index_refuses_a_model_with_another_attribute_count(built, toy_root):
    cfg, _, idx = built
    torch.manual_seed(0)
    three = build_model(cfg.model, 3, "cpu").eval()
    with pytest.raises(S.IndexMismatchError, match=r"has 3 attributes but the index .* was built for 2"):
        S.search(idx, three, idx.paths[0], 0, K, "cpu")
    with pytest.raises(DataError, match=rf"{toy_root}/meta.json has 2 attributes but the model has 3"):
        S.load_attribute_names(3, cfg)
