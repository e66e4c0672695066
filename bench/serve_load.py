"""Bounded load test of the service on loopback: requests/s, p50/p99 latency, errors, server RSS.

    python bench/serve_load.py                      # all scenarios, N = 1, 4, 16
    python bench/serve_load.py --requests 100 --seconds 15 --clients 1,4 --scenarios analyze_image,match_image

The server is `emoalign serve --index <example index>` in a child process on 127.0.0.1 (a free
port); the load comes from this process with asyncio + httpx (one keep-alive connection per
client). Every cell is bounded twice — at most ``--requests`` requests *and* ``--seconds``
seconds, whichever comes first — and the run stops by itself. Nothing listens beyond loopback.

The server runs with `emoalign serve`'s defaults (2 malloc arenas; `--malloc-arenas 0` for glibc's own).
After the cells, `--soak-rounds` rounds of music analysis + image matching show whether RSS levels off.

Scenarios (inputs built here, deterministic):
  analyze_text   POST /api/analyze/text, 6 short sentences in turn
  analyze_image  POST /api/analyze, a 600×400 JPEG photo (scikit-image's coffee/chelsea/astronaut)
  analyze_music  POST /api/analyze, a 10-s 22.05-kHz WAV clip (synthetic chords)
  match_image    POST /api/match (top 10), the same photos → music
  match_music    POST /api/match (top 10), the same clips → images

Measured per cell: completed requests, errors (any non-200 or transport failure), requests/s,
latency p50/p95/p99/max, server CPU (cores busy, from /proc/<pid>/stat) and the server's RSS
(sampled every 0.1 s from /proc/<pid>/status). Per encoder, the seconds spent waiting for and
holding its lock (the service's /api/health) show what serialises. Results: JSON to
``--out`` (default bench/results/serve_load.json) and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SENTENCES = [
    "What a wonderful surprise, thank you so much!",
    "I can't believe they cancelled it again, this is infuriating.",
    "The house feels so empty since she left.",
    "Walking alone in the dark forest, every sound made me jump.",
    "A quiet morning with coffee and the rain on the window.",
    "We won the final! Everyone is screaming and dancing!",
]
SCENARIOS = ("analyze_text", "analyze_image", "analyze_music", "match_image", "match_music")


def photos() -> list[bytes]:
    from PIL import Image

    try:
        from skimage import data

        arrays = [data.coffee(), data.chelsea(), data.astronaut()]
    except ImportError:  # scikit-image is in the test extra; fall back to drawn images
        from emoalign.media.synth import synth_image

        arrays = [synth_image(v, a, size=480, seed=i) for i, (v, a) in enumerate([(0.6, 0.4), (-0.5, -0.3), (0.1, 0.8)])]
    out = []
    for a in arrays:
        im = Image.fromarray(a).convert("RGB")
        im.thumbnail((600, 600))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=88)
        out.append(buf.getvalue())
    return out


def clips() -> list[bytes]:
    from emoalign.media.synth import clip_bytes, synth_clip

    return [clip_bytes(synth_clip(v, a, seconds=10.0, sr=22050, seed=i), sr=22050)
            for i, (v, a) in enumerate([(0.7, 0.6), (-0.6, -0.4), (0.2, -0.5)])]


class ProcMonitor:
    """Samples a process's RSS (and CPU time at start/stop) from /proc in a thread."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.rss: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_s(self) -> float:
        with open(f"/proc/{self.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.rss.append(self.rss_mb())
            except OSError:
                return
            self._stop.wait(self.every)

    def __enter__(self) -> "ProcMonitor":
        self.cpu0, self.t0 = self.cpu_s(), time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.cores = (self.cpu_s() - self.cpu0) / max(1e-9, time.perf_counter() - self.t0)


def request_for(scenario: str, i: int, inputs: dict) -> tuple[str, dict]:
    if scenario == "analyze_text":
        return "/api/analyze/text", {"json": {"text": SENTENCES[i % len(SENTENCES)]}}
    kind = "image" if scenario.endswith("image") else "music"
    items = inputs["photos"] if kind == "image" else inputs["clips"]
    data = items[i % len(items)]
    name = f"q{i % len(items)}.jpg" if kind == "image" else f"q{i % len(items)}.wav"
    if scenario.startswith("analyze"):
        return "/api/analyze", {"files": {"file": (name, data, "application/octet-stream")}}
    return "/api/match", {"files": {"file": (name, data, "application/octet-stream")}, "data": {"top": "10"}}


async def run_cell(url: str, scenario: str, clients: int, max_requests: int, max_seconds: float, inputs: dict) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    deadline = time.perf_counter() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            i = issued
            issued += 1
            path, kw = request_for(scenario, i, inputs)
            t0 = time.perf_counter()
            try:
                r = await client.post(path, **kw)
                ok = r.status_code == 200
                if not ok:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                ok = False
                errors.append(f"{type(exc).__name__}: {exc}")
            if ok:
                latencies.append(time.perf_counter() - t0)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    clients_ = [httpx.AsyncClient(base_url=url, timeout=120.0, limits=limits) for _ in range(clients)]
    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in clients_))
    finally:
        for c in clients_:
            await c.aclose()
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    pct = (lambda q: float(np.percentile(lat, q))) if len(lat) else (lambda q: float("nan"))
    return {
        "scenario": scenario, "clients": clients, "requests": len(latencies) + len(errors), "ok": len(latencies),
        "errors": len(errors), "error_examples": errors[:3], "seconds": round(wall, 3),
        "rps": round(len(latencies) / wall, 2) if wall else 0.0,
        "p50_ms": round(pct(50), 1), "p95_ms": round(pct(95), 1), "p99_ms": round(pct(99), 1),
        "max_ms": round(float(lat.max()), 1) if len(lat) else float("nan"),
        "mean_ms": round(statistics.fmean(lat), 1) if len(lat) else float("nan"),
    }


def locks_of(url: str) -> dict:
    return httpx.get(url + "/api/health", timeout=30).json().get("locks", {})


def lock_delta(before: dict, after: dict, seconds: float) -> dict:
    out = {}
    for name, a in after.items():
        b = before.get(name, {"calls": 0, "wait_s": 0.0, "busy_s": 0.0})
        calls = a["calls"] - b["calls"]
        if calls:
            out[name] = {"calls": int(calls), "busy_share": round((a["busy_s"] - b["busy_s"]) / seconds, 3),
                         "wait_per_call_ms": round(1000 * (a["wait_s"] - b["wait_s"]) / calls, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None, help="Index folder (default: the example index, built once).")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--clients", default="1,4,16", help="Concurrent clients per cell, comma-separated.")
    ap.add_argument("--requests", type=int, default=200, help="At most this many requests per cell.")
    ap.add_argument("--seconds", type=float, default=20.0, help="At most this long per cell.")
    ap.add_argument("--warmup", type=int, default=3, help="Requests per scenario before measuring (not counted).")
    ap.add_argument("--soak-rounds", type=int, default=4,
                    help="After the cells: rounds of music analysis + image matching at N=16 (60 requests each), RSS after each.")
    ap.add_argument("--malloc-arenas", type=int, default=None, help="Passed to `emoalign serve` (default: its own, 2; 0 = glibc's).")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve_load.json")
    args = ap.parse_args(argv)

    from emoalign.serve.default_index import default_index
    from emoalign.serve.runner import serve_in_process

    index = args.index or default_index(log=lambda m: print(m, file=sys.stderr))
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    levels = [int(x) for x in args.clients.split(",")]
    inputs = {"photos": photos(), "clips": clips()}
    log = Path(tempfile.gettempdir()) / "emoalign-serve-load.server.log"  # the server's own output, kept out of the repo
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    t_start = time.perf_counter()
    server_args = ["--index", str(index)] + ([] if args.malloc_arenas is None else ["--malloc-arenas", str(args.malloc_arenas)])
    with serve_in_process(server_args, log=log) as (url, proc):
        startup_s = time.perf_counter() - t_start
        health = httpx.get(url + "/api/health", timeout=30).json()
        # A scenario whose encoder cannot load on this machine would only measure 503s: left out, and said.
        skipped = {}
        if "text-use" not in health["encoders"] and "analyze_text" in scenarios:
            scenarios.remove("analyze_text")
            skipped["analyze_text"] = "encoder 'text-use' not loadable on this machine (the endpoint answers 503)"
            print(f"skipping analyze_text: {skipped['analyze_text']}", file=sys.stderr)
        mon_all = ProcMonitor(proc.pid)
        rss_idle = mon_all.rss_mb()
        rows = []
        with mon_all:
            for scenario in scenarios:
                for i in range(args.warmup):
                    path, kw = request_for(scenario, i, inputs)
                    r = httpx.post(url + path, timeout=120, **kw)
                    if r.status_code != 200:
                        print(f"warm-up {scenario}: {r.status_code} {r.text[:200]}", file=sys.stderr)
                for n in levels:
                    before = locks_of(url)
                    with ProcMonitor(proc.pid) as mon:
                        row = asyncio.run(run_cell(url, scenario, n, args.requests, args.seconds, inputs))
                    row["server_cores"] = round(mon.cores, 2)
                    # CPU time the server spent per answered request: independent of how busy the machine is.
                    row["cpu_ms_per_request"] = round(1000 * mon.cores * row["seconds"] / max(1, row["ok"]), 1)
                    row["rss_mb_peak"] = round(max(mon.rss), 1) if mon.rss else None
                    row["locks"] = lock_delta(before, locks_of(url), row["seconds"])
                    rows.append(row)
                    print(f"{scenario:14s} N={n:<3d} {row['ok']:4d} ok {row['errors']:3d} err  {row['rps']:7.2f} req/s  "
                          f"p50 {row['p50_ms']:8.1f} ms  p99 {row['p99_ms']:8.1f} ms  cores {row['server_cores']:.2f}  "
                          f"RSS {row['rss_mb_peak']} MB", file=sys.stderr)
            soak = []
            for rnd in range(args.soak_rounds):
                errs = 0
                for scenario in ("analyze_music", "match_image"):
                    errs += asyncio.run(run_cell(url, scenario, 16, 60, 120, inputs))["errors"]
                soak.append({"round": rnd + 1, "errors": errs, "rss_mb": round(mon_all.rss_mb(), 1)})
                print(f"soak round {rnd + 1}: {errs} errors, RSS {soak[-1]['rss_mb']} MB", file=sys.stderr)
        rss = {"idle_after_start_mb": round(rss_idle, 1), "peak_mb": round(max(mon_all.rss), 1),
               "end_mb": round(mon_all.rss[-1], 1), "samples": len(mon_all.rss), "soak": soak}
    result = {
        "command": "python bench/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": Path("/proc/loadavg").read_text().split()[:3]},
        "bounds": {"requests_per_cell": args.requests, "seconds_per_cell": args.seconds, "warmup": args.warmup,
                   "soak_rounds": args.soak_rounds},
        "server_args": [a if not a.startswith("/") else Path(a).name for a in server_args],
        "skipped": skipped,
        "server": {"startup_s": round(startup_s, 1), "encoders": health["encoders"], "index": health["index"], "rss": rss},
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(markdown(result))
    total_errors = sum(r["errors"] for r in rows) + sum(r["errors"] for r in rss["soak"])
    print(f"\n{total_errors} errors in {sum(r['requests'] for r in rows)} requests; JSON: {args.out}", file=sys.stderr)
    return 1 if total_errors else 0


def markdown(result: dict) -> str:
    lines = ["| scenario | N | requests | errors | req/s | p50 ms | p95 ms | p99 ms | server cores | server CPU ms/req | peak RSS MB | lock busy share |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        busy = ", ".join(f"{k} {v['busy_share']:.2f}" for k, v in r["locks"].items())
        lines.append(f"| {r['scenario']} | {r['clients']} | {r['requests']} | {r['errors']} | {r['rps']:.2f} | {r['p50_ms']:.0f} | "
                     f"{r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['server_cores']:.2f} | {r['cpu_ms_per_request']:.0f} | {r['rss_mb_peak']:.0f} | {busy} |")
    rss = result["server"]["rss"]
    lines.append(f"\nServer RSS: {rss['idle_after_start_mb']:.0f} MB after start, peak {rss['peak_mb']:.0f} MB, "
                 f"{rss['end_mb']:.0f} MB at the end ({rss['samples']} samples). Startup {result['server']['startup_s']} s. "
                 f"Load average (1/5/15 min) before {'/'.join(result['machine']['loadavg_before'])}, "
                 f"after {'/'.join(result['machine']['loadavg_after'])} on {result['machine']['cpus']} CPUs.")
    for name, why in result["skipped"].items():
        lines.append(f"Left out: {name} — {why}.")
    if rss["soak"]:
        lines.append("Soak (music analysis + image matching, 16 clients, 120 requests a round): RSS after each round "
                     + ", ".join(f"{s['rss_mb']:.0f}" for s in rss["soak"]) + f" MB; errors {sum(s['errors'] for s in rss['soak'])}.")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
