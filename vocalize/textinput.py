"""Text from bytes, a file or standard input, refused when it is not text.

Bytes are decoded with the encoding asked for (UTF-8 by default; a byte order mark says
UTF-8, UTF-16 or UTF-32 and wins over the default). Input is refused with an
:class:`~vocalize.errors.InputError` saying "input does not look like text: <why>" when it
holds NUL characters, when more than a small share of its bytes are not valid in the
encoding, or when it is full of control characters: random bytes, an image, an archive or
a program would otherwise be read out as minutes of noise. A few stray invalid bytes in
real text are replaced (U+FFFD) and counted.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import InputError

__all__ = ["DecodedText", "decode_text", "read_text_file", "read_stdin", "NOT_TEXT"]

NOT_TEXT = "input does not look like text"
# Invalid bytes tolerated: a handful whatever the length, else this share of the input.
STRAY_BYTES = 3
STRAY_SHARE = 0.01
# Control characters other than tab, newlines and form feed tolerated, as a share.
CONTROL_SHARE = 0.01

_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Formats often given by mistake, named in the refusal.
_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (EPUB, DOCX, ...)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x7fELF", "a program (ELF)"),
    (b"RIFF", "a RIFF file (WAV, AVI, WebP)"),
    (b"OggS", "an Ogg file"),
    (b"fLaC", "a FLAC file"),
    (b"ID3", "an MP3 file"),
)

# C0 and C1 control characters but tab, the newlines and the form feed.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    replaced: int  # invalid bytes replaced by U+FFFD


_counter = threading.local()


def _count_and_replace(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    _counter.bad += error.end - error.start
    return "\ufffd", error.end


codecs.register_error("vocalize.count", _count_and_replace)


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r} (try utf-8, latin-1, cp1252, utf-16, shift_jis)") from None


def decode_text(data: bytes, encoding: str | None = None, name: str = "input") -> DecodedText:
    """``data`` as text, with newlines as ``\\n``; raises :class:`InputError` when it is not
    text. ``encoding=None`` is UTF-8 unless a byte order mark says otherwise; a leading
    byte order mark is never part of the text. ``name`` is what the error names."""
    if encoding is None:
        codec = next((marked for bom, marked in _BOMS if data.startswith(bom)), "utf-8")
    else:
        codec = _codec(encoding)
    _counter.bad = 0
    text = data.decode(codec, errors="vocalize.count").removeprefix("\ufeff")
    bad = _counter.bad
    where = "" if name == "input" else f"{name}: "
    if "\x00" in text:
        raise InputError(f"{NOT_TEXT}: {where}{_kind(data) or 'it holds NUL bytes'}{_utf16_hint(data, encoding)}")
    if bad > max(STRAY_BYTES, STRAY_SHARE * len(data)):
        share = f"{bad} of {len(data)} bytes are not valid {_label(codec)}"
        hint = "" if encoding else "; if it is text, give its --encoding"
        raise InputError(f"{NOT_TEXT}: {where}{_kind(data) or share}{hint}")
    controls = len(_CONTROLS.findall(text))
    if controls > max(STRAY_BYTES, CONTROL_SHARE * len(text)):
        raise InputError(f"{NOT_TEXT}: {where}{_kind(data) or f'{controls} of {len(text)} characters are control characters'}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return DecodedText(text, _label(codec).lower(), bad)


def _kind(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return f"it is {kind}"
    return None


def _label(codec: str) -> str:
    return codecs.lookup(codec).name.removesuffix("-sig").upper().replace("_", "-")


def _utf16_hint(data: bytes, encoding: str | None) -> str:
    """UTF-16 without a byte order mark decodes as UTF-8 full of NULs: say so."""
    if encoding is None and len(data) >= 4:
        odd, even = data[1::2], data[0::2]
        if odd.count(0) > 0.4 * len(odd) or even.count(0) > 0.4 * len(even):
            return " (UTF-16 text without a byte order mark? give --encoding utf-16-le or utf-16-be)"
    return ""


def read_text_file(path: str | os.PathLike[str], encoding: str | None = None) -> DecodedText:
    """The text of the file at ``path`` (see :func:`decode_text`)."""
    target = Path(path).expanduser()
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {target}") from None
    except IsADirectoryError:
        raise InputError(f"{target} is a folder, not a text file") from None
    except OSError as e:
        raise InputError(f"cannot read {target}: {e.strerror or e}") from None
    return decode_text(data, encoding, name=str(target))


def read_stdin(stream: BinaryIO | None = None, encoding: str | None = None) -> DecodedText:
    """Everything on standard input (or ``stream``) as text (see :func:`decode_text`)."""
    source = stream if stream is not None else sys.stdin.buffer
    return decode_text(source.read(), encoding)
