"""Video emotion offline: faces in sampled frames + the voice in the audio track, fused per segment.

A video is decoded with PyAV (`video_io.decode_video`): frames sampled at ``fps`` (2 per second
by default) go to the default face encoder ("face-fer", FER-2013 classes; detected faces only) and the audio track, cut into
the same segments, goes to the speech encoder ("speech-egemaps", RAVDESS classes). Both are
carried to one taxonomy with `emoalign.affect.map_distribution` and averaged per segment with
weights that follow what each segment actually has:

- face weight = ``face_weight`` × the fraction of the segment's sampled frames with a face;
- speech weight = ``speech_weight`` if the segment's audio gave a result (not silent/too short);
- a segment with neither has no affect; a video where no segment has any source is an error.

The overall affect is the duration-weighted mean of the segments that have one. Valence and
arousal are fused the same way from each source's own valence/arousal.

Target taxonomy: ``emotiontalk7`` (neutral, happy, sad, angry, surprised, disgusted, fearful).
Every fer7 class has a same-concept EmotionTalk label, so faces map one-to-one; of RAVDESS's
eight only ``calm`` has no counterpart and is spread over its valence–arousal neighbours. It
is also the taxonomy of the project's multimodal (audio + video + text) dataset, EmotionTalk,
so the video encoder's output is directly comparable with those labels.

>>> enc = VideoEncoder()  # doctest: +SKIP
>>> res = enc.encode(["interview.mp4"])[0]  # doctest: +SKIP
>>> res.affect.top(), [(s["start"], s["end"], s["sources"]) for s in res.details["segments"]][:2]  # doctest: +SKIP
(('happy', 0.61), [(0.0, 3.0, ['face', 'speech']), (3.0, 6.0, ['speech'])])
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from emoalign.affect import get_taxonomy, map_distribution
from emoalign.encode.base import DecodeError, Encoder, EncodeResult, Input, describe_input, safe_encode
from emoalign.media.video import MAX_VIDEO_SECONDS, DecodedVideo, decode_video
from emoalign.types import Affect

#: Audio rate handed to the speech encoder (its own rate: no resampling there).
SPEECH_SR = 16000


@dataclass
class _Source:
    """One source's affect for one segment, already mapped to the target taxonomy."""

    probs: np.ndarray
    valence: float
    arousal: float
    weight: float
    own: dict[str, Any]


def segment_bounds(duration: float, seconds: float, min_last: float = 1.0) -> list[tuple[float, float]]:
    """Consecutive windows covering [0, duration]; a last window shorter than ``min_last`` joins the previous.

    >>> segment_bounds(6.5, 3.0)
    [(0.0, 3.0), (3.0, 6.5)]
    >>> segment_bounds(7.5, 3.0)
    [(0.0, 3.0), (3.0, 6.0), (6.0, 7.5)]
    >>> segment_bounds(2.0, 3.0)
    [(0.0, 2.0)]
    """
    if duration <= 0:
        return []
    edges = list(np.arange(0.0, duration, seconds)) + [duration]
    bounds = [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_last:
        bounds[-2] = (bounds[-2][0], bounds[-1][1])
        bounds.pop()
    return bounds


class VideoEncoder(Encoder):
    """Faces (fer7) + voice (ravdess8) → one distribution over ``emotiontalk7`` per segment and overall.

    ``details["segments"]`` lists ``{"start", "end", "affect", "sources", "weights", "frames",
    "frames_with_face", "face", "speech"}`` per segment (``affect`` is `Affect.to_dict()` or None;
    ``face``/``speech`` are each source's own result in its own taxonomy, or None).
    """

    name = "video-fusion"
    # 2: faces classified with flip test-time augmentation (face-fer version 2)
    version = "2"
    modality = "video"
    taxonomy = "emotiontalk7"
    space = None

    def __init__(
        self,
        *,
        fps: float = 2.0,
        segment_seconds: float = 3.0,
        face_weight: float = 0.5,
        speech_weight: float = 0.5,
        use_speech: bool = True,
        max_side: int = 640,
        max_seconds: float = MAX_VIDEO_SECONDS,
        face_encoder: Encoder | None = None,
        speech_encoder: Encoder | None = None,
    ) -> None:
        if fps <= 0 or segment_seconds <= 0:
            raise ValueError("fps and segment_seconds must be positive")
        if face_weight < 0 or speech_weight < 0 or face_weight + speech_weight == 0:
            raise ValueError("face_weight and speech_weight must be non-negative and not both zero")
        self.fps = float(fps)
        self.segment_seconds = float(segment_seconds)
        self.face_weight = float(face_weight)
        self.speech_weight = float(speech_weight)
        self.use_speech = use_speech
        self.max_side = max_side
        self.max_seconds = max_seconds
        self._face = face_encoder
        self._speech = speech_encoder
        self.target = get_taxonomy(self.taxonomy)

    # The sub-encoders load on first use (their models are the expensive part).
    @property
    def face_encoder(self) -> Encoder:
        if self._face is None:
            from emoalign.encode.registry import DEFAULTS, get_encoder

            self._face = get_encoder(DEFAULTS["face"])
        return self._face

    @property
    def speech_encoder(self) -> Encoder:
        if self._speech is None:
            from emoalign.encode.registry import get_encoder

            self._speech = get_encoder("speech-egemaps")
        return self._speech

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(self._encode_one, inputs)

    # ---------------------------------------------------------------------------------------
    def _encode_one(self, item: Input) -> EncodeResult:
        name = describe_input(item)
        video = decode_video(item, fps=self.fps, sr=SPEECH_SR, max_side=self.max_side,
                             max_seconds=self.max_seconds, with_audio=self.use_speech)
        bounds = segment_bounds(video.duration, self.segment_seconds)
        face_results = self._faces(video, name)
        speech_results = self._speech_segments(video, bounds, name)
        segments, seg_affects = [], []
        for k, (start, end) in enumerate(bounds):
            in_seg = [i for i, (t, _) in enumerate(video.frames) if start <= t < end or (k == len(bounds) - 1 and t >= end)]
            faces = [face_results[i] for i in in_seg if face_results[i] is not None]
            sources: dict[str, _Source] = {}
            if faces:
                sources["face"] = self._face_source(faces, coverage=len(faces) / len(in_seg))
            if speech_results[k] is not None:
                sources["speech"] = self._speech_source(speech_results[k])
            affect = self._fuse(sources)
            seg_affects.append((end - start, affect))
            segments.append({
                "start": round(start, 3), "end": round(end, 3),
                "affect": None if affect is None else affect.to_dict(),
                "sources": sorted(sources),
                "weights": {s: src.weight for s, src in sources.items()},
                "frames": len(in_seg), "frames_with_face": len(faces),
                "face": sources["face"].own if "face" in sources else None,
                "speech": sources["speech"].own if "speech" in sources else None,
            })
        used = [(d, a) for d, a in seg_affects if a is not None]
        if not used:
            why = "no audio track" if video.audio is None else "no usable audio (silent or too short)"
            if not self.use_speech:
                why = "speech disabled"
            raise DecodeError(f"{name}: no face found in any of {len(video.frames)} sampled frames and {why}")
        overall = self._mean_affect(used)
        details = {
            "segments": segments,
            "duration": round(video.duration, 3),
            "fps": self.fps,
            "segment_seconds": self.segment_seconds,
            "frames_sampled": len(video.frames),
            "frames_with_face": sum(r is not None for r in face_results),
            "has_audio": video.audio is not None,
            "sources": sorted({s for seg in segments for s in seg["sources"]}),
            "size": [video.width, video.height],
            "mapping": {"face": f"fer7 -> {self.taxonomy}", "speech": f"ravdess8 -> {self.taxonomy}"},
        }
        return EncodeResult(affect=overall, details=details)

    def _faces(self, video: DecodedVideo, name: str) -> list[Affect | None]:
        """The largest face's fer7 affect per sampled frame (None where no face was found)."""
        enc = self.face_encoder
        out: list[Affect | None] = []
        encode_array = getattr(enc, "encode_array", None)
        for t, rgb in video.frames:
            if encode_array is not None:  # skip an image round trip when the encoder takes arrays
                try:  # frames are never face crops: only detected faces count
                    res = encode_array(rgb, f"{name}@{t:.2f}s", face_mode="detect")
                except ValueError:  # NoFaceError (and undecodable crops): no face in this frame
                    res = None
            else:
                res = enc.encode([_png(rgb)])[0]
                res = res if res.ok else None
            out.append(res.affect if res is not None and res.affect is not None else None)
        return out

    def _speech_segments(self, video: DecodedVideo, bounds: list[tuple[float, float]], name: str) -> list[Affect | None]:
        if not self.use_speech or video.audio is None:
            return [None] * len(bounds)
        clips, index = [], []
        for k, (start, end) in enumerate(bounds):
            seg = video.audio[int(start * video.sr) : int(end * video.sr)]
            if seg.size == 0:
                continue
            clips.append(_wav(seg, video.sr))
            index.append(k)
        out: list[Affect | None] = [None] * len(bounds)
        if clips:
            for k, res in zip(index, self.speech_encoder.encode(clips)):
                if res.ok and res.affect is not None:  # silent or too-short segments come back as errors
                    out[k] = res.affect
        return out

    def _face_source(self, faces: list[Affect], coverage: float) -> _Source:
        fer = get_taxonomy(faces[0].taxonomy)
        mean = np.mean([[f.probs.get(n, 0.0) for n in fer.names] for f in faces], axis=0)
        own = dict(zip(fer.names, mean.tolist()))
        v = float(np.mean([f.valence for f in faces]))
        a = float(np.mean([f.arousal for f in faces]))
        mapped = map_distribution(own, fer, self.target)
        return _Source(self._vec(mapped), v, a, self.face_weight * coverage,
                       {"taxonomy": fer.name, "probs": own, "valence": v, "arousal": a, "frames": len(faces)})

    def _speech_source(self, affect: Affect) -> _Source:
        mapped = map_distribution(affect.probs, affect.taxonomy, self.target)
        return _Source(self._vec(mapped), float(affect.valence), float(affect.arousal), self.speech_weight, affect.to_dict())

    def _vec(self, probs: dict[str, float]) -> np.ndarray:
        return np.array([probs[n] for n in self.target.names], dtype=np.float64)

    def _fuse(self, sources: dict[str, _Source]) -> Affect | None:
        total = sum(s.weight for s in sources.values())
        if total <= 0:
            return None
        probs = sum(s.weight * s.probs for s in sources.values()) / total
        v = sum(s.weight * s.valence for s in sources.values()) / total
        a = sum(s.weight * s.arousal for s in sources.values()) / total
        return Affect(self.taxonomy, dict(zip(self.target.names, (probs / probs.sum()).tolist())), float(v), float(a))

    def _mean_affect(self, weighted: list[tuple[float, Affect]]) -> Affect:
        w = np.array([d for d, _ in weighted], dtype=np.float64)
        w /= w.sum()
        P = np.array([[a.probs[n] for n in self.target.names] for _, a in weighted])
        probs = w @ P
        v = float(w @ np.array([a.valence for _, a in weighted]))
        ar = float(w @ np.array([a.arousal for _, a in weighted]))
        return Affect(self.taxonomy, dict(zip(self.target.names, (probs / probs.sum()).tolist())), v, ar)


def _wav(y: np.ndarray, sr: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(y, dtype=np.float32), sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()
