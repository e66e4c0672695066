"""EmotionTalk test split through ``emoalign analyze --dialogue FILE.csv --context … --json`` (the CLI a user runs).

Builds the dialogue CSV a user would write (columns id, dialogue, speaker, text; rows in the order
spoken: by conversation, then turn index) from the official test split read with the project's
data adapter (``open_source("emotiontalk", …)``; the text is the transcript as distributed),
runs the installed ``emoalign`` command as a subprocess once per context mode, reads its JSON
lines and scores them against the multimodal labels (``splits.csv``, as the paper's text
baselines) with scikit-learn. ``--context none`` (each turn alone) is the baseline of the same
run; the majority class of the train split and the published text baselines are listed beside it.
Nothing is fitted or tuned here: the heads were chosen on the train/val splits.

    python bench/text_dialogue_cli.py --data /work/shared/data/emotiontalk

Writes ``bench/results/text_dialogue_cli.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: the CLI installed next to this interpreter (a venv's bin/ is not always on PATH)
EMOALIGN = shutil.which("emoalign", path=str(Path(sys.executable).parent)) or "emoalign"
CONTEXTS = ("none", "preceding", "dialogue")
PUBLISHED = (("RoBERTa-base (Sun et al. 2025, text, multimodal labels)", 0.4552),
             ("Baichuan-7B (Sun et al. 2025, text, multimodal labels)", 0.4821))


def write_dialogue_csv(data: Path, split: str, out: Path) -> tuple[list[str], list[str], str]:
    """The split's turns as a dialogue CSV; returns (ids in row order, multimodal labels, train majority label)."""
    from emoalign.data import open_source

    src = open_source("emotiontalk", data)
    test = [r for r in src.records(split=split)]
    if not test:
        raise SystemExit(f"{data}: no {split} records")
    majority = Counter(r.labels["emotiontalk7"] for r in src.records(split="train")).most_common(1)[0][0]
    test.sort(key=lambda r: (r.meta["dialogue"], r.meta["index"]))  # the order spoken
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "dialogue", "speaker", "text"])
        for r in test:
            w.writerow([r.id, r.meta["dialogue"], r.meta["speaker"], r.meta.get("transcript_raw") or r.text or ""])
    return [r.id for r in test], [r.labels["emotiontalk7"] for r in test], majority


def run_cli(csv_path: Path, context: str) -> tuple[list[dict], float]:
    """JSON rows of ``emoalign analyze --dialogue`` and the wall time of the command."""
    t = time.time()
    proc = subprocess.run([EMOALIGN, "analyze", "--dialogue", str(csv_path), "--context", context, "--json"],
                          capture_output=True, text=True, encoding="utf-8")
    seconds = time.time() - t
    if proc.returncode != 0:
        raise SystemExit(f"emoalign analyze --context {context} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()], seconds


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import accuracy_score, f1_score

    load_at_start = os.getloadavg()[0]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("EMOALIGN_SHARED_DATA", "/work/shared/data") + "/emotiontalk")
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / f"emotiontalk_{args.split}_dialogues.csv"
        ids, truth, majority = write_dialogue_csv(Path(args.data), args.split, csv_path)
        n_dialogues = len({i.rsplit("_", 2)[0] for i in ids})
        scores: dict[str, dict] = {}
        for context in CONTEXTS:
            rows, seconds = run_cli(csv_path, context)
            if [r["id"] for r in rows] != ids:
                raise SystemExit(f"--context {context}: output rows are not the input rows in order")
            failed = [r for r in rows if r["error"]]
            pred = [r["label"] or "(failed)" for r in rows]
            scores[context] = {
                "weighted_f1": f1_score(truth, pred, average="weighted", zero_division=0),
                "macro_f1": f1_score(truth, pred, average="macro", zero_division=0),
                "accuracy": accuracy_score(truth, pred), "failed": len(failed), "seconds": seconds,
            }
            print(f"{context:9s} wF1 {scores[context]['weighted_f1']:.4f}  acc {scores[context]['accuracy']:.4f}  "
                  f"failed {len(failed)}  {seconds:.0f} s", flush=True)
    maj_pred = [majority] * len(truth)
    maj = {"weighted_f1": f1_score(truth, maj_pred, average="weighted", zero_division=0),
           "macro_f1": f1_score(truth, maj_pred, average="macro", zero_division=0),
           "accuracy": accuracy_score(truth, maj_pred)}

    cmd = "python bench/text_dialogue_cli.py" + ("" if args.split == "test" else f" --split {args.split}")
    lines = [
        f"# Text in its dialogue through the CLI: EmotionTalk {args.split} split", "",
        f"Command: `{cmd}` (runs `emoalign analyze --dialogue <csv> --context <mode> --json` for each mode).  ",
        f"Machine: {platform.machine()} 2-core CPU shared with other jobs, load average at start {load_at_start:.1f}; "
        f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d', time.gmtime())}.", "",
        f"{len(ids)} turns in {n_dialogues} conversations (official speaker-independent {args.split} split), "
        "7 classes, multimodal labels from `splits.csv`. CSV built with the project's EmotionTalk adapter: "
        "columns id, dialogue, speaker, text (the transcript as distributed), rows by conversation and turn index. "
        "Scored with scikit-learn (`f1_score(average=\"weighted\")`). Nothing here is fitted; the heads were trained "
        "on the train split with settings chosen on val.", "",
        "| model | context | weighted F1 | accuracy | macro F1 | failed rows | CLI wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, score in PUBLISHED:
        lines.append(f"| {name} | utterance | {score:.4f} | — | — | | |")
    lines.append(f"| majority class of train ({majority}) | — | {maj['weighted_f1']:.4f} | {maj['accuracy']:.4f} | "
                 f"{maj['macro_f1']:.4f} | | |")
    for context in CONTEXTS:
        s = scores[context]
        lines.append(f"| `emoalign analyze --dialogue` (text-use) | `--context {context}` | **{s['weighted_f1']:.4f}** | "
                     f"{s['accuracy']:.4f} | {s['macro_f1']:.4f} | {s['failed']} | {s['seconds']:.0f} s |")
    lines += ["", "`none`: each turn alone (what `analyze --text` gives); `preceding`: with the same speaker's earlier "
              "turns (never looks ahead: usable live); `dialogue`: with all of that speaker's other turns (offline). "
              "Wall time includes starting the command and loading the models.", ""]
    text = "\n".join(lines)
    print(text)
    out = args.out or RESULTS / ("text_dialogue_cli.md" if args.split == "test" else f"text_dialogue_cli_{args.split}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, "utf-8")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
