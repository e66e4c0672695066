"""Throughput and peak memory of the offline face and image encoders ("face-fer", "image-scene").

    python bench/face_image.py [--n 48] [--repeats 3] [--out bench/results/face_image.md]

Each configuration runs in its own fresh Python process, so its peak resident memory (the
child's ``ru_maxrss``) belongs to it alone and includes the libraries it imports. Inputs are real
photos bundled with scikit-image (astronaut: one face; coffee, chelsea, rocket, retina,
hubble, …: no face), cycled to ``--n`` images and passed as PNG bytes, so decoding is timed too.

Configurations:
- face-fer end to end (decode + Haar detection + FER CNN per face), images/s and faces/s;
- the FER CNN alone on 64×64 crops (faces/s), detection alone (images/s);
- image-scene end to end with the EfficientNet-Lite0 backbone in torch eager vs onnxruntime,
  with and without face analysis; the backbone alone at batch 1 and 16;
- the one-off ONNX export (into a fresh cache dir).
Reported: best of ``--repeats`` timed passes after one warm-up pass.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "logo")


def photos(n: int) -> list[bytes]:
    import numpy as np
    import skimage.data as sd

    from emoalign.media.synth import image_bytes

    base = []
    for name in PHOTOS:
        img = getattr(sd, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        base.append(image_bytes(np.ascontiguousarray(img[..., :3])))
    return [base[i % len(base)] for i in range(n)]


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up (lazy init, allocator, caches)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


# ------------------------------------------------------------------------------------------
# workers (each runs in a fresh process)
# ------------------------------------------------------------------------------------------


def work_face_fer(n: int, repeats: int) -> dict:
    from emoalign.encode.face import FERFaceEncoder

    data = photos(n)
    t0 = time.perf_counter()
    enc = FERFaceEncoder()
    load = time.perf_counter() - t0
    res = enc.encode(data)
    faces = sum(r.details.get("n_faces", 0) for r in res)
    secs = best_time(lambda: enc.encode(data), repeats)
    return {"load_s": load, "images_per_s": n / secs, "faces_per_s": faces / secs, "faces": faces, "images": n}


def work_fer_cnn(n: int, repeats: int) -> dict:
    import numpy as np

    from emoalign.encode.face import FERClassifier

    clf = FERClassifier()
    crops = np.random.default_rng(0).uniform(-1, 1, (max(n, 256), 64, 64, 1)).astype(np.float32)
    secs = best_time(lambda: clf.predict(crops), repeats)
    return {"faces_per_s": len(crops) / secs, "faces": len(crops)}


def work_detect(n: int, repeats: int) -> dict:
    import cv2

    from emoalign.encode.face import FaceDetector
    from emoalign.media.decode import load_image

    det = FaceDetector()
    grays = [cv2.cvtColor(load_image(b), cv2.COLOR_RGB2GRAY) for b in photos(n)]
    secs = best_time(lambda: [det.detect(g) for g in grays], repeats)
    return {"images_per_s": n / secs, "mean_pixels": float(sum(g.size for g in grays) / len(grays))}


def work_scene(n: int, repeats: int, backend: str, faces: bool) -> dict:
    from emoalign.encode.image import SceneImageEncoder

    data = photos(n)
    t0 = time.perf_counter()
    enc = SceneImageEncoder(backend=backend, faces=faces)
    load = time.perf_counter() - t0
    res = enc.encode(data)
    basis = {}
    for r in res:
        basis[r.details["basis"]] = basis.get(r.details["basis"], 0) + 1
    examples = []
    for name, r in zip(PHOTOS, res):  # one row per distinct photo
        sc = r.details["scene"]
        examples.append({
            "photo": name, "basis": r.details["basis"], "label": r.affect.top()[0], "p": r.affect.top()[1],
            "valence": r.affect.valence, "arousal": r.affect.arousal,
            "brightness": sc["brightness"], "saturation": sc["saturation"],
            "scene_v": sc["valence"], "scene_a": sc["arousal"], "scene_d": sc["dominance"],
            "imagenet": r.details["imagenet_top5"][0],
        })
    secs = best_time(lambda: enc.encode(data), repeats)
    return {"load_s": load, "images_per_s": n / secs, "basis": basis, "examples": examples}


def work_backbone(n: int, repeats: int, backend: str, batch: int) -> dict:
    import numpy as np

    from emoalign.encode.image import EfficientNetLite0

    net = EfficientNetLite0(backend=backend, batch_size=batch)
    x = np.random.default_rng(0).standard_normal((n, 3, 224, 224)).astype(np.float32)
    secs = best_time(lambda: net.run(x), repeats)
    return {"images_per_s": n / secs}


def work_export(n: int, repeats: int) -> dict:
    from emoalign.encode.image import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = export_onnx(Path(tmp) / "model.onnx")
        secs = time.perf_counter() - t0
        size = path.stat().st_size
    return {"export_s": secs, "onnx_mb": size / 1e6}


WORKERS = {
    "face-fer": lambda a: work_face_fer(a.n, a.repeats),
    "fer-cnn": lambda a: work_fer_cnn(a.n, a.repeats),
    "haar-detect": lambda a: work_detect(a.n, a.repeats),
    "scene-onnx": lambda a: work_scene(a.n, a.repeats, "onnx", True),
    "scene-torch": lambda a: work_scene(a.n, a.repeats, "torch", True),
    "scene-onnx-nofaces": lambda a: work_scene(a.n, a.repeats, "onnx", False),
    "scene-torch-nofaces": lambda a: work_scene(a.n, a.repeats, "torch", False),
    "backbone-onnx-b1": lambda a: work_backbone(a.n, a.repeats, "onnx", 1),
    "backbone-onnx-b16": lambda a: work_backbone(a.n, a.repeats, "onnx", 16),
    "backbone-torch-b1": lambda a: work_backbone(a.n, a.repeats, "torch", 1),
    "backbone-torch-b16": lambda a: work_backbone(a.n, a.repeats, "torch", 16),
    "onnx-export": lambda a: work_export(a.n, a.repeats),
}


def run_child(name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--n", str(args.n), "--repeats", str(args.repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def report(results: dict[str, dict], args: argparse.Namespace, load: tuple[float, float, float]) -> str:
    import numpy
    import onnxruntime
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    r = results
    lines = [
        "# face-fer and image-scene: throughput and peak memory",
        "",
        f"Command: `python bench/face_image.py --n {args.n} --repeats {args.repeats}` · machine: {os.cpu_count()}-core {cpu}, "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__} · "
        f"{time.strftime('%Y-%m-%d')} · load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
        + (" (other jobs shared the machine: figures are noisy, ratios matter more)" if load[0] > 1.5 else ""),
        "",
        f"Inputs: {args.n} real photos from scikit-image ({', '.join(PHOTOS)}, cycled; mean {r['haar-detect']['mean_pixels'] / 1e6:.2f} MP, "
        "from 0.14 MP (chelsea) to 2 MP (retina); one face per cycle: the astronaut), as PNG bytes, so decoding is included. "
        "Each row is a fresh process; peak RSS is that process's maximum resident memory, libraries included. "
        "Best of the timed passes after one warm-up.",
        "",
        "## face-fer",
        "",
        "| what | throughput | peak RSS (MB) |",
        "|---|---|---|",
        f"| end to end (decode + Haar + FER CNN) | {fmt(r['face-fer']['images_per_s'])} images/s "
        f"({fmt(r['face-fer']['faces_per_s'])} faces/s; {r['face-fer']['faces']} faces in {r['face-fer']['images']} images) "
        f"| {fmt(r['face-fer']['peak_mb'], 0)} |",
        f"| Haar detection alone (fer's settings, longer side ≤ 640 px) | {fmt(r['haar-detect']['images_per_s'])} images/s "
        f"| {fmt(r['haar-detect']['peak_mb'], 0)} |",
        f"| FER CNN alone (TFLite, 64×64 crops) | {fmt(r['fer-cnn']['faces_per_s'], 0)} faces/s | {fmt(r['fer-cnn']['peak_mb'], 0)} |",
        "",
        "## image-scene: torch eager vs ONNX (onnxruntime)",
        "",
        "| configuration | torch eager | ONNX | ONNX / torch | peak RSS torch / ONNX (MB) |",
        "|---|---|---|---|---|",
    ]
    for label, t, o in (
        ("end to end, with face analysis (default)", "scene-torch", "scene-onnx"),
        ("end to end, faces=False", "scene-torch-nofaces", "scene-onnx-nofaces"),
        ("backbone only, batch 1", "backbone-torch-b1", "backbone-onnx-b1"),
        ("backbone only, batch 16", "backbone-torch-b16", "backbone-onnx-b16"),
    ):
        ti, oi = r[t]["images_per_s"], r[o]["images_per_s"]
        lines.append(f"| {label} | {fmt(ti)} images/s | {fmt(oi)} images/s | {oi / ti:.1f}× | {fmt(r[t]['peak_mb'], 0)} / {fmt(r[o]['peak_mb'], 0)} |")
    lines += [
        "",
        f"Encoder start-up (ONNX file already cached): torch {fmt(r['scene-torch']['load_s'], 2)} s, ONNX {fmt(r['scene-onnx']['load_s'], 2)} s. "
        f"One-off ONNX export (torch → ONNX, checked against torch): {fmt(r['onnx-export']['export_s'], 1)} s, "
        f"{fmt(r['onnx-export']['onnx_mb'], 1)} MB file, peak RSS {fmt(r['onnx-export']['peak_mb'], 0)} MB.",
        f"Affect basis over the inputs: {r['scene-onnx']['basis']}.",
        "",
        "## What image-scene says about the bench photos",
        "",
        "Colour statistics and the Valdez & Mehrabian (1994) scene estimate (V, A, D in [-1, 1]; see "
        "`src/emoalign/encode/models/image_scene.md`), the affect actually returned (from the face when "
        "one is large enough), and the top ImageNet class index of the backbone (a check that the "
        "pretrained weights are in use: 967 = espresso, 281–285 = domestic cats, 657 = missile).",
        "",
        "| photo | brightness L*/100 | saturation C*/100 | scene V, A, D | basis | returned top label (p) | returned V, A | ImageNet top (p) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in r["scene-onnx"]["examples"]:
        lines.append(
            f"| {e['photo']} | {e['brightness']:.2f} | {e['saturation']:.2f} | {e['scene_v']:+.2f}, {e['scene_a']:+.2f}, {e['scene_d']:+.2f} "
            f"| {e['basis']} | {e['label']} ({e['p']:.2f}) | {e['valence']:+.2f}, {e['arousal']:+.2f} | {e['imagenet'][0]} ({e['imagenet'][1]:.2f}) |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=48, help="images per timed pass")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "face_image.md"))
    ap.add_argument("--render", help="re-write the report from a saved results JSON instead of measuring")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    json_out = Path(args.out).with_suffix(".json")
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        args.n, args.repeats = saved["n"], saved["repeats"]
        Path(args.out).write_text(report(saved["results"], args, tuple(saved["load"])))
        return
    if args.worker:
        out = WORKERS[args.worker](args)
        out["peak_mb"] = peak_mb()
        print(json.dumps(out))
        return
    load = os.getloadavg()
    # make sure the cached ONNX exists before timing start-up
    code = "import sys; sys.path.insert(0, %r); from emoalign.encode.image import EfficientNetLite0; EfficientNetLite0('onnx')" % str(REPO / "src")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    results = {}
    for name in WORKERS:
        results[name] = run_child(name, args)
        print(name, json.dumps(results[name]), flush=True)
    text = report(results, args, load)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    json_out.write_text(json.dumps({"n": args.n, "repeats": args.repeats, "load": list(load), "date": time.strftime("%Y-%m-%d"), "results": results}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
