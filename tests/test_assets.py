"""Assembling the embedded model into the cache, and finding ONNX Runtime."""

import hashlib
import os
from pathlib import Path

import pytest

from vocalize import AssetError, RuntimeLibraryError
from vocalize.assets import models, paths


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VOCALIZE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def expected_digest() -> str:
    return (paths.data_dir() / "model.sha256").read_text().split()[0]


def test_model_is_assembled_once_and_verified(cache):
    path = models.default_model()
    assert path.parent == cache and path.name == "kokoro-v1.0.int8.onnx"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == expected_digest()
    mtime = path.stat().st_mtime_ns
    assert models.default_model() == path
    assert path.stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert [p.name for p in cache.iterdir() if p.suffix == ".part"] == []


def test_truncated_model_is_rebuilt(cache):
    path = models.default_model()
    with open(path, "r+b") as f:
        f.truncate(1000)
    assert models.default_model() == path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected_digest()


def test_replaced_model_of_same_size_is_rebuilt(cache):
    path = models.default_model()
    size = path.stat().st_size
    path.write_bytes(b"\0" * size)
    models.default_model()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected_digest()


def test_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    # A cache path below a regular file cannot be created, even by root.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VOCALIZE_CACHE", str(blocker / "cache"))
    with pytest.raises(AssetError, match="VOCALIZE_CACHE"):
        models.default_model()
    assert blocker.read_text() == "not a folder"


def test_ort_library_from_wheel_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("VOCALIZE_ORT_DYLIB", raising=False)
    monkeypatch.delenv("ORT_DYLIB_PATH", raising=False)
    found = paths.ort_library()
    assert found.name.startswith("libonnxruntime") and found.is_file()
    assert Path(found).parent.name == "capi"
    monkeypatch.setenv("VOCALIZE_ORT_DYLIB", str(tmp_path / "missing.so"))
    with pytest.raises(RuntimeLibraryError, match="VOCALIZE_ORT_DYLIB"):
        paths.ort_library()
