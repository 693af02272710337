"""Where the decoder's time goes: ONNX Runtime's per-node profile, summed by operator.

Loads the split model in this process with `VOCALIZE_PROFILE` set (the native sessions then
record every node), synthesizes a two-sentence text twice, releases the model so the
sessions write their profiles, and prints each session's operators by share of time.

    python benches/profile.py [--text TEXT] [--top N]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

TEXT = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of storms. "
    "Every evening, the keeper climbed the spiral stairs."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vocalize-profile-"))
    os.environ["VOCALIZE_PROFILE"] = str(folder / "session")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    import vocalize
    from vocalize import _native

    engine = vocalize.Engine()
    engine.synthesize(args.text)
    start = time.perf_counter()
    seconds = engine.synthesize(args.text).duration
    print(f"{seconds:.2f} s of audio at {seconds / (time.perf_counter() - start):.2f}x real time (profiling on)")
    del engine
    _native.release_models()
    for path in sorted(folder.glob("*.json")):
        totals: collections.Counter[str] = collections.Counter()
        for event in json.loads(path.read_text() or "[]"):
            if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                totals[event["args"].get("op_name", "?")] += event["dur"]
        whole = sum(totals.values())
        if not whole:
            continue
        print(f"\n{path.name.split('_20')[0].removeprefix('session-')}: {whole / 2000:.0f} ms of kernels per run")
        for op, micros in totals.most_common(args.top):
            print(f"  {op:<24} {micros / whole:6.1%} {micros / 2000:8.1f} ms")


if __name__ == "__main__":
    main()
