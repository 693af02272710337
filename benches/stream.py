"""Streaming: time to first audio, throughput and peak memory, against kokoro-onnx.

For a ~130-word paragraph and a ~2,000-word text, each engine runs in a new process (so its
peak RSS is its own), warms up (vocalize: Engine.warm_up; kokoro-onnx: one short sentence), then streams the text. kokoro-onnx runs
the same model and voice when it is installed (its create_stream for first audio, create for
throughput).

    python benches/stream.py [--skip-long] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

PARAGRAPH = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of storms. "
    "Every evening, the keeper climbed the spiral stairs to light the lamp, and ships passing in the night "
    "relied on its steady beam to guide them safely past the rocks. One winter, a terrible storm knocked out "
    "the power across the entire coast. The keeper lit oil lanterns and kept watch until dawn, refusing to sleep "
    "even as the wind howled against the glass. By morning, three fishing boats had returned home safely, their "
    "crews grateful for the light that never failed. Years later, when the lighthouse was finally automated, the "
    "town gathered to thank the old keeper, who simply smiled and said that he had only done his job."
)


def long_text() -> str:
    sentences = [s.strip() + "." for s in PARAGRAPH.split(".") if s.strip()]
    words, out, i = 0, [], 0
    while words < 2000:
        out.append(sentences[i % len(sentences)])
        words += len(out[-1].split())
        i += 1
        if i % 7 == 0:
            out.append("\n\n")
    return " ".join(out)


def rss_mb() -> float:
    """Current resident memory (Linux); 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def child_vocalize(text: str) -> dict:
    import vocalize

    engine = vocalize.Engine()
    engine.warm_up()  # loads everything and streams one short text
    expected = len(engine.chunks(text))
    start = time.perf_counter()
    first = None
    seconds = 0.0
    samples = []  # RSS after each piece: flat memory means no growth from piece to piece
    # A player that starts with the first piece: how long it would wait for later ones.
    playing_until = underrun = 0.0
    for piece in engine.stream(text):
        now = time.perf_counter() - start
        if first is None:
            first = playing_until = now
        if now > playing_until:
            underrun += now - playing_until
            playing_until = now
        playing_until += piece.duration
        seconds += piece.duration
        samples.append(rss_mb())
    quarter = samples[max(0, min(len(samples), expected) // 4 - 1)]
    return {
        "first": first, "total": time.perf_counter() - start, "audio": seconds, "rss_quarter": quarter,
        "rss_end": samples[-1], "pieces": len(samples), "underrun": underrun,
    }


def child_kokoro_onnx(text: str) -> dict:
    import asyncio

    from kokoro_onnx import Kokoro

    from vocalize.assets import models, voice_store

    kokoro = Kokoro(str(models.default_model()), str(voice_store.default_voices_path()))
    kokoro.create("Warm up the engine.", voice="jm_kumo", speed=1.0, lang="en-us")

    async def first_chunk() -> float:
        start = time.perf_counter()
        async for _ in kokoro.create_stream(text, voice="jm_kumo", speed=1.0, lang="en-us"):
            return time.perf_counter() - start
        return float("nan")

    first = asyncio.run(first_chunk())
    start = time.perf_counter()
    samples, rate = kokoro.create(text, voice="jm_kumo", speed=1.0, lang="en-us")
    return {"first": first, "total": time.perf_counter() - start, "audio": len(samples) / rate}


def measure(engine: str, text: str) -> dict:
    cmd = [sys.executable, __file__, "--child", engine]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(text.encode())
    if proc.returncode:
        raise SystemExit(f"{engine} failed:\n{err.decode()[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result


def median(runs: list[dict]) -> dict:
    """Each figure's median over the runs (audio and total time from the run of median speed)."""
    import statistics

    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    by_speed = sorted(runs, key=lambda r: r["audio"] / r["total"])
    mid = by_speed[len(by_speed) // 2]
    out["audio"], out["total"] = mid["audio"], mid["total"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--skip-long", action="store_true", help="only the paragraph")
    parser.add_argument("--runs", type=int, default=1, help="new processes per engine, alternating; medians are printed")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    if args.child:
        import resource

        text = sys.stdin.read()
        result = child_vocalize(text) if args.child == "vocalize" else child_kokoro_onnx(text)
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    try:
        import kokoro_onnx  # noqa: F401

        engines = ["vocalize", "kokoro-onnx"]
    except ImportError:
        print("kokoro-onnx not installed: measuring vocalize alone")
        engines = ["vocalize"]
    texts = {"paragraph": PARAGRAPH} if args.skip_long else {"paragraph": PARAGRAPH, "2000 words": long_text()}
    for label, text in texts.items():
        print(f"{label}: {len(text.split())} words")
        runs: dict[str, list[dict]] = {engine: [] for engine in engines}
        for _ in range(max(1, args.runs)):
            for engine in engines:
                runs[engine].append(measure(engine, text))
        results = {engine: median(rs) for engine, rs in runs.items()}
        for engine, r in results.items():
            print(
                f"  {engine:<12} first audio {r['first'] * 1000:7.0f} ms   {r['audio'] / r['total']:5.2f}x real time"
                f"   ({r['audio']:.1f} s of audio in {r['total']:.1f} s)   peak RSS {r['rss_mb']:5.0f} MB"
            )
            if "rss_end" in r:
                print(f"  {'':<12} RSS a quarter of the way {r['rss_quarter']:.0f} MB, at the end {r['rss_end']:.0f} MB;"
                      f" {r['pieces']} pieces; a player starting at the first would wait {r['underrun'] * 1000:.0f} ms in all")
        if len(results) == 2:
            v, k = results["vocalize"], results["kokoro-onnx"]
            # Throughput is the same text spoken in less time. The engines' audio differs in
            # length (vocalize trims the model's silence around each chunk and puts punctuation
            # pauses of its own), so audio seconds per second is printed too.
            print(
                f"  ratios: first audio {k['first'] / v['first']:.1f}x sooner, throughput on the same text "
                f"{k['total'] / v['total']:.2f}x (audio seconds per second "
                f"{(v['audio'] / v['total']) / (k['audio'] / k['total']):.2f}x), memory {v['rss_mb'] / k['rss_mb']:.2f}x"
            )


if __name__ == "__main__":
    main()
