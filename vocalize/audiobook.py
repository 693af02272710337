"""A document spoken into a folder: one audio file per chapter, a playlist and a manifest.

:func:`make_audiobook` writes ``01 Title.wav``, ``02 ...`` (see
:func:`~vocalize.documents.chapter_filename`), ``book.m3u`` and ``book.json``. Every file is
written under a temporary name and renamed, and the manifest is rewritten after each
chapter, so Ctrl-C (or any error) leaves the chapters finished so far whole, the manifest
saying so, and no partial file. Running the same job again keeps a chapter whose file
exists and whose hash (of its title, text and the synthesis settings) is unchanged, and
speaks the rest; ``force=True`` speaks everything again.

Each chapter is streamed into its file piece by piece (the engine's ``stream``), so memory
stays flat however long the chapter or the book.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .documents import Chapter, chapter_filename
from .encoders import FILE_SUFFIX, FORMATS, EncodedFile
from .errors import OutputError
from .output import SAMPLE_RATE, AtomicFile, prepare_folder, write_atomic

__all__ = ["Progress", "ChapterResult", "make_audiobook", "engine_settings", "chapter_hash"]

MANIFEST, PLAYLIST = "book.json", "book.m3u"
MANIFEST_KIND = "vocalize-audiobook/1"
# Characters of text per second of speech, until the job has measured its own.
CHARS_PER_SECOND = 14.0


@dataclass(frozen=True)
class Progress:
    chapter: Chapter
    done: int  # chapters finished (written, kept or skipped)
    total: int
    fraction: float  # of this run's work, 0 to 1
    eta: float | None  # estimated seconds left, once something was measured
    audio_seconds: float  # spoken so far in this chapter


@dataclass(frozen=True)
class ChapterResult:
    chapter: Chapter
    status: str  # "written", "kept" (unchanged since the last run) or "skipped"
    file: Path | None
    duration: float
    reason: str | None = None  # why it was skipped


def engine_settings(engine: Any) -> dict[str, Any]:
    """What changes an engine's audio, for the chapter hash: voice, speed, language, G2P."""
    return {key: getattr(engine, key) for key in ("voice", "speed", "lang", "g2p") if hasattr(engine, key)}


def chapter_hash(chapter: Chapter, settings: dict[str, Any], fmt: str) -> str:
    payload = json.dumps({"title": chapter.title, "text": chapter.text, "settings": settings, "format": fmt}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def make_audiobook(
    engine: Any,
    chapters: Iterable[Chapter],
    folder: str | os.PathLike[str],
    *,
    fmt: str = "wav",
    force: bool = False,
    progress: Callable[[Progress], None] | None = None,
    settings: dict[str, Any] | None = None,
    title: str | None = None,
    count: int | None = None,
) -> list[ChapterResult]:
    """Speaks ``chapters`` with ``engine`` (anything with ``stream(text)`` yielding audio
    pieces, or ``synthesize(text)`` returning audio) into ``folder``; returns what became
    of each chapter. ``count`` is the number of chapters in the whole document (it sets the
    digits of the file numbers; default: the highest chapter number given). ``settings``
    default to :func:`engine_settings`."""
    if fmt not in FORMATS:
        raise OutputError(f"unknown audio format {fmt!r}; choose from {', '.join(FORMATS)}")
    chapters = list(chapters)
    folder = prepare_folder(Path(folder).expanduser(), MANIFEST, "an audiobook")
    settings = engine_settings(engine) if settings is None else settings
    count = count or max((c.number for c in chapters), default=1)
    manifest = _read_manifest(folder)
    entries: dict[int, dict[str, Any]] = {e["number"]: e for e in manifest.get("chapters", []) if _valid_entry(e)}
    book = {"kind": MANIFEST_KIND, "title": title or folder.name, "format": fmt, "settings": settings}
    plans = []
    for chapter in chapters:
        digest = chapter_hash(chapter, settings, fmt)
        name = chapter_filename(chapter.number, chapter.title, FILE_SUFFIX[fmt].lstrip("."), count)
        old = entries.get(chapter.number)
        kept = (
            not force
            and chapter.skipped is None
            and old is not None
            and old.get("sha256") == digest
            and old.get("file") == name
            and _complete(folder / name)
        )
        plans.append((chapter, digest, name, old if kept else None))
    work = sum(len(c.text) for c, _, _, old in plans if old is None and c.skipped is None) or 1
    clock = _Clock(work)
    results: list[ChapterResult] = []
    for done, (chapter, digest, name, kept) in enumerate(plans):
        if kept is not None:
            results.append(ChapterResult(chapter, "kept", folder / name, float(kept.get("duration", 0.0))))
            continue
        if chapter.skipped is not None:
            _remove_stale(folder, entries.get(chapter.number), None)
            entries[chapter.number] = _entry(chapter, None, 0.0, digest)
            results.append(ChapterResult(chapter, "skipped", None, 0.0, chapter.skipped))
        else:
            def report(seconds: float, chapter: Chapter = chapter, done: int = done) -> None:
                if progress is not None:
                    fraction, eta = clock.estimate(len(chapter.text), seconds)
                    progress(Progress(chapter, done, len(plans), fraction, eta, seconds))

            duration = _speak(engine, chapter.text, folder / name, fmt, report)
            clock.finished(len(chapter.text), duration)
            previous = entries.get(chapter.number)
            entries[chapter.number] = _entry(chapter, name, duration, digest)
            _remove_stale(folder, previous, name)
            results.append(ChapterResult(chapter, "written", folder / name, duration))
        _write_index(folder, book, entries)
    if not plans or all(kept is not None for *_, kept in plans):
        _write_index(folder, book, entries)
    if progress is not None and plans:
        progress(Progress(plans[-1][0], len(plans), len(plans), 1.0, 0.0, 0.0))
    return results


class _Clock:
    """Fraction done and time left, from the characters spoken against those to speak."""

    def __init__(self, work: int) -> None:
        self.work, self.spoken_chars, self.spoken_seconds = work, 0, 0.0
        self.start = time.monotonic()

    def finished(self, chars: int, seconds: float) -> None:
        self.spoken_chars += chars
        self.spoken_seconds += seconds

    def estimate(self, chapter_chars: int, chapter_seconds: float) -> tuple[float, float | None]:
        rate = self.spoken_chars / self.spoken_seconds if self.spoken_seconds > 0 else CHARS_PER_SECOND
        expected = max(chapter_chars / rate, 1e-9)
        within = min(0.99, chapter_seconds / expected) * chapter_chars
        fraction = min(1.0, (self.spoken_chars + within) / self.work)
        elapsed = time.monotonic() - self.start
        eta = elapsed / fraction * (1 - fraction) if fraction > 0 and elapsed > 0 else None
        return fraction, eta


def _speak(engine: Any, text: str, path: Path, fmt: str, report: Callable[[float], None]) -> float:
    """Streams ``text``'s audio into ``path`` (atomically); returns its length in seconds."""
    target = AtomicFile(path)
    sink = None
    try:
        sink = EncodedFile(target.file, fmt)
        frames = 0
        report(0.0)
        pieces = engine.stream(text) if hasattr(engine, "stream") else iter([engine.synthesize(text)])
        try:
            for piece in pieces:
                sink.write(piece.samples)
                frames += len(piece.samples)
                report(frames / SAMPLE_RATE)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:  # stops the inference under way (Ctrl-C, a failed write)
                close()
        sink.close()
        target.commit()
    except BaseException:
        if sink is not None:
            sink.abort()
        target.discard()
        raise
    return frames / SAMPLE_RATE


def _complete(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 44
    except OSError:
        return False


def _entry(chapter: Chapter, name: str | None, duration: float, digest: str) -> dict[str, Any]:
    return {
        "number": chapter.number,
        "title": chapter.title,
        "file": name,
        "duration": round(duration, 3),
        "source": chapter.source,
        "words": chapter.words,
        "sha256": digest,
        "skipped": chapter.skipped,
    }


def _valid_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("number"), int)


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("kind") == MANIFEST_KIND else {}


def _remove_stale(folder: Path, previous: dict[str, Any] | None, name: str | None) -> None:
    """Removes the file an earlier run wrote for this chapter under another name (its title
    changed): only a plain name inside the folder, never a path from the manifest."""
    old = previous.get("file") if previous else None
    if isinstance(old, str) and old != name and Path(old).name == old and not old.startswith("."):
        with contextlib.suppress(OSError):
            (folder / old).unlink()


def _write_index(folder: Path, book: dict[str, Any], entries: dict[int, dict[str, Any]]) -> None:
    ordered = [entries[n] for n in sorted(entries)]
    manifest = {**book, "chapters": ordered}
    write_atomic(folder / MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    lines = ["#EXTM3U", f"#PLAYLIST:{book['title']}"]
    for entry in ordered:
        if entry.get("file") and (folder / entry["file"]).is_file():
            lines += [f"#EXTINF:{round(entry['duration'])},{entry['title']}", entry["file"]]
    write_atomic(folder / PLAYLIST, ("\n".join(lines) + "\n").encode())
