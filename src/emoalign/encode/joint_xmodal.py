"""An offline music–image space from documented cross-modal correspondences (``xmodal-v1``).

There is no offline music–image joint model (shared/MODELS.md: every CLIP/CLAP/ImageBind needs the
hub). This space is built by hand instead: five axes, each pairing an acoustic cue with the
visual cue that perception research associates with it (or, where marked, our own analogy):

====  ==========================  =====================================  ==========================================
axis  music (from the audio)      image (from the pixels)                basis
====  ==========================  =====================================  ==========================================
0     pitch height (register, Hz) lightness (mean luma)                  pitch ↔ lightness/brightness: Marks 1974,
                                                                         1987; Spence 2011 review
1     speed (note onsets/s)       colourfulness (Hasler–Süsstrunk 2003)  faster music ↔ more saturated colours:
                                                                         Palmer et al. 2013, PNAS 110:8836
2     loudness (dBFS)             luminance (RMS) contrast               loudness ↔ brightness intensity: Marks 1987
                                                                         (contrast as the intensity cue: ours)
3     timbral brightness          edge density (sharp, busy detail)      bright/sharp timbres ↔ angular shapes:
      (spectral centroid, Hz)                                            Adeli, Rouat & Molotchnikoff 2014 (edge
                                                                         density as the angularity cue: ours)
4     sensory roughness           fine texture (mean |Laplacian|)        timbre ↔ visual texture: Giannakis 2006;
      (Plomp–Levelt dissonance)                                          jagged ↔ rough (bouba/kiki)
====  ==========================  =====================================  ==========================================

Speed is the onset rate rather than an estimated tempo: beat trackers make octave errors
(a 74 BPM clip in eighth notes reads as 148), note density does not.

Each raw cue is centred and scaled with fixed constants (`MUSIC_SCALES`, `IMAGE_SCALES`: typical
values of recorded music and photographs, set by hand, not fitted) and squashed with ``tanh``, so
a vector lies in [-1, 1]^5. Pairing standardises each axis over each collection before taking
cosines (`emoalign.encode.joint.prepare_pair_vectors`), so what is compared is "higher than the
other clips" against "lighter than the other images".

What it is not: a learned semantic space. It knows nothing of objects, scenes or genres; it
encodes only low-level correspondences that listeners share on average. The correspondences are
established for simple stimuli (tones, colour patches); for real music and photographs they are
weak cues. Several are themselves mediated by emotion (Palmer et al. 2013), so S from this space
is not free of affect. Use it as an honest offline baseline; prefer ImageBind or the CLIP+CLAP
prompt space (``imagebind``, ``clip-clap``) when the hub is reachable.

>>> from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image
>>> r = XModalMusicEncoder().encode([clip_bytes(synth_clip(0.5, 0.5, seconds=2.0))])[0]
>>> r.vector.shape, r.details["axes"][0]
((5,), 'height_lightness')
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emoalign.encode.base import Encoder, EncodeResult, Input, safe_encode
from emoalign.media.decode import load_audio, load_image

SPACE = "xmodal-v1"
AXES = ("height_lightness", "speed_colourfulness", "loudness_contrast", "brightness_edges", "roughness_texture")
#: (transform, centre, scale) per music cue: z = (transform(x) − centre) / scale.
MUSIC_SCALES = {
    "register_hz": ("log2", np.log2(350.0), 1.0),  # 350 Hz centre, ±1 octave
    "onset_rate": ("linear", 3.0, 2.0),
    "loudness_db": ("linear", -16.0, 6.0),
    "centroid_hz": ("log2", np.log2(1000.0), 1.5),
    "roughness": ("log10", -1.7, 0.7),
}
#: The same for the image cues (luma and contrast on [0, 1]; colourfulness on Hasler–Süsstrunk's 0–255 scale).
IMAGE_SCALES = {
    "lightness": ("linear", 0.45, 0.18),
    "colourfulness": ("linear", 40.0, 25.0),
    "contrast": ("linear", 0.22, 0.08),
    "edge_density": ("linear", 0.12, 0.08),
    "texture": ("linear", 0.03, 0.02),
}
ANALYSIS_SECONDS = 30.0
IMAGE_SIDE = 256


def _squash(raw: dict[str, float], scales: dict) -> np.ndarray:
    out = []
    for key, (kind, centre, scale) in scales.items():
        x = float(raw[key])
        if not np.isfinite(x):
            x = {"log2": 2.0 ** centre, "log10": 10.0 ** centre, "linear": centre}[kind]  # unknown → neutral
        t = {"log2": lambda v: np.log2(max(v, 1e-6)), "log10": lambda v: np.log10(max(v, 0.0) + 1e-3),
             "linear": lambda v: v}[kind](x)
        out.append(np.tanh((t - centre) / scale))
    return np.asarray(out, dtype=np.float32)


class XModalMusicEncoder(Encoder):
    """Music → the five correspondence axes (see the module doc). No affect."""

    name = "music-xmodal"
    modality = "music"
    taxonomy = None
    space = SPACE
    version = "1"

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(self._one, inputs)

    def _one(self, item: Input) -> EncodeResult:
        from emoalign.encode.music_features import SR, extract_features

        # Decode only what is analysed (plus a second, so resampling's filter sees the same context).
        y = load_audio(item, SR, keep_seconds=ANALYSIS_SECONDS + 1.0)[: int(ANALYSIS_SECONDS * SR)]
        f = extract_features(y, SR)
        raw = {"register_hz": f.register_hz, "onset_rate": f.onset_rate, "loudness_db": f.loudness_db,
               "centroid_hz": f.centroid_hz, "roughness": f.roughness}
        return EncodeResult(vector=_squash(raw, MUSIC_SCALES), details={"axes": list(AXES), "raw": raw})


def image_cues(rgb: np.ndarray) -> dict[str, float]:
    """Lightness, colourfulness, contrast, edge density and fine texture of an RGB uint8 image.

    >>> cues = image_cues(np.full((8, 8, 3), 255, np.uint8))
    >>> round(cues["lightness"], 6), cues["contrast"], cues["colourfulness"]
    (1.0, 0.0, 0.0)
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    luma = (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]) / 255.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    # forward differences (a central difference is blind to one-pixel detail)
    gx = np.diff(luma, axis=1)[:-1, :] if min(luma.shape) > 1 else np.zeros((1, 1))
    gy = np.diff(luma, axis=0)[:, :-1] if min(luma.shape) > 1 else np.zeros((1, 1))
    grad = np.hypot(gx, gy)
    lap = np.zeros_like(luma)
    if min(luma.shape) >= 3:
        lap[1:-1, 1:-1] = (luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1])
    return {
        "lightness": float(luma.mean()),
        "colourfulness": float(colourfulness),
        "contrast": float(luma.std()),
        "edge_density": float((grad > 0.05).mean()),
        "texture": float(np.abs(lap).mean()),
    }


class XModalImageEncoder(Encoder):
    """Image → the five correspondence axes (see the module doc). No affect."""

    name = "image-xmodal"
    modality = "image"
    taxonomy = None
    space = SPACE
    version = "1"

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(self._one, inputs)

    def _one(self, item: Input) -> EncodeResult:
        from PIL import Image

        rgb = load_image(item)
        h, w = rgb.shape[:2]
        if max(h, w) > IMAGE_SIDE:  # cues are per-pixel averages: a fixed analysis size keeps them comparable
            s = IMAGE_SIDE / max(h, w)
            rgb = np.asarray(Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR))
        raw = image_cues(rgb)
        return EncodeResult(vector=_squash(raw, IMAGE_SCALES), details={"axes": list(AXES), "raw": raw})
