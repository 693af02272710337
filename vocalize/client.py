"""A small client of ``vocalize serve``, used by ``vocalize speak`` to skip loading the model.

Standard library only for WAV and PCM (no numpy, no native module), so trying a server
costs a few milliseconds; flac, mp3 and Ogg Opus are encoded here from the server's PCM by
:mod:`vocalize.encoders`, which loads numpy and soundfile. The server is ``VOCALIZE_SERVER`` (a URL; ``off`` turns this off), else
``http://127.0.0.1:8880``; ``VOCALIZE_API_KEY`` is sent as a bearer token when set.

The server is only a shortcut: whenever it is not there, refuses the request (busy, wrong
key, input it will not take) or breaks off before anything was written, :func:`speak`
raises :class:`Unavailable` and the caller synthesizes in-process instead, where any error
about the input is reported the usual way.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.parse
from typing import BinaryIO, Callable

from .errors import VocalizeError
from .output import SAMPLE_RATE, AtomicFile, wav_header

DEFAULT_URL = "http://127.0.0.1:8880"
# Connecting to a server on this machine takes well under a millisecond; nothing listening
# is refused at once. The timeout only bounds a host that does not answer at all.
CONNECT_TIMEOUT = 0.08
# Between two reads of the response: the server may queue the request (it gives up after 30 s).
READ_TIMEOUT = 60.0


class Unavailable(Exception):
    """No server could do this request, and nothing was written."""


def server_url() -> str | None:
    """The server to try, or None when ``VOCALIZE_SERVER`` turns it off."""
    value = os.environ.get("VOCALIZE_SERVER", "").strip()
    if value.lower() in ("off", "none", "no", "0"):
        return None
    return value or DEFAULT_URL


def usable_voice(voice: str | None) -> bool:
    """Whether the server takes ``voice`` (a name or a blend of names, never a path)."""
    from .assets.voice_store import VOICE_SPEC

    return voice is None or bool(VOICE_SPEC.fullmatch(voice.strip()))


def try_speak(
    text: str, output: str, fmt: str = "wav", voice: str | None = None, speed: float = 1.0, model: str = "kokoro"
) -> float | None:
    """:func:`speak` through the configured server, or None (nothing written) when there is
    no usable server. Shows progress on a terminal when writing a file."""
    url = server_url()
    if url is None or not usable_voice(voice):
        return None
    show = output != "-" and sys.stderr.isatty()

    def progress(seconds: float) -> None:
        sys.stderr.write(f"\r  {seconds:7.1f} s of audio")
        sys.stderr.flush()

    try:
        return speak(text, output, fmt, voice, speed, url, progress if show else None, model=model)
    except Unavailable:
        return None
    finally:
        if show:
            sys.stderr.write("\r" + " " * 30 + "\r")
            sys.stderr.flush()


def speak(
    text: str,
    output: str,
    fmt: str = "wav",
    voice: str | None = None,
    speed: float = 1.0,
    url: str | None = None,
    progress: Callable[[float], None] | None = None,
    model: str = "kokoro",
) -> float:
    """Has the server speak ``text`` into ``output`` (a path, or ``-`` for standard output) as
    ``fmt`` (see :data:`vocalize.encoders.FORMATS`), written as it arrives; a file appears only once complete. Returns the
    seconds of audio written."""
    url = url or server_url() or DEFAULT_URL
    if output == "-":
        response, conn = _request(url, text, voice, speed, model)
        try:
            return _copy(response, sys.stdout.buffer, fmt, progress, to_stdout=True)
        finally:
            conn.close()
    with AtomicFile(output) as target:  # fails here, before any request, if it cannot be written
        response, conn = _request(url, text, voice, speed, model)
        try:
            seconds = _copy(response, target.file, fmt, progress, to_stdout=False)
        finally:
            conn.close()
        target.commit()
    return seconds


def _request(url: str, text: str, voice: str | None, speed: float, model: str = "kokoro") -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unavailable(f"not an http(s) URL: {url!r}")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT)
    body: dict[str, object] = {"model": model, "input": text, "speed": speed, "response_format": "pcm"}
    if voice is not None:
        body["voice"] = voice
    headers = {"Content-Type": "application/json", "Accept": "audio/pcm"}
    key = os.environ.get("VOCALIZE_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(READ_TIMEOUT)
        conn.request("POST", parts.path.rstrip("/") + "/v1/audio/speech", json.dumps(body).encode(), headers)
        response = conn.getresponse()
    except (OSError, http.client.HTTPException) as e:
        conn.close()
        raise Unavailable(f"no server at {url}: {e}") from None
    if response.status != 200 or response.getheader("Content-Type", "").split(";")[0] != "audio/pcm":
        detail = response.read(2000).decode("utf-8", "replace")
        conn.close()
        raise Unavailable(f"server at {url} answered {response.status}: {detail}")
    return response, conn


def _copy(response: http.client.HTTPResponse, out: BinaryIO, fmt: str, progress: Callable[[float], None] | None, to_stdout: bool) -> float:
    """Writes the response's PCM to ``out`` (after a WAV header unless ``fmt`` is pcm)."""
    if fmt not in ("wav", "pcm"):
        return _encode(response, out, fmt, progress, to_stdout)
    wav = fmt != "pcm"
    written = 0
    header = wav_header(SAMPLE_RATE) if wav else b""
    try:
        while True:
            data = response.read1(65536)
            if not data:
                break
            if header:
                out.write(header)
                header = b""
            out.write(data)
            if to_stdout:
                out.flush()
            written += len(data)
            if progress:
                progress(written / 2 / SAMPLE_RATE)
    except (OSError, http.client.HTTPException) as e:
        if to_stdout and written:
            raise VocalizeError(f"the server stopped sending audio: {e}") from None
        raise Unavailable(f"the server stopped sending audio: {e}") from None
    if header:  # no audio at all: still a valid (empty) file
        out.write(header)
    frames = written // 2
    if wav and out.seekable():  # a file (or stdout redirected to one): the real sizes
        out.seek(0)
        out.write(wav_header(SAMPLE_RATE, frames))
    out.flush()
    return frames / SAMPLE_RATE


def _encode(response: http.client.HTTPResponse, out: BinaryIO, fmt: str, progress: Callable[[float], None] | None, to_stdout: bool) -> float:
    """Writes the response's PCM to ``out`` through the encoder of ``fmt`` (flac, mp3, opus),
    the one ``vocalize speak`` uses in-process; numpy and soundfile load only here."""
    import numpy as np

    from .encoders import EncodedFile

    sink: EncodedFile | None = None
    rest = b""
    frames = 0
    try:
        while True:
            data = response.read1(65536)
            if not data:
                break
            data = rest + data
            whole = len(data) // 2 * 2
            rest = data[whole:]
            if not whole:
                continue
            if sink is None:  # nothing is written before the first audio
                sink = EncodedFile(out, fmt)
            sink.write(np.frombuffer(data[:whole], dtype="<i2").astype(np.float32) / 32767.0)
            frames += whole // 2
            if progress:
                progress(frames / SAMPLE_RATE)
    except (OSError, http.client.HTTPException) as e:
        if sink is not None:
            sink.abort()
        if to_stdout and sink is not None:
            raise VocalizeError(f"the server stopped sending audio: {e}") from None
        raise Unavailable(f"the server stopped sending audio: {e}") from None
    if sink is None:  # no audio at all: still a valid (empty) file
        sink = EncodedFile(out, fmt)
    sink.close()
    return frames / SAMPLE_RATE
