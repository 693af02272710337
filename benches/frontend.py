"""Text frontend speed: set-up in a new process, and time per typical sentence.

    python benches/frontend.py [--runs 5]

Set-up is import + Frontend() + the first phonemize (which builds the G2P), in a fresh
interpreter with the G2P data already cached, median of --runs processes. Per-sentence time
is Frontend.chunks() on each sentence below, warm, median over repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

SENTENCES = [
    "The meeting starts at 9:30 AM on Tuesday, March 14th, 2023.",
    "Dr. Smith paid $4.5 million for the house on Main St. in 1999.",
    "I read the book yesterday, and I will read another one tomorrow.",
    "Call 555-123-4567 or e-mail jane.doe@example.com for details.",
    "The temperature dropped to -5°C, about 23°F, overnight.",
    "NASA and the FBI shared 1,000 files, roughly 50% of the archive.",
    "She ran 5-10 km every morning, e.g. along the river.",
    "Please remember to bring your umbrella tomorrow morning.",
]

SETUP = """
import json, time
t0 = time.perf_counter()
from vocalize.text import Frontend
f = Frontend()
f.phonemize("Hello.")
print(json.dumps(time.perf_counter() - t0))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    subprocess.run([sys.executable, "-c", SETUP], check=True, capture_output=True)  # fills the cache
    setups = [
        json.loads(subprocess.run([sys.executable, "-c", SETUP], check=True, capture_output=True, text=True).stdout)
        for _ in range(args.runs)
    ]

    from vocalize.text import Frontend

    frontend = Frontend()
    frontend.chunks(" ".join(SENTENCES))  # warm: G2P built, OOV net loaded if needed
    per_sentence = []
    for _ in range(20):
        for sentence in SENTENCES:
            start = time.perf_counter()
            frontend.chunks(sentence)
            per_sentence.append(time.perf_counter() - start)
    print(f"frontend set-up (new process, median of {args.runs}): {statistics.median(setups) * 1000:.0f} ms (min {min(setups) * 1000:.0f})")
    print(
        f"per sentence ({len(SENTENCES)} sentences x 20): median {statistics.median(per_sentence) * 1000:.2f} ms, "
        f"p95 {sorted(per_sentence)[int(len(per_sentence) * 0.95)] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
