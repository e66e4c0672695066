"""Exact blocked top-K equals brute force (ties included, any block shape); log-sum-exp; ANN recall."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from emoalign.pair.blocked import BYTES_PER_CELL, ann_topk, brute_force_topk, exact_topk, plan_blocks, recall_at_k


@pytest.mark.parametrize("seed", range(12))
def test_integer_data_with_many_ties_matches_brute_force_exactly(seed):
    # small integers: every product is exact in float32 whatever the summation order, and ties abound
    rng = np.random.default_rng(seed)
    n, m, d, k = int(rng.integers(1, 40)), int(rng.integers(1, 250)), int(rng.integers(1, 7)), int(rng.integers(1, 13))
    X = rng.integers(-2, 3, (n, d)).astype(np.float32)
    Y = rng.integers(-2, 3, (m, d)).astype(np.float32)
    ref = brute_force_topk(X, Y, k)
    for rb, cb in [(None, None), (7, 13), (1, 1), (3, 5), (5, 64), (2, 2 * k + 1)]:
        got = exact_topk(X, Y, k, row_block=rb, col_block=cb, threads=2)
        np.testing.assert_array_equal(got.index, ref.index, err_msg=f"blocks {rb}×{cb}")
        np.testing.assert_array_equal(got.scores, ref.scores)


def test_random_floats_match_brute_force_for_odd_blocks():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((123, 17), dtype=np.float32)
    Y = rng.standard_normal((1001, 17), dtype=np.float32)
    ref = brute_force_topk(X, Y, 9)
    for rb, cb in [(13, 97), (50, 333), (123, 1001), (1, 4096)]:
        got = exact_topk(X, Y, 9, row_block=rb, col_block=cb)
        np.testing.assert_array_equal(got.index, ref.index)
        np.testing.assert_allclose(got.scores, ref.scores, rtol=1e-5, atol=1e-5)


def test_memory_budget_sets_the_blocks_and_results_do_not_change():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 8), dtype=np.float32)
    Y = rng.standard_normal((700, 8), dtype=np.float32)
    budget = 40_000
    rb, cb = plan_blocks(300, 700, budget)
    assert rb * cb * BYTES_PER_CELL <= budget
    small = exact_topk(X, Y, 5, memory_budget=budget)
    assert (small.stats["row_block"], small.stats["col_block"]) == (rb, cb)
    assert small.stats["blocks"] > 4
    np.testing.assert_array_equal(small.index, exact_topk(X, Y, 5, memory_budget=2**30).index)


def test_adversarial_order_where_every_block_beats_the_last():
    X = np.ones((20, 3), np.float32)
    Y = (np.arange(5000, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)) / 5000
    got = exact_topk(X, Y, 7, col_block=100)
    np.testing.assert_array_equal(got.index, brute_force_topk(X, Y, 7).index)
    assert got.index[0].tolist() == list(range(4999, 4992, -1))


def test_fewer_images_than_k_pads_with_minus_one():
    X = np.eye(3, dtype=np.float32)
    got = exact_topk(X, X[:2], 4)
    assert (got.index[:, 2:] == -1).all() and np.isneginf(got.scores[:, 2:]).all()
    assert set(got.index[0, :2]) == {0, 1}


def test_log_sum_exp_over_all_columns_is_exact():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((37, 16), dtype=np.float32)
    Y = rng.standard_normal((500, 16), dtype=np.float32)
    got = exact_topk(X, Y, 4, temperature=0.05, col_block=61, row_block=10)
    S = X.astype(np.float64) @ Y.T.astype(np.float64)
    np.testing.assert_allclose(got.log_norm, logsumexp(S / 0.05, axis=1), rtol=1e-5)


def test_baselines_agree_on_values():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((64, 32), dtype=np.float32)
    Y = rng.standard_normal((3000, 32), dtype=np.float32)
    fused = exact_topk(X, Y, 10, col_block=700)
    for method in ("argpartition", "torch"):
        other = exact_topk(X, Y, 10, col_block=700, method=method)
        np.testing.assert_allclose(other.scores, fused.scores, rtol=1e-5)


def test_ann_recall_against_exact():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 24)).astype(np.float32)
    Y = centres[rng.integers(0, 20, 4000)] + 0.3 * rng.standard_normal((4000, 24)).astype(np.float32)
    X = centres[rng.integers(0, 20, 200)] + 0.3 * rng.standard_normal((200, 24)).astype(np.float32)
    exact = exact_topk(X, Y, 10)
    ivf = ann_topk(X, Y, 10, method="ivf", nlist=32, nprobe=32)  # every list probed: exhaustive
    assert recall_at_k(ivf.index, exact.index) == 1.0
    few = ann_topk(X, Y, 10, method="ivf", nlist=64, nprobe=1)
    assert recall_at_k(few.index, exact.index) < 1.0  # one list of 64 misses neighbours
    hnsw = ann_topk(X, Y, 10, method="hnsw", ef_search=128)
    assert recall_at_k(hnsw.index, exact.index) > 0.9
    # scores are recomputed exactly for what was found
    row = ivf.index[0]
    np.testing.assert_allclose(ivf.scores[0], X[0] @ Y[row].T, rtol=1e-5)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="dimension"):
        exact_topk(np.zeros((2, 3)), np.zeros((4, 5)), 1)
    with pytest.raises(ValueError, match="k must be"):
        exact_topk(np.zeros((2, 3)), np.zeros((4, 3)), 0)


def test_interrupted_search_resumes_from_finished_row_blocks(tmp_path):
    rng = np.random.default_rng(9)
    X = rng.standard_normal((300, 12), dtype=np.float32)
    Y = rng.standard_normal((500, 12), dtype=np.float32)
    ckpt = tmp_path / "ckpt"
    full = exact_topk(X, Y, 6, row_block=32, temperature=0.1, checkpoint=ckpt)
    blocks = sorted(ckpt.glob("rows-*.npz"))
    assert len(blocks) == 10 and full.stats["resumed_blocks"] == 0
    for p in blocks[5:]:  # as if killed after five row blocks
        p.unlink()
    again = exact_topk(X, Y, 6, row_block=32, temperature=0.1, checkpoint=ckpt)
    assert again.stats["resumed_blocks"] == 5
    np.testing.assert_array_equal(again.index, full.index)
    np.testing.assert_array_equal(again.log_norm, full.log_norm)
    # other inputs never reuse those blocks
    other = exact_topk(X + 1, Y, 6, row_block=32, temperature=0.1, checkpoint=ckpt)
    assert other.stats["resumed_blocks"] == 0
    np.testing.assert_array_equal(other.index, brute_force_topk(X + 1, Y, 6).index)


@pytest.mark.parametrize("seed", range(6))
def test_joint_top_k_from_the_same_products_matches_brute_force(seed):
    # the emotion-aware candidates' list (a·X·Yᵀ + b·U·Vᵀ) kept in the same blocked pass; small integers → exact ties
    rng = np.random.default_rng(seed)
    n, m, d, k = int(rng.integers(1, 30)), int(rng.integers(1, 200)), int(rng.integers(1, 6)), int(rng.integers(1, 9))
    X = rng.integers(-2, 3, (n, d)).astype(np.float32)
    Y = rng.integers(-2, 3, (m, d)).astype(np.float32)
    U = rng.integers(-1, 2, (n, 2)).astype(np.float32)
    V = rng.integers(-1, 2, (m, 2)).astype(np.float32)
    ref = brute_force_topk(np.hstack([X, U]), np.hstack([Y, 2 * V]), k)  # a = 1, b = 2
    for rb, cb in [(None, None), (7, 13), (1, 1), (3, 5)]:
        got = exact_topk(X, Y, k, row_block=rb, col_block=cb, joint=(U, V, 1.0, 2.0), threads=2)
        np.testing.assert_array_equal(got.joint.index, ref.index, err_msg=f"blocks {rb}×{cb}")
        np.testing.assert_array_equal(got.joint.scores, ref.scores)
        np.testing.assert_array_equal(got.index, brute_force_topk(X, Y, k).index)  # the first list is untouched


def test_joint_top_k_resumes_from_a_checkpoint(tmp_path):
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((40, 8), dtype=np.float32), rng.standard_normal((300, 8), dtype=np.float32)
    U, V = rng.standard_normal((40, 2), dtype=np.float32), rng.standard_normal((300, 2), dtype=np.float32)
    first = exact_topk(X, Y, 5, row_block=8, joint=(U, V, 0.6, 0.2), checkpoint=tmp_path / "ck")
    again = exact_topk(X, Y, 5, row_block=8, joint=(U, V, 0.6, 0.2), checkpoint=tmp_path / "ck")
    assert again.stats["resumed_blocks"] == 5
    np.testing.assert_array_equal(again.joint.index, first.joint.index)
    other = exact_topk(X, Y, 5, row_block=8, joint=(U, V, 0.3, 0.35), checkpoint=tmp_path / "ck")  # other weights: not reused
    assert other.stats["resumed_blocks"] == 0
