"""The public synthesis API: :class:`Engine` turns text into :class:`~vocalize.audio.Audio`.

Every Engine in a process shares one native engine: the ONNX Runtime environment and each
model are loaded once, whatever the number of Engine objects.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator

from . import assets, hub, split, timing, voice_store
from .errors import InputError, ModelError

if TYPE_CHECKING:
    import numpy as np

    from .audio import Audio
    from .text import Chunk, Frontend

MIN_SPEED, MAX_SPEED = 0.5, 2.0

log = logging.getLogger("vocalize")

_frontends: dict[tuple[str, str, str], "Frontend"] = {}
_frontends_lock = threading.Lock()


def default_threads() -> int:
    """Intra-op threads per inference: ``VOCALIZE_THREADS``, else every core this process
    may use, at most 4 (more did not help the 82M model in measurements)."""
    value = os.environ.get("VOCALIZE_THREADS")
    if value:
        try:
            threads = int(value)
        except ValueError:
            raise InputError(f"VOCALIZE_THREADS must be a whole number, got {value!r}") from None
        if threads < 1:
            raise InputError(f"VOCALIZE_THREADS must be at least 1, got {threads}")
        return threads
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


@functools.cache
def _stop_streams_at_exit() -> None:
    """Registers (once) the stop of every native stream at interpreter exit: a stream left
    open (a generator never closed) would otherwise still run an inference while ONNX
    Runtime is torn down, which prints the runtime's error on stderr."""
    import atexit

    from . import _native

    atexit.register(_native.stop_streams)


def voices(voices: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the voices in ``voices`` (a file), or of every voice usable now: the user
    voice folder's, the embedded ones and those downloaded (see :mod:`vocalize.voice_store`)."""
    return sorted(assets.load_voices(voices)) if voices is not None else voice_store.names()


def _frontend(lang: str, g2p: str = "hibari", alphabet: str = "misaki") -> "Frontend":
    with _frontends_lock:
        frontend = _frontends.get((lang, g2p, alphabet))
        if frontend is None:
            from .text import Frontend

            frontend = _frontends[(lang, g2p, alphabet)] = Frontend(lang, g2p=g2p, alphabet=alphabet)
        return frontend


PROVIDERS = ("cpu", "cuda", "tensorrt", "rocm", "coreml", "openvino", "xnnpack")


def _check_provider(provider: str) -> str:
    name = str(provider).lower().removesuffix("executionprovider")
    if name not in PROVIDERS:
        raise InputError(f"unknown execution provider {provider!r}; choose from {', '.join(PROVIDERS)}")
    return name


def _available_or_cpu(provider: str) -> str:
    """``provider`` when the loaded ONNX Runtime has it, else ``cpu`` with a warning."""
    from . import _native

    full = dict(_native.known_providers())[provider]
    available = _native.available_providers()
    if full in available:
        return provider
    import logging

    logging.getLogger("vocalize").warning(
        "vocalize: this ONNX Runtime has no %s (it has %s); using the CPU. "
        "Install the onnxruntime build for that device (e.g. onnxruntime-gpu) to use it.",
        full,
        ", ".join(available),
    )
    return "cpu"


def _check_speed(speed: float) -> float:
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise InputError(f"speed must be a number, got {speed!r}") from None
    if not MIN_SPEED <= value <= MAX_SPEED:
        raise InputError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}")
    return value


class Engine:
    """Text-to-speech with one voice and speed.

    >>> engine = Engine(voice="jm_kumo", speed=1.0)
    >>> audio = engine.synthesize("Hello, world!")
    >>> audio.duration, audio.sample_rate
    """

    def __init__(
        self,
        voice: str | None = None,
        speed: float = 1.0,
        model: str | os.PathLike[str] | None = None,
        voices: str | os.PathLike[str] | None = None,
        lang: str = "en-us",
        threads: int | None = None,
        g2p: str = "hibari",
        provider: str | None = None,
        preload: bool = False,
        first_window: bool | None = None,
        voice_lang: str | None = None,
    ) -> None:
        """``preload=True`` starts loading the model on a thread at once (it is otherwise
        loaded by the first request), so it overlaps the rest of the set-up; commands that
        will speak right away use it.

        ``voice_lang`` is the language of the voices used (``a``/``en-us``, ``b``/``en-gb``,
        ``j``/``ja``, ...) when their names do not tell it (a voice file): English phonemes
        are written in the alphabet that voice family says most clearly (see
        :mod:`vocalize.text.render`). By default the language comes from the voice's name
        (``jm_kumo``: Japanese), a blend's from its heaviest part, a voice file's from a
        ``.json`` beside it (``{"lang": "a"}``); unknown means English.

        ``first_window=True`` (or ``VOCALIZE_FIRST_WINDOW=1``) starts text of more than one
        chunk with a short decoded window of its first chunk: the first audio comes about
        twice as soon, but the first word or two may sound less clear (a speech recognizer
        misheard 2 of 20 openings that it heard right without), so it is off by default."""
        if first_window is None:
            first_window = os.environ.get("VOCALIZE_FIRST_WINDOW", "") not in ("", "0")
        self.first_window = bool(first_window)
        self.speed = _check_speed(speed)
        self.g2p = g2p
        self.threads = default_threads() if threads is None else int(threads)
        # One session with every thread: the lowest latency, and two single-thread sessions
        # gave only 3 % more throughput on a paragraph here at twice the memory.
        self.sessions = 1
        if self.threads < 1:
            raise InputError(f"threads must be at least 1, got {threads}")
        # A path, or a downloaded variant: "fp32", "fp16", "int8" (None: the embedded model).
        self._model_path = hub.model_file(model) if model is not None else None
        if self._model_path is not None and not self._model_path.is_file():
            raise ModelError(f"model file not found: {self._model_path}")
        self._voices_path = voices
        self.provider = _check_provider(provider or os.environ.get("VOCALIZE_PROVIDER") or "cpu")
        self._preloaded = self._model_in_background() if preload else None
        self.lang = _frontend(lang, g2p).lang
        self.voice_lang = voice_store.language_letter(voice_lang) if voice_lang is not None else None
        self.voice = self._check_voice(voice or assets.DEFAULT_VOICE)

    @property
    def voices(self) -> list[str]:
        """Voice names this engine can speak with (blends and voice files work too)."""
        return voice_store.names(self._voices_path)

    def _check_voice(self, voice: str) -> str:
        """Checks a voice spec (a name, a voice file or a blend) resolves; returns it."""
        voice_store.resolve(voice, self._voices_path)
        return voice

    def _model(self):
        """The native model, loaded on first use and shared by every Engine."""
        with timing.span("load model", native=True):
            return self._load_model()

    def _load_model(self):
        from . import _native

        library = assets.ort_library()
        _native.init(str(library))
        _stop_streams_at_exit()
        if self.provider != "cpu":
            self.provider = _available_or_cpu(self.provider)
        path = self._model_path or assets.default_model()
        optimized = None if os.environ.get("VOCALIZE_NO_OPTIMIZED_CACHE") else assets.optimized_model_path(path, library, self.provider)
        load = functools.partial(
            _native.load_model,
            str(path),
            self.threads,
            self.sessions,
            provider=self.provider,
            optimized=str(optimized) if optimized else None,
        )
        if split.disabled():
            return load()
        for attempt in range(2):
            parts = split.split_model(path)
            if parts is None:
                break
            try:
                if optimized:
                    # The parts' optimized graphs are named after the split too, so a split
                    # of a newer format never loads the graphs optimized from an older one.
                    version = parts[0].name.split(".encoder")[0].rsplit("-", 1)[-1]
                    cached = optimized.with_name(f"{optimized.stem}-{version}{optimized.suffix}")
                    return load(split=(str(parts[0]), str(parts[1])), optimized=str(cached))
                return load(split=(str(parts[0]), str(parts[1])))
            except ModelError as e:
                # A damaged split (a disk error, another file under its name): build it
                # again once, else run the model whole.
                log.warning("the split of %s cannot be loaded (%s); %s", path.name, e, "rebuilding it" if attempt == 0 else "using the model whole")
                split.discard(path)
        return load()

    def _model_in_background(self) -> "Callable[[], Any]":
        """Starts loading the model on another thread (the native load releases the GIL, so
        it overlaps the text frontend); returns a function that waits for it."""
        preloaded = getattr(self, "_preloaded", None)
        if preloaded is not None:
            self._preloaded = None
            return preloaded
        result: list[Any] = []

        def load() -> None:
            try:
                result.append((self._load_model(), None))
            except BaseException as e:  # re-raised on the caller's thread
                result.append((None, e))

        thread = threading.Thread(target=load, name="vocalize-load-model", daemon=True)
        thread.start()

        def wait() -> Any:
            with timing.span("load model", native=True):
                thread.join()
            model, error = result[0]
            if error is not None:
                raise error
            return model

        return wait

    def warm_up(self) -> None:
        """Loads the model and the text frontend now instead of on the first request, and
        runs one short stream through both (ONNX Runtime's first runs set up kernels and
        buffers, which would otherwise slow the first request's first audio)."""
        self._frontend_for(self.voice).chunks("warm up")
        self._model()
        for _ in self.stream("Warm up, then speak."):
            pass

    def chunks(self, text: str, *, voice: str | None = None) -> list["Chunk"]:
        """The text as the model-sized pieces :meth:`synthesize` and :meth:`stream` speak it
        in (with ``voice``, default the engine's: its language decides how English phonemes
        are written)."""
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        if not text.strip():
            raise InputError("text is empty")
        frontend = self._frontend_for(voice or self.voice)
        first, tail = self._plan(text, False, frontend)
        return first + self._tail_chunks(tail, frontend) if tail else first

    def _frontend_for(self, voice: str) -> "Frontend":
        """The frontend for one voice spec: English phonemes in that voice's alphabet."""
        from .text.render import alphabet_for

        language = self.voice_lang or voice_store.voice_language(voice, self._voices_path)
        return _frontend(self.lang, self.g2p, alphabet_for(language))

    def synthesize(
        self,
        text: str | None = None,
        *,
        phonemes: str | None = None,
        voice: str | None = None,
        speed: float | None = None,
    ) -> "Audio":
        """Speaks ``text`` (or raw ``phonemes`` in Kokoro's alphabet) and returns the whole
        audio. Long input is split at sentence and clause boundaries under the model's limit
        and joined; nothing is dropped.

        Text may hold pause markup (``[pause:0.5s]``, ``<break time="500ms"/>``) and inline
        pronunciations (``[Kokoro](/kˈOkəɹO/)``)."""
        from .audio import Audio

        style, rate, content, frontend = self._request(text, phonemes, voice, speed)
        model = self._model_in_background()
        chunks, tail = self._plan(content, phonemes is not None, frontend)
        # Cut into windows exactly as stream() would, so both give the same audio.
        windowed = self.first_window and (len(chunks) > 1 or bool(tail))
        if tail:
            chunks += self._tail_chunks(tail, frontend)
        model = model()
        with timing.span("native synthesize", f"chunks={len(chunks)}", native=True):
            samples = model.synthesize(_requests(chunks, style, rate), windowed=windowed)
        return Audio(samples)

    def stream(
        self,
        text: str | None = None,
        *,
        phonemes: str | None = None,
        voice: str | None = None,
        speed: float | None = None,
    ) -> Iterator["Audio"]:
        """Speaks ``text`` chunk by chunk, yielding each piece of audio as soon as it exists.

        The first chunk is kept short so audio starts early; the rest of the text goes
        through the frontend on another thread while the next chunks are synthesized. The
        pieces joined are the audio :meth:`synthesize` returns. Leaving the loop early (or
        closing the generator) cancels the work not yet started."""
        from .audio import Audio

        style, rate, content, frontend = self._request(text, phonemes, voice, speed)
        model = self._model_in_background()
        first, tail = self._plan(content, phonemes is not None, frontend)
        # With first_window, text of more than one chunk starts with a short window of the
        # first (see vocalize-core's synth.rs); synthesize() cuts the same way.
        windowed = self.first_window and (len(first) > 1 or bool(tail))
        stream = model().stream(_requests(first, style, rate), more=bool(tail), windowed=windowed)
        failure: list[BaseException] = []
        feeder = None
        if tail:
            feeder = threading.Thread(
                target=self._feed, args=(stream, tail, style, rate, frontend, failure), name="vocalize-frontend", daemon=True
            )
        try:
            for samples in stream:
                # The rest of the text goes through the frontend once the first audio exists:
                # until then the first chunk's inference has every core (the chunks queued
                # from the head keep the model busy meanwhile).
                if feeder is not None and not feeder.is_alive() and feeder.ident is None:
                    feeder.start()
                yield Audio(samples)
        finally:
            stream.close()
            if feeder is not None and feeder.ident is None:
                stream.finish()
        if failure:
            raise failure[0]

    async def astream(
        self,
        text: str | None = None,
        *,
        phonemes: str | None = None,
        voice: str | None = None,
        speed: float | None = None,
    ) -> AsyncIterator["Audio"]:
        """:meth:`stream` for asyncio: the waiting happens on a worker thread, so the event
        loop stays free."""
        import asyncio
        import concurrent.futures

        chunks = self.stream(text, phonemes=phonemes, voice=voice, speed=speed)
        done = object()
        worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="vocalize-astream")
        waiting: concurrent.futures.Future[Any] | None = None
        try:
            while True:
                waiting = worker.submit(next, chunks, done)
                audio = await asyncio.wrap_future(waiting)
                waiting = None
                if audio is done:
                    return
                yield audio  # type: ignore[misc]
        finally:
            # Cancelled while the worker is inside next(): the generator can only be closed
            # once that call returns (closing it sooner raises "generator already executing").
            if waiting is not None and not waiting.done():
                waiting.add_done_callback(lambda _: chunks.close())
            else:
                chunks.close()
            worker.shutdown(wait=False)

    def _plan(self, content: str, phonemes: bool, frontend: "Frontend") -> tuple[list["Chunk"], str]:
        """The first chunks of a request (the first one short) and the text left for later.
        :meth:`synthesize` and :meth:`stream` cut the same way, so they give the same audio."""
        head, tail, gap = (content, "", 0.0) if phonemes else split_head(content)
        first = self._chunks(head, phonemes, frontend, first_chunk_max=None if phonemes else FIRST_CHUNK_TOKENS)
        if tail:
            first[-1] = dataclasses.replace(first[-1], pause_after=max(first[-1].pause_after, gap))
        return first, tail

    def _tail_chunks(self, tail: str, frontend: "Frontend") -> list["Chunk"]:
        try:
            return self._chunks(tail, False, frontend)
        except InputError as e:
            if "nothing to speak" in str(e):
                return []
            raise

    def _feed(
        self, stream: Any, tail: str, style: "np.ndarray", rate: float, frontend: "Frontend", failure: list[BaseException]
    ) -> None:
        """Runs the frontend over the rest of the text, handing chunks to the native stream."""
        try:
            stream.push(_requests(self._tail_chunks(tail, frontend), style, rate))
        except BaseException as e:  # surfaced by stream() after the audio so far
            failure.append(e)
        finally:
            stream.finish()

    def _request(
        self, text: str | None, phonemes: str | None, voice: str | None, speed: float | None
    ) -> tuple["np.ndarray", float, str, "Frontend"]:
        """Checks one request's arguments: the voice's style table, the rate, the input, and
        the frontend that reads it for that voice."""
        if (text is None) == (phonemes is None):
            raise InputError("give either text or phonemes")
        content = text if phonemes is None else phonemes
        if not isinstance(content, str):
            raise InputError(f"text must be a string, got {type(content).__name__}")
        spec = voice or self.voice
        style = voice_store.resolve(spec, self._voices_path)
        rate = self.speed if speed is None else _check_speed(speed)
        if not content.strip():
            raise InputError("text is empty" if phonemes is None else "phonemes are empty")
        return style, rate, content, self._frontend_for(spec)

    def _chunks(
        self, content: str, phonemes: bool, frontend: "Frontend", first_chunk_max: int | None = None
    ) -> list["Chunk"]:
        with timing.span("text frontend"):
            if phonemes:
                return frontend.phoneme_chunks(content)
            return frontend.chunks(content, first_chunk_max=first_chunk_max)


# Ids in the first chunk of a stream: short, so the first audio comes quickly.
FIRST_CHUNK_TOKENS = 20
# Characters of text the frontend reads before the first chunk starts synthesizing.
HEAD_CHARS = 400

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def split_head(text: str) -> tuple[str, str, float]:
    """The start of ``text`` for the first chunks, the rest, and the pause between them.

    Cuts at the first paragraph break, else at a sentence end, within :data:`HEAD_CHARS`;
    short text is not cut."""
    if len(text) <= HEAD_CHARS:
        return text, "", 0.0
    paragraph = _PARAGRAPH.search(text, 1, HEAD_CHARS)
    if paragraph:
        return text[: paragraph.start()], text[paragraph.end() :], 0.6
    ends = [m for m in _SENTENCE.finditer(text, 1, HEAD_CHARS)]
    if ends and "[" not in text[: ends[-1].start()] and "<" not in text[: ends[-1].start()]:
        return text[: ends[-1].start()], text[ends[-1].end() :], 0.3
    return text, "", 0.0


def _requests(chunks: list["Chunk"], style: "np.ndarray", rate: float) -> list[tuple[Any, ...]]:
    return [(list(c.token_ids), _style_row(style, len(c.token_ids)), rate, c.pause_after) for c in chunks]


def _style_row(voice: "np.ndarray", tokens: int) -> "np.ndarray":
    """Kokoro voices hold one style vector per input length; row ``n - 1`` fits ``n`` tokens."""
    return voice[min(max(tokens, 1), len(voice)) - 1]
