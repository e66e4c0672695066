"""Speed of the content bridge against the xmodal axes, one core, same run.

    python bench/pairing_content.py [--images 120] [--clips 24] [--out bench/results/pairing_content.md]

Inputs: the first ``--images`` OASIS pictures (320×256 JPEG) and the first ``--clips`` 4Q clips
(30 s, 16 kHz MP3) from /work/shared/data when present, else generated fixture media
(`emoalign.media.synth`). The process is pinned to one core (``sched_setaffinity``) with
BLAS/OpenMP/torch threads at 1. For each encoder: the time to load it (first call on one item),
then items/s over all inputs in batches of 16 (decode included, as in `pairs build`), best of two
passes in alternating order (the machine is shared; its load is logged).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

OASIS = Path("/work/shared/data/oasis/images")
MUSIC4Q = Path("/work/shared/data/music-4q")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def inputs(n_images: int, n_clips: int) -> tuple[list[str], list[str], str]:
    if OASIS.is_dir() and MUSIC4Q.is_dir():
        images = sorted(str(p) for p in OASIS.glob("*.jpg"))[:n_images]
        clips = sorted(str(p) for q in ("Q1", "Q2", "Q3", "Q4") for p in (MUSIC4Q / q).glob("*.mp3"))[:: max(1, 700 // n_clips)][:n_clips]
        return images, clips, f"{len(images)} OASIS pictures (320×256 JPEG), {len(clips)} 4Q clips (30 s, 16 kHz MP3)"
    from emoalign.media.synth import synth_clip, synth_image, write_clip, write_image

    tmp = Path(tempfile.mkdtemp(prefix="emoalign-bench-content-"))
    images = [str(write_image(tmp / f"i{i}.png", synth_image(0.5 - i / n_images, 0.3, size=256, seed=i))) for i in range(n_images)]
    clips = [str(write_clip(tmp / f"c{i}.wav", synth_clip(0.5 - i / n_clips, 0.3, seconds=30.0, seed=i))) for i in range(n_clips)]
    return images, clips, f"{n_images} generated 256² PNG pictures, {n_clips} generated 30-s WAV clips"


def rate(enc, items: list[str], batch: int = 16) -> float:
    t0 = time.perf_counter()
    for s in range(0, len(items), batch):
        res = enc.encode(items[s:s + batch])
        bad = [r.error for r in res if not r.ok]
        if bad:
            raise RuntimeError(f"{enc.name}: {bad[0]}")
    return len(items) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pairing_content.md")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import torch

    torch.set_num_threads(1)
    from emoalign.encode.registry import encoder_class

    start = load()
    images, clips, what = inputs(args.images, args.clips)
    pairs = [("image-content", "image-xmodal", images), ("music-content", "music-xmodal", clips)]
    loaded, best = {}, {}
    for a, b, items in pairs:
        for name in (a, b):
            t0 = time.perf_counter()
            enc = encoder_class(name)()
            enc.encode(items[:1])
            loaded[name] = (enc, time.perf_counter() - t0)
        for order in ((a, b), (b, a)):
            for name in order:
                best[name] = max(best.get(name, 0.0), rate(loaded[name][0], items))
                print(name, f"{best[name]:.2f} items/s", flush=True)
    from emoalign.encode.joint_content import resolve_tag_source

    lines = [
        "# Content bridge speed: items/s on one core, against the xmodal axes (same run)",
        "",
        f"Command: `python bench/pairing_content.py --images {args.images} --clips {args.clips}`",
        "",
        f"Machine: {platform.machine()}, pinned to 1 of {os.cpu_count()} cores (shared machine), Python {platform.python_version()}. "
        f"Load average at start {start}, at end {load()}.",
        "",
        f"Inputs: {what}. Batches of 16, decode included, best of two passes. Music tag source of `music-content`: "
        f"`{resolve_tag_source()}`.",
        "",
        "| encoder | items/s (1 core) | ms / item | load + first item s | what it computes |",
        "|---|---|---|---|---|",
    ]
    what_is = {
        "image-content": "EfficientNet-Lite0 (ONNX) → top-5 ImageNet classes → weighted USE word vectors",
        "image-xmodal": "five pixel statistics (lightness, colourfulness, contrast, edges, texture)",
        "music-content": "music-acoustic cues (or musicnn tags) → top-5 words → weighted USE word vectors",
        "music-xmodal": "five acoustic descriptors (register, onset rate, loudness, centroid, roughness)",
    }
    for a, b, _ in pairs:
        for name in (a, b):
            lines.append(f"| `{name}` | {best[name]:.2f} | {1000 / best[name]:.0f} | {loaded[name][1]:.1f} | {what_is[name]} |")
    lines += ["", f"Ratio content / xmodal: pictures {best['image-content'] / best['image-xmodal']:.2f}×, "
                  f"clips {best['music-content'] / best['music-xmodal']:.2f}×.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
