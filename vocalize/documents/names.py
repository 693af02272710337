"""File names for chapters: ``01 Title.wav``, safe on every common file system."""

from __future__ import annotations

import re
import unicodedata

# Reserved on Windows or meaningful to shells and playlists; path separators above all.
_RESERVED = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]+')
# UTF-8 bytes of the title part: file systems allow 255 per name, with room for number and suffix.
MAX_TITLE_BYTES = 150


def chapter_filename(number: int, title: str, suffix: str, count: int = 99) -> str:
    """``"07 The Title.wav"``: the chapter number padded to the width of ``count`` (at least
    two digits), then the title without path separators, reserved or control characters,
    leading dots or trailing dots and spaces, cut to fit a file name. The number prefix also
    keeps names unique and never a reserved device name (CON, NUL, ...)."""
    width = max(2, len(str(count)))
    name = unicodedata.normalize("NFC", title)
    name = _RESERVED.sub(" ", name.replace(":", " -"))
    name = " ".join(name.split()).strip(" .")
    while len(name.encode()) > MAX_TITLE_BYTES:
        shorter = name.rsplit(" ", 1)[0] if " " in name else name[:-1]
        name = shorter.rstrip(" .,;-")
    stem = f"{number:0{width}d} {name}" if name else f"{number:0{width}d}"
    return f"{stem}.{suffix.lstrip('.')}"
