import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from asen.metrics import (average_precisions, expected_random_ap, map_per_attribute, mean_average_precision, overall_map,
                          predicted_random_map, rank_order)


def ap_loop(scores, relevant):
    """AP from the specification, with plain loops: mean over relevant ranks r of (hits in top r) / r."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, total = 0, 0.0
    for rank, i in enumerate(order, 1):
        if relevant[i]:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def test_hand_worked_example():
    # one query along x; candidates ranked by x: labels 1, 0, 1, 0 -> AP = (1/1 + 2/3) / 2
    q = np.array([[1.0, 0.0]])
    c = np.array([[0.9, 0.1], [0.8, 0.2], [0.5, 0.5], [0.1, 0.9]])
    assert mean_average_precision(q, c, np.array([1]), np.array([1, 0, 1, 0])) == pytest.approx((1 + 2 / 3) / 2)
    # perfect ranking -> 1; no relevant candidate -> 0 and it still counts
    assert mean_average_precision(q, c, np.array([1]), np.array([1, 1, 0, 0])) == pytest.approx(1.0)
    two = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert mean_average_precision(two, c, np.array([1, 7]), np.array([1, 1, 0, 0])) == pytest.approx(0.5)


def test_matches_sklearn_and_loop():
    rng = np.random.default_rng(0)
    q, c = rng.normal(size=(40, 16)), rng.normal(size=(300, 16))
    ql, cl = rng.integers(0, 5, 40), rng.integers(0, 5, 300)
    aps = average_precisions(q, c, ql, cl)
    scores = q @ c.T
    for i in range(len(q)):
        assert aps[i] == pytest.approx(average_precision_score(cl == ql[i], scores[i]))
        assert aps[i] == pytest.approx(ap_loop(scores[i], cl == ql[i]))


def test_per_attribute_is_query_weighted():
    rng = np.random.default_rng(1)
    q, c = rng.normal(size=(30, 8)), rng.normal(size=(90, 8))
    ql = np.stack([np.r_[np.zeros(10), np.ones(20)], rng.integers(0, 3, 30)], 1).astype(int)
    cl = np.stack([np.r_[np.zeros(30), np.ones(60)], rng.integers(0, 3, 90)], 1).astype(int)
    per = map_per_attribute(q, c, ql, cl)
    assert per[0][1] == 10 and per[1][1] == 20
    # each attribute ranks only its own candidates
    a0 = average_precisions(q[:10], c[:30], ql[:10, 1], cl[:30, 1]).mean()
    assert per[0][0] == pytest.approx(a0)
    overall = mean_average_precision(q, c, ql, cl)
    assert overall == pytest.approx((per[0][0] * 10 + per[1][0] * 20) / 30)
    assert overall != pytest.approx((per[0][0] + per[1][0]) / 2)
    # excluding a value drops its queries only
    ex = map_per_attribute(q, c, ql, cl, exclude_values={1: {0}})
    assert ex[1][1] == int((ql[:, 0] == 1).sum() - ((ql[:, 0] == 1) & (ql[:, 1] == 0)).sum())


def test_random_embeddings_match_value_counts():
    # random features: the expected AP of a query is about the share of relevant candidates
    rng = np.random.default_rng(2)
    cl = rng.integers(0, 4, 2000)
    ql = rng.integers(0, 4, 400)
    m = mean_average_precision(rng.normal(size=(400, 32)), rng.normal(size=(2000, 32)), ql, cl)
    assert 0.22 < m < 0.28


def test_bad_shapes():
    with pytest.raises(ValueError):
        average_precisions(np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(2), np.zeros(4))


def test_ties_by_hand():
    # candidates 0 and 1 tie exactly (score 1), candidate 2 scores 0.5; only candidate 0 is relevant.
    q = np.array([[1.0, 0.0]], dtype=np.float32)
    c = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 0.0]], dtype=np.float32)
    ql, cl = np.array([1]), np.array([1, 0, 0])
    # stable: candidate order 0, 1, 2 -> relevant at rank 1 -> AP 1
    assert mean_average_precision(q, c, ql, cl) == 1.0
    assert mean_average_precision(q, c, ql, cl, ties="stable") == 1.0
    # reference (np.argsort(s)[::-1]): 1, 0, 2 -> relevant at rank 2 -> AP 1/2
    assert mean_average_precision(q, c, ql, cl, ties="reference") == 0.5
    assert average_precisions(q, c, ql, cl, ties="reference")[0] == 0.5
    two = np.stack([ql, ql], 1), np.stack([cl * 0 + 1, cl], 1)  # one attribute, (attr, value) labels
    assert map_per_attribute(q, c, *two, ties="reference") == {1: (0.5, 1)}
    assert map_per_attribute(q, c, *two) == {1: (1.0, 1)}
    with pytest.raises(ValueError, match="ties='authors'"):
        mean_average_precision(q, c, ql, cl, ties="authors")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rank_order_matches_numpy_sorts(dtype):
    # quantised scores: many exact ties, negative and zero (both signs) scores, candidates beyond 2**16
    rng = np.random.default_rng(3)
    scores = (rng.integers(-6, 7, size=(7, 70_000)) / 4).astype(dtype)
    scores[0, :5] = [0.0, -0.0, 0.0, -0.0, 0.0]
    scores[1, :3] = [np.inf, -np.inf, np.finfo(dtype).max]
    stable, reference = rank_order(scores), rank_order(scores, ties="reference")
    for i in range(len(scores)):
        np.testing.assert_array_equal(stable[i], np.argsort(-scores[i], kind="stable"))
        np.testing.assert_array_equal(reference[i], np.argsort(scores[i], kind="stable")[::-1])
    with pytest.raises(ValueError, match="NaN"):
        rank_order(np.array([[0.0, np.nan]], dtype=dtype))


def test_ties_reference_is_the_reversed_stable_ascending_sort():
    # the authors' np.argsort(s)[::-1], with the ascending sort made stable (NumPy's default one fixes no tie order)
    rng = np.random.default_rng(4)
    q = rng.integers(0, 3, size=(50, 4)).astype(np.float32)
    c = rng.integers(0, 3, size=(12, 4)).astype(np.float32)
    ql, cl = rng.integers(0, 3, 50), rng.integers(0, 3, 12)
    scores = q @ c.T
    want = [ap_loop_ranked(np.argsort(scores[i], kind="stable")[::-1], cl == ql[i]) for i in range(len(q))]
    np.testing.assert_allclose(average_precisions(q, c, ql, cl, ties="reference"), want, rtol=0, atol=1e-12)
    stable = [ap_loop_ranked(np.argsort(-scores[i], kind="stable"), cl == ql[i]) for i in range(len(q))]
    np.testing.assert_allclose(average_precisions(q, c, ql, cl), stable, rtol=0, atol=1e-12)
    assert not np.allclose(want, stable)  # the data has ties that matter


def ap_loop_ranked(order, relevant):
    """AP of a given ranking, with a plain loop."""
    hits, total = 0, 0.0
    for rank, i in enumerate(order, 1):
        if relevant[i]:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def test_expected_random_ap_by_hand_and_by_enumeration():
    # N = 3, R = 1: the relevant item is at rank 1, 2 or 3 -> AP 1, 1/2, 1/3; mean 11/18
    assert expected_random_ap(1, 3) == pytest.approx(11 / 18)
    # N = 4, R = 2: enumerate the 6 placements of the two relevant items
    import itertools

    aps = []
    for ranks in itertools.combinations(range(1, 5), 2):
        aps.append(np.mean([(k + 1) / r for k, r in enumerate(ranks)]))
    assert expected_random_ap(2, 4) == pytest.approx(np.mean(aps))
    assert expected_random_ap(0, 5) == 0.0 and expected_random_ap(1, 1) == 1.0 and expected_random_ap(7, 7) == 1.0
    assert expected_random_ap(500, 50_000) == pytest.approx(0.01, rel=0.05)  # tends to R / N
    with pytest.raises(ValueError, match="0 <= n_relevant <= n_candidates"):
        expected_random_ap(3, 2)


def test_predicted_random_map_matches_random_rankings():
    rng = np.random.default_rng(0)
    cl = np.stack([np.repeat([0, 1], [30, 12]), np.r_[rng.integers(0, 3, 30), rng.integers(0, 2, 12)]], 1)
    ql = np.stack([np.repeat([0, 1], [40, 10]), np.r_[rng.integers(0, 3, 40), rng.integers(0, 2, 10)]], 1)
    pred = predicted_random_map(ql, cl)
    assert {a: n for a, (_, n) in pred.items()} == {0: 40, 1: 10}
    draws = [map_per_attribute(rng.standard_normal((50, 4)), rng.standard_normal((42, 4)), ql, cl)
             for _ in range(300)]
    for a in (0, 1):
        sim = np.array([d[a][0] for d in draws])
        assert abs(sim.mean() - pred[a][0]) < 4 * sim.std() / np.sqrt(len(sim))
    assert overall_map(pred) == pytest.approx((40 * pred[0][0] + 10 * pred[1][0]) / 50)
    assert overall_map({}) == 0.0
    # percent, as the MAP tables give it: scaled before the division
    assert overall_map(pred, scale=100.0) == 100.0 * (40 * pred[0][0] + 10 * pred[1][0]) / 50
