"""Video encoder on real, generated videos: faces (a real photo) + a synthetic audio track."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.affect import get_taxonomy
from emoalign.encode import get_encoder
from emoalign.encode.video import VideoEncoder, segment_bounds
from emoalign.media.synth import clip_bytes, synth_clip
from emoalign.media.video import decode_video, write_video

skimage_data = pytest.importorskip("skimage.data")

FPS = 10  # frames written per second (the encoder samples 2 per second)


def _hopper() -> np.ndarray:
    """matplotlib's Grace Hopper portrait (600×512), cropped to the astronaut's 512×512."""
    import matplotlib.cbook as cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        return np.asarray(im.convert("RGB"))[:512]


@pytest.fixture(scope="module")
def faces():
    return {"happy": skimage_data.astronaut(), "neutral": _hopper(), "none": np.full((512, 512, 3), 40, np.uint8)}


def _frames(faces, plan):
    """plan: [(face key, seconds), ...] → frames at FPS."""
    return [faces[key] for key, seconds in plan for _ in range(int(seconds * FPS))]


@pytest.fixture(scope="module")
def speech_encoder():
    """The real speech encoder; its tests wait for it rather than fake it."""
    try:
        return get_encoder("speech-egemaps")
    except (ImportError, FileNotFoundError, OSError) as exc:
        pytest.skip(f"speech-egemaps not available here: {exc}")


@pytest.fixture(scope="module")
def enc():
    return VideoEncoder(fps=2.0, segment_seconds=3.0)


@pytest.fixture(scope="module")
def happy_then_neutral_silent(faces, tmp_path_factory):
    """6 s: astronaut (smiling) for 3 s, then Grace Hopper (neutral) for 3 s; no audio stream."""
    path = tmp_path_factory.mktemp("video") / "faces.mp4"
    return write_video(path, _frames(faces, [("happy", 3), ("neutral", 3)]), fps=FPS)


# --- decoding ----------------------------------------------------------------------------------

def test_decode_samples_frames_at_the_requested_rate_and_keeps_audio(faces):
    audio = synth_clip(0.5, 0.5, seconds=4.0)
    data = write_video(None, _frames(faces, [("none", 4)]), fps=FPS, audio=audio)
    v = decode_video(data, fps=2.0)
    assert [round(t, 2) for t, _ in v.frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert v.frames[0][1].shape == (512, 512, 3) and v.frames[0][1].dtype == np.uint8
    assert v.duration == pytest.approx(4.0, abs=0.1)
    # the audio track survives AAC: same length (±1 frame) and waveform
    n = min(v.audio.size, audio.size)
    assert abs(v.audio.size - audio.size) < 2048
    assert np.corrcoef(v.audio[:n], audio[:n])[0, 1] > 0.99


def test_decode_downscales_large_frames():
    big = [np.zeros((720, 1280, 3), np.uint8)] * 3
    v = decode_video(write_video(None, big, fps=3), fps=2.0, max_side=640)
    assert v.frames[0][1].shape == (360, 640, 3) and (v.width, v.height) == (1280, 720)


def test_segment_bounds_cover_the_video_without_a_sliver_at_the_end():
    assert segment_bounds(9.0, 3.0) == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)]
    assert segment_bounds(9.4, 3.0) == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.4)]
    assert segment_bounds(10.5, 3.0)[-1] == (9.0, 10.5)
    assert segment_bounds(0.0, 3.0) == []


# --- faces only ----------------------------------------------------------------------------------

def test_video_without_audio_works_from_faces_and_follows_the_face_shown(enc, happy_then_neutral_silent):
    res = enc.encode([happy_then_neutral_silent])[0]
    assert res.ok, res.error
    segs = res.details["segments"]
    assert res.details["has_audio"] is False and res.details["sources"] == ["face"]
    assert [(s["start"], s["end"]) for s in segs] == [(0.0, 3.0), (3.0, 6.0)]
    assert all(s["sources"] == ["face"] and s["speech"] is None for s in segs)
    assert all(s["frames"] == 6 and s["frames_with_face"] == 6 for s in segs)
    assert segs[0]["affect"]["label"] == "happy" and segs[0]["affect"]["valence"] > 0.3
    assert segs[1]["affect"]["label"] == "neutral"
    # overall = duration-weighted mean of the two segments
    p0, p1 = segs[0]["affect"]["probs"], segs[1]["affect"]["probs"]
    for label, p in res.affect.probs.items():
        assert p == pytest.approx((p0[label] + p1[label]) / 2, abs=1e-9)
    assert res.affect.taxonomy == "emotiontalk7"
    assert set(res.affect.probs) == set(get_taxonomy("emotiontalk7").names)
    assert sum(res.affect.probs.values()) == pytest.approx(1.0)


def test_segment_without_a_face_and_without_audio_has_no_affect(enc, faces):
    data = write_video(None, _frames(faces, [("happy", 3), ("none", 3)]), fps=FPS)
    res = enc.encode([data])[0]
    assert res.ok, res.error
    segs = res.details["segments"]
    assert segs[1]["affect"] is None and segs[1]["sources"] == [] and segs[1]["frames_with_face"] == 0
    # the overall affect comes from the one segment that has a source
    assert res.affect.top()[0] == segs[0]["affect"]["label"] == "happy"


def test_partial_face_coverage_lowers_the_face_weight(enc, faces):
    data = write_video(None, _frames(faces, [("happy", 1), ("none", 2)]), fps=FPS)
    seg = enc.encode([data])[0].details["segments"][0]
    assert seg["frames_with_face"] == 2 and seg["frames"] == 6
    assert seg["weights"]["face"] == pytest.approx(enc.face_weight * 2 / 6)


def test_neither_face_nor_audio_is_an_error(enc, faces):
    res = enc.encode([write_video(None, _frames(faces, [("none", 2)]), fps=FPS)])[0]
    assert not res.ok and "no face found" in res.error and "no audio track" in res.error


def test_corrupt_empty_missing_and_audio_only_inputs_fail_alone(enc, tmp_path, happy_then_neutral_silent):
    good = happy_then_neutral_silent.read_bytes()
    truncated = good[: len(good) // 3]
    results = enc.encode([
        b"\x00\x00\x00\x18ftypmp42" + b"\x13" * 500,  # an MP4 header and garbage
        b"",
        str(tmp_path / "missing.mp4"),
        clip_bytes(synth_clip(0.5, 0.5, seconds=2.0)),  # audio only (WAV)
        truncated,
        good,
    ])
    errors = [r.error or "" for r in results]
    assert "cannot" in errors[0]
    assert "empty file" in errors[1]
    assert "no such file" in errors[2]
    assert "no video stream" in errors[3]
    assert errors[4]  # a third of an MP4 (moov atom at the end) does not decode
    assert results[5].ok


# --- faces + voice -------------------------------------------------------------------------------

def test_faces_and_voice_are_fused_per_segment(speech_encoder, faces):
    enc = VideoEncoder(fps=2.0, segment_seconds=3.0, speech_encoder=speech_encoder)
    audio = synth_clip(0.5, 0.5, seconds=9.0)
    audio[int(5.5 * 16000):] = 0.0  # the last 3 s are silent (0.5 s margin for AAC's frame overlap): faces only there
    frames = _frames(faces, [("happy", 3), ("none", 3), ("happy", 3)])
    res = enc.encode([write_video(None, frames, fps=FPS, audio=audio)])[0]
    assert res.ok, res.error
    segs = res.details["segments"]
    assert [s["sources"] for s in segs] == [["face", "speech"], ["speech"], ["face"]]
    tax = get_taxonomy("emotiontalk7")
    for s in segs:
        aff = s["affect"]
        assert set(aff["probs"]) == set(tax.names) and sum(aff["probs"].values()) == pytest.approx(1.0)
        assert -1 <= aff["valence"] <= 1 and -1 <= aff["arousal"] <= 1
    # the speech-only segment is exactly the speech result carried to emotiontalk7
    from emoalign.affect import map_distribution

    own = segs[1]["speech"]
    expected = map_distribution(own["probs"], own["taxonomy"], "emotiontalk7")
    assert segs[1]["affect"]["probs"] == pytest.approx(expected)
    # the fused segment lies between its two sources
    mixed = segs[0]["affect"]["probs"]["happy"]
    face_only = segs[2]["affect"]["probs"]["happy"]
    assert min(face_only, expected["happy"]) - 1e-9 <= mixed <= max(face_only, expected["happy"]) + 1e-9
    assert res.details["has_audio"] is True and res.details["sources"] == ["face", "speech"]


def test_voice_alone_carries_a_video_without_faces(speech_encoder, faces):
    enc = VideoEncoder(speech_encoder=speech_encoder)
    res = enc.encode([write_video(None, _frames(faces, [("none", 4)]), fps=FPS, audio=synth_clip(-0.5, 0.5, seconds=4.0))])[0]
    assert res.ok, res.error
    assert res.details["frames_with_face"] == 0 and res.details["sources"] == ["speech"]


def test_registry_name_resolves_to_this_encoder():
    enc = get_encoder("video-fusion")
    assert isinstance(enc, VideoEncoder) and enc.modality == "video" and enc.taxonomy == "emotiontalk7"
