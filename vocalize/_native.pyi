"""Type stubs for the native engine (crates/vocalize-py)."""

from collections.abc import Sequence
from typing import final

import numpy as np
import numpy.typing as npt

__all__ = [
    "AudioStream",
    "DECODER_INPUTS",
    "DECODER_OUTPUTS",
    "ENCODER_INPUTS",
    "ENCODER_OUTPUTS",
    "MAX_TOKENS",
    "Model",
    "OPS_DOMAIN",
    "SAMPLE_RATE",
    "SAMPLES_PER_FRAME",
    "STYLE_DIM",
    "TinyModel",
    "TOKEN_INPUTS",
    "available_providers",
    "enable_tracing",
    "init",
    "known_providers",
    "load_model",
    "load_tiny",
    "loaded_models",
    "release_models",
    "runtime_info",
    "stop_streams",
    "take_spans",
]

SAMPLE_RATE: int
SAMPLES_PER_FRAME: int
MAX_TOKENS: int
STYLE_DIM: int
OPS_DOMAIN: str
TOKEN_INPUTS: list[str]
ENCODER_INPUTS: list[str]
ENCODER_OUTPUTS: list[str]
DECODER_INPUTS: list[str]
DECODER_OUTPUTS: list[str]

_Chunk = tuple[Sequence[int], npt.NDArray[np.float32] | None, float, float]
# An item of `Model.stream(..., timings=True)`: the chunk's samples, the frames of each of
# its padded ids (None when the model does not give them), the samples of the model's
# output before samples[0], and the samples of speech before the pause.
_TimedChunk = tuple[npt.NDArray[np.float32], list[int] | None, int, int]

def init(library: str) -> str: ...
def load_model(
    path: str,
    threads: int = 2,
    provider: str = "cpu",
    optimized: str | None = None,
    split: tuple[str, str] | None = None,
    profile: str | None = None,
) -> Model: ...
def load_tiny(path: str, threads: int = 1, sessions: int = 1, optimized: str | None = None) -> TinyModel: ...
def loaded_models() -> list[tuple[str, str]]: ...
def release_models() -> None: ...
def stop_streams(timeout: float = 2.0) -> bool: ...
def runtime_info() -> str: ...
def available_providers() -> list[str]: ...
def known_providers() -> list[tuple[str, str]]: ...
def enable_tracing() -> None: ...
def take_spans() -> list[tuple[int, int | None, str, str, int, int]]: ...

@final
class Model:
    @property
    def path(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def split(self) -> bool: ...
    @property
    def schema(self) -> tuple[str, str, str, str]: ...
    @property
    def durations(self) -> bool: ...
    def synthesize(self, chunks: list[_Chunk]) -> npt.NDArray[np.float32]: ...
    def stream(self, chunks: list[_Chunk], more: bool = False, timings: bool = False) -> AudioStream: ...

@final
class AudioStream:
    def __iter__(self) -> AudioStream: ...
    def __next__(self) -> npt.NDArray[np.float32] | _TimedChunk: ...
    def push(self, chunks: list[_Chunk]) -> None: ...
    def finish(self) -> None: ...
    def close(self) -> None:
        """Stops the stream from any thread, also while another waits in ``__next__``:
        returns at once, terminates the inference under way, and the iteration ends."""
    @property
    def closed(self) -> bool: ...

@final
class TinyModel:
    @property
    def path(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def sessions(self) -> int: ...
    def render(
        self, ids: Sequence[int], speed: float = 1.0, seed: int | None = None, noise: bool = True
    ) -> npt.NDArray[np.float32]: ...
    def synthesize(
        self, chunks: list[_Chunk], seed: int | None = None, noise: bool = True
    ) -> npt.NDArray[np.float32]: ...
    def stream(
        self, chunks: list[_Chunk], more: bool = False, seed: int | None = None, noise: bool = True, timings: bool = False
    ) -> AudioStream: ...
