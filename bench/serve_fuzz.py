"""Schema-driven fuzz of the HTTP API with schemathesis: no request may get a 5xx.

    python bench/serve_fuzz.py                       # 100 examples per operation, at most 300 s
    python bench/serve_fuzz.py --max-examples 30 --max-time 120 --seed 7

`emoalign serve --index <example index>` runs in a child process on 127.0.0.1; schemathesis
reads its OpenAPI schema (/openapi.json) and runs every phase (examples, coverage, fuzzing,
stateful) with every check (``--checks all``). The run is bounded by ``--max-examples`` per
operation and ``--max-time`` seconds, and stops by itself.

One check is configured, not disabled: for the two upload operations, schemathesis's
``positive_data_acceptance`` ("schema-valid data must get 2xx") also accepts 413/415/422. A
schema can say "a binary file" but not "a decodable photo"; random bytes that match the schema
are *correctly* refused as an unsupported type (415) or undecodable (422), which is the
behaviour the API promises.

A schema cannot make schemathesis produce a *nearly* valid photo or clip, so a second stage
mutates real media (a JPEG photo, a PNG, WAV, FLAC and MP3 clips: truncations, byte flips,
zeroed or inserted blocks, splices of one format's header onto another's body, and hand-made
lying headers — a 100 000 × 100 000 PNG, a WAV claiming 0 channels or 0 Hz) and posts each to
/api/analyze and /api/match (``--mutations``, seeded). Allowed answers: 200, 413, 415, 422.

The HAR report is read back to count every response by operation and status; the exit code is 1
if any response was a 5xx (or, in the mutation stage, anything outside the allowed answers), any
check failed, or the server logged a traceback or died. Summary: ``--out`` (default
bench/results/serve_fuzz.json) and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
# Written by bench/serve_fuzz.py for one run.
[[operations]]
include-path-regex = "^/api/(analyze|match)$"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "413", "415", "422"]
"""


def operation_of(method: str, path: str) -> str:
    if path.startswith("/api/media/"):
        return f"{method} /api/media/{{path}}"
    if path.startswith("/api/taxonomies/"):
        return f"{method} /api/taxonomies/{{name}}"
    return f"{method} {path}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None, help="Index folder (default: the example index, built once).")
    ap.add_argument("--max-examples", type=int, default=100)
    ap.add_argument("--max-time", type=int, default=300, help="Seconds for the whole schemathesis run.")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mutations", type=int, default=300, help="Mutated media files posted in stage 2 (each to both endpoints).")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve_fuzz.json")
    args = ap.parse_args(argv)

    from emoalign.serve.default_index import default_index
    from emoalign.serve.runner import serve_in_process

    index = args.index or default_index(log=lambda m: print(m, file=sys.stderr))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="emoalign-fuzz-") as tmp:
        tmp = Path(tmp)
        (tmp / "schemathesis.toml").write_text(CONFIG)
        with serve_in_process(["--index", str(index)], log=tmp / "server.log") as (url, proc):
            import httpx

            loaded = httpx.get(url + "/api/health", timeout=30).json()["encoders"]
            # An endpoint whose encoder cannot load on this machine answers 503 by design (with the
            # reason); it is left out of the run, and the report says so.
            excluded = {"/api/analyze/text": "text-use"} if "text-use" not in loaded else {}
            # The CLI installed next to this interpreter (a venv's bin/ is not always on PATH).
            cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
            cmd = [cli, "--config-file", str(tmp / "schemathesis.toml"), "run", url + "/openapi.json",
                   "--checks", "all", "--max-examples", str(args.max_examples), "--max-time", str(args.max_time),
                   "--seed", str(args.seed), "--no-color", "--generation-database", "none",
                   "--report", "har,junit", "--report-dir", str(tmp / "reports"), "--request-timeout", "60"]
            for path in excluded:
                cmd += ["--exclude-path", path]
            t0 = time.perf_counter()
            run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            mutation = mutation_stage(url, index, args.mutations, args.seed)
            mutation["seconds"] = round(time.perf_counter() - t1, 1)
            alive = proc.poll() is None
        server_log = (tmp / "server.log").read_text(errors="replace")
        har = json.loads(next((tmp / "reports").glob("har-*.json")).read_text())
    statuses: dict[str, Counter] = defaultdict(Counter)
    for entry in har["log"]["entries"]:
        op = operation_of(entry["request"]["method"], urlsplit(entry["request"]["url"]).path)
        statuses[op][entry["response"]["status"]] += 1
    total = sum(sum(c.values()) for c in statuses.values())
    server_errors = {op: {s: n for s, n in c.items() if s >= 500} for op, c in statuses.items()}
    server_errors = {op: c for op, c in server_errors.items() if c}
    summary = re.search(r"Failures:\n(.*?)\n\n", run.stdout, re.S)
    failures = re.findall(r"❌ (ST\d+ [^:]+): (\d+)", summary.group(1)) if summary else []
    cases = re.search(r"(\d+) generated", run.stdout)
    tracebacks = server_log.count("Traceback")
    result = {
        "command": "python bench/serve_fuzz.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "schemathesis_command": " ".join(Path(c).name if c.startswith(str(tmp)) else c for c in cmd),
        "seconds": round(seconds, 1), "exit_code": run.returncode, "server_alive_after": alive,
        "test_cases_generated": int(cases.group(1)) if cases else None, "responses": total,
        "by_operation": {op: dict(sorted(c.items())) for op, c in sorted(statuses.items())},
        "server_errors": server_errors, "check_failures": {name: int(n) for name, n in failures},
        "server_tracebacks": tracebacks, "mutation_stage": mutation,
        "excluded_operations": {p: f"encoder {e!r} not loadable on this machine (answers 503 by design)" for p, e in excluded.items()},
        "stdout_tail": run.stdout[-6000:],
    }
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(markdown(result))
    if run.returncode and not failures:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n", file=sys.stderr)
    bad = bool(server_errors) or bool(failures) or tracebacks > 0 or not alive or bool(mutation["unexpected"])
    print(f"\n{total} responses, {sum(sum(c.values()) for c in server_errors.values())} 5xx, "
          f"{len(failures)} failing checks; mutation stage: {mutation['requests']} requests, "
          f"{len(mutation['unexpected'])} unexpected answers; JSON: {args.out}", file=sys.stderr)
    return 1 if bad else 0


# ---------------------------------------------------------------------------------------------
# Stage 2: mutated real media
# ---------------------------------------------------------------------------------------------
ALLOWED = {200, 413, 415, 422}


def seed_media(index: Path) -> dict[str, bytes]:
    import io

    from PIL import Image

    from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image

    try:
        from skimage import data

        photo = data.coffee()
    except ImportError:
        photo = synth_image(0.4, 0.3, size=300, seed=1)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=85)
    mp3 = sorted((index.parent / "data").rglob("*.mp3"))
    return {
        "jpeg": buf.getvalue(),
        "png": image_bytes(synth_image(-0.3, 0.6, size=120, seed=2), "PNG"),
        "wav": clip_bytes(synth_clip(0.5, 0.4, seconds=3.0, seed=3)),
        "flac": clip_bytes(synth_clip(-0.5, -0.2, seconds=3.0, seed=4), fmt="FLAC"),
        **({"mp3": mp3[0].read_bytes()} if mp3 else {}),
    }


def crafted() -> list[tuple[str, bytes]]:
    """Hand-made files whose headers lie."""
    import struct
    import zlib

    def png(w: int, h: int) -> bytes:
        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))

    def wav(channels: int, rate: int, bits: int, data_len: int, payload: bytes) -> bytes:
        fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * max(channels, 1) * bits // 8, max(channels, 1) * bits // 8, bits)
        return (b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
                + b"data" + struct.pack("<I", data_len) + payload)

    return [
        ("png 100000x100000", png(100_000, 100_000)),
        ("png 0x0", png(0, 0)),
        ("png 1x1 lying IDAT", png(1, 1)),
        ("wav 0 channels", wav(0, 16000, 16, 200, bytes(200))),
        ("wav 0 Hz", wav(1, 0, 16, 200, bytes(200))),
        ("wav 7 bits", wav(1, 16000, 7, 200, bytes(200))),
        ("wav data size 4 GB", wav(1, 16000, 16, 0xFFFFFFF0, bytes(400))),
        ("wav silent 1 s", wav(1, 16000, 16, 32000, bytes(32000))),
        ("wav NaN floats", b"RIFF" + struct.pack("<I", 36 + 400) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32)
         + b"data" + struct.pack("<I", 400) + struct.pack("<f", float("nan")) * 100),
        ("riff webp empty", b"RIFF\x04\x00\x00\x00WEBP"),
        ("ftyp only", b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom"),
        ("ogg magic only", b"OggS" + bytes(60)),
        ("id3 header only", b"ID3\x04\x00\x00\x00\x00\x00\x00"),
        ("gif magic only", b"GIF89a"),
        ("bmp magic only", b"BM" + bytes(10)),
    ]


def mutate(rng, data: bytes, other: bytes) -> tuple[str, bytes]:
    n = len(data)
    op = rng.choice(["truncate", "flip", "zero", "insert", "splice", "head"])
    if op == "truncate":
        return op, data[: int(rng.integers(1, n))]
    if op == "flip":
        b = bytearray(data)
        for pos in rng.integers(0, n, size=int(rng.integers(1, 33))):
            b[pos] = int(rng.integers(0, 256))
        return op, bytes(b)
    if op == "zero":
        start = int(rng.integers(0, n))
        return op, data[:start] + bytes(min(n - start, int(rng.integers(1, 4096)))) + data[start + 4096:]
    if op == "insert":
        start = int(rng.integers(0, n))
        return op, data[:start] + rng.integers(0, 256, size=int(rng.integers(1, 2048)), dtype=np.uint8).tobytes() + data[start:]
    if op == "splice":
        cut = int(rng.integers(4, min(n, 200)))
        return op, data[:cut] + other[cut:]
    # keep the (valid) first bytes only: a header with no body
    return op, data[: int(rng.integers(8, 128))]


def mutation_stage(url: str, index: Path, count: int, seed: int) -> dict:
    import httpx

    rng = np.random.default_rng(seed)
    seeds = seed_media(index)
    names = sorted(seeds)
    cases = crafted()
    for _ in range(count):
        a, b = rng.choice(names, size=2)
        op, data = mutate(rng, seeds[a], seeds[b])
        cases.append((f"{a}:{op}", data))
    statuses: dict[str, Counter] = defaultdict(Counter)
    unexpected = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for i, (label, data) in enumerate(cases):
            for path in ("/api/analyze", "/api/match"):
                try:
                    r = client.post(path, files={"file": (f"m{i}.bin", data, "application/octet-stream")})
                    code = r.status_code
                except httpx.HTTPError as exc:
                    code, r = -1, None
                    unexpected.append({"case": label, "path": path, "error": f"{type(exc).__name__}: {exc}"})
                statuses[path][code] += 1
                if code not in ALLOWED and r is not None:
                    unexpected.append({"case": label, "path": path, "status": code, "body": r.text[:300]})
    return {"cases": len(cases), "requests": 2 * len(cases), "allowed": sorted(ALLOWED),
            "by_endpoint": {p: dict(sorted(c.items())) for p, c in statuses.items()}, "unexpected": unexpected[:20],
            "crafted": [label for label, _ in crafted()]}


def markdown(result: dict) -> str:
    schema_ops = {op: c for op, c in result["by_operation"].items() if 405 not in c and "405" not in c}
    other = sum(sum(c.values()) for op, c in result["by_operation"].items() if op not in schema_ops)
    codes = sorted({int(s) for c in schema_ops.values() for s in c})
    lines = ["| operation | " + " | ".join(str(c) for c in codes) + " |", "|---|" + "---:|" * len(codes)]
    for op, c in schema_ops.items():
        c = {int(k): v for k, v in c.items()}
        lines.append(f"| {op} | " + " | ".join(str(c.get(s, "")) for s in codes) + " |")
    other_codes = sorted({int(s) for op, c in result["by_operation"].items() if op not in schema_ops for s in c})
    lines.append(f"\nOther methods on the same paths (the unsupported_method check): {other} requests, statuses {other_codes}.")
    lines.append(f"\n{result['test_cases_generated']} test cases, {result['responses']} responses in {result['seconds']} s; "
                 f"5xx: {sum(sum(v.values()) for v in result['server_errors'].values())}; failing checks: "
                 f"{result['check_failures'] or 'none'}; server tracebacks: {result['server_tracebacks']}; "
                 f"server alive after: {result['server_alive_after']}.")
    for path, why in result["excluded_operations"].items():
        lines.append(f"\nLeft out: {path} — {why}.")
    m = result["mutation_stage"]
    lines.append(f"\nMutation stage: {m['cases']} mutated or crafted files × 2 endpoints in {m['seconds']} s:")
    for path, c in m["by_endpoint"].items():
        lines.append(f"- {path}: " + ", ".join(f"{k}: {v}" for k, v in c.items()))
    lines.append(f"- answers outside {m['allowed']}: {len(m['unexpected'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
