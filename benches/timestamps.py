"""Accuracy of word timestamps: vocalize's word starts (from the model's own durations)
against Whisper base's word timestamps (faster-whisper, ``word_timestamps=True``) on the
same audio.

Requests mix what moves audio in time: two sentences per request (chunk offsets and the
pause between chunks), every third request slower (speed 0.8) and every fifth faster
(1.25), every fourth with a ``[pause:0.4s]`` between its sentences. Words are paired where
the two word lists agree (letters and digits compared, in order); the figures are the
median and 95th percentile of the absolute difference of their starts. Every request is
also checked: no word out of order, none past the end of the audio.

Whisper base (int8, greedy decoding) is set up as for benches/intelligibility.py (its
loader is reused). Its own
word times are off by tens of milliseconds, so only a gross error (a forgotten trimmed
silence, a pause, the speed) moves these figures much.

    python benches/timestamps.py                 # benches/texts/plain.txt and realworld.txt
    python benches/timestamps.py --limit 20      # the first 20 sentences only

Measured (``--limit 100 --show``, stopped after the first 12 sentences of plain.txt: the
shared 2-core machine was at a load of 17 and a request took minutes): 130 word starts
paired, median 108 ms, p95 415 ms, max 570 ms; no word out of order, none past the end.
That is above the 80 ms / 200 ms aim. The large differences are words after a long word
("tires | into": 5.955 s here, 5.540 s for Whisper; "fuel | for", "window | before"), where
the durations give the previous word's last phoneme a long stretch that Whisper places in
the next word; which of the two is right there is not settled by this bench.
"""

from __future__ import annotations

import argparse
import difflib
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intelligibility import TEXTS, whisper_dir  # noqa: E402

_KEY = re.compile(r"[^\w]+")


def key(word: str) -> str:
    return _KEY.sub("", word).lower()


def requests(sentences: list[str]) -> list[tuple[str, float, int]]:
    """Two sentences per request, with the speeds and pauses described above: (text,
    speed, sentences)."""
    out = []
    for i in range(0, len(sentences), 2):
        pair = sentences[i : i + 2]
        n = i // 2
        text = " [pause:0.4s] ".join(pair) if n % 4 == 3 else " ".join(pair)
        speed = 0.8 if n % 3 == 2 else 1.25 if n % 5 == 4 else 1.0
        out.append((text, speed, len(pair)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["plain", "realworld"], help="sentence files in benches/texts/")
    parser.add_argument("--limit", type=int, default=None, help="at most this many sentences")
    parser.add_argument("--show", action="store_true", help="print each request's worst pair")
    args = parser.parse_args()

    import numpy as np
    from faster_whisper import WhisperModel
    from scipy.signal import resample_poly

    import vocalize

    sentences = [line.strip() for name in args.sets for line in (TEXTS / f"{name}.txt").read_text().splitlines() if line.strip()]
    sentences = sentences[: args.limit] if args.limit else sentences
    engine = vocalize.Engine()
    engine.warm_up()
    whisper = WhisperModel(str(whisper_dir()), device="cpu", compute_type="int8", cpu_threads=2)

    diffs: list[float] = []
    words_total = disorder = past_end = done = 0
    synth_seconds = audio_seconds = 0.0
    for text, speed, count in requests(sentences):
        began = time.perf_counter()
        audio = engine.synthesize(text, timestamps=True, speed=speed)
        synth_seconds += time.perf_counter() - began
        audio_seconds += audio.duration
        ours = audio.words or []
        words_total += len(ours)
        disorder += sum(1 for a, b in zip(ours, ours[1:]) if b.start < a.start or b.start < a.end - 1e-6) + sum(1 for w in ours if w.end < w.start)
        past_end += sum(1 for w in ours if w.end > audio.duration + 1e-6)
        samples = resample_poly(audio.samples.astype(np.float32), 2, 3).astype(np.float32)
        segments, _ = whisper.transcribe(samples, language="en", beam_size=1, word_timestamps=True)
        heard = [w for s in segments for w in (s.words or [])]
        a, b = [key(w.word) for w in ours], [key(w.word) for w in heard]
        worst = (0.0, "")
        for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
            for k in range(block.size):
                mine, theirs = ours[block.a + k], heard[block.b + k]
                if not a[block.a + k]:
                    continue
                d = abs(mine.start - theirs.start)
                diffs.append(d)
                worst = max(worst, (d, f"{mine.word!r} {mine.start:.3f} vs {theirs.start:.3f}"))
        done += count
        if args.show:
            print(f"  speed {speed:<4} {len(ours):2d} words, worst {worst[1]}  | {text[:60]}", file=sys.stderr)
            report(done, words_total, diffs, disorder, past_end, sys.stderr)

    report(done, words_total, diffs, disorder, past_end, sys.stdout)
    print(f"synthesis with timestamps: {audio_seconds / synth_seconds:.2f}x real time")


def report(sentences: int, words: int, diffs: list[float], disorder: int, past_end: int, out) -> None:
    diffs = sorted(diffs)
    if not diffs:
        return
    p95 = diffs[min(len(diffs) - 1, int(0.95 * len(diffs)))]
    print(
        f"sentences: {sentences}  words: {words}  paired with Whisper: {len(diffs)}  word start |vocalize - whisper|: "
        f"median {1000 * statistics.median(diffs):.0f} ms, p95 {1000 * p95:.0f} ms, max {1000 * diffs[-1]:.0f} ms  "
        f"out of order: {disorder}  past the end: {past_end}",
        file=out,
        flush=True,
    )


if __name__ == "__main__":
    main()
