"""PMEmo sanity check and throughput of the offline music encoder ("music-acoustic").

Four real chorus clips from PMEmo (one per valence–arousal quadrant) with listeners' static and
2 Hz dynamic valence/arousal on a 0–1 scale. The encoder's cue model was fixed before this
script first ran (see encode/models/music_acoustic.md): nothing here is fitted, so the check is
honest, and with four clips it is a sanity check, not an accuracy estimate.

    python bench/music_pmemo.py [--data ../shared/data] [--out bench/results/music_pmemo.md]
    python bench/music_pmemo.py --encoder music-vibenet   # the optional GPL backend, if installed

Throughput: wall time of decode + features + mapping per clip, on the PMEmo clips (MP3,
44.1 kHz stereo) and on synthetic 30-s WAV clips; peak memory as the peak of Python/numpy
allocations during one encode (tracemalloc) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from emoalign.encode.music_features import SR  # noqa: E402
from emoalign.encode.registry import encoder_class  # noqa: E402
from emoalign.media.decode import load_audio  # noqa: E402
from emoalign.media.synth import clip_bytes, synth_clip  # noqa: E402

CLIPS = ("108", "372", "634", "683")


def quadrant(v: float, a: float) -> str:
    """Russell quadrant on the [-1, 1] scale (PMEmo's 0.5 midpoint maps to 0)."""
    return {(True, True): "Q1", (False, True): "Q2", (False, False): "Q3", (True, False): "Q4"}[(v >= 0, a >= 0)]


def to_unit(x: float) -> float:
    """[-1, 1] → PMEmo's 0–1 scale."""
    return (x + 1) / 2


def windows(y: np.ndarray, seconds: float = 10.0, hop: float = 5.0):
    n, h = int(seconds * SR), int(hop * SR)
    for start in range(0, max(1, y.size - n + 1), h):
        yield start / SR, y[start : start + n]


def meta_duration(pmemo: Path, cid: str) -> float:
    import soundfile as sf

    return float(sf.info(str(pmemo / f"{cid}.mp3")).duration)


def descriptor_tables(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## Descriptors and cue scores",
        "",
        "| clip | tempo BPM | onsets/s | loudness dBFS | centroid Hz | register Hz | key (mode) | roughness |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f = r["features"]
        lines.append(
            f"| {r['id']} | {f['tempo_bpm']:.1f} | {f['onset_rate']:.2f} | {f['loudness_db']:.1f} | {f['centroid_hz']:.0f} | "
            f"{f['register_hz']:.0f} | {f['key']} ({f['mode']:+.3f}) | {f['roughness']:.3f} |"
        )
    cue_names = list(rows[0]["cues"])
    lines += ["", "| clip | " + " | ".join(cue_names) + " | valence | arousal |", "|---" * (len(cue_names) + 3) + "|"]
    for r in rows:
        lines.append(f"| {r['id']} | " + " | ".join(f"{r['cues'][c]:+.2f}" for c in cue_names)
                     + f" | {r['pred'][0]:+.2f} | {r['pred'][1]:+.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("EMOALIGN_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--encoder", default="music-acoustic", help="registry name of a music encoder")
    ap.add_argument("--out", default=None, help="default: bench/results/music_pmemo.md (music-acoustic) or music_pmemo_<name>.md")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes over the clips (best is reported)")
    args = ap.parse_args()
    pmemo = Path(args.data) / "pmemo"
    if not pmemo.is_dir():
        sys.exit(f"{pmemo}: not found (set --data or EMOALIGN_SHARED_DATA)")

    enc = encoder_class(args.encoder)()
    if args.out is None:
        stem = "music_pmemo" if args.encoder == "music-acoustic" else f"music_pmemo_{args.encoder.replace('-', '_')}"
        args.out = str(REPO / "bench" / "results" / f"{stem}.md")
    enc.encode([clip_bytes(synth_clip(0.5, 0.5, seconds=2.0))])  # warm-up: imports, caches

    rows, window_rows = [], []
    for cid in CLIPS:
        meta = json.loads((pmemo / f"{cid}.json").read_text("utf-8"))
        res = enc.encode([pmemo / f"{cid}.mp3"])[0]
        if not res.ok:
            sys.exit(f"{cid}.mp3: {res.error}")
        ann_v, ann_a = 2 * meta["valence_mean"] - 1, 2 * meta["arousal_mean"] - 1
        dyn_v, dyn_a = float(np.mean(meta["dynamic"]["v"])), float(np.mean(meta["dynamic"]["a"]))
        f = res.details.get("features") or res.details.get("attributes", {})
        rows.append({
            "id": cid, "title": f"{meta['artist']} – {meta['title']}", "ann": (ann_v, ann_a), "dyn": (dyn_v, dyn_a),
            "pred": (res.affect.valence, res.affect.arousal), "top": res.affect.top(), "features": f,
            "cues": res.details.get("cues"),
        })
        # 10-s windows, 5-s hop: how stable is the predicted quadrant along the clip?
        y = load_audio(pmemo / f"{cid}.mp3", sr=SR)
        wq = []
        for start, seg in windows(y):
            r = enc.encode_waveform(seg, SR, name=f"{cid}@{start:.0f}s")
            wq.append(quadrant(r.affect.valence, r.affect.arousal))
        window_rows.append((cid, wq, quadrant(ann_v, ann_a)))

    # --- throughput ----------------------------------------------------------------------------
    paths = [pmemo / f"{c}.mp3" for c in CLIPS]
    audio_seconds = sum(meta_duration(pmemo, c) for c in CLIPS)
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        enc.encode(paths)
        best = min(best, time.perf_counter() - t0)
    synth = [clip_bytes(synth_clip(0.3, 0.3, seconds=30.0, seed=s)) for s in range(4)]
    best_synth = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        enc.encode(synth)
        best_synth = min(best_synth, time.perf_counter() - t0)
    tracemalloc.start()
    enc.encode([paths[1]])  # the longest clip (60 s)
    _, peak_alloc = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB → MiB on Linux

    # --- report --------------------------------------------------------------------------------
    agree_q = sum(quadrant(*r["pred"]) == quadrant(*r["ann"]) for r in rows)
    agree_v = sum(np.sign(r["pred"][0]) == np.sign(r["ann"][0]) for r in rows)
    agree_a = sum(np.sign(r["pred"][1]) == np.sign(r["ann"][1]) for r in rows)
    ann = np.array([r["ann"] for r in rows])
    scatter = json.loads((pmemo / "scatter.json").read_text("utf-8"))
    prior = np.array([[2 * np.mean([x["v"] for x in scatter]) - 1, 2 * np.mean([x["a"] for x in scatter]) - 1]])
    prior_mae = np.abs(ann - prior).mean(axis=0) / 2
    pred = np.array([r["pred"] for r in rows])
    lines = [
        f"# {args.encoder} on PMEmo's four chorus clips",
        "",
        f"Command: `python bench/music_pmemo.py --encoder {args.encoder}` · machine: {os.cpu_count()}-core CPU ({platform.machine()}), "
        f"Python {platform.python_version()}, numpy {np.__version__} · {time.strftime('%Y-%m-%d')}",
        "",
        ("The cue model (anchors, weights) was fixed and committed before this script first ran; nothing is fitted."
         if args.encoder == "music-acoustic" else "A pretrained model used as shipped; nothing is fitted here."),
        "Four clips are a sanity check, not an accuracy estimate. Annotations: PMEmo static means (0–1); "
        "predictions mapped from [-1, 1] by (x + 1) / 2; quadrants split at 0.5.",
        "",
        "## Predicted vs annotated",
        "",
        "| clip | song | annotated V, A | dynamic mean V, A | predicted V, A | annotated quadrant | predicted quadrant | top emid13 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['id']} | {r['title']} | {to_unit(r['ann'][0]):.3f}, {to_unit(r['ann'][1]):.3f} | "
            f"{r['dyn'][0]:.3f}, {r['dyn'][1]:.3f} | {to_unit(r['pred'][0]):.3f}, {to_unit(r['pred'][1]):.3f} | "
            f"{quadrant(*r['ann'])} | {quadrant(*r['pred'])} | {r['top'][0]} ({r['top'][1]:.2f}) |"
        )
    lines += [
        "",
        f"Quadrant agreement: **{agree_q}/4**; valence side {agree_v}/4; arousal side {agree_a}/4. "
        f"Mean absolute error on the 0–1 scale: valence {np.abs(ann[:, 0] - pred[:, 0]).mean() / 2:.3f}, "
        f"arousal {np.abs(ann[:, 1] - pred[:, 1]).mean() / 2:.3f} "
        f"(predicting the mean of PMEmo's {len(scatter)} static annotations, {to_unit(prior[0, 0]):.2f}/{to_unit(prior[0, 1]):.2f}, "
        f"for every clip would give {prior_mae[0]:.3f}/{prior_mae[1]:.3f} on these four).",
        "",
        "Predicted quadrant of 10-s windows (5-s hop) along each clip:",
        "",
        "| clip | annotated | windows |",
        "|---|---|---|",
    ]
    for cid, wq, aq in window_rows:
        lines.append(f"| {cid} | {aq} | {' '.join(wq)} ({sum(q == aq for q in wq)}/{len(wq)} agree) |")
    if rows[0]["cues"]:
        lines += descriptor_tables(rows)
    else:
        keys = list(rows[0]["features"])
        lines += ["", "## Model outputs", "", "| clip | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        lines += [f"| {r['id']} | " + " | ".join(f"{r['features'][k]:.3f}" for k in keys) + " |" for r in rows]
    lines += [
        "",
        "## Throughput and memory",
        "",
        "| input | clips | audio s | wall s (best of %d) | clips/s | real-time factor |" % args.repeats,
        "|---|---|---|---|---|---|",
        f"| PMEmo MP3, 44.1 kHz stereo (decode + resample + features) | 4 | {audio_seconds:.1f} | {best:.2f} | "
        f"{4 / best:.2f} | {best / audio_seconds:.4f} ({audio_seconds / best:.0f}× real time) |",
        f"| synthetic 30-s WAV, 16 kHz mono | 4 | 120.0 | {best_synth:.2f} | {4 / best_synth:.2f} | "
        f"{best_synth / 120:.4f} ({120 / best_synth:.0f}× real time) |",
        "",
        f"Peak Python/numpy allocation while encoding the 60-s clip: {peak_alloc / 2**20:.0f} MiB (tracemalloc); "
        f"process peak RSS over the whole run: {peak_rss:.0f} MiB.",
        "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), "utf-8")
    print("\n".join(lines))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
