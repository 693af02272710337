"""Cold start: a new process speaks "Hello, world!" into a WAV file.

Measures vocalize (in process, and through a running `vocalize serve` when the server extra
is installed) and kokoro-onnx (when installed) on the same model and voice, alternating runs
so all see the same machine load, and prints medians, peak RSS and the ratio; then the time
of `vocalize --help` and of `python -c "import vocalize"`.

    python benches/cold_start.py [--runs 5] [--text "Hello, world!"] [--no-server]
"""

from __future__ import annotations

import argparse
import importlib.util
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


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one new process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
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
    parser.add_argument("--no-server", action="store_true", help="skip the run through a local server")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vocalize.assets import models, voice_store

    model = models.default_model()  # assembled beforehand: cold start, not first install
    voices = voice_store.default_voices_path()
    out = Path(tempfile.mkdtemp()) / "hello.wav"
    # The console script pip installed beside this interpreter, started as kokoro-onnx's job
    # is (the interpreter itself): a version manager's shim on PATH (pyenv's is a bash
    # script) would add its own start-up to vocalize's wall time only.
    beside = Path(sys.executable).with_name("vocalize")
    vocalize_exe = str(beside) if beside.exists() else shutil.which("vocalize") or "vocalize"
    print(f"vocalize: {vocalize_exe}")
    speak = [vocalize_exe, "speak", args.text, "-o", str(out), "--voice", args.voice]
    jobs: dict[str, tuple[list[str], dict[str, str]]] = {"vocalize": ([*speak, "--no-server"], {})}
    server = None if args.no_server else start_server(vocalize_exe)
    if server is not None:
        jobs["vocalize (server)"] = (speak, {"VOCALIZE_SERVER": server[1]})
    # Found, not imported: a child's peak RSS starts from this process's size at fork.
    if all(importlib.util.find_spec(m) for m in ("kokoro_onnx", "soundfile")):
        jobs["kokoro-onnx"] = ([sys.executable, "-c", KOKORO_ONNX_JOB, str(model), str(voices), args.text, args.voice, str(out)], {})
    else:
        print("kokoro-onnx not installed: measuring vocalize alone")

    jobs["vocalize --help"] = ([vocalize_exe, "--help"], {})
    jobs["import vocalize"] = ([sys.executable, "-c", "import vocalize"], {})
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in jobs}
    try:
        for name, (cmd, env) in jobs.items():  # one warm-up each: page cache, optimized model
            run(cmd, env)
        for _ in range(args.runs):
            for name, (cmd, env) in jobs.items():
                results[name].append(run(cmd, env))
    finally:
        if server is not None:
            server[0].terminate()
            server[0].wait(30)

    print(f"cold start, {args.text!r} -> WAV, median of {args.runs} new processes, {os.cpu_count()} cores")
    medians = {}
    for name, rows in results.items():
        walls = [w for w, _ in rows]
        medians[name] = statistics.median(walls)
        print(f"  {name:<18} wall {medians[name]:6.3f} s (min {min(walls):.3f})   peak RSS {max(r for _, r in rows):6.0f} MB")
    if "kokoro-onnx" in medians:
        print(f"  vocalize is {medians['kokoro-onnx'] / medians['vocalize']:.2f}x faster than kokoro-onnx")
        if "vocalize (server)" in medians:
            print(f"  through the server {medians['kokoro-onnx'] / medians['vocalize (server)']:.2f}x faster than kokoro-onnx")


def start_server(exe: str) -> tuple[subprocess.Popen, str] | None:
    """A `vocalize serve` on a free loopback port, once /health says ready; None without the
    server extra."""
    import socket
    import urllib.request

    if not all(importlib.util.find_spec(m) for m in ("fastapi", "uvicorn")):
        print("the server extra is not installed: skipping the run through a server")
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([exe, "serve", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("vocalize serve did not become ready within 120 s")


if __name__ == "__main__":
    main()
