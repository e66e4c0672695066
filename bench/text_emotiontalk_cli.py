"""Reproduce the EmotionTalk text figure through the user's path, independently of the benchmark code.

    python bench/text_emotiontalk_cli.py [--data ../shared/data/emotiontalk]

`bench/text_emotiontalk.py` scores the shipped encoder from its own loader. This script shares
none of that code: it reads the official test split with the project's data adapter
(`EmotionTalkSource`), writes the transcripts to a file, runs the installed command
`emoalign analyze --text-file FILE --json` in a subprocess, and scores the printed labels with
scikit-learn. Two inputs per utterance:

- the release's raw transcript (`meta["transcript_raw"]`: overlap markers and event tags such as
  `[laughing]` or `[Sobbing]` left in; what the heads were trained on, and what the published
  text baselines are assumed to have seen);
- the adapter's cleaned `text` (markers and event tags removed; the events go to `meta["events"]`).

Writes bench/results/text_emotiontalk_cli.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score

from emoalign.data.emotiontalk import EmotionTalkSource

OUT = Path(__file__).resolve().parent / "results" / "text_emotiontalk_cli.md"


def run_cli(lines: list[str]) -> list[dict]:
    cli = shutil.which("emoalign", path=str(Path(sys.executable).parent)) or "emoalign"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as fh:
        fh.write("\n".join(lines) + "\n")
    try:
        out = subprocess.run([cli, "analyze", "--text-file", fh.name, "--json"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    if len(rows) != len(lines):
        raise SystemExit(f"emoalign analyze printed {len(rows)} results for {len(lines)} lines")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/emotiontalk"))
    args = ap.parse_args()
    records = list(EmotionTalkSource(args.data).records("test"))
    truth = [r.labels["emotiontalk7"] for r in records]
    inputs = {
        "raw transcript (event tags kept)": [" ".join(str(r.meta["transcript_raw"]).split()) for r in records],
        "adapter's cleaned text (tags removed)": [r.text or "" for r in records],
    }
    lines = ["# EmotionTalk text through `emoalign analyze` (`bench/text_emotiontalk_cli.py`)", "",
             f"Command: `python bench/text_emotiontalk_cli.py --data {args.data}`. Official test split, "
             f"{len(records)} utterances, multimodal labels, 7 classes; encoder `text-use` (utterance alone, no context).", "",
             "| input | weighted F1 | accuracy | macro F1 | errors |", "|---|---|---|---|---|"]
    for name, texts in inputs.items():
        if any(not t.strip() for t in texts):
            raise SystemExit(f"{name}: some utterances have no text")
        rows = run_cli(texts)
        pred = [row["label"] for row in rows]
        errors = sum(1 for row in rows if row["error"])
        lines.append(f"| {name} | {f1_score(truth, pred, average='weighted'):.4f} | {accuracy_score(truth, pred):.4f} | "
                     f"{f1_score(truth, pred, average='macro'):.4f} | {errors} |")
        print(lines[-1], flush=True)
    lines += ["", "Published text baselines on the same split (BASELINES.md): RoBERTa-base 45.52, Baichuan-7B 48.21 weighted F1.", ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
