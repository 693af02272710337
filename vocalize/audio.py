"""Audio returned by the engine: WAV encoding and playback."""

from __future__ import annotations

import io
import os
import struct
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import AudioDeviceError, OutputError

SAMPLE_RATE = 24_000


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as little-endian signed 16-bit PCM (clipped, rounded)."""
    scaled = np.clip(samples, -1.0, 1.0) * 32767.0
    return np.round(scaled).astype("<i2").tobytes()


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(to_pcm16(samples))
    return buf.getvalue()


def wav_header(sample_rate: int = SAMPLE_RATE, frames: int | None = None) -> bytes:
    """A 44-byte header of a mono 16-bit PCM WAV file. With ``frames`` unknown (a stream to a
    pipe) the sizes say "as long as possible", which readers take as "until the end"."""
    data = 0xFFFFFFFF - 36 if frames is None else frames * 2
    return (
        b"RIFF" + struct.pack("<I", min(36 + data, 0xFFFFFFFF)) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data" + struct.pack("<I", data)
    )


class WavStream:
    """Writes 16-bit WAV (or raw PCM) to a binary file as audio arrives; on a seekable file
    the header's sizes are set right at the end."""

    def __init__(self, out: BinaryIO, sample_rate: int = SAMPLE_RATE, raw: bool = False) -> None:
        self.out, self.sample_rate, self.raw = out, sample_rate, raw
        self.frames = 0
        if not raw:
            out.write(wav_header(sample_rate))

    def write(self, samples: np.ndarray) -> None:
        self.out.write(to_pcm16(samples))
        self.frames += len(samples)
        self.out.flush()

    def close(self) -> None:
        if not self.raw and self.out.seekable():
            self.out.seek(0)
            self.out.write(wav_header(self.sample_rate, self.frames))
        self.out.flush()


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


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Writes ``data`` to a temporary file beside ``path`` and renames it into place, so a
    failure never leaves a partial file."""
    target = Path(path).expanduser()
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as e:
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as e:
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono float32 speech in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return f"Audio({self.duration:.2f} s at {self.sample_rate} Hz)"

    def to_wav(self) -> bytes:
        """The audio as a 16-bit PCM WAV file."""
        return wav_bytes(self.samples, self.sample_rate)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes a 16-bit mono WAV file, atomically; returns its path."""
        return write_atomic(path, self.to_wav())

    def play(self) -> None:
        """Plays through the default output device and waits until done."""
        play(self.samples, self.sample_rate)


def play(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Plays ``samples`` through the default output device and waits until done."""
    player = open_player(sample_rate)
    try:
        player.write(samples)
        player.finish()
    except BaseException:
        player.abort()
        raise


class Player:
    """Streaming playback: :meth:`write` queues audio (blocking while the device buffer is
    full), so playback starts with the first piece and keeps going as pieces arrive."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def write(self, samples: np.ndarray) -> None:
        try:
            self._stream.write(np.ascontiguousarray(samples, dtype=np.float32).reshape(-1, 1))  # type: ignore[attr-defined]
        except Exception as e:  # device errors while playing
            raise AudioDeviceError(f"cannot play audio: {e}; {HINT}") from None

    def finish(self) -> None:
        """Waits until everything written has been heard."""
        self._stream.stop()  # type: ignore[attr-defined]
        self._stream.close()  # type: ignore[attr-defined]

    def abort(self) -> None:
        """Stops at once (Ctrl-C)."""
        try:
            self._stream.abort()  # type: ignore[attr-defined]
            self._stream.close()  # type: ignore[attr-defined]
        except Exception:
            pass


HINT = "write a file instead with -o out.wav"


def open_player(sample_rate: int = SAMPLE_RATE) -> Player:
    try:
        import sounddevice
    except ImportError:
        raise AudioDeviceError(f"playback needs the sounddevice package (pip install 'vocalize[play]'); or {HINT}") from None
    except OSError as e:  # PortAudio library missing
        raise AudioDeviceError(f"cannot play audio: {e}; {HINT}") from None
    try:
        stream = sounddevice.OutputStream(samplerate=sample_rate, channels=1, dtype="float32", latency="high")
        stream.start()
    except Exception as e:  # sounddevice.PortAudioError: no device
        raise AudioDeviceError(f"cannot play audio: {e}; {HINT}") from None
    return Player(stream)
