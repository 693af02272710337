"""Captions from word timings: SRT, WebVTT, or the raw word list as JSON.

Words are grouped into cues the way subtitle editors expect: at most
:data:`MAX_CHARS` characters and :data:`MAX_SECONDS` seconds a cue, a new cue after a
sentence or a pause, and a cue that must break early breaks after a clause's punctuation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, OutputError

if TYPE_CHECKING:
    from .timestamps import WordTime

__all__ = ["FORMATS", "MAX_CHARS", "MAX_SECONDS", "Cue", "cues", "format_of", "render", "check_writable", "write"]

# The caption format, from the file's extension.
FORMATS = {".srt": "srt", ".vtt": "vtt", ".json": "json"}
MAX_CHARS = 42
MAX_SECONDS = 7.0
# A silence this long between two words ends a cue.
PAUSE_BREAK = 0.8
_SENTENCE_END = tuple(".!?…")
_CLAUSE_END = tuple(",;:—")
_CLOSERS = "\"')]”’»"


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def format_of(path: str | os.PathLike[str]) -> str:
    """The caption format of ``path`` by its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"captions go to a .srt, .vtt or .json file, not {Path(path).name!r}")
    return FORMATS[suffix]


def _ends(word: str, marks: tuple[str, ...]) -> bool:
    return word.rstrip(_CLOSERS).endswith(marks)


def cues(words: list["WordTime"]) -> list[Cue]:
    """``words`` grouped into cues (see the module's description)."""
    groups: list[list["WordTime"]] = []
    current: list["WordTime"] = []

    def text(ws: list["WordTime"]) -> str:
        return " ".join(w.word for w in ws)

    for word in words:
        if current:
            previous = current[-1]
            too_long = len(text(current)) + 1 + len(word.word) > MAX_CHARS or word.end - current[0].start > MAX_SECONDS
            if _ends(previous.word, _SENTENCE_END) or word.start - previous.end >= PAUSE_BREAK:
                groups.append(current)
                current = []
            elif too_long:
                # Break after the last clause punctuation, unless that leaves a scrap of a
                # cue (under a third of the most characters) before it.
                cut = next(
                    (
                        i + 1
                        for i in range(len(current) - 1, -1, -1)
                        if _ends(current[i].word, _CLAUSE_END) and 3 * len(text(current[: i + 1])) >= MAX_CHARS
                    ),
                    len(current),
                )
                groups.append(current[:cut])
                current = current[cut:]
        current.append(word)
    if current:
        groups.append(current)
    out = []
    for group in groups:
        start, end = group[0].start, max(w.end for w in group)
        out.append(Cue(start, max(end, start + 0.001), text(group)))
    return out


def _clock(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def render(words: list["WordTime"], fmt: str) -> str:
    """The captions of ``words`` in ``fmt`` (``srt``, ``vtt`` or ``json``)."""
    if fmt == "json":
        rows = [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)} for w in words]
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    blocks = []
    for i, cue in enumerate(cues(words), 1):
        sep = "," if fmt == "srt" else "."
        timing = f"{_clock(cue.start, sep)} --> {_clock(cue.end, sep)}"
        blocks.append(f"{i}\n{timing}\n{cue.text}\n" if fmt == "srt" else f"{timing}\n{cue.text}\n")
    if fmt == "vtt":
        return "WEBVTT\n\n" + "\n".join(blocks)
    return "\n".join(blocks)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fails now, before any audio is made, when captions cannot be written at ``path``:
    a wrong extension, a folder, or a folder that does not exist or cannot be written."""
    format_of(path)
    target = Path(path).expanduser()
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError(f"cannot write captions to {target}: it is a folder")
    if not folder.is_dir():
        raise OutputError(f"cannot write captions to {target}: no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise OutputError(f"cannot write captions to {target}: permission denied")


def write(path: str | os.PathLike[str], words: list["WordTime"]) -> Path:
    """Writes the captions of ``words`` to ``path`` atomically, in the format of its extension."""
    from .output import write_atomic

    return write_atomic(path, render(words, format_of(path)).encode("utf-8"))
