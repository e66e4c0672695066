"""EMI-Adapter: learns where emotion carries signal, saves/loads exactly, refuses other spaces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emoalign.learn.adapter import AdapterFormatError, EMIAdapter, SpaceMismatchError
from emoalign.learn.adapter_data import ItemSet, PairData, split_by_music, split_index
from emoalign.learn.adapter_eval import agreement_at_k, evaluate_split, plot_history, ranks_for_pairs, tune_alpha
from emoalign.learn.adapter_synth import make_pair_data


@pytest.fixture(scope="module")
def world():
    """Few topics (content alone cannot tell a clip's three images among many) and pairs chosen
    by content *and* true emotion; the encoders' affect is a noisy estimate of the latter."""
    data = make_pair_data(n_music=800, n_images=400, dim=32, topics=4, w_emotion=1.0, affect_noise=0.1, seed=0)
    splits = split_by_music(len(data.music), seed=0)
    return data, {s: split_index(splits, s) for s in ("train", "val", "test")}


@pytest.fixture(scope="module")
def trained(world):
    data, idx = world
    tr, va = data.pairs_of(idx["train"]), data.pairs_of(idx["val"])
    with_affect = EMIAdapter(variant="svdpp", epochs=6, seed=0).fit(data.music, data.images, tr, val_pairs=va)
    without = EMIAdapter(variant="svdpp", epochs=6, seed=0, use_affect=False).fit(data.music, data.images, tr, val_pairs=va)
    return with_affect, without


def test_adapter_beats_semantic_only_where_emotion_matters(world, trained):
    data, idx = world
    adapter, control = trained
    res = evaluate_split(data, idx["test"], adapters={"adapter": adapter, "control": control}, alpha=0.6)
    for direction in ("music_to_image", "image_to_music"):
        sem = res["semantic"][direction]["R@10"]
        ada = res["adapter"][direction]["R@10"]
        ctl = res["control"][direction]["R@10"]
        assert ada > sem + 0.10, (direction, ada, sem)
        # the gain comes from the affect input, not from training on the pairs alone
        assert ada > ctl + 0.10, (direction, ada, ctl)
        assert res["adapter"][direction]["mean_rank"] < res["semantic"][direction]["mean_rank"]
    # suggestions are emotionally closer: agreement of the top-10 with the partners' categories
    assert res["adapter"]["music_to_image"]["agreement@10"] > res["semantic"]["music_to_image"]["agreement@10"]


def test_untrained_adapter_is_the_semantic_baseline(world, trained):
    """In a joint space the adapter starts as the identity: epoch 0 ranks like cosine."""
    data, idx = world
    adapter, _ = trained
    fresh = EMIAdapter(variant="bmf", epochs=0, seed=3).fit(data.music, data.images, data.pairs_of(idx["train"]))
    cos = data.music.unit_vectors() @ data.images.unit_vectors().T
    np.testing.assert_allclose(fresh.score(data.music, data.images) * fresh.temperature_, cos, atol=1e-5)
    from emoalign.learn.adapter_run import semantic_val_r10

    r10 = semantic_val_r10(data, idx["val"])
    assert adapter.history_[0]["val_r10_m2i"] == pytest.approx(r10["semantic-only m→i"])
    assert adapter.history_[0]["val_r10_i2m"] == pytest.approx(r10["semantic-only i→m"])


def test_epoch_is_chosen_on_validation(trained):
    adapter, _ = trained
    h = adapter.history_
    best = adapter.config.best_epoch
    key = [np.mean([r["val_r10_m2i"], r["val_r10_i2m"]]) for r in h]
    assert key[best] == max(key)
    assert all(np.isfinite(r["train_loss"]) for r in h[1:])


@pytest.mark.parametrize("variant", ["bmf", "svdpp", "ncf"])
def test_save_load_round_trip(tmp_path, world, variant):
    data, idx = world
    ad = EMIAdapter(variant=variant, epochs=1, seed=1, hidden=16).fit(data.music, data.images, data.pairs_of(idx["train"]))
    ad.save(tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["config.json", "history.json", "weights.npz"]
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as z:  # plain arrays, no pickled code
        assert all(z[k].dtype.kind == "f" for k in z.files)
    back = EMIAdapter.load(tmp_path / "m")
    assert back.config.variant == variant and back.config.space_id == ad.config.space_id
    for items in (data.music, data.images):
        np.testing.assert_array_equal(back.transform(items, role="item"), ad.transform(items, role="item"))
    np.testing.assert_array_equal(back.score(data.music, data.images), ad.score(data.music, data.images))
    assert back.history_ == json.loads((tmp_path / "m" / "history.json").read_text())


def test_query_item_vectors_rank_like_the_model(world, trained):
    data, _ = world
    adapter, _ = trained
    q = adapter.transform(data.music, role="query")
    it = adapter.transform(data.images, role="item")
    s = adapter.score(data.music, data.images)
    # û_q·û_i + τ b_i = τ (s − b_q): same order per query row
    np.testing.assert_allclose((q @ it.T) / adapter.temperature_, s - (s - (q @ it.T) / adapter.temperature_).mean(1, keepdims=True), atol=1e-3)
    assert (np.argsort(-(q @ it.T), 1)[:, :10] == np.argsort(-s, 1)[:, :10]).mean() > 0.99


def test_refuses_another_embedding_space(tmp_path, world, trained):
    data, _ = world
    adapter, _ = trained
    other = ItemSet(data.images.ids, data.images.vectors, "some-other-space", "mikels8", data.images.probs, data.images.va)
    with pytest.raises(SpaceMismatchError, match="some-other-space"):
        adapter.transform(other)
    wrong_dim = ItemSet(data.images.ids, data.images.vectors[:, :8], data.images.space, "mikels8", data.images.probs, data.images.va)
    with pytest.raises(SpaceMismatchError, match="dimensions"):
        adapter.embed(wrong_dim, "image")
    adapter.save(tmp_path / "m")
    back = EMIAdapter.load(tmp_path / "m")
    with pytest.raises(SpaceMismatchError):
        back.transform(other)


def test_load_refuses_other_versions_and_damaged_files(tmp_path, trained):
    adapter, _ = trained
    folder = adapter.save(tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "format_version": 99}))
    with pytest.raises(AdapterFormatError, match="version 99"):
        EMIAdapter.load(folder)
    (folder / "config.json").write_text(json.dumps({**cfg, "music_dim": cfg["music_dim"] + 1}))
    with pytest.raises(AdapterFormatError, match="do not fit"):
        EMIAdapter.load(folder)
    with pytest.raises(AdapterFormatError, match="no config.json"):
        EMIAdapter.load(tmp_path)


def test_separate_spaces_project_to_a_shared_one():
    """Music and images from two encoders: no semantic baseline, the adapter still learns."""
    rng = np.random.default_rng(0)
    n = 300
    labels = rng.integers(8, size=n)
    probs_i = np.eye(8)[labels] * 0.8 + 0.025
    music = ItemSet.from_arrays([f"m{i}" for i in range(n)], rng.normal(size=(n, 7)), "acoustic", "mikels8", probs=probs_i)
    images = ItemSet.from_arrays([f"i{i}" for i in range(n)], rng.normal(size=(n, 20)), "imagenet", "mikels8", probs=probs_i)
    pairs = np.stack([np.arange(n), np.arange(n)], 1)
    data = PairData(music, images, pairs)
    assert not data.joint
    ad = EMIAdapter(variant="bmf", epochs=15, dim=16, batch_size=32, lr=1e-2, seed=0).fit(music, images, pairs[:240], val_pairs=pairs[240:])
    assert ad.out_dim == 17 and not ad.config.joint
    res = evaluate_split(data, np.arange(240, 300), adapters={"adapter": ad})
    assert "semantic" not in res and "tscore" not in res
    # 60 test clips, 8 categories: emotion alone narrows each clip to ~7 images (chance R@10 is 1/6)
    assert res["adapter"]["music_to_image"]["R@10"] > 0.5


def test_training_is_deterministic(world):
    data, idx = world
    kw = dict(variant="ncf", epochs=2, seed=7, hidden=16)
    a = EMIAdapter(**kw).fit(data.music, data.images, data.pairs_of(idx["train"]))
    b = EMIAdapter(**kw).fit(data.music, data.images, data.pairs_of(idx["train"]))
    np.testing.assert_array_equal(a.transform(data.images), b.transform(data.images))


def test_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        EMIAdapter(variant="transformer")
    with pytest.raises(TypeError, match="unknown adapter parameter"):
        EMIAdapter(learning_rate=1)
    data = make_pair_data(n_music=20, n_images=20, dim=4, seed=0)
    with pytest.raises(ValueError, match="out of range"):
        EMIAdapter(epochs=1).fit(data.music, data.images, np.array([[0, 99]]))
    with pytest.raises(RuntimeError, match="not fitted"):
        EMIAdapter().transform(data.music)


def test_split_keeps_recordings_together():
    groups = [f"rec{i // 4}" for i in range(200)]
    s = split_by_music(200, groups, seed=3)
    for g in set(groups):
        assert len({s[i] for i in range(200) if groups[i] == g}) == 1
    counts = {k: int((s == k).sum()) for k in ("train", "val", "test")}
    assert counts["train"] == pytest.approx(160, abs=4) and counts["val"] > 0 and counts["test"] > 0
    assert (split_by_music(200, groups, seed=3) == s).all()


def test_ranks_ties_and_agreement_by_hand():
    s = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.1]])
    pos = np.array([[False, False, True], [False, True, True]])
    r_m2i, r_i2m = ranks_for_pairs(s, pos)
    assert r_m2i.tolist() == [2, 1]
    assert r_i2m.tolist() == [1, 1]  # image 1: clip 1 best; image 2: clip 0 (0.5) beats clip 1 (0.1)
    # ties: a constant score ranks the target at a random place, not first
    flat = np.zeros((200, 50))
    tpos = np.zeros((200, 50), bool)
    tpos[:, 7] = True
    r, _ = ranks_for_pairs(flat, tpos, tie_seed=0)
    assert 15 < r.mean() < 35
    assert agreement_at_k(np.array([[3.0, 2.0, 1.0, 0.0]]), ["a", "b", "a", "c"], [{"a"}], k=2) == 0.5


def test_alpha_tuned_on_validation_and_training_plot(tmp_path, world, trained):
    data, idx = world
    alpha, grid = tune_alpha(data, idx["val"])
    assert 0.0 <= alpha <= 1.0 and len(grid) == 11
    assert grid[alpha] == max(grid.values())
    # here emotion decides among same-topic images: mixing it in must beat α = 1
    assert grid[alpha] > grid[1.0]
    adapter, _ = trained
    out = plot_history(adapter.history_, tmp_path / "curve.png", baselines={"semantic": 0.3})
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_freeze_semantic_learns_only_the_affect_terms(world, tmp_path):
    """Δ stays exactly zero, the affect terms move, it still beats semantic-only where emotion
    decides, it round-trips through save/load, and it is refused for separate spaces."""
    data, idx = world
    tr, va = data.pairs_of(idx["train"]), data.pairs_of(idx["val"])
    free = EMIAdapter(variant="svdpp", epochs=3, seed=0).fit(data.music, data.images, tr, val_pairs=va)
    frozen = EMIAdapter(variant="svdpp", epochs=6, seed=0, freeze_semantic=True).fit(data.music, data.images, tr, val_pairs=va)
    assert frozen.config.best_epoch > 0
    state = {k: v.detach().numpy() for k, v in frozen._net.state_dict().items()}
    deltas = [k for k in state if "delta" in k]
    assert deltas and all(not state[k].any() for k in deltas)
    assert frozen.n_parameters() == free.n_parameters()  # same network, fewer trained weights
    res = evaluate_split(data, idx["test"], adapters={"frozen": frozen}, alpha=0.6)
    assert res["frozen"]["music_to_image"]["R@10"] > res["semantic"]["music_to_image"]["R@10"] + 0.10
    frozen.save(tmp_path / "frozen")
    again = EMIAdapter.load(tmp_path / "frozen")
    assert again.config.freeze_semantic
    np.testing.assert_allclose(again.transform(data.images), frozen.transform(data.images), atol=1e-6)

    rng = np.random.default_rng(0)
    music = ItemSet.from_arrays(["m0", "m1"], rng.normal(size=(2, 7)), "acoustic", "mikels8", probs=np.full((2, 8), 1 / 8))
    images = ItemSet.from_arrays(["i0", "i1"], rng.normal(size=(2, 20)), "imagenet", "mikels8", probs=np.full((2, 8), 1 / 8))
    with pytest.raises(ValueError, match="joint space"):
        EMIAdapter(freeze_semantic=True).fit(music, images, np.array([[0, 0], [1, 1]]))
