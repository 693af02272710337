"""Writing audio out without numpy: the WAV header, and files that appear whole or not at all.

:mod:`vocalize.audio` re-exports these; they live here so that the HTTP client
(:mod:`vocalize.client`) can write a WAV file without importing numpy.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

from .errors import OutputError

SAMPLE_RATE = 24_000


def wav_header(sample_rate: int = SAMPLE_RATE, frames: int | None = None) -> bytes:
    """A 44-byte header of a mono 16-bit PCM WAV file. With ``frames`` unknown (a stream to a
    pipe) the sizes say "as long as possible", which readers take as "until the end"."""
    data = 0xFFFFFFFF - 36 if frames is None else frames * 2
    return (
        b"RIFF" + struct.pack("<I", min(36 + data, 0xFFFFFFFF)) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data" + struct.pack("<I", data)
    )


class AtomicFile:
    """A file written under a temporary name beside ``path`` and renamed into place by
    :meth:`commit`; :meth:`discard` (or an exception in a ``with`` block) removes it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        folder = self.path.parent if str(self.path.parent) else Path(".")
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=folder)
        except OSError as e:
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        self.file: BinaryIO = os.fdopen(fd, "w+b")

    def commit(self) -> Path:
        try:
            self.file.close()
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        return self.path

    def discard(self) -> None:
        self.file.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is not None:
            self.discard()


def replace_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """The one atomic writer: ``data`` goes to a hidden temporary file beside ``path``
    (``.NAME.XXXX.part``), made readable by all (0644, as :class:`AtomicFile` does), then is
    renamed into place. Raises ``OSError``, leaving nothing behind."""
    target = Path(path).expanduser()
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """:func:`replace_atomically`, its failure an :class:`~vocalize.OutputError`."""
    try:
        return replace_atomically(path, data)
    except OSError as e:
        raise OutputError(f"cannot write {Path(path).expanduser()}: {e.strerror or e}") from None


def prepare_folder(folder: Path, probe: str, what: str) -> Path:
    """The folder a job of many files writes into (an audiobook, a batch), created if need be
    and known to be writable before any work: ``probe`` (a file name the job writes there)
    is opened and discarded. ``what`` names the job in the error for a file in the way."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; {what} is written into a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the folder {folder}: {e.strerror or e}") from None
    AtomicFile(folder / probe).discard()  # raises OutputError when the folder is read-only
    return folder

