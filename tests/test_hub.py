"""Downloads from the Hugging Face Hub, against a stand-in Hub on 127.0.0.1.

The download code under test is the real one (``huggingface_hub.hf_hub_download`` through
``vocalize download``); only the server is a stand-in (tests/standins.py). huggingface_hub
reads HF_ENDPOINT and HF_HUB_OFFLINE when it is imported, so most tests run the command in
a new process; the in-process test patches ``huggingface_hub.constants`` instead."""

import json

import numpy as np
import pytest

import vocalize
from conftest import read_wav, run_cli
from standins import COMMIT, StandInHub, build_model, hub_env
from vocalize.assets import hub, voice_store

pytest.importorskip("huggingface_hub")


def voice_bytes(seed: int) -> bytes:
    # Every voice different: the cache stores files by content, so equal files would share a blob.
    return np.random.default_rng(seed).normal(0, 0.3, (510, 256)).astype("<f4").tobytes()


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    return build_model(tmp_path_factory.mktemp("standin") / "model.onnx").read_bytes()


@pytest.fixture
def files(model_bytes):
    return {
        "voices/af_heart.bin": voice_bytes(1),
        "voices/bf_emma.bin": voice_bytes(2),
        "voices/am_adam.bin": voice_bytes(3),
        "voices/am_echo.bin": voice_bytes(4),
        "voices/af_sky.bin": voice_bytes(5),
        "voices/am_puck.bin": voice_bytes(6)[:1000],  # the Hub's own copy is truncated
        "onnx/model_fp16.onnx": model_bytes,
        "onnx/model_quantized.onnx": b"<html>Service Unavailable</html>",
    }


FAULTS = {"voices/am_adam.bin": "drop", "voices/am_echo.bin": "drop-once", "voices/af_sky.bin": "500"}


@pytest.fixture
def standin(files):
    with StandInHub(hub.REPO_ID, files, FAULTS) as server:
        yield server


@pytest.fixture
def env(tmp_path, standin, monkeypatch):
    """Environment pointing vocalize and huggingface_hub at the stand-in and a fresh cache
    (set in this process too, for the in-process checks after a download)."""
    values = {**hub_env(standin.url, tmp_path), "VOCALIZE_VOICES_DIR": str(tmp_path / "voices")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def cache_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


def assert_one_line_error(result, message):
    err = result.stderr.decode()
    assert result.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vocalize: error: "), err
    assert message in err, err
    assert "Traceback" not in err


def assert_nothing_partial(env):
    root = hub.hub_cache()
    leftovers = [p for p in cache_files(root) if p.endswith((".incomplete", ".part"))] if root.exists() else []
    assert leftovers == []


def test_download_voices_then_use_them(env, standin, files):
    result = run_cli("download", "voices", "af_heart", "bf_emma")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode().splitlines()
    assert [line.split()[0] for line in out] == ["af_heart", "bf_emma"]
    for name in ("af_heart", "bf_emma"):
        path = hub.voice_file(name)
        assert path is not None and path.read_bytes() == files[f"voices/{name}.bin"]
        assert f"snapshots/{COMMIT}/voices/{name}.bin" in str(path)
    # Both requests of huggingface_hub's protocol, on the documented URL.
    assert ("HEAD", "voices/af_heart.bin", None) in standin.requests
    assert standin.gets("voices/af_heart.bin") == 1

    # Listed as downloaded, usable by name and in blends, in this process and in a new one.
    listed = {v["name"]: v for v in json.loads(run_cli("voices", "--json").stdout)}
    assert listed["af_heart"]["source"] == "downloaded" and listed["af_heart"]["available"]
    assert listed["af_heart"]["downloaded"] and listed["am_adam"]["source"] == "hub"
    heart = np.frombuffer(files["voices/af_heart.bin"], "<f4").reshape(510, 256)
    np.testing.assert_array_equal(voice_store.resolve("af_heart"), heart)
    emma = np.frombuffer(files["voices/bf_emma.bin"], "<f4").reshape(510, 256)
    np.testing.assert_allclose(voice_store.resolve("af_heart:0.6+bf_emma:0.4"), 0.6 * heart + 0.4 * emma, atol=1e-6)
    assert "af_heart" in vocalize.voices()

    # Downloading again asks the Hub whether the file changed, and fetches nothing.
    again = run_cli("download", "voices", "af_heart")
    assert again.returncode == 0, again.stderr
    assert standin.gets("voices/af_heart.bin") == 1


def test_offline_uses_the_cache_and_never_the_network(env, standin, files):
    assert run_cli("download", "voices", "af_heart").returncode == 0
    before = len(standin.requests)
    offline = {"HF_HUB_OFFLINE": "1"}
    result = run_cli("download", "voices", "af_heart", env=offline)
    assert result.returncode == 0, result.stderr
    assert hub.cached_file("voices/af_heart.bin").name in result.stdout.decode()
    result = run_cli("download", "voices", "bf_emma", env=offline)
    assert_one_line_error(result, "HF_HUB_OFFLINE")
    assert standin.requests[before:] == []


def test_no_such_voice_is_a_clear_error(env, standin):
    result = run_cli("download", "voices", "nobody")
    assert_one_line_error(result, "no such voice")
    assert "voices/nobody.bin" in result.stderr.decode()
    assert hub.cached_file("voices/nobody.bin") is None


def test_bad_voice_names_never_reach_the_hub(env, standin):
    result = run_cli("download", "voices", "../../etc/passwd")
    assert_one_line_error(result, "not a voice name")
    assert [r for r in standin.requests if "passwd" in r[1]] == []


def test_hub_error_500_is_a_clear_error(env, standin):
    result = run_cli("download", "voices", "af_sky")
    assert_one_line_error(result, "HTTP 500")
    assert hub.voice_file("af_sky") is None
    assert_nothing_partial(env)


def test_connection_dropped_mid_body_leaves_nothing(env, standin):
    result = run_cli("download", "voices", "am_adam")
    assert_one_line_error(result, "connection was cut")
    assert standin.gets("voices/am_adam.bin") > 1  # huggingface_hub tried to resume
    assert hub.cached_file("voices/am_adam.bin") is None
    assert_nothing_partial(env)
    assert "am_adam" not in hub.downloaded_voices()
    with pytest.raises(vocalize.InputError, match="not downloaded"):
        vocalize.Engine(voice="am_adam")


def test_connection_dropped_once_is_retried(env, standin, files):
    result = run_cli("download", "voices", "am_echo")
    assert result.returncode == 0, result.stderr
    # huggingface_hub retries; the half received before the cut never reached its file (it
    # reads in 10 MB pieces), so the retry asks for the whole file again.
    assert standin.gets("voices/am_echo.bin") == 2
    assert hub.voice_file("am_echo").read_bytes() == files["voices/am_echo.bin"]
    assert_nothing_partial(env)


def test_truncated_voice_on_the_hub_is_refused_and_removed(env, standin):
    result = run_cli("download", "voices", "am_puck")
    assert_one_line_error(result, "1000 bytes")
    assert hub.cached_file("voices/am_puck.bin") is None
    blobs = hub.repo_cache() / "blobs"
    assert not blobs.exists() or [p for p in blobs.iterdir() if p.stat().st_size == 1000] == []
    with pytest.raises(vocalize.InputError, match="not downloaded"):
        voice_store.resolve("am_puck")


def test_a_damaged_file_in_the_cache_is_never_used(env, standin):
    assert run_cli("download", "voices", "af_heart").returncode == 0
    path = hub.cached_file("voices/af_heart.bin")
    path.resolve().write_bytes(b"\0" * 100)  # damaged behind vocalize's back
    assert hub.voice_file("af_heart") is None and "af_heart" not in hub.downloaded_voices()
    with pytest.raises(vocalize.InputError, match="not downloaded"):
        voice_store.resolve("af_heart")
    with pytest.raises(vocalize.AssetError, match="522240"):
        voice_store.resolve(str(path))


def test_download_model_then_speak_with_it(env, standin, tmp_path, model_bytes):
    result = run_cli("download", "model", "fp16")
    assert result.returncode == 0, result.stderr
    path = hub.cached_file("onnx/model_fp16.onnx")
    assert path.read_bytes() == model_bytes and path.name in result.stdout.decode()
    assert vocalize.Engine(model="fp16")._model_path == path
    info = json.loads(run_cli("info", "--json").stdout)
    assert info["downloaded models"] == {"fp16": str(path)}
    # The stand-in repeats the style row: 256 samples per id, so audio of a plausible size.
    out = tmp_path / "fp16.wav"
    result = run_cli("speak", "Hi.", "--model", "fp16", "-o", str(out), env={"VOCALIZE_SERVER": "off"})
    assert result.returncode == 0, result.stderr
    assert len(read_wav(out)) % 256 == 0 and len(read_wav(out)) > 256


def test_model_that_is_not_onnx_is_refused_and_removed(env, standin):
    result = run_cli("download", "model", "int8")
    assert_one_line_error(result, "not an ONNX model")
    assert hub.cached_file("onnx/model_quantized.onnx") is None
    # int8 stays the embedded model.
    assert vocalize.Engine(model="int8")._model_path is None


def test_model_missing_on_the_hub(env, standin):
    assert_one_line_error(run_cli("download", "model", "fp32"), "no such file")
    with pytest.raises(vocalize.ModelError, match="vocalize download model fp32"):
        vocalize.Engine(model="fp32")


def test_download_all_voices(tmp_path, monkeypatch):
    files = {f"voices/{name}.bin": voice_bytes(i) for i, name in enumerate(hub.OFFICIAL_VOICES)}
    with StandInHub(hub.REPO_ID, files) as server:
        for key, value in {
            "HF_ENDPOINT": server.url,
            "HF_HUB_CACHE": str(tmp_path / "hub"),
            "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_OFFLINE": "0",
        }.items():
            monkeypatch.setenv(key, value)
        result = run_cli("download", "voices", "--all")
    assert result.returncode == 0, result.stderr
    assert sorted(hub.downloaded_voices()) == sorted(hub.OFFICIAL_VOICES)
    listed = [v for v in json.loads(run_cli("voices", "--json").stdout) if v["tier"] == "kokoro"]
    assert len(listed) == 54 and all(v["available"] for v in listed)
    assert [v["source"] for v in listed if v["name"] == "jm_kumo"] == ["embedded"]  # embedded comes first
    assert [v["source"] for v in listed if v["name"] == "af_heart"] == ["downloaded"]


@pytest.mark.parametrize("args", [["download", "voices"], ["download", "voices", "af_heart", "--all"]])
def test_download_voices_needs_names_or_all(args):
    result = run_cli(*args)
    assert result.returncode == 2


def test_api_download_in_process(env, standin, files, monkeypatch):
    """The library call, with huggingface_hub's import-time settings patched."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", standin.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", standin.url + "/{repo_id}/resolve/{revision}/{filename}")
    (path,) = hub.download_voices(["bf_emma"])
    assert path.read_bytes() == files["voices/bf_emma.bin"]
    with pytest.raises(vocalize.InputError, match="no such voice"):
        hub.download_voices(["nobody"])
    with pytest.raises(vocalize.InputError, match="unknown model variant"):
        hub.download_model("fp8")
    assert vocalize.Engine(voice="bf_emma:1+jm_kumo:1").voice == "bf_emma:1+jm_kumo:1"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(vocalize.AssetError, match="HF_HUB_OFFLINE"):
        hub.download_voices(["af_heart"])


def test_hub_cache_follows_huggingface_hub_rules(monkeypatch, tmp_path):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.hub_cache() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub.hub_cache() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HUGGINGFACE_HUB_CACHE", str(tmp_path / "legacy"))
    assert hub.hub_cache() == tmp_path / "legacy"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "new"))
    assert hub.hub_cache() == tmp_path / "new"
