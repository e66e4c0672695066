"""Extraction throughput: serial vs a local worker pool vs Ray, in the same run, on the same clips.

    python bench/extract.py [--n 2000] [--seconds 2] [--encoders music-acoustic,bench-spectral]
                            [--batch-size 64] [--workers 2] [--media DIR] [--out bench/results/extract.md]

Generates ``n`` synthetic clips (`emoalign.media.synth`, seeded, WAV 16 kHz mono) once in
``--media``, then for each encoder runs `emoalign.store.extract` into a fresh feature folder with
(1) ``workers=1`` (in process), (2) the local pool with ``--workers`` spawned processes, (3) Ray with
``--workers`` actors on a local cluster started before the timed runs (its start time is reported
on its own line), and (4) a resume over the finished folder (everything reused: hashing and
planning only). Each timed run includes building the encoder in every process that uses it, as a
real job would. Vectors from the three engines are compared (they must be identical).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import extract_encoders  # noqa: E402

from emoalign.media.synth import synth_clip, write_clip  # noqa: E402
from emoalign.store import FeatureTable, extract  # noqa: E402
from emoalign.types import Record  # noqa: E402


def make_collection(folder: Path, n: int, seconds: float) -> list[Record]:
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        path = folder / f"clip{i:05d}.wav"
        if not path.exists():
            rng = np.random.default_rng(i)
            v, a = rng.uniform(-1, 1, 2)
            write_clip(path, synth_clip(float(v), float(a), seconds=seconds, seed=i))
        records.append(Record(id=path.stem, modality="music", source="synthetic", path=str(path)))
    return records


def cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process and of its finished children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def timed(records, encoder, out: Path, **kw):
    shutil.rmtree(out, ignore_errors=True)
    c0 = cpu_seconds()
    t = time.perf_counter()
    s = extract(records, encoder, out, progress=False, **kw)
    sec = time.perf_counter() - t
    c1 = cpu_seconds()
    return sec, s, (c1[0] - c0[0]) + (c1[1] - c0[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--encoders", default="music-acoustic,bench-spectral")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--media", type=Path, default=Path(tempfile.gettempdir()) / "emoalign-bench-extract")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "extract.md")
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()

    extract_encoders.register()
    load_before = os.getloadavg()
    t = time.perf_counter()
    records = make_collection(args.media / f"n{args.n}-s{args.seconds:g}", args.n, args.seconds)
    gen_s = time.perf_counter() - t
    mb = sum(os.path.getsize(r.path) for r in records) / 1e6
    print(f"collection: {len(records)} clips, {mb:.0f} MB ({gen_s:.1f} s to make or find)", flush=True)

    ray_start = None
    if not args.skip_ray:
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - t
        print(f"ray.init: {ray_start:.1f} s", flush=True)

    work = Path(tempfile.mkdtemp(prefix="emoalign-bench-extract-out-"))
    rows = []
    checks = []
    try:
        for enc in [e for e in args.encoders.split(",") if e]:
            runs = {}
            plans = [("serial (in process)", dict(workers=1)), (f"local pool × {args.workers}", dict(workers=args.workers))]
            if not args.skip_ray:
                plans.append((f"ray × {args.workers} actors", dict(engine="ray", workers=args.workers)))
            for label, kw in plans:
                out = work / f"{enc}-{label.split()[0]}"
                sec, s, cpu = timed(records, enc, out, batch_size=args.batch_size, **kw)
                if kw.get("engine") == "ray":
                    cpu = None  # the actors are the cluster's processes, not ours: their CPU time is not seen here
                runs[label] = (sec, s, out, os.getloadavg()[0], cpu)
                print(f"{enc:16s} {label:22s} {sec:7.1f} s  {s.computed / sec:7.1f} items/s  "
                      f"(computed {s.computed}, failed {s.failed}, shards {s.shards}, cpu {cpu})", flush=True)
            base = runs["serial (in process)"][0]
            for label, (sec, s, _, load, cpu) in runs.items():
                rows.append((enc, label, args.batch_size, s.computed, s.failed, sec, s.computed / sec, base / sec, load, cpu))
            # Resume over the finished pool folder: nothing to compute, only hashing and planning.
            pool_label = f"local pool × {args.workers}"
            c0 = cpu_seconds()
            t = time.perf_counter()
            s = extract(records, enc, runs[pool_label][2], workers=args.workers, progress=False)
            sec = time.perf_counter() - t
            cpu = sum(cpu_seconds()) - sum(c0)
            rows.append((enc, "resume (all stored)", args.batch_size, s.computed, s.failed, sec, len(records) / sec, base / sec, os.getloadavg()[0], cpu))
            print(f"{enc:16s} resume                 {sec:7.1f} s  (reused {s.reused})", flush=True)
            ids = [r.id for r in records]
            ref = FeatureTable(runs["serial (in process)"][2]).vectors(ids, encoder=enc).vectors
            for label, (_, _, out, _, _) in runs.items():
                diff = float(np.abs(FeatureTable(out).vectors(ids, encoder=enc).vectors - ref).max())
                checks.append((enc, label, diff))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.skip_ray:
            import ray

            ray.shutdown()
    write_report(args, rows, checks, ray_start, gen_s, mb, load_before)


def write_report(args, rows, checks, ray_start, gen_s, mb, load_before) -> None:
    import importlib.metadata as md

    def version(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "-"

    lines = [
        "# Feature extraction: serial vs local pool vs Ray",
        "",
        f"Command: `python bench/extract.py --n {args.n} --seconds {args.seconds:g} --encoders {args.encoders} "
        f"--batch-size {args.batch_size} --workers {args.workers}`",
        "",
        f"Machine: {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, pyarrow {version('pyarrow')}, ray {version('ray')}; "
        f"load average before the run {load_before[0]:.2f} (other work shares this machine: ratios matter more than absolutes). "
        f"Date {time.strftime('%Y-%m-%d')}.",
        "",
        f"Collection: {args.n} synthetic clips of {args.seconds:g} s (WAV, 16 kHz mono, {mb:.0f} MB), "
        f"`emoalign.media.synth.synth_clip`, seeds 0..{args.n - 1}.",
        "",
        "Each run writes a fresh feature folder (one Parquet shard per batch, atomically) and includes "
        "building the encoder in every process that runs it. `vs serial` = serial time / this time. "
        "`CPU s (ours)`: user + system CPU of this process and its pool workers (Ray actors belong to the "
        "cluster and are not counted). When the load average is far above the core count, other work "
        "holds the cores and wall-clock ratios mostly measure that contention; CPU seconds still show "
        "each engine's own cost.",
        "",
        "| encoder | engine | batch | computed | failed | seconds | items/s | vs serial | CPU s (ours) | load avg after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for enc, label, bs, computed, failed, sec, ips, ratio, load, cpu in rows:
        cpu_text = "-" if cpu is None else f"{cpu:.1f}"
        lines.append(f"| {enc} | {label} | {bs} | {computed} | {failed} | {sec:.1f} | {ips:.1f} | {ratio:.2f}× | {cpu_text} | {load:.1f} |")
    lines.append("")
    if ray_start is not None:
        lines.append(f"Ray local cluster start (`ray.init(num_cpus={args.workers})`), not in the rows above: {ray_start:.1f} s.")
        lines.append("")
    lines.append("Same vectors from every engine (max |difference| against serial): "
                 + ", ".join(f"{e} {l}: {d:.1g}" for e, l, d in checks) + ".")
    lines.append("")
    lines.append("`resume (all stored)`: the same command re-run over the finished folder — every item is "
                 "hashed (sha256 of its bytes) and found in the table; nothing is encoded.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
