"""The public synthesis API: :class:`Engine` turns text into :class:`~vocalize.audio.Audio`.

Every Engine in a process shares one native engine: the ONNX Runtime environment and each
model are loaded once, whatever the number of Engine objects.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import assets, timing
from .errors import InputError, ModelError

if TYPE_CHECKING:
    import numpy as np

    from .audio import Audio
    from .text import Chunk, Frontend

MIN_SPEED, MAX_SPEED = 0.5, 2.0

_frontends: dict[tuple[str, str], "Frontend"] = {}
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


def voices(voices: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the voices in ``voices`` (a file), or of the embedded default voices."""
    return sorted(assets.load_voices(voices))


def _frontend(lang: str, g2p: str = "hibari") -> "Frontend":
    with _frontends_lock:
        frontend = _frontends.get((lang, g2p))
        if frontend is None:
            from .text import Frontend

            frontend = _frontends[(lang, g2p)] = Frontend(lang, g2p=g2p)
        return frontend


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
    ) -> None:
        self.speed = _check_speed(speed)
        self.g2p = g2p
        self.lang = _frontend(lang, g2p).lang
        self.threads = default_threads() if threads is None else int(threads)
        # One session with every thread: the lowest latency, and two single-thread sessions
        # gave only 3 % more throughput on a paragraph here at twice the memory.
        self.sessions = 1
        if self.threads < 1:
            raise InputError(f"threads must be at least 1, got {threads}")
        self._model_path = Path(model).expanduser().resolve() if model is not None else None
        if self._model_path is not None and not self._model_path.is_file():
            raise ModelError(f"model file not found: {self._model_path}")
        self._voices_path = voices
        self.voice = self._check_voice(voice or assets.DEFAULT_VOICE)

    @property
    def voices(self) -> list[str]:
        """Voices this engine can speak with."""
        return sorted(assets.load_voices(self._voices_path))

    def _check_voice(self, voice: str) -> str:
        available = assets.load_voices(self._voices_path)
        if voice not in available:
            raise InputError(f"unknown voice {voice!r}; available: {', '.join(sorted(available))}")
        return voice

    def _model(self):
        """The native model, loaded on first use and shared by every Engine."""
        with timing.span("load model", native=True):
            return self._load_model()

    def _load_model(self):
        from . import _native

        _native.init(str(assets.ort_library()))
        path = self._model_path or assets.default_model()
        return _native.load_model(str(path), self.threads, self.sessions)

    def _model_in_background(self) -> "Callable[[], Any]":
        """Starts loading the model on another thread (the native load releases the GIL, so
        it overlaps the text frontend); returns a function that waits for it."""
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
        """Loads the model and the text frontend now instead of on the first request."""
        _frontend(self.lang)
        self._model()

    def chunks(self, text: str) -> list["Chunk"]:
        """The text as the model-sized pieces it will be spoken in."""
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        with timing.span("text frontend"):
            return _frontend(self.lang, self.g2p).chunks(text)

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

        if (text is None) == (phonemes is None):
            raise InputError("give either text or phonemes")
        if not isinstance(text if phonemes is None else phonemes, str):
            raise InputError(f"text must be a string, got {type(text if phonemes is None else phonemes).__name__}")
        style = assets.load_voices(self._voices_path)[self._check_voice(voice) if voice else self.voice]
        rate = self.speed if speed is None else _check_speed(speed)
        if not (text if phonemes is None else phonemes).strip():  # type: ignore[union-attr]
            raise InputError("text is empty" if phonemes is None else "phonemes are empty")
        model = self._model_in_background()
        if phonemes is not None:
            with timing.span("text frontend"):
                chunks = _frontend(self.lang, self.g2p).phoneme_chunks(phonemes)
        else:
            chunks = self.chunks(text)  # type: ignore[arg-type]
        model = model()
        requests = [(list(c.token_ids), _style_row(style, len(c.token_ids)), rate, c.pause_after) for c in chunks]
        with timing.span("native synthesize", f"chunks={len(requests)}", native=True):
            samples = model.synthesize(requests)
        return Audio(samples)


def _style_row(voice: "np.ndarray", tokens: int) -> "np.ndarray":
    """Kokoro voices hold one style vector per input length; row ``n - 1`` fits ``n`` tokens."""
    return voice[min(max(tokens, 1), len(voice)) - 1]
