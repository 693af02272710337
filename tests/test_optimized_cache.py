"""The cache of ONNX Runtime's optimized graph: written once, reused, rebuilt when damaged."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_wav, run_cli


def speak(cache: Path, out: Path, *extra: str):
    return run_cli(
        "speak", "Hello, world!", "-o", str(out), "--no-server", "--verbose", *extra,
        env={"VOCALIZE_CACHE": str(cache)},
    )


def entries(cache: Path) -> list[Path]:
    """The cached optimized graphs: the encoder's and the decoder's of the split model."""
    return sorted((cache / "optimized").glob("*.onnx"))


def decoder_entry(cache: Path) -> Path:
    (entry,) = [e for e in entries(cache) if e.name.endswith(".decoder.onnx")]
    return entry


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A new cache after one `speak`: the model assembled and its optimized graph saved."""
    cache = tmp_path_factory.mktemp("cache")
    out = cache.parent / "first.wav"
    result = speak(cache, out)
    assert result.returncode == 0, result.stderr.decode()
    return cache, out, result.stderr.decode()


def test_first_load_saves_the_optimized_graph(first_run):
    cache, _, log = first_run
    assert "optimize_and_save" in log
    found = entries(cache)
    assert [e.name.rsplit(".", 2)[-2] for e in found] == ["decoder", "encoder"]
    for entry in found:
        assert int(Path(f"{entry}.size").read_text()) == entry.stat().st_size > 1_000_000
        # Readable by every user of a shared cache, whatever the umask.
        assert entry.stat().st_mode & 0o777 == Path(f"{entry}.size").stat().st_mode & 0o777 == 0o644
    assert not [p.name for p in (cache / "optimized").iterdir() if p.name.endswith((".tmp", ".part"))], "a temporary file was left behind"


def test_the_entries_are_named_after_the_split(first_run):
    """A split of another format (other fused operators) never loads graphs optimized from
    an older one: the entries carry the split's digest."""
    cache, _, _ = first_run
    (encoder,) = (cache / "split").glob("*.encoder.onnx")
    version = encoder.name.split(".encoder")[0].rsplit("-", 1)[-1]
    assert len(version) == 20
    assert all(f"-{version}." in e.name for e in entries(cache)), [e.name for e in entries(cache)]


def test_later_loads_use_it_and_sound_the_same(first_run, tmp_path):
    cache, first, _ = first_run
    out = tmp_path / "again.wav"
    result = speak(cache, out)
    log = result.stderr.decode()
    assert result.returncode == 0, log
    assert "load_optimized" in log and "optimize_and_save" not in log
    assert (read_wav(out) == read_wav(first)).all()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no size file"])
def test_a_damaged_entry_is_rebuilt_not_used(first_run, tmp_path, damage):
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(first_run[0], cache)
    entry = decoder_entry(cache)
    size = entry.stat().st_size
    if damage == "truncate":
        with open(entry, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "garbage":  # the right size, so only loading it can tell
        entry.write_bytes(b"\x07not a model" * (size // 12) + b"\0" * (size % 12))
        assert entry.stat().st_size == size
    else:
        Path(f"{entry}.size").unlink()
    out = tmp_path / "rebuilt.wav"
    result = speak(cache, out)
    log = result.stderr.decode()
    assert result.returncode == 0, log
    assert "optimize_and_save" in log
    assert entry.stat().st_size == size == int(Path(f"{entry}.size").read_text())
    assert (read_wav(out) == read_wav(first_run[1])).all()


def test_two_processes_on_an_empty_cache_both_succeed(tmp_path):
    cache = tmp_path / "cache"
    exe = [sys.executable, "-m", "vocalize.cli"]
    env = {**__import__("os").environ, "VOCALIZE_CACHE": str(cache)}
    procs = [
        subprocess.Popen(
            [*exe, "speak", "Hello, world!", "-o", str(tmp_path / f"{i}.wav"), "--no-server"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
    assert (read_wav(tmp_path / "0.wav") == read_wav(tmp_path / "1.wav")).all()
    assert len(entries(cache)) == 2
    for entry in entries(cache):
        assert int(Path(f"{entry}.size").read_text()) == entry.stat().st_size
    assert not [p for p in cache.rglob("*") if p.name.endswith((".tmp", ".part"))]


def test_an_unwritable_cache_location_still_loads(tmp_path):
    """When the optimized graph cannot be saved (read-only or full disk), the model loads anyway."""
    from vocalize import _native
    from vocalize.assets import models, paths

    _native.init(str(paths.ort_library()))
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    model = _native.load_model(str(models.default_model()), 1, optimized=str(blocked / "m.onnx"))
    assert model.schema[0] == "tokens"
    assert list(tmp_path.iterdir()) == [blocked]


def test_the_cache_key_follows_model_runtime_and_provider(tmp_path, monkeypatch):
    from vocalize.assets import models, paths

    monkeypatch.setenv("VOCALIZE_CACHE", str(tmp_path))
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x" * 10)
    library = paths.ort_library()
    first = models.find_optimized_model_path(model, library)
    assert first is not None and first.parent == tmp_path / "optimized"
    assert models.find_optimized_model_path(model, library) == first
    model.write_bytes(b"y" * 11)
    assert models.find_optimized_model_path(model, library) != first
    assert models.find_optimized_model_path(model, library, "cuda") is None


def test_graphs_optimized_from_another_split_are_rebuilt_with_it(first_run, tmp_path):
    """An optimized decoder that loads but is not the split's (here the encoder's graph under
    the decoder's name, as a split built by another version of vocalize would leave) is
    deleted with the split and both are built again: the split model is used, not the model
    whole, and speech comes out the same."""
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(first_run[0], cache)
    entry = decoder_entry(cache)
    (encoder,) = [e for e in entries(cache) if e.name.endswith(".encoder.onnx")]
    shutil.copyfile(encoder, entry)
    Path(f"{entry}.size").write_text(str(entry.stat().st_size))
    out = tmp_path / "rebuilt.wav"
    result = speak(cache, out)
    log = result.stderr.decode()
    assert result.returncode == 0, log
    assert "rebuilding it" in log and "using the model whole" not in log
    assert int(Path(f"{entry}.size").read_text()) == entry.stat().st_size != encoder.stat().st_size
    assert (read_wav(out) == read_wav(first_run[1])).all()
