"""`vocalize batch` at scale: one process, two worker processes and local Ray, compared in
the same run on the same rows, and a run killed halfway then resumed.

Manifests: short sentences (``benches/texts/plain.txt``, ``realworld.txt``, then the
sentences of ``openings.txt``) and paragraphs (two long sentences of ``long.txt`` each).
Every configuration runs ``vocalize batch`` as a new process (start-up included) into a
fresh folder; peak RSS is sampled from /proc for each process of its tree (workers, Ray's
actors). Start-up is the wall time of a one-row batch. The configurations alternate over
``--runs``, and the medians are printed as ratios against ``--jobs 1``.

    python benches/batch.py [--sentences 200] [--paragraphs 20] [--runs 1] [--configs jobs1,jobs2,ray] [--resume jobs2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ROOT / "benches" / "texts"
CONFIGS = {
    "jobs1": ["--jobs", "1"],
    "jobs2": ["--jobs", "2", "--threads", "1"],
    "ray": ["--ray", "--threads", "1"],
}


def sentences(n: int) -> list[str]:
    lines = [line.strip() for name in ("plain.txt", "realworld.txt") for line in (TEXTS / name).read_text().splitlines()]
    for line in (TEXTS / "openings.txt").read_text().splitlines():
        lines += re.split(r"(?<=[.!?])\s+", line.strip())
    lines = [line for line in lines if line]
    return (lines * (n // len(lines) + 1))[:n]


def paragraphs(n: int) -> list[str]:
    lines = [line.strip() for line in (TEXTS / "long.txt").read_text().splitlines() if line.strip()]
    pairs = [" ".join(lines[i : i + 2]) for i in range(0, len(lines) - 1, 2)]
    return (pairs * (n // len(pairs) + 1))[:n]


def write_manifest(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"row{i:04d}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += [p for p, parent in parents.items() if parent == pid]
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


class Sampler:
    """Peak RSS of each process in a tree, sampled every 0.2 s."""

    def __init__(self, root: int) -> None:
        self.root, self.peaks, self.names = root, {}, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            for pid in _tree(self.root):
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), _rss_mb(pid))

    def close(self) -> dict[int, float]:
        self.stop.set()
        self.thread.join()
        return self.peaks


def run_batch(manifest: Path, out: Path, config: str, kill_after: int | None = None) -> dict:
    cmd = [sys.executable, "-m", "vocalize.cli", "batch", str(manifest), "-o", str(out), *CONFIGS[config]]
    env = {**os.environ, "VOCALIZE_SERVER": "off"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    sampler = Sampler(proc.pid)
    killed = False
    if kill_after is not None:
        index = out / "manifest.jsonl"
        while proc.poll() is None:
            if index.exists() and len(index.read_text().splitlines()) >= kill_after:
                for pid in _tree(proc.pid):  # the batch and every process it started (Ray's too)
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                killed = True
                break
            time.sleep(0.05)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    peaks = sampler.close()
    if not killed and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    summary = next((line for line in err.splitlines() if " rows: " in line), "")
    audio = sum(e.get("duration", 0.0) for e in map(json.loads, (out / "manifest.jsonl").read_text().splitlines()))
    workers = sorted((mb for pid, mb in peaks.items() if mb > 250), reverse=True)
    return {"wall": wall, "audio": audio, "summary": summary, "workers_mb": workers, "killed": killed}


def resume_check(manifest: Path, folder: Path, config: str, total: int) -> str:
    out = folder / f"resume-{config}"
    first = run_batch(manifest, out, config, kill_after=total // 2)
    done = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines() if line.strip()]
    stamps = {e["file"]: (out / e["file"]).stat().st_mtime_ns for e in done if "file" in e}
    second = run_batch(manifest, out, config)
    spoken_again = [f for f, stamp in stamps.items() if (out / f).stat().st_mtime_ns != stamp]
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    return (
        f"killed after {len(done)} of {total} rows; the second run: {second['summary'].strip()}; "
        f"rows spoken twice: {len(spoken_again)}; manifest rows {len(entries)}, all files present: "
        f"{all((out / e['file']).is_file() for e in entries if 'file' in e)}"
        + ("" if first["killed"] else " (the first run ended before the kill)")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--paragraphs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--configs", default="jobs1,jobs2,ray")
    parser.add_argument("--resume", default="jobs2", help="configurations killed halfway and resumed ('' for none)")
    args = parser.parse_args()
    configs = args.configs.split(",")
    folder = Path(tempfile.mkdtemp(prefix="vocalize-batch-bench-"))
    try:
        sets = {
            f"{args.sentences} sentences": write_manifest(folder / "sentences.jsonl", sentences(args.sentences)),
            f"{args.paragraphs} paragraphs": write_manifest(folder / "paragraphs.jsonl", paragraphs(args.paragraphs)),
        }
        one = write_manifest(folder / "one.jsonl", ["Hello."])
        print(f"CPU: {os.cpu_count()} cores; each run a new `vocalize batch` process, medians of {args.runs}")
        startup = {c: [] for c in configs}
        for i in range(args.runs):
            for c in configs if i % 2 == 0 else configs[::-1]:
                startup[c].append(run_batch(one, folder / f"one-{c}-{i}", c)["wall"])
        base = statistics.median(startup[configs[0]])
        for c in configs:
            s = statistics.median(startup[c])
            print(f"  start-up (one short row) {c:6s} {s:6.2f} s  ({s / base:.2f}x {configs[0]}, {s - base:+.2f} s)")
        for label, manifest in sets.items():
            if label.startswith("0 "):  # --paragraphs 0 / --sentences 0
                continue
            results: dict[str, list[dict]] = {c: [] for c in configs}
            for i in range(args.runs):
                for c in configs if i % 2 == 0 else configs[::-1]:
                    results[c].append(run_batch(manifest, folder / f"{label[:3]}-{c}-{i}", c))
            print(f"{label}:")
            base_wall = statistics.median(r["wall"] for r in results[configs[0]])
            for c in configs:
                wall = statistics.median(r["wall"] for r in results[c])
                audio = results[c][0]["audio"]
                workers = results[c][0]["workers_mb"]
                print(
                    f"  {c:6s} {wall:7.1f} s wall for {audio:7.1f} s of audio: {audio / wall:5.2f} audio s per s "
                    f"({base_wall / wall:.2f}x {configs[0]}'s speed); peak RSS of its processes over 250 MB: "
                    f"{', '.join(f'{mb:.0f}' for mb in workers)} MB"
                )
        for c in args.resume.split(",") if args.resume else []:
            print(f"resume ({c}, the sentences): {resume_check(sets[f'{args.sentences} sentences'], folder, c, args.sentences)}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
