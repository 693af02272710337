"""The tiny tier: hibari's 7.9 MB models, each distilled from one Kokoro voice, run by the
native core (its vocoder is Rust) through the same scheduler, streams and cancellation as
Kokoro's model.

``Engine(model="tiny")`` (``--model tiny``, the server's ``"model": "tiny"``) is a
:class:`TinyEngine`. Its voices are hibari's (``hibari/assets/voices.json``): ``heart``
(American English, female, from af_heart) ships in the hibari-tts package; ``emma`` and
``fable`` (British), ``fenrir`` and ``kore`` (American) are models of their own, fetched with
``vocalize download voices NAME`` into the Hugging Face cache from :data:`hub.TINY_REPO_ID`
and checked against the registry's size and sha256. A voice is a whole model, so tiny voices
cannot be blended, and Kokoro's voices are not theirs. British voices are read with the
British G2P. The noise of a request is drawn from the engine's ``seed`` (fresh each request
when None), so with a seed the same request gives the same samples, bit for bit.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import Any

from .assets import hub, models, paths, voice_store
from .engine import Engine, _check_speed, _frontend, _stop_streams_at_exit, default_threads
from .errors import AssetError, InputError, ModelError, VoiceError

MODEL = "tiny"
DEFAULT_VOICE = "heart"


@dataclasses.dataclass(frozen=True)
class TinyVoice:
    """One entry of hibari's voice registry."""

    name: str
    kokoro: str  # the Kokoro voice it was distilled from
    british: bool
    gender: str
    file: str
    bundled: bool
    bytes: int
    sha256: str

    @property
    def language(self) -> str:
        """Kokoro's voice-name letter of its language: ``a`` or ``b``."""
        return "b" if self.british else "a"

    def bundled_path(self) -> Path:
        return hibari_assets() / self.file


def hibari_assets() -> Path:
    """hibari-tts's asset folder, found without importing the package."""
    spec = importlib.util.find_spec("hibari")
    if spec is None or not spec.submodule_search_locations:
        raise AssetError("the tiny model needs the hibari-tts package: pip install hibari-tts")
    return Path(next(iter(spec.submodule_search_locations))) / "assets"


@functools.cache
def voices() -> dict[str, TinyVoice]:
    """hibari's voices by name, in the registry's order."""
    path = hibari_assets() / "voices.json"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: TinyVoice(
                name, e["kokoro"], bool(e["british"]), e["gender"], e["file"], bool(e.get("bundled")), int(e["bytes"]), e["sha256"]
            )
            for name, e in entries.items()
        }
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AssetError(f"hibari's voice registry {path} cannot be read ({e}); reinstall hibari-tts") from None


def is_tiny_voice(name: str) -> bool:
    try:
        return name in voices()
    except AssetError:
        return False


def voice_file(voice: TinyVoice) -> Path | None:
    """The model file of ``voice``: in the package, or downloaded; None if not downloaded."""
    return voice.bundled_path() if voice.bundled else hub.tiny_voice_file(voice)


def available() -> list[str]:
    """Tiny voices usable now (the embedded one and those downloaded)."""
    return [name for name, voice in voices().items() if voice_file(voice) is not None]


def _listing() -> str:
    parts = []
    for name, voice in voices().items():
        note = "" if voice_file(voice) is not None else ", `vocalize download voices " + name + "`"
        parts.append(f"{name} ({'British' if voice.british else 'American'} {voice.gender}{note})")
    return ", ".join(parts)


def resolve(spec: Any) -> TinyVoice:
    """The tiny voice ``spec`` names, or one clear error naming the voices that work."""
    if not isinstance(spec, str):
        raise VoiceError(f"a voice must be a string, got {type(spec).__name__}")
    name = spec.strip()
    known = voices()
    if name in known:
        voice = known[name]
        if voice_file(voice) is None:
            raise VoiceError(f"the tiny voice {name!r} is not downloaded: run `vocalize download voices {name}`")
        return voice
    if "+" in name or ":" in name or "(" in name:
        raise VoiceError(
            f"the tiny model's voices cannot be blended (each is a model of its own): {spec!r}; "
            f"choose one of {_listing()}"
        )
    if voice_store.is_path(name):
        raise VoiceError(f"the tiny model takes its voices by name, not a voice file: {spec!r}; choose one of {_listing()}")
    if name in hub.OFFICIAL_VOICES or name in voice_store.names():
        raise VoiceError(f"{name!r} is a voice of the Kokoro model, not of the tiny one; the tiny model speaks with {_listing()}")
    raise VoiceError(f"unknown tiny voice {name!r}; the tiny model speaks with {_listing()}")


class _Native:
    """The native tiny model as the Engine's request path calls it (``synthesize`` and
    ``stream``, like a Kokoro model), with the engine's noise seed."""

    def __init__(self, model: Any, seed: int | None) -> None:
        self._model = model
        self._seed = seed

    def synthesize(self, chunks: list[tuple[Any, ...]]) -> Any:
        return self._model.synthesize(chunks, seed=self._seed)

    def stream(self, chunks: list[tuple[Any, ...]], more: bool = False, timings: bool = False) -> Any:
        return self._model.stream(chunks, more=more, seed=self._seed, timings=timings)

    @property
    def path(self) -> str:
        return str(self._model.path)


class TinyEngine(Engine):
    """:class:`~vocalize.Engine` on the tiny model (``Engine(model="tiny")``): the same
    synthesize, stream and astream, chunks, markup and phonemes; its voices are
    :func:`voices` (default ``heart``), one model each, loaded once per process.

    ``threads`` defaults as Kokoro's do (``VOCALIZE_THREADS``, else the cores, at most 4): on
    2 cores a second thread took the paragraph from 27x to 43x real time. ``seed`` fixes the
    noise: every request with the same seed and threads then repeats bit for bit."""

    def __init__(
        self,
        voice: str | None = None,
        speed: float = 1.0,
        model: str | None = MODEL,
        voices: str | os.PathLike[str] | None = None,
        lang: str = "en-us",
        threads: int | None = None,
        g2p: str = "hibari",
        provider: str | None = None,
        preload: bool = False,
        voice_lang: str | None = None,
        seed: int | None = None,
    ) -> None:
        if voices is not None:
            raise InputError("the tiny model has no voices file: its voices are chosen by name (see `vocalize voices`)")
        if voice_lang is not None:
            raise InputError("--voice-lang is for Kokoro's voice files; each tiny voice knows its language")
        if provider not in (None, "cpu"):
            raise InputError(f"the tiny model runs on the CPU only, not {provider!r}")
        self.speed = _check_speed(speed)
        self.g2p = g2p
        self.threads = default_threads() if threads is None else int(threads)
        if self.threads < 1:
            raise InputError(f"threads must be at least 1, got {threads}")
        if seed is not None and not (isinstance(seed, int) and 0 <= seed < 2**64):
            raise InputError(f"seed must be a whole number from 0 to 2**64 - 1, got {seed!r}")
        self.seed = seed
        self.provider = "cpu"
        self._voices_path = None
        self.voice_lang = None
        self.voice = self._check_voice(voice or DEFAULT_VOICE)
        self._siblings: dict[str, TinyEngine] = {}
        self._siblings_lock = threading.Lock()
        # Started before the frontend is built, which it overlaps (as Kokoro's Engine does).
        self._preloaded = self._model_in_background() if preload else None
        frontend = _frontend(lang, g2p)
        if frontend.japanese:
            raise InputError("the tiny model speaks English only: use --lang en-us or en-gb (or the Kokoro model for Japanese)")
        self.lang = frontend.lang

    @property
    def voices(self) -> list[str]:
        """The tiny voices usable now."""
        return available()

    def _check_voice(self, voice: str) -> str:
        return resolve(voice).name

    def _style(self, spec: str) -> None:
        """A tiny voice is its model: there is no style table to pass."""
        return None

    def _frontend_for(self, voice: str) -> Any:
        """Kokoro's English alphabet, with the British G2P for the British voices."""
        lang = "en-gb" if resolve(voice).british else self.lang
        return _frontend(lang, self.g2p, "misaki")

    def _load_model(self) -> _Native:
        from . import _native

        library = paths.ort_library()
        _native.init(str(library))
        _stop_streams_at_exit()
        voice = resolve(self.voice)
        path = voice_file(voice)
        assert path is not None  # resolve() checked it
        optimized = None if os.environ.get("VOCALIZE_NO_OPTIMIZED_CACHE") else models.optimized_model_path(path, library, "cpu")
        try:
            model = _native.load_tiny(str(path), self.threads, optimized=str(optimized) if optimized else None)
        except ModelError as e:
            if voice.bundled or not hub.evict_tiny_voice(voice):
                raise
            raise ModelError(
                f"the downloaded tiny voice {voice.name!r} does not load ({e}): removed from the cache; "
                f"run `vocalize download voices {voice.name}` again"
            ) from None
        return _Native(model, self.seed)

    # A request for another voice goes to an engine of that voice (each voice is a model).

    def _for_voice(self, voice: str | None) -> "TinyEngine":
        if voice is None:
            return self
        name = self._check_voice(voice)
        if name == self.voice:
            return self
        with self._siblings_lock:
            sibling = self._siblings.get(name)
            if sibling is None:
                sibling = copy.copy(self)
                sibling.voice, sibling._preloaded = name, None
                self._siblings[name] = sibling
        return sibling

    def synthesize(self, text: str | None = None, *, voice: str | None = None, **kwargs: Any) -> Any:
        return Engine.synthesize(self._for_voice(voice), text, **kwargs)

    def stream(self, text: str | None = None, *, voice: str | None = None, **kwargs: Any) -> Any:
        return Engine.stream(self._for_voice(voice), text, **kwargs)

    def astream(self, text: str | None = None, *, voice: str | None = None, **kwargs: Any) -> Any:
        return Engine.astream(self._for_voice(voice), text, **kwargs)

    def chunks(self, text: str, *, voice: str | None = None) -> Any:
        return Engine.chunks(self._for_voice(voice), text)

    def __repr__(self) -> str:
        return f"TinyEngine(voice={self.voice!r}, speed={self.speed}, threads={self.threads}, seed={self.seed})"
