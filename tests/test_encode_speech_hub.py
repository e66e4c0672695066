"""speech-wav2vec2-hub on tiny random-weight checkpoints built here from configs (no network, no real weights).

These tests check plumbing only: loading from a saved folder, label mapping, distributions,
windowing, per-input errors. Outputs of random weights mean nothing and no test reads them as
emotions.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from emoalign.affect import get_taxonomy  # noqa: E402
from emoalign.encode.registry import ENCODERS, encoder_class  # noqa: E402
from emoalign.encode.speech_hub import HubSpeechEncoder, map_model_labels, normalise_label  # noqa: E402
from emoalign.media.synth import clip_bytes, synth_clip  # noqa: E402

SUPERB_LABELS = {0: "neu", 1: "hap", 2: "ang", 3: "sad"}
E2V_LABELS = {0: "生气/angry", 1: "厌恶/disgusted", 2: "恐惧/fearful", 3: "开心/happy", 4: "中立/neutral",
              5: "其他/other", 6: "难过/sad", 7: "吃惊/surprised", 8: "<unk>"}


def build_tiny(path, id2label, *, with_preprocessor: bool = True, seed: int = 0) -> None:
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(seed)
    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, classifier_proj_size=16,
        id2label=dict(id2label), label2id={v: k for k, v in id2label.items()},
    )
    Wav2Vec2ForSequenceClassification(config).save_pretrained(path)
    if with_preprocessor:
        Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True).save_pretrained(path)


@pytest.fixture(scope="module")
def superb_like(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-superb-er")
    build_tiny(path, SUPERB_LABELS)
    return HubSpeechEncoder(path)


def test_registered():
    assert encoder_class("speech-wav2vec2-hub") is HubSpeechEncoder
    assert ENCODERS["speech-egemaps"].endswith("EgemapsSpeechEncoder")  # the offline default stays


def test_label_normalisation():
    assert normalise_label("生气/angry") == "angry"
    assert normalise_label(" NEU ") == "neutral"
    assert normalise_label("<unk>") == "<unk>"


def test_superb_labels_map_onto_ravdess8():
    assert map_model_labels(SUPERB_LABELS) == ("ravdess8", ["neutral", "happy", "angry", "sad"])


def test_emotion2vec_style_labels_drop_other_and_unknown():
    tax, mapped = map_model_labels(E2V_LABELS)
    assert tax == "ravdess8"
    assert mapped == ["angry", "disgust", "fearful", "happy", "neutral", None, "sad", "surprised", None]


def test_goemotions_style_labels_pick_a_closer_taxonomy():
    tax, mapped = map_model_labels({0: "admiration", 1: "gratitude", 2: "joy", 3: "neutral"})
    assert tax == "goemotions28"
    assert mapped == ["admiration", "gratitude", "joy", "neutral"]


def test_labels_that_are_not_emotions_are_refused():
    with pytest.raises(ValueError, match="not be an emotion classifier"):
        map_model_labels({0: "LABEL_0", 1: "LABEL_1"})


def test_encode_shapes_and_distributions(superb_like):
    enc = superb_like
    assert enc.taxonomy == "ravdess8" and enc.label_map == ["neutral", "happy", "angry", "sad"]
    clips = [clip_bytes(synth_clip(v, a, seconds=1.0, seed=i)) for i, (v, a) in enumerate([(0.8, 0.6), (-0.7, -0.5)])]
    results = enc.encode(clips)
    assert len(results) == 2
    tax = get_taxonomy("ravdess8")
    for res in results:
        assert res.ok, res.error
        probs = res.affect.probs
        assert set(probs) == set(tax.names)
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-6)
        # labels the model does not have get no mass
        assert all(probs[n] == 0.0 for n in ("calm", "fearful", "disgust", "surprised"))
        assert set(res.details["model_probs"]) == set(SUPERB_LABELS.values())
        assert sum(res.details["model_probs"].values()) == pytest.approx(1.0, abs=1e-6)
        assert -1.0 <= res.affect.valence <= 1.0 and -1.0 <= res.affect.arousal <= 1.0
        assert res.details["unmapped_mass"] == 0.0


def test_model_probs_match_a_direct_forward_pass(superb_like):
    enc = superb_like
    y = synth_clip(0.5, 0.5, seconds=1.0, seed=3)
    inputs = enc.feature_extractor(y, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        direct = torch.softmax(enc.model(**inputs).logits[0], -1).numpy()
    res = enc.encode([clip_bytes(y)])[0]
    got = np.array([res.details["model_probs"][enc.raw_labels[i]] for i in range(4)])
    np.testing.assert_allclose(got, direct, atol=1e-5)
    mapped = np.array([res.affect.probs[n] for n in enc.label_map])
    np.testing.assert_allclose(mapped, direct, atol=1e-5)


def test_long_clips_are_windowed(superb_like, monkeypatch):
    enc = superb_like
    calls = []
    original = enc.model.forward

    def counting(*args, **kwargs):
        calls.append(kwargs.get("input_values", args[0] if args else None).shape[-1])
        return original(*args, **kwargs)

    monkeypatch.setattr(enc, "window_seconds", 1.0)
    monkeypatch.setattr(enc.model, "forward", counting)
    res = enc.encode([clip_bytes(synth_clip(0.2, 0.2, seconds=3.1))])[0]
    assert res.ok
    # 3.1 s in 1-s windows: the 0.1-s tail joins the last window
    assert calls == [16000, 16000, 17600]


def test_per_input_errors_do_not_fail_the_batch(superb_like, tmp_path):
    good = clip_bytes(synth_clip(0.5, 0.5, seconds=1.0))
    silent = clip_bytes(np.zeros(16000, np.float32))
    tiny = clip_bytes(synth_clip(0.5, 0.5, seconds=0.1))
    results = superb_like.encode([b"", b"not audio at all", good, silent, tiny, str(tmp_path / "missing.wav")])
    assert [r.ok for r in results] == [False, False, True, False, False, False]
    assert "empty" in results[0].error
    assert "cannot decode" in results[1].error
    assert "silent" in results[3].error
    assert "shorter" in results[4].error
    assert "no such file" in results[5].error


def test_unmapped_labels_are_dropped_and_reported(tmp_path):
    build_tiny(tmp_path, {0: "neu", 1: "hap", 2: "other"}, seed=1)
    enc = HubSpeechEncoder(tmp_path)
    res = enc.encode([clip_bytes(synth_clip(0.5, 0.5, seconds=1.0))])[0]
    assert res.ok
    other = res.details["model_probs"]["other"]
    assert 0.0 < other < 1.0
    assert res.details["unmapped_mass"] == pytest.approx(other)
    kept = res.details["model_probs"]["neu"] + res.details["model_probs"]["hap"]
    assert res.affect.probs["neutral"] == pytest.approx(res.details["model_probs"]["neu"] / kept)
    assert sum(res.affect.probs.values()) == pytest.approx(1.0)


def test_forced_taxonomy_carries_mass_over(tmp_path):
    build_tiny(tmp_path, SUPERB_LABELS)
    enc = HubSpeechEncoder(tmp_path, taxonomy="fer7")
    res = enc.encode([clip_bytes(synth_clip(0.5, 0.5, seconds=1.0))])[0]
    assert res.affect.taxonomy == "fer7"
    assert set(res.affect.probs) == set(get_taxonomy("fer7").names)
    assert sum(res.affect.probs.values()) == pytest.approx(1.0)
    # concepts shared by both taxonomies move over one to one
    assert res.affect.probs["angry"] == pytest.approx(res.details["model_probs"]["ang"], abs=1e-6)


def test_missing_preprocessor_falls_back_and_says_so(tmp_path):
    build_tiny(tmp_path, SUPERB_LABELS, with_preprocessor=False)
    enc = HubSpeechEncoder(tmp_path)
    res = enc.encode([clip_bytes(synth_clip(0.5, 0.5, seconds=1.0))])[0]
    assert res.ok and "preprocessor_config" in res.details["preprocessor"]


def test_unloadable_model_names_the_model(tmp_path):
    with pytest.raises(OSError, match="cannot load speech-emotion model"):
        HubSpeechEncoder(tmp_path / "no-such-checkpoint")
