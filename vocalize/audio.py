"""Audio returned by the engine: WAV encoding and playback."""

from __future__ import annotations

import io
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

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
    hint = "write a file instead with -o out.wav"
    try:
        import sounddevice
    except ImportError:
        raise AudioDeviceError(f"playback needs the sounddevice package (pip install 'vocalize[play]'); or {hint}") from None
    except OSError as e:  # PortAudio library missing
        raise AudioDeviceError(f"cannot play audio: {e}; {hint}") from None
    try:
        sounddevice.play(samples, sample_rate)
        sounddevice.wait()
    except KeyboardInterrupt:
        sounddevice.stop()
        raise
    except Exception as e:  # sounddevice.PortAudioError and device errors
        raise AudioDeviceError(f"cannot play audio: {e}; {hint}") from None
