"""What ``vocalize speak FILE`` does with a file: its chapters listed, picked, spoken into a
folder (an audiobook) or joined into one text. Only click is imported up front."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

# Between chapters joined into one file.
CHAPTER_PAUSE = "[pause:2s]"


def is_folder(output: str) -> bool:
    """``-o book/`` or an existing folder: one file per chapter."""
    return output.endswith(("/", os.sep)) or os.path.isdir(output)


def chapters_of(path: str, encoding: str | None, spec: str | None) -> tuple[list, int]:
    """The chapters of the document at ``path`` (those ``--chapters`` picks) and how many it has."""
    from ..documents import parse_chapters, read_document
    from ..errors import InputError

    chapters = read_document(path, encoding)
    if spec is None:
        return chapters, len(chapters)
    try:
        picked = set(parse_chapters(spec, len(chapters)))
    except InputError as e:
        raise click.BadParameter(str(e).removeprefix("--chapters: "), param_hint="--chapters") from None
    return [c for c in chapters if c.number in picked], len(chapters)


def listing(chapters: list) -> str:
    """One line per chapter: number, title, words, where from, why skipped."""
    width = len(str(max((c.number for c in chapters), default=1)))
    lines = []
    for c in chapters:
        note = f"  (skipped: {c.skipped})" if c.skipped else ""
        lines.append(f"{c.number:>{width}}  {c.title}  [{c.words:,} words, {c.source}]{note}")
    return "\n".join(lines)


def joined(chapters: list) -> str:
    """The chapters' text as one, with a pause between chapters."""
    from ..errors import InputError

    texts = [c.text for c in chapters if not c.skipped]
    if not texts:
        raise InputError("the document has no text to speak (every chapter picked was skipped)")
    return f"\n\n{CHAPTER_PAUSE}\n\n".join(texts)


def speak_book(engine: Any, chapters: list, count: int, folder: str, fmt: str, force: bool, settings: dict, title: str) -> None:
    """Speaks ``chapters`` into ``folder`` with a progress line on a terminal, then prints a
    summary on standard error."""
    from ..audiobook import make_audiobook

    progress = _ProgressLine() if sys.stderr.isatty() else None
    try:
        results = make_audiobook(
            engine, chapters, folder, fmt=fmt, force=force, progress=progress, settings=settings, title=title, count=count
        )
    finally:
        if progress is not None:
            progress.clear()
    click.echo(summary(results, folder), err=True)


def summary(results: list, folder: str) -> str:
    counts = {status: sum(r.status == status for r in results) for status in ("written", "kept", "skipped")}
    seconds = sum(r.duration for r in results)
    parts = [f"{counts['written']} written"]
    if counts["kept"]:
        parts.append(f"{counts['kept']} unchanged and kept")
    lines = [f"{len(results)} chapters into {folder}: {', '.join(parts)}; {_clock(seconds)} of audio"]
    lines += [f"  skipped {r.chapter.number} {r.chapter.title}: {r.reason}" for r in results if r.status == "skipped"]
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class _ProgressLine:
    """``[ 42%] 3/10 The Pool of Tears, 4:12 left`` on one terminal line."""

    def __init__(self) -> None:
        self.width = 0

    def __call__(self, p: Any) -> None:
        left = f", {_clock(p.eta)} left" if p.eta is not None and p.fraction < 1 else ""
        title = p.chapter.title if len(p.chapter.title) <= 40 else p.chapter.title[:39] + "…"
        line = f"  [{p.fraction * 100:3.0f}%] {min(p.done + 1, p.total)}/{p.total} {title}{left}"
        click.echo("\r" + line.ljust(self.width), err=True, nl=False)
        self.width = len(line)

    def clear(self) -> None:
        click.echo("\r" + " " * self.width + "\r", err=True, nl=False)


def book_title(path: str) -> str:
    return Path(path).stem
