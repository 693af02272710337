"""Cold start: a new process speaks "Hello, world!" into a WAV file.

Measures vocalize and kokoro-onnx (when installed) on the same model and voice, alternating
runs so both see the same machine load, and prints medians, peak RSS and the ratio.

    python benches/cold_start.py [--runs 5] [--text "Hello, world!"]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KOKORO_ONNX_JOB = """
import sys
import soundfile as sf
from kokoro_onnx import Kokoro
kokoro = Kokoro(sys.argv[1], sys.argv[2])
samples, rate = kokoro.create(sys.argv[3], voice=sys.argv[4], speed=1.0, lang="en-us")
sf.write(sys.argv[5], samples, rate)
"""


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one new process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}… failed:\n{proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--text", default="Hello, world!")
    parser.add_argument("--voice", default="jm_kumo")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vocalize import assets

    model = assets.default_model()  # assembled beforehand: cold start, not first install
    voices = assets.default_voices_path()
    out = Path(tempfile.mkdtemp()) / "hello.wav"
    vocalize_exe = shutil.which("vocalize") or "vocalize"
    jobs = {"vocalize": [vocalize_exe, "speak", args.text, "-o", str(out), "--voice", args.voice]}
    try:
        import kokoro_onnx  # noqa: F401
        import soundfile  # noqa: F401

        jobs["kokoro-onnx"] = [sys.executable, "-c", KOKORO_ONNX_JOB, str(model), str(voices), args.text, args.voice, str(out)]
    except ImportError:
        print("kokoro-onnx not installed: measuring vocalize alone")

    results: dict[str, list[tuple[float, float]]] = {name: [] for name in jobs}
    for name, cmd in jobs.items():  # one warm-up each: page cache, .pyc files
        run(cmd)
    for _ in range(args.runs):
        for name, cmd in jobs.items():
            results[name].append(run(cmd))

    print(f"cold start, {args.text!r} -> WAV, median of {args.runs} new processes, {os.cpu_count()} cores")
    medians = {}
    for name, rows in results.items():
        walls = [w for w, _ in rows]
        medians[name] = statistics.median(walls)
        print(f"  {name:<12} wall {medians[name]:6.3f} s (min {min(walls):.3f})   peak RSS {max(r for _, r in rows):6.0f} MB")
    if "kokoro-onnx" in medians:
        print(f"  vocalize is {medians['kokoro-onnx'] / medians['vocalize']:.2f}x faster than kokoro-onnx")


if __name__ == "__main__":
    main()
