"""Closing a stream from another thread: how long close() takes to return, and how long the
reader's loop takes to end after it, against the time the engine takes for one chunk (what
a close that waited for the chunk under way would cost), measured in the same run.

    python benches/close.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

TEXT = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of storms. "
    "Every evening, the keeper climbed the spiral stairs to light the lamp. "
    "Ships passing in the night relied on its steady beam to guide them safely past the rocks. "
) * 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import vocalize

    engine = vocalize.Engine()
    engine.warm_up()
    closes, ends, chunks = [], [], []
    for _ in range(args.runs):
        stream = engine.stream(TEXT)
        got = threading.Event()
        ended: list[float] = []

        def read() -> None:
            last = time.perf_counter()
            for _ in stream:
                now = time.perf_counter()
                chunks.append(now - last)
                last = now
                got.set()
            ended.append(time.perf_counter())

        reader = threading.Thread(target=read)
        reader.start()
        got.wait()
        time.sleep(0.1)  # the next chunk is being synthesized
        start = time.perf_counter()
        stream.close()
        closes.append(time.perf_counter() - start)
        reader.join()
        ends.append(ended[0] - start)
    chunk = statistics.median(chunks)
    close, end = statistics.median(closes), statistics.median(ends)
    print(f"close() returns in {close * 1000:.2f} ms, the reader's loop ends {end * 1000:.2f} ms after it "
          f"(medians of {args.runs}); one chunk takes {chunk * 1000:.0f} ms: the loop ends {chunk / end:.0f}x sooner")


if __name__ == "__main__":
    main()
