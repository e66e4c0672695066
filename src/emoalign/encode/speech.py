"""Offline speech emotion recognition: openSMILE acoustic functionals + a shipped linear head.

Each clip is decoded to 16 kHz mono (`emoalign.media.decode.load_audio`), summarised by
openSMILE functionals (eGeMAPSv02: 88 features; ComParE_2016: 6,373; or both concatenated)
and classified into RAVDESS's eight emotions by a multinomial logistic-regression head
(`emoalign.encode.heads.LinearClassifierHead`) that ships in ``encode/models/``. Valence and
arousal are the expectation of the label coordinates under the predicted distribution.

Speaker adaptation. Acoustic functionals vary more between speakers than between emotions,
so the encoder also ships a second head trained on *per-speaker z-normalised* features. Pass
``speaker_ids`` (one id per input) and every speaker's features are standardised with the mean
and spread of that speaker's own clips in the batch (no labels needed) before the speaker head
classifies them. It needs several clips per speaker that span varied emotions (a speaker whose
clips are all angry would have the anger normalised away); speakers with fewer than
``min_speaker_clips`` decoded clips fall back to the per-clip head (by default the number the
speaker head's cross-validation found necessary to beat the per-clip head, stored in the
head file). See ``encode/models/speech_egemaps.md`` for the measured gain and how it grows
with the number of clips per speaker.

Which feature set and regularisation the heads use was chosen by actor-grouped
cross-validation (``bench/train_speech_head.py``); the head file records it, so the encoder
extracts whatever its head was trained on.

>>> enc = EgemapsSpeechEncoder()  # doctest: +SKIP
>>> [r.affect.top() for r in enc.encode(["03-01-05-01-01-01-17.flac"])]  # doctest: +SKIP
>>> enc.encode(paths, speaker_ids=["actor17"] * len(paths))  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Hashable, Sequence

import numpy as np

from emoalign.affect import affect_from_probs, get_taxonomy
from emoalign.encode.base import DecodeError, Encoder, EncodeResult, Input, describe_input
from emoalign.encode.heads import LinearClassifierHead
from emoalign.media.decode import load_audio

SR = 16000
#: Shortest clip accepted: openSMILE's functionals come out NaN below ~0.1 s, and emotion
#: needs more than a syllable anyway.
MIN_SECONDS = 0.25
#: Feature-set names used in head files → openSMILE feature-set attribute names.
OPENSMILE_SETS: dict[str, str] = {"egemaps": "eGeMAPSv02", "compare": "ComParE_2016"}
#: Number of functionals of each set (opensmile 2.x), used to slice a union feature vector.
SET_DIMS: dict[str, int] = {"egemaps": 88, "compare": 6373}
#: Shipped head files (package data in ``emoalign/encode/models``).
HEAD_FILE = "speech_egemaps.npz"
SPEAKER_HEAD_FILE = "speech_egemaps_spknorm.npz"
#: Pseudo-count of the shrinkage of a speaker's feature spread towards the training pool's
#: within-speaker spread (few clips give a noisy standard deviation).
DEFAULT_SHRINK = 5.0
#: Standardised features are clipped to ± this many training standard deviations before a head
#: reads them. Some functionals are nearly constant in RAVDESS (spread ~1e-8), so a recording
#: unlike it (another microphone, a synthetic tone) puts them 1e10 deviations out and the head
#: answers with certainty 1.0 whatever the emotion; clipped, they weigh like any other feature.
#: On RAVDESS it changes almost nothing (actors 17–20 end to end: UAR unchanged, weighted F1 ±0.002).
CLIP_SD = 10.0
#: Fewest decoded clips of a speaker for speaker normalisation when the head does not say
#: (the shipped speaker head records the number its cross-validation found, ``meta["min_clips"]``).
DEFAULT_MIN_SPEAKER_CLIPS = 8


def union_spec(*specs: str) -> str:
    """The feature sets of several specs, once each, in canonical order.

    >>> union_spec("compare", "egemaps+compare")
    'egemaps+compare'
    """
    wanted = {name for spec in specs for name in parse_feature_spec(spec)}
    return "+".join(name for name in OPENSMILE_SETS if name in wanted)


def feature_columns(spec: str, within: str) -> np.ndarray:
    """Indices of ``spec``'s features inside a vector of the (larger) spec ``within``.

    >>> feature_columns("compare", "egemaps+compare")[:2].tolist()
    [88, 89]
    """
    offsets, start = {}, 0
    for name in parse_feature_spec(within):
        offsets[name] = start
        start += SET_DIMS[name]
    missing = [n for n in parse_feature_spec(spec) if n not in offsets]
    if missing:
        raise ValueError(f"feature set(s) {missing} are not part of {within!r}")
    return np.concatenate([np.arange(offsets[n], offsets[n] + SET_DIMS[n]) for n in parse_feature_spec(spec)])


def parse_feature_spec(spec: str) -> tuple[str, ...]:
    """``"egemaps+compare"`` → ``("egemaps", "compare")``, validating each name.

    >>> parse_feature_spec("egemaps+compare")
    ('egemaps', 'compare')
    """
    parts = tuple(p.strip().lower() for p in spec.split("+") if p.strip())
    unknown = [p for p in parts if p not in OPENSMILE_SETS]
    if not parts or unknown:
        raise ValueError(f"unknown feature set {spec!r}; use {' or '.join(OPENSMILE_SETS)} joined by '+'")
    return parts


class OpenSmileFeatures:
    """openSMILE functionals of a 16 kHz mono clip, for one or more feature sets (concatenated).

    >>> fx = OpenSmileFeatures("egemaps")  # doctest: +SKIP
    >>> fx(np.zeros(16000, np.float32) + 0.01).shape  # doctest: +SKIP
    (88,)
    """

    def __init__(self, spec: str = "egemaps") -> None:
        self.spec = "+".join(parse_feature_spec(spec))
        self._smiles: list[Any] | None = None

    def _build(self) -> list[Any]:
        if self._smiles is None:
            try:
                import opensmile
            except ImportError as exc:  # the offline extra
                raise ImportError("speech-egemaps needs opensmile: pip install 'emoalign[offline]'") from exc
            self._smiles = [
                opensmile.Smile(
                    feature_set=getattr(opensmile.FeatureSet, OPENSMILE_SETS[name]),
                    feature_level=opensmile.FeatureLevel.Functionals,
                )
                for name in parse_feature_spec(self.spec)
            ]
        return self._smiles

    @property
    def names(self) -> list[str]:
        """Feature names, in output order."""
        return [n for smile in self._build() for n in smile.feature_names]

    def __call__(self, y: np.ndarray, sr: int = SR, name: str = "<signal>") -> np.ndarray:
        """Functionals of one clip as a float64 vector; raises `DecodeError` for clips too short to describe."""
        if y.size < MIN_SECONDS * sr:
            raise DecodeError(f"{name}: {y.size / sr:.2f} s of audio is shorter than the {MIN_SECONDS} s minimum")
        parts = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "segment too short" → caught below as NaN
            for smile in self._build():
                parts.append(smile.process_signal(np.asarray(y, np.float32), sr).to_numpy(np.float64).reshape(-1))
        x = np.concatenate(parts)
        if not np.all(np.isfinite(x)):
            raise DecodeError(f"{name}: openSMILE returned undefined features (clip too short or degenerate)")
        return x


@dataclass
class SpeakerStats:
    """Mean and spread of one speaker's features (from unlabelled clips)."""

    mean: np.ndarray
    scale: np.ndarray
    n: int


def speaker_stats(X: np.ndarray, pooled_scale: np.ndarray | None = None, shrink: float = DEFAULT_SHRINK) -> SpeakerStats:
    """Per-feature mean and standard deviation of one speaker's clips (rows of ``X``).

    With ``pooled_scale`` (the typical within-speaker spread), the variance is shrunk towards it
    with weight ``shrink`` clips, so that a speaker with few clips is not over-scaled.

    >>> s = speaker_stats(np.array([[0.0, 1.0], [2.0, 1.0]]))
    >>> s.mean.tolist(), s.n
    ([1.0, 1.0], 2)
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if n == 0:
        raise ValueError("speaker_stats needs at least one clip")
    mean = X.mean(axis=0)
    var = X.var(axis=0)
    if pooled_scale is not None and shrink > 0:
        var = (n * var + shrink * np.asarray(pooled_scale) ** 2) / (n + shrink)
    return SpeakerStats(mean, np.sqrt(var) + 1e-8, n)


def speaker_znorm(
    X: np.ndarray,
    speaker_ids: Sequence[Hashable],
    pooled_scale: np.ndarray | None = None,
    shrink: float = DEFAULT_SHRINK,
) -> np.ndarray:
    """Z-normalise each row of ``X`` with the statistics of its speaker's rows.

    Training (``bench/train_speech_head.py``) and the encoder both call this, so the head sees
    the same transform at fit and at use.

    >>> speaker_znorm(np.array([[1.0], [3.0], [10.0], [30.0]]), ["a", "a", "b", "b"]).round(3).ravel().tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """
    X = np.asarray(X, dtype=np.float64)
    ids = np.asarray([str(s) for s in speaker_ids])
    if len(ids) != len(X):
        raise ValueError(f"{len(ids)} speaker ids for {len(X)} feature rows")
    out = np.empty_like(X)
    for spk in np.unique(ids):
        rows = ids == spk
        st = speaker_stats(X[rows], pooled_scale, shrink)
        out[rows] = (X[rows] - st.mean) / st.scale
    return out


def pooled_within_speaker_scale(X: np.ndarray, speaker_ids: Sequence[Hashable]) -> np.ndarray:
    """Root-mean within-speaker variance per feature (the shrinkage target of `speaker_stats`)."""
    X = np.asarray(X, dtype=np.float64)
    ids = np.asarray([str(s) for s in speaker_ids])
    centred = np.empty_like(X)
    for spk in np.unique(ids):
        rows = ids == spk
        centred[rows] = X[rows] - X[rows].mean(axis=0)
    return np.sqrt((centred**2).mean(axis=0)) + 1e-8


def fit_speech_head(
    X: np.ndarray,
    y: Sequence[str],
    *,
    C: float = 0.01,
    features: str = "egemaps",
    class_weight: str | None = "balanced",
    max_iter: int = 3000,
    meta: dict[str, Any] | None = None,
) -> LinearClassifierHead:
    """Fit the encoder's head: standardise, then L2 multinomial logistic regression with ``C``.

    The same model as `LinearClassifierHead.fit`, solved faster when features outnumber clips
    (ComParE: 6,373 features for ~1,000 clips): an L2-penalised linear model's weights lie in
    the span of the training rows, so the regression is solved in the coordinates of that span
    (an SVD) and its weights mapped back, an exact reparametrisation rather than an
    approximation. The result is a plain `LinearClassifierHead` (float32 arrays) whose meta
    names the feature set, for `EgemapsSpeechEncoder`.

    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (20, 50)), rng.normal(1, 1, (20, 50))]
    >>> head = fit_speech_head(X, ["sad"] * 20 + ["happy"] * 20, C=1.0)
    >>> head.predict(X[:1]), head.meta["features"]
    (['sad'], 'egemaps')
    """
    return fit_speech_heads(X, y, Cs=(C,), features=features, class_weight=class_weight, max_iter=max_iter, meta=meta)[0]


def fit_speech_heads(
    X: np.ndarray,
    y: Sequence[str],
    *,
    Cs: Sequence[float],
    features: str = "egemaps",
    class_weight: str | None = "balanced",
    max_iter: int = 3000,
    meta: dict[str, Any] | None = None,
) -> list[LinearClassifierHead]:
    """`fit_speech_head` for several ``C`` at once, sharing the standardisation and the SVD."""
    from sklearn.linear_model import LogisticRegression

    spec = "+".join(parse_feature_spec(features))
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray([str(v) for v in y])
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"{len(X)} feature rows for {len(y)} labels")
    mean = X.mean(axis=0)
    scale = X.std(axis=0) + 1e-8
    Z = (X - mean) / scale
    basis = None
    if Z.shape[1] > Z.shape[0]:
        _, s, vt = np.linalg.svd(Z, full_matrices=False)
        basis = vt[s > s[0] * 1e-10]  # (rank, d): the row span of the training data
        Z = Z @ basis.T
    heads = []
    for C in Cs:
        model = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter)
        model.fit(Z, y)
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # sklearn keeps one row for binary problems
            coef = np.vstack([-coef[0], coef[0]]) / 2
            intercept = np.array([-intercept[0], intercept[0]]) / 2
        if basis is not None:
            coef = coef @ basis
        info = {"features": spec, "C": float(C), "class_weight": class_weight, "n_train": int(len(y))}
        info.update(meta or {})
        heads.append(LinearClassifierHead(
            C=float(C), class_weight=class_weight, meta=info,
            mean_=mean.astype(np.float32), scale_=scale.astype(np.float32), coef_=coef.astype(np.float32),
            intercept_=intercept.astype(np.float32), classes_=tuple(str(c) for c in model.classes_),
        ))
    return heads


def _clipped_proba(head: LinearClassifierHead, X: np.ndarray) -> np.ndarray:
    """``head.predict_proba`` with each feature clipped to ± `CLIP_SD` of the head's own standardisation."""
    mean, scale = np.asarray(head.mean_, np.float64), np.asarray(head.scale_, np.float64)
    return head.predict_proba(np.clip(X, mean - CLIP_SD * scale, mean + CLIP_SD * scale))


def _model_path(filename: str) -> Path:
    return Path(str(resources.files("emoalign.encode").joinpath("models", filename)))


def load_head(path: str | Path | None = None, filename: str = HEAD_FILE) -> LinearClassifierHead:
    """A speech head from ``path``, or the shipped one; checks it names a feature set."""
    path = Path(path) if path is not None else _model_path(filename)
    head = LinearClassifierHead.load(path)
    if "features" not in head.meta:
        raise ValueError(f"{path}: head has no 'features' entry in its meta (which openSMILE set it expects)")
    parse_feature_spec(head.meta["features"])
    return head


class EgemapsSpeechEncoder(Encoder):
    """Speech → ravdess8 `Affect` from openSMILE functionals and a shipped logistic-regression head.

    ``head``/``speaker_head`` default to the shipped files; pass paths (or fitted heads) to use
    your own. ``vector`` is the raw openSMILE feature vector (before any speaker normalisation),
    in space ``opensmile-<features>``.

    >>> enc = EgemapsSpeechEncoder()  # doctest: +SKIP
    >>> res = enc.encode([open("clip.wav", "rb").read()])  # doctest: +SKIP
    >>> res[0].affect.top(), res[0].affect.valence  # doctest: +SKIP
    """

    name: ClassVar[str] = "speech-egemaps"
    modality: ClassVar[str] = "speech"
    taxonomy: ClassVar[str | None] = "ravdess8"
    #: the shipped heads read eGeMAPS + ComParE; an instance sets its own from its heads
    space: ClassVar[str | None] = "opensmile-egemaps+compare"
    #: 2: heads re-chosen by 5-fold actor-grouped CV on actors 01–20 and fitted on all 20 (issue #12)
    version: ClassVar[str] = "2"
    #: ``encode`` takes ``speaker_ids`` (`emoalign.encode.analyze` checks this before passing them)
    supports_speaker_norm: ClassVar[bool] = True

    def __init__(
        self,
        head: str | Path | LinearClassifierHead | None = None,
        speaker_head: str | Path | LinearClassifierHead | None = None,
        *,
        min_speaker_clips: int | None = None,
    ) -> None:
        self.head = head if isinstance(head, LinearClassifierHead) else load_head(head, HEAD_FILE)
        if speaker_head is None and head is not None:
            self.speaker_head = None  # a custom per-clip head: do not pair it with the shipped speaker head silently
        else:
            self.speaker_head = (
                speaker_head if isinstance(speaker_head, LinearClassifierHead) else load_head(speaker_head, SPEAKER_HEAD_FILE)
            )
        heads = [h for h in (self.head, self.speaker_head) if h is not None]
        tax = get_taxonomy(self.taxonomy)
        for h in heads:
            if "features" not in h.meta:
                raise ValueError("a speech head needs meta['features'] (which openSMILE sets it reads)")
            expected = sum(SET_DIMS[n] for n in parse_feature_spec(h.meta["features"]))
            if h.coef_ is None or h.coef_.shape[1] != expected:
                got = None if h.coef_ is None else h.coef_.shape[1]
                raise ValueError(f"head for {h.meta['features']!r} features has {got} inputs, expected {expected}")
            if set(h.classes_) - set(tax.names):
                raise ValueError(f"head classes {h.classes_} are not all ravdess8 labels {tax.names}")
        if min_speaker_clips is None:  # the speaker head records how many clips it needs (measured by CV)
            meta = self.speaker_head.meta if self.speaker_head is not None else {}
            min_speaker_clips = meta.get("min_clips") or DEFAULT_MIN_SPEAKER_CLIPS
        self.min_speaker_clips = int(min_speaker_clips)
        # extract the union of what the heads read once; each head takes its own columns
        self.features = OpenSmileFeatures(union_spec(*(h.meta["features"] for h in heads)))
        self._cols = {id(h): feature_columns(h.meta["features"], self.features.spec) for h in heads}
        self.space = f"opensmile-{self.features.spec}"

    # -- features -----------------------------------------------------------------------------
    def extract(self, item: Input) -> np.ndarray:
        """Decode one input and return its openSMILE feature vector (raises `DecodeError`)."""
        y = load_audio(item, SR)
        return self.features(y, SR, describe_input(item))

    def extract_many(self, inputs: Sequence[Input]) -> list[np.ndarray | str]:
        """Feature vectors, or an error message per input that failed."""
        from emoalign.interrupts import check as check_interrupt

        out: list[np.ndarray | str] = []
        for item in inputs:
            check_interrupt()  # between clips: a Ctrl-C during openSMILE's callback is honoured here
            try:
                out.append(self.extract(item))
            except (DecodeError, ValueError, OSError) as exc:
                check_interrupt()  # an error while stopping is the stop's doing: never a bad input
                out.append(f"{type(exc).__name__}: {exc}")
        return out

    # -- classification -----------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray, speaker_ids: Sequence[Hashable | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (n, n_classes) for feature rows (as `extract` returns them), and a mask of
        the rows that were speaker-normalised.

        ``speaker_ids``: one id per row (None: speaker unknown, per-clip head). A speaker's rows are
        normalised together when there are at least ``min_speaker_clips`` of them.
        """
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != sum(SET_DIMS[n] for n in parse_feature_spec(self.features.spec)):
            raise ValueError(f"feature rows have {X.shape[1]} columns; this encoder reads {self.features.spec!r} features")
        probs = _clipped_proba(self.head, X[:, self._cols[id(self.head)]])
        normed = np.zeros(len(X), dtype=bool)
        if speaker_ids is None:
            return probs, normed
        if self.speaker_head is None:
            raise ValueError("speaker_ids given but this encoder has no speaker-normalised head")
        if len(speaker_ids) != len(X):
            raise ValueError(f"{len(speaker_ids)} speaker ids for {len(X)} inputs")
        known = np.array([s is not None for s in speaker_ids], dtype=bool)
        ids = np.asarray(["" if s is None else str(s) for s in speaker_ids])
        pooled = self.speaker_head.meta.get("pooled_scale")
        pooled = None if pooled is None else np.asarray(pooled, dtype=np.float64)
        shrink = float(self.speaker_head.meta.get("shrink", DEFAULT_SHRINK))
        for spk in np.unique(ids[known]):
            rows = known & (ids == spk)
            if rows.sum() < self.min_speaker_clips:
                continue
            Z = speaker_znorm(X[rows][:, self._cols[id(self.speaker_head)]], ids[rows], pooled, shrink)
            probs[rows] = self._align(self.speaker_head, _clipped_proba(self.speaker_head, Z))
            normed[rows] = True
        return probs, normed

    def _align(self, head: LinearClassifierHead, probs: np.ndarray) -> np.ndarray:
        """Reorder ``probs`` from ``head``'s class order to the per-clip head's."""
        if head.classes_ == self.head.classes_:
            return probs
        index = [head.classes_.index(c) for c in self.head.classes_]
        return probs[:, index]

    def encode(self, inputs: Sequence[Input], speaker_ids: Sequence[Hashable | None] | None = None) -> list[EncodeResult]:
        """One result per input; with ``speaker_ids``, speakers with enough clips are normalised first.

        ``details``: ``features``; ``speaker_norm`` — ``"none"`` (no speaker given), ``"applied"``
        (normalised with the statistics of ``speaker_clips`` clips of ``speaker`` in this call) or
        ``"fallback"`` (too few decoded clips of that speaker: the per-clip head was used,
        ``speaker_norm_reason`` says why); ``speaker_normalised`` (bool, the same fact).
        """
        if speaker_ids is not None and len(speaker_ids) != len(inputs):
            raise ValueError(f"{len(speaker_ids)} speaker ids for {len(inputs)} inputs")
        feats = self.extract_many(inputs)
        ok = [i for i, f in enumerate(feats) if not isinstance(f, str)]
        results: list[EncodeResult] = [EncodeResult(error=f) if isinstance(f, str) else EncodeResult() for f in feats]
        if not ok:
            return results
        X = np.stack([feats[i] for i in ok])
        spk = None if speaker_ids is None else [speaker_ids[i] for i in ok]
        probs, normed = self.predict_proba(X, spk)
        clips: dict[str, int] = {}
        for s in spk or []:
            if s is not None:
                clips[str(s)] = clips.get(str(s), 0) + 1
        for row, i in enumerate(ok):
            dist = dict(zip(self.head.classes_, probs[row].tolist()))
            details: dict[str, Any] = {"features": self.features.spec, "speaker_normalised": bool(normed[row]),
                                       "speaker_norm": "none"}
            if spk is not None and spk[row] is not None:
                n = clips[str(spk[row])]
                details.update(speaker=str(spk[row]), speaker_clips=n)
                if normed[row]:
                    details["speaker_norm"] = "applied"
                else:
                    details["speaker_norm"] = "fallback"
                    details["speaker_norm_reason"] = (
                        f"speaker {spk[row]} has {n} decoded clip{'s' if n != 1 else ''} in this call; "
                        f"speaker normalisation needs at least {self.min_speaker_clips}, so the per-clip head was used")
            results[i] = EncodeResult(
                affect=affect_from_probs(dist, self.taxonomy), vector=X[row].astype(np.float32), details=details
            )
        return results
