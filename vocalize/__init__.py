"""vocalize: fast, local, offline text-to-speech with Kokoro-82M.

    >>> import vocalize
    >>> audio = vocalize.Engine().synthesize("Hello, world!")
    >>> audio.save("hello.wav")

Importing this package is cheap: numpy, ONNX Runtime and the native engine load on first
use of something that needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors as _errors
from .errors import *  # noqa: F403  (every exception class: see errors.__all__)

__version__ = "0.1.0"

__all__ = [
    "Audio",
    "Engine",
    "Stream",
    "AsyncStream",
    "voices",
    "SAMPLE_RATE",
    *_errors.__all__,
    "__version__",
]

# Public name -> module that defines it, imported on first access (PEP 562).
_LAZY = {
    "Audio": "vocalize.audio",
    "SAMPLE_RATE": "vocalize.audio",
    "Engine": "vocalize.engine",
    "Stream": "vocalize.engine",
    "AsyncStream": "vocalize.engine",
    "voices": "vocalize.engine",
}

if TYPE_CHECKING:
    from .audio import SAMPLE_RATE, Audio
    from .engine import AsyncStream, Engine, Stream, voices


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vocalize' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
