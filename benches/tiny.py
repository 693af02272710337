"""The tiny tier: hibari's model run by vocalize's core (Rust vocoder) beside hibari's own
numpy pipeline, on the same phoneme ids in the same process, runs alternating so both see
the same machine load.

Measures, from phoneme ids to audio (hibari's G2P gives the ids of both, outside the
timings): warm "Hello, world!", the first sentence of a 130-word paragraph (and, on one
thread, how it splits between the model and the vocoder), and the real-time factor of the
whole paragraph on one intra-op thread and on two; then the peak RSS of a new process that
loads each and synthesizes the paragraph.

Then from text to audio, as users call them: ``Engine(model="tiny")`` (on one thread and on
its default threads) beside ``hibari.Hibari`` (its G2P included in both): the first audio of the
paragraph streamed, "Hello, world!" synthesized, and the paragraph's real-time factor, warm;
and new processes: ``vocalize speak --model tiny "Hello, world!" -o`` beside Kokoro's
``vocalize speak "Hello, world!" -o`` (both ``--no-server``), and the peak RSS of
``vocalize speak --model tiny`` speaking the paragraph. Prints medians and the ratios.

    python benches/tiny.py [--runs 15] [--cold-runs 5]
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
    from vocalize import _native
    from vocalize.assets import paths
    _native.init(str(paths.ort_library()))
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


SPEAK_RSS = """
import sys
from vocalize import cli
text, out, model = sys.argv[1:4]
sys.argv = ["vocalize", "speak", text, "-o", out, "--no-server", "--model", model]
cli.main()
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


def first_piece(pieces) -> None:
    """Waits for the first piece of a stream, then drops the rest."""
    for _ in pieces:
        break
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


def engine_rows(runs: int, model: Path, threads: int) -> None:
    """Text to audio through the Engine and through hibari's own API, warm, on ``threads``."""
    from hibari import Hibari

    import vocalize

    engine = vocalize.Engine(model="tiny", threads=threads, seed=0)
    hibari = Hibari(model=str(model), threads=threads)
    for _ in range(3):
        engine.synthesize(PARAGRAPH)
        hibari(PARAGRAPH, seed=0)
    title = f"text to audio, {threads} thread{'s' if threads > 1 else ''}"
    print(f"\n{title:34} {'Engine':>10} {'Hibari':>10} {'Hibari / Engine':>18}")
    rows = {
        "first audio, paragraph streamed": (lambda: first_piece(engine.stream(PARAGRAPH)), lambda: first_piece(hibari.stream(PARAGRAPH, seed=0))),
        f'"{HELLO}" synthesized': (lambda: engine.synthesize(HELLO), lambda: hibari(HELLO, seed=0)),
    }
    for label, (ours, theirs) in rows.items():
        t = alternate(runs, {"engine": ours, "hibari": theirs})
        a, b = statistics.median(t["engine"]), statistics.median(t["hibari"])
        print(f"{label:34} {a * 1e3:8.1f}ms {b * 1e3:8.1f}ms {b / a:17.2f}x")
    ours_s = engine.synthesize(PARAGRAPH).duration
    theirs_s = len(hibari(PARAGRAPH, seed=0)) / 24000
    t = alternate(max(3, runs // 3), {"engine": lambda: engine.synthesize(PARAGRAPH), "hibari": lambda: hibari(PARAGRAPH, seed=0)})
    a, b = ours_s / statistics.median(t["engine"]), theirs_s / statistics.median(t["hibari"])
    print(f"{f'paragraph ({ours_s:.1f} s of audio)':34} {a:8.1f}x  {b:8.1f}x  {a / b:17.2f}x  real time")


# An installed package's modules are compiled to bytecode at install (pip does so); with
# PYTHONDONTWRITEBYTECODE set, a source checkout would compile every module at every start.
INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def new_process(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one new process, with bytecode as installed."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=INSTALLED)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}… failed:\n{proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def cold_rows(runs: int) -> None:
    """New processes speaking into a WAV file: the tiny model beside Kokoro, alternating."""
    import shutil
    import tempfile

    from vocalize.assets import models

    models.default_model()  # assembled beforehand: cold start, not first install
    beside = Path(sys.executable).with_name("vocalize")
    exe = str(beside) if beside.exists() else shutil.which("vocalize") or "vocalize"
    out = Path(tempfile.mkdtemp()) / "hello.wav"
    speak = [exe, "speak", HELLO, "-o", str(out), "--no-server"]
    jobs = {"tiny": [*speak, "--model", "tiny"], "kokoro": speak, "python": [sys.executable, "-c", "pass"]}
    for cmd in jobs.values():  # page cache, optimized graphs, bytecode
        new_process(cmd)
    walls: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, cmd in jobs.items():
            walls[name].append(new_process(cmd)[0])
    a, b = statistics.median(walls["tiny"]), statistics.median(walls["kokoro"])
    print(f"\n{f'cold speak {HELLO!r} -o, {runs} runs':34} {'tiny':>10} {'kokoro':>10} {'kokoro / tiny':>18}")
    print(f"{'wall, new process':34} {a:9.3f}s {b:9.3f}s {b / a:17.2f}x")
    print(f"{'of which the interpreter starting':34} {statistics.median(walls['python']):9.3f}s   (python -c pass)")
    # Measured by the child itself (see CHILD): a child's rusage also counts the pages this
    # large parent had when it forked.
    rss = {
        model: float(subprocess.run(
            [sys.executable, "-c", SPEAK_RSS, PARAGRAPH, str(out), model], capture_output=True, text=True, check=True
        ).stdout.split()[-1])
        for model in ("tiny", "kokoro")
    }
    print(f"{'peak RSS, speak the paragraph':34} {rss['tiny']:8.0f}MB {rss['kokoro']:8.0f}MB {rss['kokoro'] / rss['tiny']:17.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import numpy as np
    from hibari import Hibari

    from vocalize import _native
    from vocalize.assets import paths

    model = model_path()
    _native.init(str(paths.ort_library()))
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
    from vocalize.engine import default_threads

    for threads in sorted({1, default_threads()}):  # one thread, and the Engine's default
        engine_rows(args.runs, model, threads)
    cold_rows(args.cold_runs)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
