"""Warm per-file latency of `emoalign analyze` for every modality, and the cold start.

Usage: python bench/analyze_latency.py [--repeats 20] [--out bench/results/analyze_latency.md]

Inputs are the project's own example files (fixtures), plus scikit-image's astronaut photo for
the face path. "Cold" is the first call in a fresh process (model loading included); "warm" is
the distribution of later calls on the same file (p50/p90), one input per call, as a user
running `analyze` file by file from a long-lived process (or the HTTP service) would see it.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _inputs(root: Path) -> list[tuple[str, str, object]]:
    from emoalign.data.fixtures import make_all

    fx = make_all(root)
    music = sorted(fx["emid"].rglob("*.mp3"))[0]
    image = sorted(fx["emid"].rglob("*.jpg"))[0]
    speech = sorted(fx["ravdess"].rglob("*.flac"))[0]
    items = [("text (en)", "text", "What a wonderful surprise, I am so happy!"),
             ("text (zh)", "text", "我真的太难过了，什么都不想做。"),
             ("speech (4 s FLAC)", "speech", speech), ("music (MP3 clip)", "music", music),
             ("image (JPEG, scene)", "image", image)]
    try:
        from PIL import Image
        from skimage import data

        buf = io.BytesIO()
        Image.fromarray(data.astronaut()).save(buf, format="PNG")
        face = root / "astronaut.png"
        face.write_bytes(buf.getvalue())
        items.append(("face (512² PNG)", "face", face))
    except ImportError:
        pass
    try:
        from emoalign.encode.video_io import write_video  # noqa: F401

        videos = sorted(root.rglob("*.mp4"))
        if videos:
            items.append(("video (fixture MP4)", "video", videos[0]))
    except ImportError:
        pass
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default="bench/results/analyze_latency.md")
    args = ap.parse_args()
    from emoalign.encode.analyze import analyze

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, modality, item in _inputs(Path(tmp)):
            call = (lambda: analyze(texts=[item])) if modality == "text" else (lambda: analyze([item], modality=modality))
            t0 = time.perf_counter()
            first = call()[0]
            cold = time.perf_counter() - t0
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            rows.append((name, first["encoder"], first["label"] if not first["error"] else f"error: {first['error']}",
                         cold, float(np.percentile(times, 50)), float(np.percentile(times, 90))))
            print(rows[-1], flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    lines = ["# Warm per-file latency of `analyze`", "",
             f"Command: `python bench/analyze_latency.py --repeats {args.repeats}` · machine: {os.cpu_count()}-core {platform.machine()}, "
             f"Python {platform.python_version()} · load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
             "(other jobs shared the machine: absolute times are upper bounds)", "",
             "One input per call, in one process. Cold = first call (model loading included, in the order listed, so a "
             "later row's cold time excludes libraries an earlier row loaded); warm = later calls on the same input.", "",
             "| input | encoder | result | cold s | warm p50 ms | warm p90 ms |", "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {e} | {l} | {c:.2f} | {p50 * 1000:.0f} | {p90 * 1000:.0f} |" for n, e, l, c, p50, p90 in rows]
    lines += ["", f"Peak RSS of the process with every model loaded: {rss:.0f} MB.", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
