"""Music encoder: cue extraction does what its name says; the cue model lands clips on the right side."""

import numpy as np
import pytest

from emoalign.affect import get_taxonomy
from emoalign.encode import get_encoder
from emoalign.encode.music import AcousticMusicEncoder, CueModel, cue_score, load_cue_model, va_distribution
from emoalign.encode.music_features import KK_MAJOR, SR, extract_features, ideal_mode_contrast, key_profile_mode, roughness_of_peaks, roughness_references
from emoalign.media.synth import clip_bytes, synth_clip, write_clip


@pytest.fixture(scope="module")
def enc():
    return AcousticMusicEncoder()


def _tone(freqs, seconds=3.0, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)).astype(np.float32)


def _clicks(bpm, seconds=8.0, sr=SR):
    y = np.zeros(int(seconds * sr), np.float32)
    period = int(round(60.0 / bpm * sr))
    burst = (np.random.default_rng(0).standard_normal(200) * np.hanning(200)).astype(np.float32)
    for start in range(0, y.size - 200, period):
        y[start : start + 200] += 0.5 * burst
    return y


# --- descriptors --------------------------------------------------------------------------------

def test_loudness_of_a_sine_is_its_rms_in_dbfs():
    f = extract_features(_tone([440.0], amp=0.5), SR)
    assert f.loudness_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.2)


@pytest.mark.parametrize("bpm", [90, 120, 150])
def test_tempo_and_onset_rate_of_a_click_track(bpm):
    f = extract_features(_clicks(bpm), SR)
    assert f.tempo_bpm == pytest.approx(bpm, rel=0.04)
    assert f.onset_rate == pytest.approx(bpm / 60, rel=0.15)


def test_brightness_follows_the_spectrum():
    low = extract_features(_tone([200.0, 300.0]), SR).centroid_hz
    high = extract_features(_tone([2000.0, 3000.0]), SR).centroid_hz
    assert 150 < low < 400 and 1800 < high < 3200


def test_key_profiles_recover_key_and_mode():
    assert key_profile_mode(np.roll(KK_MAJOR, 2))[1] == "D major"
    assert ideal_mode_contrast() == pytest.approx(0.3504, abs=1e-3)
    # A major triad (A C# E) reads major, an A minor triad (A C E) reads minor.
    maj = extract_features(_tone([220.0, 277.18, 329.63, 440.0]), SR)
    mnr = extract_features(_tone([220.0, 261.63, 329.63, 440.0]), SR)
    assert maj.mode > 0 > mnr.mode


def test_roughness_orders_intervals_like_plomp_and_levelt():
    semitone = roughness_of_peaks(np.array([440.0, 466.16]), np.ones(2))
    fifth = roughness_of_peaks(np.array([440.0, 660.0]), np.ones(2))
    unison = roughness_of_peaks(np.array([440.0, 440.0]), np.ones(2))
    assert semitone > fifth > unison == 0.0
    consonant, dissonant = roughness_references()
    assert dissonant > 2 * consonant
    # measured on audio, a cluster is rougher than a fifth
    cluster = extract_features(_tone([261.63, 277.18, 293.66]), SR).roughness
    open_fifth = extract_features(_tone([261.63, 392.0]), SR).roughness
    assert cluster > 3 * open_fifth


def test_shipped_anchors_match_the_computed_references():
    cues = load_cue_model()["cues"]
    consonant, dissonant = roughness_references()
    assert cues["dissonance"]["low"] == pytest.approx(consonant, rel=1e-4)
    assert cues["dissonance"]["high"] == pytest.approx(dissonant, rel=1e-4)
    assert cues["mode"]["high"] == pytest.approx(ideal_mode_contrast(), rel=1e-4)
    assert cues["mode"]["low"] == pytest.approx(-ideal_mode_contrast(), rel=1e-4)


def test_cue_scaling_is_clipped_and_handles_missing_values():
    spec = {"scale": "linear", "low": -30.0, "high": -10.0, "out": [-1, 1]}
    assert cue_score(-40.0, spec) == -1.0 and cue_score(0.0, spec) == 1.0 and cue_score(-20.0, spec) == 0.0
    assert cue_score(float("nan"), spec) == 0.0
    assert cue_score(float("nan"), {**spec, "out": [0, 1]}) == 0.0


def test_weights_only_name_known_cues():
    spec = load_cue_model()
    with pytest.raises(ValueError, match="unknown cues"):
        CueModel({**spec, "valence": {"sparkle": 1.0}})


# --- the encoder ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("valence,arousal", [(0.9, 0.9), (-0.9, -0.9), (0.8, -0.6), (-0.8, 0.6)])
def test_fixture_clips_land_on_the_expected_side(enc, valence, arousal, seed):
    res = enc.encode([clip_bytes(synth_clip(valence, arousal, seconds=4.0, seed=seed))])[0]
    assert res.ok, res.error
    assert np.sign(res.affect.valence) == np.sign(valence)
    assert np.sign(res.affect.arousal) == np.sign(arousal)


def test_happy_clip_scores_above_sad_clip_on_both_axes(enc):
    happy, sad = enc.encode([clip_bytes(synth_clip(0.9, 0.9, seconds=4.0)), clip_bytes(synth_clip(-0.9, -0.9, seconds=4.0))])
    assert happy.affect.valence - sad.affect.valence > 0.3
    assert happy.affect.arousal - sad.affect.arousal > 0.2
    assert sad.details["cues"]["mode"] < 0 < happy.details["cues"]["mode"]


def test_result_is_a_distribution_over_emid13_with_explanations(enc, tmp_path):
    path = write_clip(tmp_path / "clip.wav", synth_clip(0.5, 0.5, seconds=3.0))
    res = enc.encode([path])[0]
    assert res.ok, res.error
    assert res.affect.taxonomy == "emid13"
    assert set(res.affect.probs) == set(get_taxonomy("emid13").names)
    assert sum(res.affect.probs.values()) == pytest.approx(1.0)
    assert all(p >= 0 for p in res.affect.probs.values())
    assert -1 <= res.affect.valence <= 1 and -1 <= res.affect.arousal <= 1
    assert res.vector.shape == (len(enc.cue_model.cues),) and np.all(np.abs(res.vector) <= 1)
    # valence is exactly the sum of its stated contributions
    assert sum(res.details["valence"].values()) == pytest.approx(res.affect.valence, abs=1e-6)
    assert res.details["features"]["key"].endswith(("major", "minor"))


def test_va_distribution_peaks_at_the_nearest_label():
    tax = get_taxonomy("emid13")
    for label in tax.labels:
        p = va_distribution(label.valence, label.arousal)
        assert max(p, key=p.get) == label.name
    far = va_distribution(5.0, 5.0)  # far from every label: still a finite distribution
    assert sum(far.values()) == pytest.approx(1.0) and all(np.isfinite(list(far.values())))


def test_bad_inputs_fail_alone(enc, tmp_path):
    good = clip_bytes(synth_clip(0.5, 0.5, seconds=2.0))
    corrupt = tmp_path / "bad.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    results = enc.encode([
        b"",
        bytes(corrupt.read_bytes()),
        clip_bytes(np.zeros(SR * 2, np.float32)),
        clip_bytes(synth_clip(0.5, 0.5, seconds=0.5)),
        str(tmp_path / "missing.wav"),
        good,
    ])
    errors = [r.error for r in results]
    assert "empty" in errors[0]
    assert "cannot decode" in errors[1]
    assert "silent" in errors[2]
    assert "too short" in errors[3]
    assert "no such file" in errors[4]
    assert results[5].ok and errors[5] is None


def test_embed_gives_comparable_vectors_in_the_music_space(enc):
    emb = enc.embed([clip_bytes(synth_clip(0.5, 0.5, seconds=2.0, seed=s)) for s in range(2)], ids=("a", "b"))
    assert emb.space == "music-acoustic-v1" and emb.vectors.shape == (2, 7)


def test_registry_name_resolves_to_this_encoder():
    enc = get_encoder("music-acoustic")
    assert isinstance(enc, AcousticMusicEncoder) and enc.modality == "music" and enc.taxonomy == "emid13"
