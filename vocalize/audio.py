"""Audio returned by the engine: 16-bit PCM, files in every format, playback."""

from __future__ import annotations

import io
import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import AudioDeviceError, OutputError
# Re-exported: they live in .output so that the HTTP client can write files without numpy.
from .output import SAMPLE_RATE, AtomicFile, wav_header, write_atomic  # noqa: F401

if TYPE_CHECKING:
    from .timestamps import WordTime


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


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono float32 speech in [-1, 1]; ``words``: when each word is spoken, if asked for
    (``timestamps=True``), else None."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    words: "list[WordTime] | None" = None

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

    def save(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Writes the audio to ``path``, atomically, in ``format`` (see
        :data:`vocalize.encoders.FORMATS`), by default the one its suffix names (``.mp3``,
        ``.flac``, ``.ogg``/``.opus``, ``.pcm``/``.raw``), else WAV; returns the path."""
        from .encoders import FORMATS, EncodedFile, format_of

        fmt = format or format_of(path) or "wav"
        if fmt not in FORMATS:
            raise OutputError(f"unknown audio format {fmt!r}; choose from {', '.join(FORMATS)}")
        if fmt == "wav":
            return write_atomic(path, self.to_wav())
        with AtomicFile(path) as target:
            sink = EncodedFile(target.file, fmt)
            sink.write(self.samples)
            sink.close()
            return target.commit()

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
