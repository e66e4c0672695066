"""Text helpers of the text encoder: transcript clean-up, language routing, character TF-IDF as plain data.

`CharTfidf` is fitted with scikit-learn but kept as its vocabulary (JSON) and idf weights
(``.npz``), and transforms with its own code, so a shipped head loads without pickles and
gives the same features as scikit-learn's ``TfidfVectorizer(analyzer="char")`` (the training
script checks that).

>>> clean_text("[over/]还给他点[/over]饭。[laughing]")
'还给他点饭。[laughing]'
>>> detect_language("我太难过了，想哭"), detect_language("I am so happy!")
('zh', 'en')
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from emoalign.data.emotiontalk import clean_transcript
from emoalign.numeric import softmax

# CJK Unified Ideographs (+ extension A and compatibility ideographs): the script of Chinese.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Bracketed event tags ([laughing], [interrupted], GoEmotions' [NAME]) are annotation, not language.
_TAG = re.compile(r"\[[A-Za-z ]{1,20}\]")


def clean_text(text: str) -> str:
    """EmotionTalk's overlap markers removed and white space collapsed; event tags such as
    ``[laughing]`` kept, as the heads were trained (`emoalign.data.emotiontalk.clean_transcript`)."""
    return clean_transcript(text, keep_events=True)[0]


def detect_language(text: str) -> str:
    """``"zh"`` when Chinese characters dominate the text, else ``"en"``.

    A text is Chinese when it has Han characters and at least half as many of them as Latin
    letters (one Han character carries about as much as a short English word), so
    "我今天很happy" is Chinese and "I love 北京 so much" is English. Other scripts go to the
    English route: USE is multilingual, but heads are trained on English and Chinese only.
    Bracketed tags such as ``[laughing]`` are not counted.
    """
    text = _TAG.sub("", text)
    han = len(_HAN.findall(text))
    if han == 0:
        return "en"
    return "zh" if 2 * han >= len(_LATIN.findall(text)) else "en"


class CharTfidf:
    """Character n-gram TF-IDF (lower-cased, sublinear tf, l2-normalised), saved as vocabulary + idf.

    >>> tf = CharTfidf(ngram_range=(1, 2), min_df=1).fit(["开心", "难过", "开心极了"])
    >>> X = tf.transform(["很开心"])
    >>> X.shape[0], round(float((X.multiply(X)).sum()), 6)
    (1, 1.0)
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 3), min_df: int = 2, max_features: int | None = 30000,
                 sublinear_tf: bool = True) -> None:
        self.ngram_range = tuple(ngram_range)
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.vocabulary_: dict[str, int] = {}
        self.idf_: np.ndarray | None = None

    # -- fitting (scikit-learn) ------------------------------------------------------------
    def sklearn_vectorizer(self, vocabulary: dict[str, int] | None = None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(analyzer="char", ngram_range=self.ngram_range, min_df=self.min_df if vocabulary is None else 1,
                               max_features=self.max_features if vocabulary is None else None,
                               sublinear_tf=self.sublinear_tf, lowercase=True, vocabulary=vocabulary)

    def fit(self, texts: Sequence[str]) -> "CharTfidf":
        vec = self.sklearn_vectorizer().fit(list(texts))
        self.vocabulary_ = {term: int(i) for term, i in vec.vocabulary_.items()}
        self.idf_ = vec.idf_.astype(np.float64)
        return self

    # -- transform (own code, same result as scikit-learn) ---------------------------------
    def _ngrams(self, text: str) -> list[str]:
        text = re.sub(r"\s\s+", " ", text.lower())  # what scikit-learn's char analyzer does
        lo, hi = self.ngram_range
        return [text[i:i + n] for n in range(lo, min(hi, len(text)) + 1) for i in range(len(text) - n + 1)]

    def transform(self, texts: Sequence[str]):
        """(n, vocabulary) sparse CSR matrix of l2-normalised tf-idf rows."""
        from scipy.sparse import csr_matrix

        if self.idf_ is None:
            raise RuntimeError("CharTfidf is not fitted: call fit() or load()")
        indptr, indices, data = [0], [], []
        for text in texts:
            counts = Counter(j for j in map(self.vocabulary_.get, self._ngrams(text)) if j is not None)
            cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if self.sublinear_tf:
                tf = 1.0 + np.log(tf)
            w = tf * self.idf_[cols]
            norm = math.sqrt(float(w @ w))
            if norm > 0:
                w /= norm
            order = np.argsort(cols)
            indices.extend(cols[order].tolist())
            data.extend(w[order].tolist())
            indptr.append(len(indices))
        return csr_matrix((np.array(data), np.array(indices, dtype=np.int64), np.array(indptr)),
                          shape=(len(indptr) - 1, len(self.idf_)))

    # -- persistence -------------------------------------------------------------------------
    def terms(self) -> list[str]:
        out = [""] * len(self.vocabulary_)
        for term, i in self.vocabulary_.items():
            out[i] = term
        return out

    def to_json(self) -> dict:
        return {"ngram_range": list(self.ngram_range), "min_df": self.min_df, "max_features": self.max_features,
                "sublinear_tf": self.sublinear_tf, "terms": self.terms(),
                "idf": [round(float(x), 6) for x in self.idf_]}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")), "utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CharTfidf":
        path = Path(path)
        try:
            spec = json.loads(path.read_text("utf-8"))
            out = cls(tuple(spec["ngram_range"]), spec["min_df"], spec["max_features"], spec["sublinear_tf"])
            out.vocabulary_ = {term: i for i, term in enumerate(spec["terms"])}
            out.idf_ = np.asarray(spec["idf"], dtype=np.float64)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a CharTfidf vocabulary file ({type(exc).__name__}: {exc})") from None
        if len(out.idf_) != len(out.vocabulary_):
            raise ValueError(f"{path}: {len(out.vocabulary_)} terms but {len(out.idf_)} idf weights")
        return out


class TfidfClassifierHead:
    """Multinomial logistic regression on `CharTfidf` features, saved as the vocabulary (JSON) + weights (``.npz``).

    >>> head = TfidfClassifierHead(CharTfidf((1, 2), min_df=1), C=10).fit(["好开心", "开心极了", "好难过", "难过想哭"],
    ...                                                                    ["happy", "happy", "sad", "sad"])
    >>> head.predict(["真开心"]), head.classes_
    (['happy'], ('happy', 'sad'))
    """

    kind = "tfidf-classifier"

    def __init__(self, tfidf: CharTfidf | None = None, C: float = 3.0, class_weight: str | None = None,
                 max_iter: int = 3000, meta: dict | None = None) -> None:
        self.tfidf = tfidf if tfidf is not None else CharTfidf()
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.meta = dict(meta or {})
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None
        self.classes_: tuple[str, ...] = ()

    def fit(self, texts: Sequence[str], y: Sequence[str], fit_vocabulary: bool = True) -> "TfidfClassifierHead":
        """Fit the vocabulary (unless ``fit_vocabulary=False``: reuse a fitted, shared one) and the weights."""
        from sklearn.linear_model import LogisticRegression

        texts = list(texts)
        if fit_vocabulary:
            self.tfidf.fit(texts)
        model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)
        model.fit(self.tfidf.transform(texts), np.asarray(y))
        self.classes_ = tuple(str(c) for c in model.classes_)
        coef, intercept = model.coef_, model.intercept_
        if len(self.classes_) == 2:  # sklearn keeps one row for binary problems: make it a 2-class softmax
            coef = np.vstack([-coef[0], coef[0]]) / 2
            intercept = np.array([-intercept[0], intercept[0]]) / 2
        self.coef_ = coef.astype(np.float32)
        self.intercept_ = intercept.astype(np.float64)
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("head is not fitted: call fit() or load()")
        X = self.tfidf.transform(texts)
        return np.asarray(X @ self.coef_.T.astype(np.float64)) + self.intercept_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.decision_function(texts), axis=1)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def save(self, path: str | Path, vocabulary_path: str | Path) -> Path:
        """Weights to ``path`` (.npz) and the vocabulary to ``vocabulary_path`` (.json; may be shared by heads)."""
        from emoalign.encode.heads import save_head_arrays

        if self.coef_ is None:
            raise RuntimeError("head is not fitted")
        self.tfidf.save(vocabulary_path)
        meta = {**self.meta, "vocabulary": Path(vocabulary_path).name, "n_terms": len(self.tfidf.vocabulary_)}
        return save_head_arrays(path, self.kind, meta, classes=np.array(self.classes_), coef=self.coef_,
                     intercept=self.intercept_, hyper=np.array([self.C]))

    @classmethod
    def load(cls, path: str | Path, tfidf: CharTfidf | None = None) -> "TfidfClassifierHead":
        """Load weights; the vocabulary is read from the file named in the head's meta (next to it) unless given."""
        from emoalign.encode.heads import load_head_arrays

        arrays, meta = load_head_arrays(path, cls.kind)
        if tfidf is None:
            tfidf = CharTfidf.load(Path(path).parent / meta["vocabulary"])
        head = cls(tfidf, C=float(arrays["hyper"][0]), meta=meta)
        head.coef_, head.intercept_ = arrays["coef"], arrays["intercept"]
        head.classes_ = tuple(str(c) for c in arrays["classes"])
        if head.coef_.shape[1] != len(tfidf.vocabulary_):
            raise ValueError(f"{path}: weights for {head.coef_.shape[1]} terms, vocabulary has {len(tfidf.vocabulary_)}")
        return head
