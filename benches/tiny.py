"""The tiny tier: hibari's model run by vocalize's core (Rust vocoder) beside hibari's own
numpy pipeline, on the same phoneme ids in the same process, runs alternating so both see
the same machine load.

Measures, from phoneme ids to audio (hibari's G2P gives the ids of both, outside the
timings): warm "Hello, world!", the first sentence of a 130-word paragraph (and, on one
thread, how it splits between the model and the vocoder), and the real-time factor of the
whole paragraph on one intra-op thread and on two; then the peak RSS of a new process that
loads each and synthesizes the paragraph. Prints medians and the ratios.

    python benches/tiny.py [--runs 15]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream import PARAGRAPH  # noqa: E402

HELLO = "Hello, world!"

CHILD = """
import json, sys
import numpy as np
which, model, ids = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if which == "vocalize":
    from vocalize import _native, assets
    _native.init(str(assets.ort_library()))
    tiny = _native.load_tiny(model, 1)
    audio = [tiny.render(chunk, 1.0, seed=i) for i, chunk in enumerate(ids)]
else:
    from hibari import Hibari
    hibari = Hibari(model=model, threads=1)
    rng = np.random.default_rng(0)
    audio = [hibari.from_ids([0, *chunk, 0], 1.0, rng) for chunk in ids]
# The peak of this program's own memory: the rusage of a child started by a large parent
# also counts the parent's pages it had before exec.
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(status["VmHWM"].split()[0]) / 1024)
"""


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    name = fields.get("Model name", "unknown CPU").strip()
    return f"{name}, {fields.get('CPU(s)', '?').strip()} CPUs"


def model_path() -> Path:
    spec = importlib.util.find_spec("hibari")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("this bench needs the hibari-tts package")
    return Path(spec.submodule_search_locations[0]) / "assets" / "hibari.onnx"


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def alternate(runs: int, jobs: dict) -> dict[str, list[float]]:
    """Each job's wall times over `runs` rounds, the jobs alternating within each round."""
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            times[name].append(timed(job))
    return times


def child_rss(which: str, model: Path, ids: list[list[int]]) -> float:
    """Peak resident memory (MB) of a new process that synthesizes `ids` (Linux)."""
    done = subprocess.run([sys.executable, "-c", CHILD, which, str(model), json.dumps(ids)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {which} child failed:\n{done.stderr}")
    return float(done.stdout)


def split(runs: int, tiny, hibari, ids: list[int]) -> None:
    """Where the first sentence's time goes: the model's inference and the vocoder, each
    pipeline's own (vocalize's from its timing spans)."""
    import numpy as np
    from hibari import dsp

    from vocalize import _native

    _native.enable_tracing()
    _native.take_spans()
    spans: dict[str, list[float]] = {"tiny_inference": [], "vocoder": []}
    model_s, dsp_s = [], []
    feed = {"ids": np.asarray([[0, *ids, 0]], np.int64), "speed": np.asarray([1.0], np.float32)}
    rng = np.random.default_rng(0)
    for _ in range(runs):
        tiny.render(ids, 1.0, seed=0)
        for _id, _parent, name, _fields, _start, duration in _native.take_spans():
            if name in spans:
                spans[name].append(duration / 1e9)
        start = time.perf_counter()
        outputs = [o[0] for o in hibari.sess.run(None, feed)]
        model_s.append(time.perf_counter() - start)
        dsp_s.append(timed(lambda: dsp.synth(*outputs, rng)))
    for label, a, b in (
        ("  of which the model", spans["tiny_inference"], model_s),
        ("  of which the vocoder", spans["vocoder"], dsp_s),
    ):
        a, b = statistics.median(a), statistics.median(b)
        print(f"{label:34} {a * 1e3:8.1f}ms {b * 1e3:8.1f}ms {b / a:17.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import numpy as np
    from hibari import Hibari

    from vocalize import _native, assets

    model = model_path()
    _native.init(str(assets.ort_library()))
    g2p = Hibari(model=str(model), threads=1)
    hello = g2p.ids(g2p.phonemize(HELLO)[0])[1:-1]
    sentences = [g2p.ids(p)[1:-1] for p in g2p.phonemize(PARAGRAPH)]
    words = len(PARAGRAPH.split())

    print(f"CPU: {cpu_name()}; load average {os.getloadavg()[0]:.1f} at the start")
    print(f"paragraph: {words} words, {len(sentences)} sentences; times from phoneme ids to audio, noise on\n")
    print(f"{'':34} {'vocalize':>10} {'hibari':>10} {'hibari / vocalize':>18}")

    for threads in (1, 2):
        tiny = _native.load_tiny(str(model), threads)
        hibari = Hibari(model=str(model), threads=threads)
        rng = np.random.default_rng(0)

        def ours(chunks):
            return lambda: [tiny.render(c, 1.0, seed=i) for i, c in enumerate(chunks)]

        def theirs(chunks):
            return lambda: [hibari.from_ids([0, *c, 0], 1.0, rng) for c in chunks]

        for _ in range(3):  # sessions warm, arenas sized
            ours([hello, sentences[0]])()
            theirs([hello, sentences[0]])()
        rows = {
            f'"{HELLO}" warm ({threads} thread{"s" if threads > 1 else ""})': [hello],
            f"first sentence ({len(sentences[0])} ids)": [sentences[0]],
        }
        for label, chunks in rows.items():
            t = alternate(args.runs, {"vocalize": ours(chunks), "hibari": theirs(chunks)})
            a, b = statistics.median(t["vocalize"]), statistics.median(t["hibari"])
            print(f"{label:34} {a * 1e3:8.1f}ms {b * 1e3:8.1f}ms {b / a:17.2f}x")
        if threads == 1:
            split(args.runs, tiny, hibari, sentences[0])
        audio_s = sum(len(x) for x in ours(sentences)()) / 24000
        t = alternate(max(3, args.runs // 3), {"vocalize": ours(sentences), "hibari": theirs(sentences)})
        a, b = audio_s / statistics.median(t["vocalize"]), audio_s / statistics.median(t["hibari"])
        print(f"{f'paragraph ({audio_s:.1f} s of audio)':34} {a:8.1f}x  {b:8.1f}x  {a / b:17.2f}x  real time")

    rss = {which: child_rss(which, model, sentences) for which in ("vocalize", "hibari")}
    print(
        f"{'peak RSS, new process, paragraph':34} {rss['vocalize']:8.0f}MB {rss['hibari']:8.0f}MB"
        f" {rss['hibari'] / rss['vocalize']:17.2f}x"
    )
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
