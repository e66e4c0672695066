"""Time and peak memory of hostile inputs, CLI and service, for one or two code trees side by side.

    git worktree add --detach /tmp/before 966215c      # the code before issue #14
    python bench/hostile_inputs.py --tree before=/tmp/before/src --json /tmp/hostile.json
    python bench/hostile_inputs.py --tree after=src --json /tmp/hostile.json   # merged, side by side

For each tree (a ``src`` folder put first on PYTHONPATH) it runs:

* **CLI**: ``emoalign analyze FILE`` once per input, in a child process; wall time and the child's
  peak RSS (``wait4`` rusage). A 2-s synthetic WAV is the reference: "extra" memory is the peak
  minus the reference's peak (the models' own footprint).
* **Service**: ``emoalign serve --no-index`` on 127.0.0.1 in a child process; each input is posted
  to ``/api/analyze`` alone (time, status, the server's RSS peak over the request minus its RSS
  before, sampled every 20 ms from /proc), then two bursts — 3 FLAC bombs at once, 16 near-limit
  PNGs at once — with the peak RSS during the burst and the RSS 5 s after it, against idle.

Inputs are generated once into ``--work`` (never into the repo): an hour of silent 48 kHz stereo
FLAC (~0.7 MB; written in chunks), a PNG one row short of the 64-Mpixel limit, a truncated WAV,
an empty file, a directory, random bytes named .wav. The machine is shared: record the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

PY = sys.executable


# -- inputs ---------------------------------------------------------------------------------------
def make_inputs(work: Path) -> dict[str, Path]:
    import soundfile as sf
    from PIL import Image

    work.mkdir(parents=True, exist_ok=True)
    files = {
        "reference: 2-s speech-like WAV (accepted)": work / "reference.wav",
        "FLAC bomb: 1 h silent 48 kHz stereo": work / "bomb_1h.flac",
        "PNG 8000×7999 (just under the pixel limit; accepted)": work / "big.png",
        "truncated WAV (header says 10 s, 0.1 s present)": work / "truncated.wav",
        "empty file": work / "empty.wav",
        "directory": work / "a_folder",
        "random bytes named .wav": work / "random.wav",
    }
    if not files["reference: 2-s speech-like WAV (accepted)"].exists():
        sr = 16000
        t = np.arange(2 * sr) / sr
        y = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 3 * t)))
        sf.write(files["reference: 2-s speech-like WAV (accepted)"], y.astype(np.float32), sr)
    bomb = files["FLAC bomb: 1 h silent 48 kHz stereo"]
    if not bomb.exists():
        with sf.SoundFile(bomb, "w", 48000, 2, format="FLAC", subtype="PCM_16") as fh:
            block = np.zeros((48000 * 10, 2), np.int16)
            for _ in range(360):
                fh.write(block)
    png = files["PNG 8000×7999 (just under the pixel limit; accepted)"]
    if not png.exists():
        Image.new("RGB", (8000, 7999), (90, 120, 200)).save(png, optimize=True)
    trunc = files["truncated WAV (header says 10 s, 0.1 s present)"]
    if not trunc.exists():
        import io

        buf = io.BytesIO()
        sf.write(buf, (0.2 * np.random.default_rng(0).standard_normal(160000)).astype(np.float32), 16000, format="WAV", subtype="PCM_16")
        trunc.write_bytes(buf.getvalue()[: 44 + 3200])
    files["empty file"].write_bytes(b"")
    files["directory"].mkdir(exist_ok=True)
    files["random bytes named .wav"].write_bytes(np.random.default_rng(1).bytes(4096))
    return files


# -- CLI ------------------------------------------------------------------------------------------
def run_cli(src: str, path: Path, timeout: float = 600) -> dict:
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-c", "from emoalign.cli import main; main()", "analyze", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_b = []
    threading.Thread(target=lambda: out_b.append(proc.stdout.read() + proc.stderr.read()), daemon=True).start()
    _, status, ru = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    time.sleep(0.1)
    text = (out_b[0] if out_b else b"").decode("utf-8", "replace")
    last = [ln for ln in text.splitlines() if ln.strip()]
    return {"seconds": round(seconds, 2), "peak_mb": round(ru.ru_maxrss / 1024, 1), "exit": proc.returncode,
            "message": _short(" | ".join(last[-2:]))}


def _short(s: str, n: int = 140) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


# -- service --------------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Peak RSS of a process while a block runs (sampled every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def __enter__(self):
        self.start = rss_mb(self.pid)
        self.peak = self.start
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def post_file(url: str, path: Path, timeout: float = 900) -> tuple[int, str, float]:
    import httpx

    t0 = time.perf_counter()
    try:
        with open(path, "rb") as fh:
            r = httpx.post(url + "/api/analyze", files={"file": (path.name, fh)}, timeout=timeout)
        detail = r.json().get("detail") if r.status_code != 200 else r.json().get("label")
        return r.status_code, _short(str(detail)), time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - a benchmark records whatever happens
        return -1, _short(f"{type(exc).__name__}: {exc}"), time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_service(src: str, files: dict[str, Path], burst_sizes: tuple[int, int]) -> dict:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([PY, "-m", "emoalign.cli.serve", "--no-index", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.3)
        time.sleep(2)
        idle = rss_mb(proc.pid)
        out = {"idle_mb": round(idle, 1), "single": {}, "bursts": {}}
        for label, path in files.items():
            if path.is_dir():
                continue  # a browser cannot upload a folder
            with Sampler(proc.pid) as s:
                status, detail, sec = post_file(url, path)
            out["single"][label] = {"status": status, "seconds": round(sec, 2), "extra_mb": round(s.peak - s.start, 1),
                                    "detail": detail}
        for label, key, n in (("3 FLAC bombs at once", "FLAC bomb: 1 h silent 48 kHz stereo", burst_sizes[0]),
                              ("16 near-limit PNGs at once", "PNG 8000×7999 (just under the pixel limit; accepted)", burst_sizes[1])):
            before = rss_mb(proc.pid)
            with Sampler(proc.pid) as s, ThreadPoolExecutor(n) as pool:
                t0 = time.perf_counter()
                res = list(pool.map(lambda _: post_file(url, files[key]), range(n)))
                sec = time.perf_counter() - t0
            time.sleep(5)
            after = rss_mb(proc.pid)
            out["bursts"][label] = {"statuses": sorted({r[0] for r in res}), "seconds": round(sec, 1),
                                    "max_request_s": round(max(r[2] for r in res), 1), "rss_before_mb": round(before, 1),
                                    "peak_mb": round(s.peak, 1), "rss_5s_after_mb": round(after, 1)}
        out["final_mb"] = round(rss_mb(proc.pid), 1)
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- report ---------------------------------------------------------------------------------------
def report(results: dict) -> str:
    trees = list(results)
    lines = [
        "# Hostile inputs: time and peak memory, before and after (issue #14)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. Shared machine "
        "(other jobs running): times are upper bounds; memory figures hardly depend on load.",
        "",
    ]
    for t in trees:
        r = results[t]
        lines.append(f"- **{t}** = `{r['src']}`: `{r.get('command', '?')}` (load average at start: {r.get('load', '?')})")
    lines += [
        "",
        "## CLI: `emoalign analyze FILE` (one child process per input)",
        "",
        "Peak = the child's peak RSS; extra = peak minus the empty file's peak (the same command refused before "
        "any decoding: start-up and imports), i.e. what the input itself cost. The reference and the PNG are "
        "accepted, so their extra includes loading the model.",
        "",
        "| input | " + " | ".join(f"{t}: s | {t}: peak MB | {t}: extra MB | {t}: exit" for t in trees) + " |",
        "|---|" + "---|---|---|---|" * len(trees),
    ]
    labels = list(results[trees[0]]["cli"])
    for label in labels:
        cells = []
        for t in trees:
            r = results[t]["cli"][label]
            ref = results[t]["cli"]["empty file"]["peak_mb"]
            cells += [f"{r['seconds']}", f"{r['peak_mb']:.0f}", f"{r['peak_mb'] - ref:+.0f}", f"{r['exit']}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Messages (last lines of output):", ""]
    for label in labels:
        for t in trees:
            lines.append(f"- {t}, {label}: `{results[t]['cli'][label]['message']}`")
    lines += ["", "## Service: one upload at a time to `/api/analyze`", "",
              "Extra = the server's RSS peak during the request minus its RSS just before it (sampled every 20 ms).", "",
              "| input | " + " | ".join(f"{t}: status | {t}: s | {t}: extra MB" for t in trees) + " |",
              "|---|" + "---|---|---|" * len(trees)]
    for label in results[trees[0]]["service"]["single"]:
        cells = []
        for t in trees:
            r = results[t]["service"]["single"][label]
            cells += [str(r["status"]), str(r["seconds"]), f"{r['extra_mb']:+.0f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Answers:", ""]
    for label in results[trees[0]]["service"]["single"]:
        for t in trees:
            lines.append(f"- {t}, {label}: `{results[t]['service']['single'][label]['detail']}`")
    lines += ["", "## Service: bursts", "",
              "| burst | tree | statuses | wall s | slowest request s | idle MB | before MB | peak MB | 5 s after MB | after vs idle |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for label in results[trees[0]]["service"]["bursts"]:
        for t in trees:
            s = results[t]["service"]
            b = s["bursts"][label]
            lines.append(f"| {label} | {t} | {b['statuses']} | {b['seconds']} | {b['max_request_s']} | {s['idle_mb']:.0f} | "
                         f"{b['rss_before_mb']:.0f} | {b['peak_mb']:.0f} | {b['rss_5s_after_mb']:.0f} | "
                         f"{(b['rss_5s_after_mb'] / s['idle_mb'] - 1):+.0%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", action="append", required=True, help="NAME=SRC_FOLDER (repeatable; compared side by side)")
    ap.add_argument("--work", default="/tmp/emoalign-hostile", help="where the generated inputs go (not the repo)")
    ap.add_argument("--out", default="bench/results/hostile_inputs.md")
    ap.add_argument("--json", default=None, help="also keep the raw figures here (merged with an existing file)")
    ap.add_argument("--no-service", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="rewrite --out from --json without running anything")
    args = ap.parse_args()
    load = open("/proc/loadavg").read().split()[:3]
    results: dict = {}
    if args.json and Path(args.json).exists():
        results = json.loads(Path(args.json).read_text())
    if args.report_only:
        Path(args.out).write_text(report(results), encoding="utf-8")
        return
    files = make_inputs(Path(args.work))
    for spec in args.tree:
        name, _, src = spec.partition("=")
        src = str(Path(src).resolve())
        print(f"[{name}] CLI …", flush=True)
        cli = {label: run_cli(src, path) for label, path in files.items()}
        for label, r in cli.items():
            print(f"  {label}: {r}", flush=True)
        service = {"single": {}, "bursts": {}, "idle_mb": 0}
        if not args.no_service:
            print(f"[{name}] service …", flush=True)
            service = run_service(src, files, (3, 16))
            print(json.dumps(service, indent=1), flush=True)
        command = "python bench/hostile_inputs.py " + " ".join(a for a in sys.argv[1:])
        results[name] = {"src": src, "cli": cli, "service": service, "load": " ".join(load), "command": command}
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    Path(args.out).write_text(report(results), encoding="utf-8")
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()
