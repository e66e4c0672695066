"""Benchmark of the "text-use" encoder: EmotionTalk 7-class test split, GoEmotions dev, EmoBank held-out part.

    python bench/text_emotiontalk.py                  # official TEST split (run once, with the final heads)
    python bench/text_emotiontalk.py --split val      # the val split (used for tuning; for development)

Runs the shipped encoder end to end (USE embedding + heads, as a user would call it) and writes
``bench/results/text_emotiontalk.md`` (``text_emotiontalk_val.md`` for --split val):

- EmotionTalk (multimodal labels, 7 classes): weighted F1, accuracy, macro F1 per context mode —
  ``utterance`` (each transcript alone: comparable to the published text baselines),
  ``preceding`` (earlier turns of the dialogue as context), ``dialogue`` (all other turns) —
  next to RoBERTa-base 45.52 and Baichuan-7B 48.21 (Sun et al. 2025) and the majority class;
- GoEmotions dev (27 emotions; its C was chosen on dev, so this is a tuning score);
- EmoBank dev part (held out; Pearson r of valence, arousal, dominance);
- throughput (sentences/s, Chinese and English) and peak memory (RSS) on this machine.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import text_data  # noqa: E402

from emoalign.eval.metrics import classification_report, pearson  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED = (("RoBERTa-base (Sun et al. 2025, text, multimodal labels)", 45.52),
             ("Baichuan-7B (Sun et al. 2025, text, multimodal labels)", 48.21))


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def top_labels(results, taxonomy: str) -> list[str]:
    out = []
    for r in results:
        if not r.ok:
            raise SystemExit(f"encoder failed on an input: {r.error}")
        if r.affect.taxonomy != taxonomy:
            raise SystemExit(f"expected taxonomy {taxonomy}, got {r.affect.taxonomy}")
        out.append(r.affect.top()[0])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("test", "val"), default="test")
    ap.add_argument("--models", type=Path, help="heads folder (default: the shipped ones)")
    args = ap.parse_args(argv)

    from emoalign.encode.text import USETextEncoder, load_use

    rss0 = current_rss_mb()
    t = time.time()
    enc = USETextEncoder(args.models) if args.models else USETextEncoder()
    load_use().encode(["预热", "warm-up"])  # load the USE weights (lazy) outside the timed passes
    load_s = time.time() - t
    rss_loaded = current_rss_mb()

    df = text_data.emotiontalk()
    train_majority = df.loc[df["split"] == "train", "label"].value_counts().idxmax()
    part = df[df["split"] == args.split].reset_index(drop=True)
    y = part["label"].tolist()
    texts = part["text"].tolist()
    print(f"EmotionTalk {args.split}: {len(part)} utterances in {part['conversation'].nunique()} conversations", flush=True)

    rows = {}
    t = time.time()
    rows["utterance"] = top_labels(enc.encode(texts), "emotiontalk7")
    zh_rate = len(texts) / (time.time() - t)
    # Context: each conversation in turn order, with its speakers (context = the speaker's own turns);
    # "dialogue, no speakers" treats all turns of a conversation as one speaker's.
    for mode, with_speakers in (("preceding", True), ("dialogue", True), ("dialogue", False)):
        pred = pd.Series(index=part.index, dtype=object)
        for _, d in part.groupby("conversation", sort=False):
            d = d.sort_values("turn")
            res = enc.encode_dialogue(d["text"].tolist(), context=mode,
                                      speakers=d["speaker"].tolist() if with_speakers else None)
            pred[d.index] = top_labels(res, "emotiontalk7")
        rows[mode if with_speakers else f"{mode}, speakers not given"] = pred.tolist()
    reports = {mode: classification_report(y, p) for mode, p in rows.items()}
    majority = classification_report(y, [train_majority] * len(y))

    # English: GoEmotions dev (classes) and EmoBank dev part (valence / arousal / dominance)
    ge = text_data.goemotions("dev")
    t = time.time()
    ge_res = enc.encode(ge["text"].tolist())
    en_rate = len(ge) / (time.time() - t)
    ge_pred = [r.affect.top()[0] for r in ge_res]
    ge_rep = classification_report(ge["label"].tolist(), ge_pred)
    eb = text_data.emobank()
    eb = eb[eb["split"] == "dev"].reset_index(drop=True)
    eb_res = enc.encode(eb["text"].tolist())
    va = np.array([[r.affect.valence, r.affect.arousal, r.affect.dominance] for r in eb_res])
    eb_r = [pearson(va[:, 0], eb["v"]), pearson(va[:, 1], eb["a"]), pearson(va[:, 2], (eb["D"] - 3) / 2)]
    # valence of Chinese text: EmotionTalk's continuous multimodal sentiment (−2..2) vs predicted valence
    zh_va = np.array([r.affect.valence for r in enc.encode(texts)])
    zh_sent_r = pearson(zh_va, part["sentiment"])
    peak = rss_mb()

    lines = [f"# Text emotion, offline (\"text-use\"): EmotionTalk {args.split} split, GoEmotions, EmoBank", "",
             f"Command: `python bench/text_emotiontalk.py{' --split val' if args.split == 'val' else ''}` "
             f"(heads from `python bench/train_text_heads.py`). Machine: {platform.machine()} 2-core CPU shared with "
             f"other jobs (timings are noisy), Python {platform.python_version()}.", "",
             f"## EmotionTalk, official {args.split} split (speaker-independent), 7 classes, multimodal labels", "",
             f"{len(part)} utterances, {part['conversation'].nunique()} conversations. Trained on the train split only; "
             + ("the test split is read by this script alone." if args.split == "test" else
                "**val was used to choose settings: these figures are optimistic.**"), "",
             "| model | context | weighted F1 | accuracy | macro F1 |", "|---|---|---|---|---|"]
    for name, score in PUBLISHED:
        lines.append(f"| {name} | utterance | {score / 100:.4f} | — | — |")
    lines.append(f"| majority class of train ({train_majority}) | — | {majority['weighted_f1']:.4f} | {majority['accuracy']:.4f} "
                 f"| {majority['macro_f1']:.4f} |")
    lines.append("| TF-IDF char 1–3-grams + USE, logistic regression (measured before, shared/BASELINES.md) | utterance | 0.43 | 0.46 | — |")
    for mode, rep in reports.items():
        lines.append(f"| **text-use** (USE + char TF-IDF, stacked) | {mode} | **{rep['weighted_f1']:.4f}** | {rep['accuracy']:.4f} | {rep['macro_f1']:.4f} |")
    lines += ["", "Context modes: `utterance` = the transcript alone (what the published text baselines see); "
              "`preceding` = plus the same speaker's earlier turns in the conversation (usable live); `dialogue` = plus "
              "all of that speaker's other turns (offline); \"speakers not given\" = all turns of the conversation as "
              "one sequence. The published figures are utterance-level and were selected by best epoch on weighted F1.", "",
              "Per-class F1 (utterance / dialogue):", "", "| label | support | F1 utterance | F1 dialogue |", "|---|---|---|---|"]
    for label in sorted(set(y)):
        u, d = reports["utterance"]["per_class"][label], reports["dialogue"]["per_class"][label]
        lines.append(f"| {label} | {u['support']} | {u['f1']:.3f} | {d['f1']:.3f} |")
    lines += ["", f"Predicted valence (EmoBank head through USE) vs EmotionTalk's continuous multimodal sentiment "
              f"(−2..2), Pearson r = {zh_sent_r:.3f} ({len(part)} utterances; cross-lingual, no Chinese training).", "",
              "## English", "",
              f"GoEmotions dev ({len(ge)} sentences, single-label, 27 emotions; C chosen on this dev set): "
              f"accuracy {ge_rep['accuracy']:.4f}, weighted F1 {ge_rep['weighted_f1']:.4f}, macro F1 {ge_rep['macro_f1']:.4f}.", "",
              f"EmoBank dev part ({len(eb)} sentences, held out; ridge alpha chosen by CV on the train part): "
              f"Pearson r valence {eb_r[0]:.3f}, arousal {eb_r[1]:.3f}, dominance {eb_r[2]:.3f}.", "",
              "## Cost", "",
              f"- load (heads + USE weights): {load_s:.1f} s; RSS {rss0:.0f} MB before, {rss_loaded:.0f} MB after loading",
              f"- throughput, `encode` on batches: Chinese {zh_rate:.0f} sentences/s (EmotionTalk, mean "
              f"{np.mean([len(s) for s in texts]):.0f} characters), English {en_rate:.0f} sentences/s (GoEmotions dev)",
              f"- peak RSS of the whole benchmark process: {peak:.0f} MB", ""]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("text_emotiontalk.md" if args.split == "test" else "text_emotiontalk_val.md")
    out.write_text(text, "utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
