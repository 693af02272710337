"""The public synthesis API: :class:`Engine` turns text into :class:`~vocalize.audio.Audio`.

Every Engine in a process shares one native engine: the ONNX Runtime environment and each
model are loaded once, whatever the number of Engine objects.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Callable

from . import timing
from .assets import hub, models, paths, split, voice_store
from .errors import InputError, ModelError, NothingToSpeak
from .timestamps import Timed, check_form, check_model, chunk_words, select

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
    voice folder's, the embedded ones and those downloaded (see :mod:`vocalize.assets.voice_store`)."""
    return sorted(voice_store.load_voices(voices)) if voices is not None else voice_store.names()


def _frontend(lang: str, g2p: str = "hibari", alphabet: str = "misaki") -> "Frontend":
    with _frontends_lock:
        frontend = _frontends.get((lang, g2p, alphabet))
        if frontend is None:
            from .text import Frontend

            frontend = _frontends[(lang, g2p, alphabet)] = Frontend(lang, g2p=g2p, alphabet=alphabet)
        return frontend


def _check_provider(provider: str) -> str:
    """The short name of ``provider``, checked against the native engine's list."""
    from . import _native

    known = [short for short, _ in _native.known_providers()]
    name = str(provider).lower().removesuffix("executionprovider")
    if name not in known:
        raise InputError(f"unknown execution provider {provider!r}; choose from {', '.join(known)}")
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

    def __new__(cls, *args: Any, **kwargs: Any) -> "Engine":
        """``Engine(model="tiny")`` is a :class:`vocalize.tiny.TinyEngine`: the tiny tier."""
        model = kwargs.get("model", args[2] if len(args) > 2 else None)
        if cls is Engine and isinstance(model, str) and model.strip().lower() == "tiny":
            from .tiny import TinyEngine

            cls = TinyEngine
        return super().__new__(cls)

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
        ``.json`` beside it (``{"lang": "a"}``); unknown means English."""
        self.speed = _check_speed(speed)
        self.g2p = g2p
        self.threads = default_threads() if threads is None else int(threads)
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
        self.voice = self._check_voice(voice or models.DEFAULT_VOICE)

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

        library = paths.ort_library()
        _native.init(str(library))
        _stop_streams_at_exit()
        if self.provider != "cpu":
            self.provider = _available_or_cpu(self.provider)
        path = self._model_path or models.default_model()
        optimized = None if os.environ.get("VOCALIZE_NO_OPTIMIZED_CACHE") else models.optimized_model_path(path, library, self.provider)
        load = functools.partial(
            _native.load_model,
            str(path),
            self.threads,
            provider=self.provider,
            optimized=str(optimized) if optimized else None,
            # A developer's switch (benches/profile.py): ONNX Runtime's per-node profiles.
            profile=os.environ.get("VOCALIZE_PROFILE") or None,
        )
        if split.disabled():
            return load()
        for attempt in range(2):
            parts = split.split_model(path)
            if parts is None:
                break
            # The parts' optimized graphs are named after the split too, so a split of a
            # newer format never loads the graphs optimized from an older one.
            cached = optimized.with_name(f"{optimized.stem}-{split.digest(path)}{optimized.suffix}") if optimized else None
            try:
                return load(split=(str(parts[0]), str(parts[1])), optimized=str(cached) if cached else None)
            except ModelError as e:
                # A damaged split (a disk error, another file under its name), or graphs
                # optimized from one: build both again once, else run the model whole.
                log.warning("the split of %s cannot be loaded (%s); %s", path.name, e, "rebuilding it" if attempt == 0 else "using the model whole")
                split.discard(path)
                if cached:
                    for stale in cached.parent.glob(f"{cached.stem}.*"):
                        stale.unlink(missing_ok=True)
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
        timestamps: bool = False,
        words: str = "written",
    ) -> "Audio":
        """Speaks ``text`` (or raw ``phonemes`` in Kokoro's alphabet) and returns the whole
        audio. Long input is split at sentence and clause boundaries under the model's limit
        and joined; nothing is dropped.

        Text may hold pause markup (``[pause:0.5s]``, ``<break time="500ms"/>``) and inline
        pronunciations (``[Kokoro](/kˈOkəɹO/)``).

        With ``timestamps=True`` the audio's ``words`` says when each word is spoken (a list
        of :class:`~vocalize.timestamps.WordTime`), from the model's own durations: the words
        as written in ``text`` (``words="written"``), or as read after normalization
        (``words="spoken"``: "$4.5" is "4.5" and "dollars"). A model that gives no
        durations raises :class:`~vocalize.ModelError`."""
        from .audio import Audio

        if timestamps:
            check_form(words)
        style, rate, content, frontend = self._request(text, phonemes, voice, speed)
        model = self._model_in_background()
        chunks, tail = self._plan(content, phonemes is not None, frontend)
        if tail:
            chunks += self._tail_chunks(tail, frontend)
        model = model()
        if timestamps:
            return _timed_audio(model, chunks, style, rate, words)
        with timing.span("native synthesize", f"chunks={len(chunks)}", native=True):
            samples = model.synthesize(_requests(chunks, style, rate))
        return Audio(samples)

    def stream(
        self,
        text: str | None = None,
        *,
        phonemes: str | None = None,
        voice: str | None = None,
        speed: float | None = None,
        timestamps: bool = False,
        words: str = "written",
    ) -> "Stream":
        """Speaks ``text`` chunk by chunk: a :class:`Stream` of the pieces of audio, each as
        soon as it exists.

        The first chunk is kept short so audio starts early; the rest of the text goes
        through the frontend on another thread while the next chunks are synthesized. The
        pieces joined are the audio :meth:`synthesize` returns. Bad input raises here.
        Leaving the loop early, or :meth:`Stream.close` from any thread, stops the
        inference under way and drops the rest.

        With ``timestamps=True`` each piece's ``words`` are the words it holds, timed from
        the start of the whole stream (``words`` as for :meth:`synthesize`)."""
        if timestamps:
            check_form(words)
        style, rate, content, frontend = self._request(text, phonemes, voice, speed)
        model = self._model_in_background()
        first, tail = self._plan(content, phonemes is not None, frontend)
        model = model()
        timed = None
        if timestamps:
            check_model(model)
            timed = _StreamTimings(first, words)
        native = model.stream(_requests(first, style, rate), more=bool(tail), timings=timestamps)
        record = timed.chunks.extend if timed is not None else None
        feed = functools.partial(self._feed, native, tail, style, rate, frontend, record) if tail else None
        return Stream(native, feed, timed)

    def astream(
        self,
        text: str | None = None,
        *,
        phonemes: str | None = None,
        voice: str | None = None,
        speed: float | None = None,
        timestamps: bool = False,
        words: str = "written",
    ) -> "AsyncStream":
        """:meth:`stream` for asyncio: an :class:`AsyncStream`, whose waiting (the model's
        loading and the text frontend included) happens on a worker thread, so the event
        loop stays free. Bad input raises at the first ``__anext__``."""
        return AsyncStream(
            functools.partial(self.stream, text, phonemes=phonemes, voice=voice, speed=speed, timestamps=timestamps, words=words)
        )

    def _plan(self, content: str, phonemes: bool, frontend: "Frontend") -> tuple[list["Chunk"], str]:
        """The first chunks of a request (the first one short) and the text left for later.
        :meth:`synthesize` and :meth:`stream` cut the same way, so they give the same audio."""
        from .text.frontend import split_head

        head, tail, gap = (content, "", 0.0) if phonemes else split_head(content)
        first = self._chunks(head, phonemes, frontend, first_chunk_max=None if phonemes else FIRST_CHUNK_TOKENS)
        if tail:
            first[-1] = dataclasses.replace(first[-1], pause_after=max(first[-1].pause_after, gap))
        return first, tail

    def _tail_chunks(self, tail: str, frontend: "Frontend") -> list["Chunk"]:
        try:
            return self._chunks(tail, False, frontend)
        except NothingToSpeak:  # the rest of the text is pauses or symbols only
            return []

    def _feed(
        self,
        stream: Any,
        tail: str,
        style: "np.ndarray | None",
        rate: float,
        frontend: "Frontend",
        record: "Callable[[list[Chunk]], None] | None" = None,
    ) -> None:
        """Runs the frontend over the rest of the text, handing chunks to the native stream
        (and first to ``record``, which times their words)."""
        try:
            chunks = self._tail_chunks(tail, frontend)
            if record is not None:
                record(chunks)
            stream.push(_requests(chunks, style, rate))
        finally:
            stream.finish()

    def _request(
        self, text: str | None, phonemes: str | None, voice: str | None, speed: float | None
    ) -> tuple["np.ndarray | None", float, str, "Frontend"]:
        """Checks one request's arguments: the voice's style table, the rate, the input, and
        the frontend that reads it for that voice."""
        if (text is None) == (phonemes is None):
            raise InputError("give either text or phonemes")
        content = text if phonemes is None else phonemes
        if not isinstance(content, str):
            raise InputError(f"text must be a string, got {type(content).__name__}")
        spec = voice or self.voice
        style = self._style(spec)
        rate = self.speed if speed is None else _check_speed(speed)
        if not content.strip():
            raise InputError("text is empty" if phonemes is None else "phonemes are empty")
        return style, rate, content, self._frontend_for(spec)

    def _style(self, spec: str) -> "np.ndarray | None":
        """The style table of a voice spec, as the model takes it."""
        return voice_store.resolve(spec, self._voices_path)

    def _chunks(
        self, content: str, phonemes: bool, frontend: "Frontend", first_chunk_max: int | None = None
    ) -> list["Chunk"]:
        with timing.span("text frontend"):
            if phonemes:
                return frontend.phoneme_chunks(content)
            return frontend.chunks(content, first_chunk_max=first_chunk_max)


class Stream:
    """The audio of one :meth:`Engine.stream` request: an iterator of
    :class:`~vocalize.audio.Audio` pieces, in order, each as soon as it is synthesized.

    :meth:`close` works from any thread at any moment, also while another thread waits in
    ``next()``: it returns at once, terminates the inference under way, and the iteration
    ends (the waiting ``next()`` raises ``StopIteration``; no other exception). Leaving a
    ``with`` block closes it too::

        with engine.stream(text) as pieces:
            for piece in pieces:
                play(piece.samples)
    """

    def __init__(self, native: Any, feed: "Callable[[], None] | None" = None, timed: "_StreamTimings | None" = None) -> None:
        self._native = native
        self._timed = timed
        # The rest of the text goes through the frontend once the first audio exists: until
        # then the first chunk's inference has every core.
        # The thread holds the native stream, not this object, so dropping this object
        # closes the stream (see __del__).
        self._failure: list[BaseException] = []
        self._feeder = (
            threading.Thread(target=_feed_into, args=(self._failure, feed), name="vocalize-frontend", daemon=True)
            if feed
            else None
        )
        self._started = threading.Lock()

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> "Audio":
        from .audio import Audio

        try:
            item = next(self._native)
        except StopIteration:
            if self._failure and not self._native.closed:
                raise self._failure.pop() from None
            raise
        except BaseException:
            self.close()
            raise
        feeder = self._feeder
        if feeder is not None and feeder.ident is None:
            with self._started:
                if feeder.ident is None and not self._native.closed:
                    feeder.start()
        if self._timed is None:
            return Audio(item)
        return Audio(item[0], words=select(self._timed.piece(*item), self._timed.words))

    def close(self) -> None:
        """Stops the stream: safe from any thread, at any moment, more than once."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the stream failed)."""
        return bool(self._native.closed)

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # The feeder thread may still hold the native stream: stop it with this object.
        native = getattr(self, "_native", None)
        if native is not None:
            native.close()


class _StreamTimings:
    """The word timings of one stream's pieces: its chunks in order (the feeder adds the
    later ones before pushing them) and the samples spoken so far."""

    def __init__(self, first: list["Chunk"], words: str) -> None:
        self.chunks: collections.deque["Chunk"] = collections.deque(first)
        self.words = words
        self.offset = 0

    def piece(self, samples: "np.ndarray", durations: list[int] | None, start: int, speech: int) -> list[Timed]:
        """The spoken words of the next chunk, whose audio is ``samples``."""
        from . import _native

        chunk = self.chunks.popleft()
        timed = chunk_words(chunk, durations, start, speech, self.offset, _native.SAMPLE_RATE, _native.SAMPLES_PER_FRAME)
        self.offset += len(samples)
        return timed


def _timed_audio(model: Any, chunks: list["Chunk"], style: "np.ndarray", rate: float, words: str) -> "Audio":
    """The audio of ``chunks`` with its word timings (see :meth:`Engine.synthesize`)."""
    import numpy as np

    from .audio import Audio

    check_model(model)
    timed = _StreamTimings(chunks, words)
    pieces, spoken = [], []
    with timing.span("native synthesize", f"chunks={len(chunks)}", native=True):
        for item in model.stream(_requests(chunks, style, rate), timings=True):
            spoken += timed.piece(*item)
            pieces.append(item[0])
    samples = np.concatenate(pieces) if len(pieces) != 1 else pieces[0]
    return Audio(samples, words=select(spoken, words))


def _feed_into(failure: list[BaseException], feed: "Callable[[], None]") -> None:
    try:
        feed()
    except BaseException as e:  # raised by Stream.__next__ after the audio so far
        failure.append(e)


class AsyncStream:
    """:class:`Stream` for asyncio (:meth:`Engine.astream`): ``async for piece in ...``,
    each wait on a worker thread of its own. :meth:`aclose` (or :meth:`close`, from any
    thread) works at any moment, and cancelling the task that waits in ``__anext__`` closes
    it too: the inference under way is terminated."""

    def __init__(self, open_stream: "Callable[[], Stream]") -> None:
        import concurrent.futures

        self._open = open_stream
        self._stream: Stream | None = None
        self._closed = False
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="vocalize-astream")

    def __aiter__(self) -> "AsyncStream":
        return self

    def _next(self) -> "Audio | None":
        """On the worker thread: the next piece, or None at the end."""
        if self._stream is None:
            if self._closed:
                return None
            self._stream = self._open()
            if self._closed:  # closed while it was opening
                self._stream.close()
        return next(self._stream, None)

    async def __anext__(self) -> "Audio":
        import asyncio

        if self._closed:
            raise StopAsyncIteration
        try:
            audio = await asyncio.get_running_loop().run_in_executor(self._worker, self._next)
        except RuntimeError:
            if self._closed:  # closed from another thread as this wait was being scheduled
                raise StopAsyncIteration from None
            self.close()
            raise
        except BaseException:
            self.close()
            raise
        if audio is None:
            self.close()
            raise StopAsyncIteration
        return audio

    def close(self) -> None:
        """Stops the stream: safe from any thread, at any moment, more than once."""
        self._closed = True
        stream = self._stream
        if stream is not None:
            stream.close()
        self._worker.shutdown(wait=False)

    async def aclose(self) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


# Ids in the first chunk of a stream: short, so the first audio comes quickly; the frontend
# cuts it only at a clause break (see segment.pack_words), so it is often the whole sentence.
FIRST_CHUNK_TOKENS = 60


def _requests(chunks: list["Chunk"], style: "np.ndarray | None", rate: float) -> list[tuple[Any, ...]]:
    return [(list(c.token_ids), _style_row(style, len(c.token_ids)), rate, c.pause_after) for c in chunks]


def _style_row(voice: "np.ndarray | None", tokens: int) -> "np.ndarray | None":
    """Kokoro voices hold one style vector per input length; row ``n - 1`` fits ``n`` tokens.
    A model without style tables (the tiny tier's: its voice is the model) takes None."""
    if voice is None:
        return None
    return voice[min(max(tokens, 1), len(voice)) - 1]
