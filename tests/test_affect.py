"""The affect space: every taxonomy loads with coordinates and provenance; mapping behaves."""

import numpy as np
import pytest

from emoalign.affect import (
    UnknownLabelError,
    affect_from_probs,
    expected_va,
    get_taxonomy,
    list_taxonomies,
    load_nrc_vad,
    map_distribution,
    mapping_matrix,
    nearest_label,
    va_cosine,
)

EXPECTED = {
    "emid13": 13, "mikels8": 8, "emotiontalk7": 7, "emotiontalk_sentiment5": 5,
    "emonet40": 40, "ravdess8": 8, "goemotions28": 28, "fer7": 7,
}


def test_every_taxonomy_the_project_meets_is_shipped_with_its_size():
    assert {n: len(get_taxonomy(n)) for n in list_taxonomies()} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_label_has_coordinates_in_range_and_a_source(name):
    tax = get_taxonomy(name)
    for label in tax.labels:
        assert -1 <= label.valence <= 1 and -1 <= label.arousal <= 1, label
        assert label.provenance, label
    assert tax.citation


def test_emid_letters_follow_cowen_alphabetical_order():
    tax = get_taxonomy("emid13")
    assert tax.label("K").name == "sad/depressing"
    assert tax.label("a").name == "amusing"
    assert tax.label("M").name == "triumphant/heroic"


def test_coordinates_agree_with_common_sense():
    happy, sad = get_taxonomy("fer7").label("happy"), get_taxonomy("fer7").label("sad")
    assert happy.valence > 0.5 > -0.5 > sad.valence
    calm, angry = get_taxonomy("ravdess8").label("calm"), get_taxonomy("ravdess8").label("angry")
    assert calm.arousal < angry.arousal


def test_emonet_groups_and_synonyms_come_from_the_guide():
    tax = get_taxonomy("emonet40")
    assert len(tax.groups()) == 7
    assert tax.label("jubilation").name == "Elation"  # a synonym
    assert "Contentment" in tax.groups()["Positive Low-Energy Emotions"]


def test_unknown_label_names_the_taxonomy_and_lists_labels():
    with pytest.raises(UnknownLabelError, match="not a label of taxonomy 'mikels8'.*amusement"):
        get_taxonomy("mikels8").label("joyous-ish")


def test_coinciding_labels_map_directly_and_others_by_distance():
    assert map_distribution({"fearful": 1.0}, "ravdess8", "fer7")["fear"] == pytest.approx(1.0)
    p = map_distribution({"awe": 0.5, "sadness": 0.5}, "mikels8", "emid13")
    assert sum(p.values()) == pytest.approx(1.0)
    assert p["sad/depressing"] > p["joyful/cheerful"]
    assert np.allclose(mapping_matrix("goemotions28", "emonet40").sum(1), 1.0)


def test_affect_from_probs_and_nearest_label():
    a = affect_from_probs({"happy": 3, "sad": 1}, "fer7")
    assert a.probs["happy"] == pytest.approx(0.75)
    v, ar = expected_va({"happy": 3, "sad": 1}, "fer7")
    assert (a.valence, a.arousal) == pytest.approx((v, ar))
    assert nearest_label(0.9, 0.3, "fer7") == "happy"


def test_va_cosine_is_zero_for_the_neutral_origin():
    c = va_cosine(np.array([[0.5, 0.5], [0, 0]]), np.array([[1.0, 1.0], [-1.0, -1.0]]))
    assert c[0, 0] == pytest.approx(1) and c[0, 1] == pytest.approx(-1)
    assert np.all(c[1] == 0)


def test_user_supplied_nrc_vad_rescales_and_replaces_coordinates(tmp_path):
    lex_file = tmp_path / "nrc.txt"
    lex_file.write_text("word\tvalence\tarousal\tdominance\nawe\t0.9\t0.1\t0.5\nfear\t0.0\t1.0\t0.2\n")
    lex = load_nrc_vad(lex_file)
    assert lex["awe"] == pytest.approx((0.8, -0.8, 0.0))
    tax = get_taxonomy("mikels8").with_lexicon(lex)
    assert tax.label("awe").valence == pytest.approx(0.8)
    assert "nrc-vad" in tax.label("awe").provenance
    # labels the lexicon lacks keep their shipped coordinates
    assert tax.label("anger").valence == get_taxonomy("mikels8").label("anger").valence


def test_malformed_lexicon_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("awe\t0.9\t0.1\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: expected 4"):
        load_nrc_vad(bad)
