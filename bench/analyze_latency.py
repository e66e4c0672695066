"""Warm per-file latency of `emoalign analyze` for every modality, and the cold start.

Usage: python bench/analyze_latency.py [--repeats 20] [--data ../shared/data] [--out bench/results/analyze_latency.md]

Inputs: a real PMEmo chorus and a real RAVDESS utterance when --data has them (the project's
fixtures otherwise), scikit-image's coffee photo (a scene), its astronaut photo (a face), and a
4 s MP4 made of astronaut frames with the speech clip as its sound track. "Cold" is the first call in a fresh process (model loading included); "warm" is
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


def _duration(path: Path) -> float:
    from emoalign.media.decode import load_audio

    return len(load_audio(path, sr=16000)) / 16000


def _inputs(root: Path, data_dir: Path | None) -> list[tuple[str, str, object]]:
    """Real files when ``data_dir`` (../shared/data) has them, else the project's fixtures."""
    from PIL import Image
    from skimage import data

    if data_dir is not None and (data_dir / "pmemo").is_dir() and (data_dir / "ravdess-speech-16k").is_dir():
        music = sorted((data_dir / "pmemo").glob("*.mp3"))[0]
        speech = sorted((data_dir / "ravdess-speech-16k").rglob("*.flac"))[0]
        speech_origin, music_origin = "RAVDESS", "PMEmo"
    else:
        from emoalign.data.fixtures import make_all

        fx = make_all(root / "fixtures")
        music = sorted(fx["emid"].rglob("*.mp3"))[0]
        speech = sorted(fx["ravdess"].rglob("*.flac"))[0]
        speech_origin = music_origin = "fixture"
    scene = root / "coffee.jpg"  # scikit-image's coffee cup photo: a scene with no face
    Image.fromarray(data.coffee()).save(scene, quality=90)
    items = [("text (en)", "text", "What a wonderful surprise, I am so happy!"),
             ("text (zh)", "text", "我真的太难过了，什么都不想做。"),
             (f"speech ({speech_origin} FLAC, {_duration(speech):.1f} s)", "speech", speech),
             (f"music ({music_origin} MP3, {_duration(music):.0f} s)", "music", music),
             ("image (600×400 JPEG, scene)", "image", scene)]
    astronaut = data.astronaut()
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, format="PNG")
    face = root / "astronaut.png"
    face.write_bytes(buf.getvalue())
    items.append(("face (512² PNG)", "face", face))
    # 4 s of 512² frames at 25 fps around the astronaut's face, with the speech clip as its sound.
    from emoalign.media.decode import load_audio
    from emoalign.media.video import write_video

    audio = load_audio(speech, sr=16000)
    frames = [np.roll(astronaut, shift=i, axis=1) for i in range(100)]
    video = root / "talking.mp4"
    write_video(video, frames, fps=25.0, audio=audio, sr=16000)
    items.append(("video (4 s MP4, 512², speech)", "video", video))
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default="bench/results/analyze_latency.md")
    ap.add_argument("--data", type=Path, default=Path("../shared/data"),
                    help="Folder with pmemo/ and ravdess-speech-16k/ for real clips (fixtures otherwise).")
    args = ap.parse_args()
    from emoalign.encode.analyze import analyze

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, modality, item in _inputs(Path(tmp), args.data):
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
             f"Command: `python bench/analyze_latency.py --repeats {args.repeats} --data {args.data}` · machine: {os.cpu_count()}-core {platform.machine()}, "
             f"Python {platform.python_version()} · load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
             + (" (other jobs shared the machine: absolute times are upper bounds)" if load[0] > 1.5 else ""), "",
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
