"""Text encoder helpers without the sentence encoder: clean-up, language routing, TF-IDF heads, context features."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.encode.text_context import MODES, context_features, grouped_context_features
from emoalign.encode.text_features import CharTfidf, TfidfClassifierHead, clean_text, detect_language


@pytest.mark.parametrize("raw, clean", [
    ("[over/]还给他点[/over]饭。", "还给他点饭。"),
    ("[over/我敲您]好", "我敲您好"),
    ("[over/呀[/over]。", "呀。"),
    ("[over[/over]的[[/over]x[/over/]y[over]", "的xy"),
    ("我笑了[laughing]  然后 [Sobbing]", "我笑了[laughing] 然后 [Sobbing]"),
    ("Thanks [NAME], see you  soon", "Thanks [NAME], see you soon"),  # GoEmotions placeholders stay
])
def test_clean_text_removes_overlap_markers_only(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize("text, lang", [
    ("我太难过了，想哭", "zh"),
    ("我今天很happy", "zh"),
    ("I love 北京 so much", "en"),
    ("I am so happy!", "en"),
    ("¡Estoy muy feliz!", "en"),  # other scripts take the English route
    ("12345 !!!", "en"),
    ("朝阳公[interrupted]。", "zh"),  # transcript event tags are not English
    ("[laughing]那确实。", "zh"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


TEXTS = ["今天好开心", "开心极了！", "我好难过", "难过得想哭", "气死我了", "你怎么又迟到了，气死了", "好开心呀", "真难过"]
LABELS = ["happy", "happy", "sad", "sad", "angry", "angry", "happy", "sad"]


def test_char_tfidf_matches_scikit_learn_and_survives_json(tmp_path):
    tf = CharTfidf(ngram_range=(1, 3), min_df=1, max_features=None).fit(TEXTS)
    vec = tf.sklearn_vectorizer().fit(TEXTS)
    np.testing.assert_allclose(tf.transform(TEXTS).toarray(), vec.transform(TEXTS).toarray(), atol=1e-12)
    back = CharTfidf.load(tf.save(tmp_path / "v.json"))
    np.testing.assert_allclose(back.transform(["好开心，气死了"]).toarray(), tf.transform(["好开心，气死了"]).toarray(), atol=1e-6)
    assert back.transform(["完全陌生字词"]).nnz == 0  # unknown n-grams: an all-zero row, not an error


def test_char_tfidf_load_names_a_bad_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", "utf-8")
    with pytest.raises(ValueError, match="bad.json"):
        CharTfidf.load(bad)


def test_tfidf_head_learns_and_round_trips(tmp_path):
    head = TfidfClassifierHead(CharTfidf((1, 2), min_df=1, max_features=None), C=10).fit(TEXTS, LABELS)
    assert head.predict(["开心", "难过", "气死"]) == ["happy", "sad", "angry"]
    head.save(tmp_path / "h.npz", tmp_path / "vocab.json")
    back = TfidfClassifierHead.load(tmp_path / "h.npz")
    np.testing.assert_allclose(back.predict_proba(TEXTS), head.predict_proba(TEXTS), atol=1e-5)
    assert back.classes_ == ("angry", "happy", "sad")
    np.testing.assert_allclose(back.predict_proba(TEXTS).sum(axis=1), 1.0)


def test_tfidf_head_refuses_another_kind_of_file(tmp_path):
    from emoalign.encode.heads import LinearClassifierHead

    X = np.random.default_rng(0).normal(size=(12, 3))
    path = LinearClassifierHead().fit(X, ["a", "b", "c"] * 4).save(tmp_path / "lin.npz")
    with pytest.raises(ValueError, match="expected 'tfidf-classifier'"):
        TfidfClassifierHead.load(path)


def test_context_features_shapes_and_causality():
    rng = np.random.default_rng(0)
    P = rng.normal(size=(6, 7))
    shapes = {mode: context_features(P, mode).shape for mode in MODES}
    assert shapes == {"utterance": (6, 7), "preceding": (6, 23), "dialogue": (6, 23)}
    # "preceding" must not look ahead: changing later turns leaves earlier turns' features alone
    Q = P.copy()
    Q[4:] += 5.0
    np.testing.assert_array_equal(context_features(P, "preceding")[:4], context_features(Q, "preceding")[:4])
    assert not np.allclose(context_features(P, "dialogue")[:4], context_features(Q, "dialogue")[:4])
    # "dialogue": the mean of the other turns, exactly
    np.testing.assert_allclose(context_features(P, "dialogue")[0, 7:14], P[1:].mean(axis=0))
    # one turn alone: context columns are zero and flagged
    single = context_features(P[:1], "dialogue")
    assert np.all(single[0, 7:21] == 0) and single[0, 21] == 1.0


def test_grouped_context_features_splits_threads_and_refuses_interleaving():
    P = np.arange(10, dtype=float).reshape(5, 2)
    got = grouped_context_features(P, ["a", "a", "b", "b", "b"], "dialogue")
    np.testing.assert_allclose(got[:2], context_features(P[:2], "dialogue"))
    np.testing.assert_allclose(got[2:], context_features(P[2:], "dialogue"))
    with pytest.raises(ValueError, match="not contiguous"):
        grouped_context_features(P, ["a", "b", "a", "b", "b"], "dialogue")
    with pytest.raises(ValueError, match="unknown context mode"):
        context_features(P, "future")
