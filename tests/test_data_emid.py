"""EMID adapters (release CSV, hub parquet) and their fixtures: counts, labels, pairs, bad input."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emoalign.affect import get_taxonomy
from emoalign.data import BadInputError, open_source
from emoalign.data.emid import CSV_NAME, RATING_SCALES, EMIDHubSource, EMIDSource, clip_group, is_hub_id, parse_captions, parse_feeling, parse_ratings
from emoalign.data.fixtures.emid import make


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, Path]:
    return make(tmp_path_factory.mktemp("emid-fixture"), seed=0)


@pytest.fixture(scope="module")
def release(fx):
    src = EMIDSource(fx["emid"])
    return src, list(src.records()), list(src.pairs())


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# -- field parsers -------------------------------------------------------------------------------
def test_parse_feeling_keeps_commas_inside_categories():
    text = ("33% Sad, depressing, 22% Awe-inspiring, amazing, 22% Proud, strong, 19% Dreamy, "
            "11% Calm, relaxing, serene, 4% Indignant, defiant")  # the README's example, shortened
    got = parse_feeling(text)
    assert got == {"Sad, depressing": 0.33, "Awe-inspiring, amazing": 0.22, "Proud, strong": 0.22,
                   "Dreamy": 0.19, "Calm, relaxing, serene": 0.11, "Indignant, defiant": 0.04}
    assert parse_feeling("") == {}
    with pytest.raises(ValueError):
        parse_feeling("Sad 33%")


def test_parse_ratings_maps_scales_and_rejects_bad_values():
    r = parse_ratings("5,5.3,5,6,3.1,6.1,5.1,3.6,6.2,5.9,5.6")  # the README's example
    assert list(r) == list(RATING_SCALES) and r["arousal"] == 5.0 and r["valence"] == 5.6
    for bad in ("5,5", "5,5.3,5,6,3.1,6.1,5.1,3.6,6.2,5.9,x", "5,5.3,5,6,3.1,6.1,5.1,3.6,6.2,5.9,9.5", "", "nan,5,5,5,5,5,5,5,5,5,5"):
        with pytest.raises(ValueError):
            parse_ratings(bad)


def test_parse_captions_and_clip_group():
    assert parse_captions("['the marching band in the parade']") == ["the marching band in the parade"]
    assert parse_captions("[ unused0 ] in the dark") == ["[ unused0 ] in the dark"]
    assert parse_captions("") == []
    assert clip_group("106.m4a___172.mp3") == ("106.m4a", 172)


# -- the release layout --------------------------------------------------------------------------
def test_release_counts_labels_and_affect(fx, release):
    src, records, _ = release
    music = [r for r in records if r.modality == "music"]
    images = [r for r in records if r.modality == "image"]
    rows = csv_rows(fx["emid"] / CSV_NAME)
    assert len(music) == len(rows) == 26
    assert src.report.skipped == 0 and src.report.yielded == len(records)
    # every genre letter, twice; ids are the clip file names, paths exist
    assert Counter(r.meta["genre"] for r in music) == {letter: 2 for letter in "ABCDEFGHIJKLM"}
    genres = get_taxonomy("emid13")
    for r in music:
        assert r.labels["emid13"] == genres.label(r.meta["genre"]).name
        assert Path(r.path).is_file() and Path(r.path).name == r.id
        assert -1.0 <= r.valence <= 1.0 and -1.0 <= r.arousal <= 1.0
        assert r.valence == pytest.approx((r.meta["ratings"]["valence"] - 5) / 4)
        assert r.arousal == pytest.approx((r.meta["ratings"]["arousal"] - 5) / 4)
        assert abs(sum(r.meta["feeling"].values())) > 0 and isinstance(r.meta["is_original_clip"], bool)
        assert r.group == r.id.split("___")[0]
    assert sum(r.meta["is_original_clip"] for r in music) == 13
    # one record per distinct image, every Mikels tag present, captions as text
    distinct = {row[f"Image{k}_filename"] for row in rows for k in (1, 2, 3)}
    assert {r.id for r in images} == distinct and len(images) == len(distinct)
    assert {r.labels["mikels8"] for r in images} == set(get_taxonomy("mikels8").names)
    assert all(r.text and Path(r.path).is_file() and r.id.startswith(r.labels["mikels8"] + "_") for r in images)


def test_release_pairs(release):
    _, records, pairs = release
    labels = {r.id: r.labels for r in records}
    assert len(pairs) == 78
    assert Counter(p.music_id for p in pairs) == {r.id: 3 for r in records if r.modality == "music"}
    for p in pairs:
        assert p.source == "emid" and p.rank in (1, 2, 3)
        assert p.emotion == labels[p.image_id]["mikels8"]
    by_clip = {}
    for p in pairs:
        by_clip.setdefault(p.music_id, []).append(p.rank)
    assert all(sorted(r) == [1, 2, 3] for r in by_clip.values())


def test_open_source_registry(fx):
    assert isinstance(open_source("emid", fx["emid"]), EMIDSource)
    assert isinstance(open_source("emid-hub", fx["emid-hub"]), EMIDHubSource)
    assert open_source("emid", fx["emid"] / CSV_NAME).csv_path.name == CSV_NAME  # the CSV itself works too


@pytest.fixture()
def broken(fx, tmp_path) -> tuple[Path, dict[str, int]]:
    """A copy of the release with one bad thing per row; returns the folder and {problem: CSV line}."""
    root = tmp_path / "emid"
    shutil.copytree(fx["emid"], root)
    rows = csv_rows(root / CSV_NAME)
    rows[0]["genre"] = "Z"                                   # line 2: unknown letter
    rows[1]["emotion"] = "5,5,oops,5,5,5,5,5,5,5,5"          # line 3: malformed ratings
    rows[2]["Image2_tag"] = "joy"                            # line 4: unknown image tag (slot only)
    (root / "musicData" / rows[3]["Audio_Filename"]).unlink()  # line 5: missing clip
    write_rows(root / CSV_NAME, rows)
    return root, {"genre": 2, "ratings": 3, "tag": 4, "music": 5}


def test_bad_rows_are_skipped_and_named(broken):
    root, lines = broken
    src = EMIDSource(root)
    records = list(src.records())
    pairs = list(src.pairs())  # a second walk does not report the same problems twice
    assert src.report.skipped == 4
    assert all(p.where.startswith(f"{root / CSV_NAME}:") for p in src.report.problems)
    messages = {p.where.rsplit(":", 1)[1]: p.message for p in src.report.problems}
    assert "genre 'Z'" in messages[str(lines["genre"])]
    assert messages[str(lines["ratings"])].startswith("malformed ratings") and "oops" in messages[str(lines["ratings"])]
    assert "Image2_tag 'joy'" in messages[str(lines["tag"])]
    assert messages[str(lines["music"])].startswith("missing file") and "musicData" in messages[str(lines["music"])]
    assert sum(r.modality == "music" for r in records) == 26 - 3
    assert len(pairs) == 78 - 3 * 3 - 1  # three rows lost, one image slot lost
    assert "reasons" in src.report.to_dict() and src.report.reasons()["missing file"] == 1


def test_strict_mode_raises_naming_the_row(broken):
    root, lines = broken
    with pytest.raises(BadInputError, match=rf"{CSV_NAME}:{lines['genre']}: unknown label"):
        list(EMIDSource(root, strict=True).records())


def test_missing_image_file_is_reported(fx, tmp_path):
    root = tmp_path / "emid"
    shutil.copytree(fx["emid"], root)
    first = csv_rows(root / CSV_NAME)[0]["Image1_filename"]
    for path in (root / "imageData").rglob(first):
        path.unlink()
    src = EMIDSource(root)
    images = [r for r in src.records() if r.modality == "image"]
    assert first not in {r.id for r in images}
    assert any(first in p.message and p.message.startswith("missing file") for p in src.report.problems)
    assert all(p.image_id != first for p in src.pairs())


def test_layout_errors(fx, tmp_path):
    only_csv = tmp_path / "csv-only"
    only_csv.mkdir()
    shutil.copy(fx["emid"] / CSV_NAME, only_csv / CSV_NAME)
    with pytest.raises(BadInputError, match="no music folder"):
        list(EMIDSource(only_csv).records())
    metadata_only = EMIDSource(only_csv, require_media=False)
    records = list(metadata_only.records())
    assert len(records) == 26 + 28 and all(r.path is None for r in records) and metadata_only.report.skipped == 0
    # a CSV without a required column cannot be read at all
    rows = csv_rows(only_csv / CSV_NAME)
    for row in rows:
        del row["emotion"]
    write_rows(only_csv / CSV_NAME, rows)
    with pytest.raises(BadInputError, match="missing columns"):
        list(EMIDSource(only_csv, require_media=False).records())
    with pytest.raises(FileNotFoundError):
        EMIDSource(tmp_path / "nowhere")


# -- the hub layout ------------------------------------------------------------------------------
def test_hub_layout_has_the_card_features(fx):
    import datasets

    files = sorted(str(p) for p in (fx["emid-hub"] / "data").glob("train-*.parquet"))
    assert len(files) == 2
    ds = datasets.load_dataset("parquet", data_files=files, split="train", streaming=True)
    f = ds.features
    assert isinstance(f["Audio_Filename"], datasets.Audio)
    assert all(isinstance(f[f"Image{k}_filename"], datasets.Image) for k in (1, 2, 3))
    assert f["is_original_clip"] == datasets.Value("bool") and f["emotion"] == datasets.Value("string")


def test_hub_yields_the_same_items_as_the_release(fx, release):
    _, records, pairs = release
    hub = EMIDHubSource(fx["emid-hub"])
    hub_records = list(hub.records())
    assert hub.report.skipped == 0

    def key(r):
        return (r.id, r.modality, r.source, dict(r.labels), r.valence, r.arousal, r.text, r.group, r.meta.get("ratings"))

    assert [key(r) for r in hub_records] == [key(r) for r in records]
    # media are embedded: the payloads are the released files' bytes
    for r, h in zip(records, hub_records):
        assert h.path is None and h.payload == Path(r.path).read_bytes()
    assert list(hub.pairs()) == pairs


def test_hub_bad_row_is_named_by_split_and_index(fx, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    copy = tmp_path / "hub"
    shutil.copytree(fx["emid-hub"], copy)
    first = sorted((copy / "data").glob("train-*.parquet"))[0]
    table = pq.read_table(first)
    genre = table.column("genre").to_pylist()
    genre[1] = "?"
    table = table.set_column(table.schema.get_field_index("genre"), "genre", pa.array(genre))
    pq.write_table(table, first)
    src = EMIDHubSource(copy)
    music = [r for r in src.records() if r.modality == "music"]
    assert len(music) == 25 and src.report.skipped == 1
    assert src.report.problems[0].where.endswith(":train:1") and "genre '?'" in src.report.problems[0].message
    with pytest.raises(BadInputError, match=r":train:1: unknown label"):
        list(EMIDHubSource(copy, strict=True).records())


def test_hub_id_is_recognised_without_touching_the_network():
    assert is_hub_id("ecnu-aigc/EMID") and not is_hub_id("some/local/path/that/is/deep")
    src = EMIDHubSource("ecnu-aigc/EMID")  # construction only: loading happens when iterated
    assert src.hub_id == "ecnu-aigc/EMID" and src.report.skipped == 0


# -- the fixtures themselves ---------------------------------------------------------------------
def test_fixture_is_deterministic(fx, tmp_path):
    again = make(tmp_path / "again", seed=0)
    other = make(tmp_path / "other", seed=1)
    for name, folder in fx.items():
        files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(again[name]) for p in again[name].rglob("*") if p.is_file())
        for rel in files:
            assert (folder / rel).read_bytes() == (again[name] / rel).read_bytes(), rel
    assert (fx["emid"] / CSV_NAME).read_bytes() != (other["emid"] / CSV_NAME).read_bytes()


def test_fixture_media_decode_and_follow_valence_arousal(release):
    import soundfile as sf
    from PIL import Image

    _, records, _ = release
    mikels = get_taxonomy("mikels8")
    loud, arousal, bright, valence = [], [], [], []
    for r in records:
        if r.modality == "music":
            y, sr = sf.read(r.path, dtype="float32")
            assert sr == 22050 and y.ndim == 2 and y.shape[0] > sr // 2
            loud.append(float(np.sqrt(np.mean(y**2))))
            arousal.append(r.arousal)
        else:
            img = np.asarray(Image.open(r.path).convert("HSV"), dtype=float)
            bright.append(img[..., 2].mean())
            valence.append(mikels.label(r.labels["mikels8"]).valence)
    # synthetic content is generated from each item's V–A: louder for aroused clips, brighter for pleasant images
    assert np.corrcoef(loud, arousal)[0, 1] > 0.5
    assert np.corrcoef(bright, valence)[0, 1] > 0.7
