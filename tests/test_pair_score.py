"""EMID score components: S normalisations, E in valence–arousal space, T, selection, α = 1 baseline."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.affect import va_cosine
from emoalign.pair.pairing import pair_arrays
from emoalign.pair.score import PAPER_TEMPERATURE, combine, emotional_scores, score_candidates, select, semantic_scores, softmax_rows


def test_relative_and_topk_s_are_the_papers_softmax_rescaled_per_row():
    rng = np.random.default_rng(0)
    all_cos = rng.uniform(-1, 1, (5, 200))
    full = softmax_rows(all_cos / PAPER_TEMPERATURE)
    order = np.argsort(-all_cos, axis=1)[:, :10]
    cand = np.take_along_axis(all_cos, order, axis=1)
    lse = np.log(np.exp(all_cos / PAPER_TEMPERATURE).sum(axis=1))
    s = semantic_scores(cand, log_norm=lse)
    np.testing.assert_allclose(s["S_softmax"], np.take_along_axis(full, order, axis=1), rtol=1e-9)
    np.testing.assert_allclose(s["S_rel"], s["S_softmax"] / s["S_softmax"].max(axis=1, keepdims=True), rtol=1e-9)
    np.testing.assert_allclose(s["S_topk"], s["S_softmax"] / s["S_softmax"].sum(axis=1, keepdims=True), rtol=1e-9)
    assert (s["S_rel"][:, 0] == 1.0).all()
    # the literal softmax over 200 images is far below E's range: why S is rescaled
    assert s["S_softmax"].mean() < 0.2


def test_emotional_score_is_va_cosine_mapped_to_unit_interval():
    rng = np.random.default_rng(1)
    m = rng.uniform(-1, 1, (6, 2))
    imgs = rng.uniform(-1, 1, (6, 4, 2))
    e = emotional_scores(m, imgs)
    for i in range(6):
        np.testing.assert_allclose(e["E_cos"][i], va_cosine(m[i : i + 1], imgs[i])[0])
    np.testing.assert_allclose(e["E"], (1 + e["E_cos"]) / 2)
    assert ((e["E"] >= 0) & (e["E"] <= 1)).all()
    # the neutral origin has no direction: E = 0.5
    assert emotional_scores(np.zeros((1, 2)), np.ones((1, 1, 2)))["E"][0, 0] == 0.5


def test_alpha_bounds_and_softmax_needs_the_norm():
    with pytest.raises(ValueError):
        combine(np.ones((1, 1)), np.ones((1, 1)), 1.5)
    with pytest.raises(ValueError, match="log_norm"):
        score_candidates(np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2, 2)), s_norm="softmax")


def test_select_breaks_ties_by_semantic_rank():
    T = np.array([[0.5, 0.7, 0.7, 0.1]])
    assert select(T, 3).tolist() == [[1, 2, 0]]
    valid = np.array([[True, True, False, False]])
    assert select(T, 3, valid).tolist() == [[1, 0, -1]]


@pytest.mark.parametrize("s_norm", ["relative", "topk", "softmax"])
def test_alpha_one_reproduces_the_semantic_only_ranking(s_norm):
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((30, 16)), rng.standard_normal((400, 16))
    mva, iva = rng.uniform(-1, 1, (30, 2)), rng.uniform(-1, 1, (400, 2))
    res = pair_arrays(X, Y, mva, iva, alpha=1.0, top_k=12, keep=4, s_norm=s_norm)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Yn = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    semantic_top = np.argsort(-(Xn @ Yn.T), axis=1, kind="stable")[:, :4]
    picked = np.take_along_axis(res.index, res.chosen, axis=1)
    np.testing.assert_array_equal(picked, semantic_top)
    np.testing.assert_array_equal(res.chosen, res.baseline)


def test_emotional_term_moves_picks_towards_the_clip_in_va_space():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((200, 8)), rng.standard_normal((2000, 8))
    mva, iva = rng.uniform(-1, 1, (200, 2)), rng.uniform(-1, 1, (2000, 2))
    res = pair_arrays(X, Y, mva, iva, alpha=0.6, top_k=20, keep=3)
    E = res.components["E"]
    mean_e = lambda picks: np.take_along_axis(E, picks, axis=1).mean()  # noqa: E731
    mean_cos = lambda picks: np.take_along_axis(res.components["cos"], picks, axis=1).mean()  # noqa: E731
    assert mean_e(res.chosen) > mean_e(res.baseline) + 0.05
    assert mean_cos(res.chosen) < mean_cos(res.baseline)  # the price, semantically
    # every stored T is α·S + (1 − α)·E
    np.testing.assert_allclose(res.components["T"], 0.6 * res.components["S"] + 0.4 * E)


def test_keep_cannot_exceed_top_k():
    with pytest.raises(ValueError, match="keep"):
        pair_arrays(np.ones((1, 2)), np.ones((3, 2)), np.zeros((1, 2)), np.zeros((3, 2)), top_k=2, keep=3)
