"""Audio formats: streaming encoders (float32 pieces in, bytes out as the pieces arrive), the
one home of every format the server sends and the CLI, the audiobook and the batch write.

``wav`` and ``pcm`` are written here (16-bit little-endian, 24 kHz mono; the WAV header's
sizes say "until the end", as for a pipe). ``flac``, ``mp3`` and ``opus`` (Ogg Opus) go
through libsndfile, bundled with the ``soundfile`` wheel, writing into a :class:`_Sink` that
hands bytes on as soon as libsndfile has written them.

libsndfile expects a seekable file: when it closes one, FLAC goes back to the header to fill
in the length and checksum, and MP3 to fill a LAME tag frame it reserved at the start. Those
bytes were sent long before, so the sink drops such rewrites. What the client gets is still
valid: a FLAC stream whose STREAMINFO says "length unknown" (as ``flac`` writes to a pipe),
and a constant-bitrate MP3 from which the empty placeholder frame is removed, as LAME does
when it writes to a pipe. :class:`EncodedFile` writes the same bytes into a file and, when
the file can seek, fills in the lengths a stream leaves unknown (WAV sizes, FLAC's total).
"""

from __future__ import annotations

import os
from pathlib import PurePath
from typing import TYPE_CHECKING, BinaryIO, Callable

from .errors import OutputError
from .output import SAMPLE_RATE, wav_header

if TYPE_CHECKING:
    import numpy as np

# response_format -> Content-Type, in the order /openapi.json lists them.
MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
FORMATS = tuple(MEDIA_TYPES)
# Output file suffix -> format; the first suffix of each format is the one files get.
SUFFIXES = {".wav": "wav", ".flac": "flac", ".mp3": "mp3", ".opus": "opus", ".ogg": "opus", ".pcm": "pcm", ".raw": "pcm"}
FILE_SUFFIX = {fmt: next(s for s, f in SUFFIXES.items() if f == fmt) for fmt in FORMATS}
# MP3 at a constant 64 kbit/s: plenty for 24 kHz mono speech, and a constant rate lets a
# reader that sees no LAME tag (libsndfile's, for one) work out the length.
MP3_COMPRESSION = 0.6


class Encoder:
    """Turns float32 pieces into the bytes of one response."""

    media_type = "application/octet-stream"

    def start(self) -> bytes:
        return b""

    def encode(self, samples: "np.ndarray") -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        return b""

    def abort(self) -> None:
        """Releases what the encoder holds when the response is abandoned."""


class PcmEncoder(Encoder):
    media_type = MEDIA_TYPES["pcm"]

    def encode(self, samples: "np.ndarray") -> bytes:
        from .audio import to_pcm16

        return to_pcm16(samples)


class WavEncoder(PcmEncoder):
    media_type = MEDIA_TYPES["wav"]

    def start(self) -> bytes:
        return wav_header(SAMPLE_RATE)


class _Sink:
    """A write-only file for libsndfile that keeps only the bytes not yet handed on.

    Writes behind what was handed on are counted in ``dropped`` and otherwise ignored."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.base = 0  # file offset of buffer[0]: everything before it was handed on
        self.position = 0
        self.dropped = 0

    def write(self, data: bytes) -> int:
        data = bytes(data)
        size = len(data)
        start = self.position
        if start < self.base:
            cut = min(size, self.base - start)
            self.dropped += cut
            data, start = data[cut:], start + cut
        if data:
            offset = start - self.base
            if offset > len(self.buffer):
                self.buffer.extend(bytes(offset - len(self.buffer)))
            self.buffer[offset : offset + len(data)] = data
        self.position += size
        return size

    def seek(self, offset: int, whence: int = 0) -> int:
        end = self.base + len(self.buffer)
        self.position = {0: offset, 1: self.position + offset, 2: end + offset}[whence]
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        # Only called when libsndfile probes the file it opens for writing: empty.
        return b""

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.base += len(data)
        self.buffer.clear()
        return data


class SoundFileEncoder(Encoder):
    """``pcm16``: hand libsndfile 16-bit samples rounded as WAV and PCM are, so that lossless
    FLAC decodes to exactly the samples of the other formats."""

    def __init__(self, media_type: str, format: str, subtype: str, pcm16: bool = False, **options: object) -> None:
        try:
            import soundfile
        except ImportError as e:  # a core dependency; only a broken install lacks it
            raise OutputError(f"writing {format} needs soundfile (pip install soundfile): {e}") from None

        self.media_type = media_type
        self.pcm16 = pcm16
        self.sink = _Sink()
        self.file = soundfile.SoundFile(
            self.sink, "w", samplerate=SAMPLE_RATE, channels=1, format=format, subtype=subtype, **options  # type: ignore[arg-type]
        )

    def start(self) -> bytes:
        return self.sink.take()

    def encode(self, samples: "np.ndarray") -> bytes:
        if self.pcm16:
            import numpy as np

            from .audio import to_pcm16

            samples = np.frombuffer(to_pcm16(samples), dtype="<i2")
        self.file.write(samples)
        return self.sink.take()

    def finish(self) -> bytes:
        self.file.close()
        return self.sink.take()

    def abort(self) -> None:
        try:
            self.file.close()
        except Exception:  # already closed, or the encoder failed: nothing left to free
            pass


class Mp3Encoder(SoundFileEncoder):
    """libsndfile's MP3 with the reserved (all-zero) LAME tag frame left out."""

    def __init__(self) -> None:
        super().__init__(
            MEDIA_TYPES["mp3"], "MP3", "MPEG_LAYER_III", compression_level=MP3_COMPRESSION, bitrate_mode="CONSTANT"
        )
        self.head: bytearray | None = bytearray()  # bytes held until the first frame is known

    def _pass(self, data: bytes) -> bytes:
        if self.head is None:
            return data
        self.head += data
        if len(self.head) < 4:
            return b""
        size = mp3_frame_size(bytes(self.head[:4]))
        if size is None:
            out, self.head = bytes(self.head), None
            return out
        if len(self.head) < size:
            return b""
        first, rest = bytes(self.head[:size]), bytes(self.head[size:])
        self.head = None
        if not any(first[4:]):
            return rest
        return first + rest

    def start(self) -> bytes:
        return self._pass(super().start())

    def encode(self, samples: "np.ndarray") -> bytes:
        return self._pass(super().encode(samples))

    def finish(self) -> bytes:
        data = self._pass(super().finish())
        if self.head is not None:  # shorter than one frame
            data, self.head = bytes(self.head) + data, None
        return data


# Kilobits per second by bitrate index, MPEG-2/2.5 Layer III (what 24 kHz is encoded as).
_MPEG2_L3_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MPEG2_RATES = (22050, 24000, 16000)


def mp3_frame_size(header: bytes) -> int | None:
    """Bytes in the MPEG-2 Layer III frame starting with ``header``, or None if it is not one."""
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xFE) != 0xF2:
        return None
    bitrate, rate, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if not 0 < bitrate < 15 or rate == 3:
        return None
    return 72000 * _MPEG2_L3_KBPS[bitrate] // _MPEG2_RATES[rate] + padding


_ENCODERS: dict[str, Callable[[], Encoder]] = {
    "wav": WavEncoder,
    "pcm": PcmEncoder,
    "flac": lambda: SoundFileEncoder(MEDIA_TYPES["flac"], "FLAC", "PCM_16", pcm16=True),
    "mp3": Mp3Encoder,
    "opus": lambda: SoundFileEncoder(MEDIA_TYPES["opus"], "OGG", "OPUS"),
}


def encoder(fmt: str) -> Encoder:
    """A new encoder for ``fmt``, one of :data:`FORMATS`."""
    return _ENCODERS[fmt]()


def format_of(path: str | os.PathLike[str]) -> str | None:
    """The format a file name's suffix asks for (``.ogg`` and ``.opus`` are Ogg Opus,
    ``.pcm`` and ``.raw`` 16-bit PCM), or None when the suffix is none of :data:`SUFFIXES`."""
    return SUFFIXES.get(PurePath(path).suffix.lower())


class EncodedFile:
    """Audio in format ``fmt`` written to the binary file ``out`` as it arrives (each piece
    flushed, so a pipe's reader hears it at once). When ``out`` can seek, :meth:`close` fills
    in the lengths a stream leaves unknown: a WAV header's sizes and FLAC's total samples."""

    def __init__(self, out: BinaryIO, fmt: str = "wav") -> None:
        self.out, self.fmt, self.frames = out, fmt, 0
        self.encoder = encoder(fmt)
        self._put(self.encoder.start())

    def _put(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.out.flush()

    def write(self, samples: "np.ndarray") -> None:
        self._put(self.encoder.encode(samples))
        self.frames += len(samples)

    def close(self) -> None:
        self._put(self.encoder.finish())
        if not _seekable(self.out):
            return
        if self.fmt == "wav":
            self.out.seek(0)
            self.out.write(wav_header(SAMPLE_RATE, self.frames))
            self.out.seek(0, os.SEEK_END)
        elif self.fmt == "flac":
            set_flac_length(self.out, self.frames)
        self.out.flush()

    def abort(self) -> None:
        """Releases the encoder when the output is abandoned (an error, Ctrl-C)."""
        self.encoder.abort()


def _seekable(out: BinaryIO) -> bool:
    try:
        return out.seekable()
    except (OSError, ValueError):
        return False


def set_flac_length(out: BinaryIO, frames: int) -> None:
    """Writes ``frames`` into the total-samples field of the STREAMINFO block at the start of
    the FLAC file ``out`` (the 36 low bits of the 8 bytes at offset 18)."""
    out.flush()
    out.seek(0)
    head = out.read(26)
    if len(head) < 26 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:
        raise OutputError("the FLAC encoder wrote no STREAMINFO block")
    packed = int.from_bytes(head[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | (frames & ((1 << 36) - 1))
    out.seek(18)
    out.write(packed.to_bytes(8, "big"))
    out.seek(0, os.SEEK_END)
