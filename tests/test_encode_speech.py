"""speech-egemaps: the real offline encoder (openSMILE + the shipped heads) on generated and real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("opensmile")

from emoalign.affect import expected_va, get_taxonomy  # noqa: E402
from emoalign.encode.heads import LinearClassifierHead  # noqa: E402
from emoalign.encode.registry import DEFAULTS, encoder_class  # noqa: E402
from emoalign.encode.speech import (  # noqa: E402
    HEAD_FILE,
    SET_DIMS,
    SPEAKER_HEAD_FILE,
    EgemapsSpeechEncoder,
    feature_columns,
    fit_speech_head,
    load_head,
    speaker_znorm,
    union_spec,
)
from emoalign.media.synth import clip_bytes, synth_clip, write_clip  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / "src" / "emoalign" / "encode" / "models"
RAVDESS8 = get_taxonomy("ravdess8")


@pytest.fixture(scope="module")
def enc() -> EgemapsSpeechEncoder:
    return EgemapsSpeechEncoder()


def _clips(n: int, seconds: float = 1.0) -> list[bytes]:
    rng = np.random.default_rng(0)
    return [clip_bytes(synth_clip(*rng.uniform(-1, 1, 2), seconds=seconds, seed=i)) for i in range(n)]


def test_registered_as_the_speech_default():
    assert DEFAULTS["speech"] == "speech-egemaps"
    assert encoder_class("speech-egemaps") is EgemapsSpeechEncoder


def test_shipped_heads_load_and_name_their_features():
    for name in (HEAD_FILE, SPEAKER_HEAD_FILE):
        head = load_head(filename=name)
        assert set(head.classes_) == set(RAVDESS8.names)
        dims = sum(SET_DIMS[n] for n in head.meta["features"].split("+"))
        assert head.coef_.shape == (8, dims)
        assert "actor-grouped 5-fold CV on actors 1-20" in head.meta["selection"]  # how its settings were chosen
        assert head.meta["train_actors"] == "1-20"


def test_encode_is_well_formed(enc):
    results = enc.encode(_clips(3))
    width = sum(SET_DIMS[n] for n in enc.features.spec.split("+"))
    for res in results:
        assert res.ok, res.error
        a = res.affect
        assert a.taxonomy == "ravdess8" and set(a.probs) == set(RAVDESS8.names)
        assert sum(a.probs.values()) == pytest.approx(1.0, abs=1e-6)
        assert all(0.0 <= p <= 1.0 for p in a.probs.values())
        v, ar = expected_va(a.probs, "ravdess8")
        assert (a.valence, a.arousal) == pytest.approx((v, ar))
        assert res.vector.shape == (width,) and np.all(np.isfinite(res.vector))
        assert res.details["speaker_normalised"] is False
    # different clips, different outputs (the head reads the audio)
    assert results[0].affect.probs != results[1].affect.probs


def test_paths_and_bytes_agree(enc, tmp_path):
    y = synth_clip(0.4, -0.2, seconds=1.5, seed=7)
    path = write_clip(tmp_path / "c.wav", y)
    by_path, by_bytes = enc.encode([path, path.read_bytes()])
    assert by_path.affect.probs == pytest.approx(by_bytes.affect.probs)


def test_bad_inputs_fail_alone(enc, tmp_path):
    good = _clips(2)
    full = clip_bytes(synth_clip(0.3, 0.3, seconds=1.0))
    truncated = full[:30]  # a WAV header cut short
    silent = clip_bytes(np.zeros(16000, np.float32))
    short = clip_bytes(synth_clip(0.3, 0.3, seconds=0.1))
    inputs = [good[0], b"", b"this is not audio", truncated, silent, short, str(tmp_path / "missing.wav"), good[1]]
    results = enc.encode(inputs)
    assert [r.ok for r in results] == [True, False, False, False, False, False, False, True]
    errors = [r.error for r in results]
    assert "empty" in errors[1]
    assert "cannot decode" in errors[2] and "cannot decode" in errors[3]
    assert "silent" in errors[4]
    assert "shorter than" in errors[5]
    assert "no such file" in errors[6]
    # the good ones are unaffected by their neighbours
    alone = enc.encode([good[0], good[1]])
    assert results[0].affect.probs == pytest.approx(alone[0].affect.probs)
    assert results[7].affect.probs == pytest.approx(alone[1].affect.probs)


def test_speaker_normalisation_per_speaker():
    enc = EgemapsSpeechEncoder(min_speaker_clips=4)
    clips = _clips(7)
    ids = ["a"] * 5 + ["b"] * 2  # b has fewer than min_speaker_clips (4): per-clip head
    results = enc.encode(clips, speaker_ids=ids)
    plain = enc.encode(clips)
    assert [r.details["speaker_normalised"] for r in results] == [True] * 5 + [False] * 2
    assert [r.details["speaker"] for r in results] == ids
    for r in results:
        assert sum(r.affect.probs.values()) == pytest.approx(1.0)
    for r, p in zip(results[5:], plain[5:]):
        assert r.affect.probs == pytest.approx(p.affect.probs)
    assert any(r.affect.probs != pytest.approx(p.affect.probs) for r, p in zip(results[:5], plain[:5]))
    # normalisation uses only the speaker's own clips: adding speaker b changes nothing for a
    only_a = enc.encode(clips[:5], speaker_ids=ids[:5])
    for r, o in zip(results[:5], only_a):
        assert r.affect.probs == pytest.approx(o.affect.probs)
    with pytest.raises(ValueError, match="speaker ids"):
        enc.encode(clips, speaker_ids=["a"])


def test_failed_inputs_do_not_count_towards_a_speaker():
    enc = EgemapsSpeechEncoder(min_speaker_clips=4)
    clips = _clips(4)
    results = enc.encode([*clips[:3], b"", clips[3]], speaker_ids=["s"] * 5)
    assert [r.ok for r in results] == [True, True, True, False, True]
    assert all(r.details["speaker_normalised"] for r in results if r.ok)
    results = enc.encode([*clips[:3], b""], speaker_ids=["s"] * 4)  # 3 decoded clips: too few
    assert not any(r.details["speaker_normalised"] for r in results if r.ok)


def test_shipped_speaker_head_sets_the_clip_threshold(enc):
    assert enc.min_speaker_clips == enc.speaker_head.meta["min_clips"] >= 2


def test_speaker_znorm_standardises_each_speaker():
    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(5, 2, (30, 3)), rng.normal(-3, 0.5, (20, 3))]
    ids = ["a"] * 30 + ["b"] * 20
    Z = speaker_znorm(X, ids)
    for rows in (slice(0, 30), slice(30, 50)):
        np.testing.assert_allclose(Z[rows].mean(0), 0, atol=1e-9)
        np.testing.assert_allclose(Z[rows].std(0), 1, atol=1e-6)
    # shrinkage pulls a small speaker's spread towards the pooled one
    pooled = np.full(3, 10.0)
    Zs = speaker_znorm(X[:3], ["a"] * 3, pooled, shrink=5.0)
    assert np.abs(Zs).max() < np.abs(speaker_znorm(X[:3], ["a"] * 3)).max()


def test_fit_speech_head_matches_plain_logistic_regression_when_features_outnumber_clips():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 120))
    y = np.array(["sad", "happy", "angry", "calm"] * 10)
    X[y == "happy", :5] += 1.0
    fast = fit_speech_head(X, y, C=0.5)
    plain = LinearClassifierHead(C=0.5, max_iter=5000).fit(X, y)
    assert fast.classes_ == plain.classes_
    np.testing.assert_allclose(fast.predict_proba(X), plain.predict_proba(X), atol=2e-3)


def test_feature_columns_and_union():
    assert union_spec("egemaps", "compare") == "egemaps+compare"
    cols = feature_columns("egemaps", "egemaps+compare")
    assert cols[0] == 0 and len(cols) == 88
    with pytest.raises(ValueError):
        feature_columns("compare", "egemaps")


def test_custom_head_and_clear_head_errors(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 88))
    y = np.array(list(RAVDESS8.names) * 4)
    path = fit_speech_head(X, y, C=0.1, features="egemaps").save(tmp_path / "h.npz")
    enc = EgemapsSpeechEncoder(path)
    assert enc.features.spec == "egemaps" and enc.speaker_head is None
    res = enc.encode(_clips(1))[0]
    assert res.ok and res.vector.shape == (88,)
    with pytest.raises(ValueError, match="no speaker-normalised head"):
        enc.encode(_clips(4), speaker_ids=["a"] * 4)
    bad = LinearClassifierHead().fit(X, y)  # no meta['features']
    with pytest.raises(ValueError, match="features"):
        EgemapsSpeechEncoder(bad)
    wrong = fit_speech_head(X, y, features="compare")  # 88 inputs for a 6,373-feature set
    with pytest.raises(ValueError, match="expected 6373"):
        EgemapsSpeechEncoder(wrong)
    with pytest.raises(FileNotFoundError):
        EgemapsSpeechEncoder(tmp_path / "nope.npz")


# --------------------------------------------------------------------------------------------
# real RAVDESS clips of actors the evaluated heads never saw
# --------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_dev_heads_beat_chance_on_held_out_actors(shared_data):
    """The dev heads (same settings as the shipped ones, fitted on actors 01–16 only) on actors 17–20.

    The shipped heads saw every actor here, so only the dev heads can be tested on unseen
    speakers. One clip per emotion and actor (32); chance is 1/8.
    """
    from scipy.stats import binomtest

    from emoalign.data import open_source

    root = shared_data / "ravdess-speech-16k"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    dev = load_head(MODELS / HEAD_FILE.replace(".npz", "_dev.npz"))
    dev_spk = load_head(MODELS / SPEAKER_HEAD_FILE.replace(".npz", "_dev.npz"))
    assert dev.meta["train_actors"] == "1-16"
    assert (dev.meta["features"], dev.C) == (load_head().meta["features"], load_head().C)
    records = list(open_source("ravdess", root).records(split="actors:17-20"))
    picked = []
    for actor in sorted({r.group for r in records}):
        mine = [r for r in records if r.group == actor and r.meta["intensity"] == "strong"]
        mine += [r for r in records if r.group == actor and r.labels["ravdess8"] == "neutral"]
        by_label: dict[str, list] = {}
        for r in mine:
            by_label.setdefault(r.labels["ravdess8"], []).append(r)
        picked += [by_label[label][0] for label in RAVDESS8.names]  # one per emotion, deterministic
    enc = EgemapsSpeechEncoder(dev, dev_spk)
    truth = [r.labels["ravdess8"] for r in picked]
    plain = enc.encode([r.path for r in picked])
    assert all(r.ok for r in plain)
    # the speaker head on the same features (extracting them twice would double the run time)
    probs, normed = enc.predict_proba(np.stack([r.vector for r in plain]), [r.group for r in picked])
    assert normed.all()
    for predicted in ([r.affect.top()[0] for r in plain], [enc.head.classes_[i] for i in probs.argmax(1)]):
        correct = sum(p == t for p, t in zip(predicted, truth))
        assert binomtest(correct, len(truth), 1 / 8, alternative="greater").pvalue < 1e-3, (correct, len(truth))
