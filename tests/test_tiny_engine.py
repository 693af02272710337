"""The tiny tier through the Engine, the command line, downloads and the server: real
synthesis with hibari's model (it is small and fast), in this process and in new ones.

The voices other than ``heart`` are models of their own on the Hub; here a "downloaded"
voice is heart's model put in the Hugging Face cache under the other voice's file name
(the registry's size is the same), which is what the engine looks up."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import threading
import time
import wave

import numpy as np
import pytest

import vocalize
from conftest import read_wav, run_cli
from standins import COMMIT, StandInHub, hub_env
from vocalize import tiny
from vocalize.assets import hub, voice_store
from vocalize.engine import default_threads
from vocalize.tiny import TinyEngine

TEXT = "The tiny model speaks this sentence. Then it speaks a second one, quickly."


@pytest.fixture(scope="module")
def heart():
    return vocalize.Engine(model="tiny", seed=5)


def heart_bytes() -> bytes:
    return (tiny.hibari_assets() / tiny.voices()["heart"].file).read_bytes()


def install(name: str) -> os.PathLike:
    """Puts heart's model in the Hugging Face cache as the tiny voice ``name``'s download."""
    voice = tiny.voices()[name]
    snapshot = hub.repo_cache(hub.TINY_REPO_ID) / "snapshots" / COMMIT / "voices"
    snapshot.mkdir(parents=True, exist_ok=True)
    (hub.repo_cache(hub.TINY_REPO_ID) / "refs").mkdir(exist_ok=True)
    (hub.repo_cache(hub.TINY_REPO_ID) / "refs" / "main").write_text(COMMIT)
    path = snapshot / voice.file
    path.write_bytes(heart_bytes())
    assert path.stat().st_size == voice.bytes
    return path


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    return tmp_path / "hf" / "hub"


# ---------------------------------------------------------------------------------------------
# The engine


def test_engine_model_tiny_is_the_tiny_engine(heart):
    assert isinstance(heart, TinyEngine) and isinstance(heart, vocalize.Engine)
    # Threads default as Kokoro's do: VOCALIZE_THREADS, else the cores, at most 4.
    assert heart.voice == "heart" and heart.threads == default_threads()
    assert vocalize.Engine(model="tiny", threads=1).threads == 1
    assert isinstance(vocalize.Engine(None, 1.0, "tiny"), TinyEngine)  # positional too
    assert not isinstance(vocalize.Engine(model="kokoro"), TinyEngine)
    audio = heart.synthesize("Hello, world!")
    assert audio.sample_rate == 24000 and 0.5 < audio.duration < 2.5
    assert np.abs(audio.samples).max() > 0.05  # speech, not silence


def test_a_seed_repeats_a_request_bit_for_bit_and_streaming_gives_the_same_audio(heart):
    whole = heart.synthesize(TEXT).samples
    assert np.array_equal(heart.synthesize(TEXT).samples, whole)
    pieces = list(heart.stream(TEXT))
    assert len(pieces) >= 2  # a short first chunk, then the rest
    assert np.array_equal(np.concatenate([p.samples for p in pieces]), whole)
    other = vocalize.Engine(model="tiny", seed=6).synthesize(TEXT).samples
    assert other.shape == whole.shape and not np.array_equal(other, whole)
    unseeded = vocalize.Engine(model="tiny")
    assert not np.array_equal(unseeded.synthesize(TEXT).samples, unseeded.synthesize(TEXT).samples)


def test_astream_gives_the_stream_audio(heart):
    import asyncio

    async def collect():
        return [piece.samples async for piece in heart.astream(TEXT)]

    pieces = asyncio.run(collect())
    assert np.array_equal(np.concatenate(pieces), heart.synthesize(TEXT).samples)


def test_a_stream_closed_from_another_thread_ends_and_frees_the_model(heart):
    text = " ".join(["This sentence is one of very many in a long text."] * 40)
    stream = heart.stream(text)
    got = [next(stream)]
    closer = threading.Timer(0.01, stream.close)
    closer.start()
    started = time.monotonic()
    for piece in stream:  # ends quietly once closed
        got.append(piece)
    closer.join()
    assert stream.closed and len(got) < 40
    assert time.monotonic() - started < 60
    assert heart.synthesize("Free again.").duration > 0.3


def test_pauses_inline_phonemes_speed_and_raw_phonemes(heart):
    plain = heart.synthesize("Wait now.").duration
    paused = heart.synthesize("Wait [pause:1s] now.").duration
    assert 0.8 < paused - plain < 1.3
    chunks = heart.chunks("Say [Kokoro](/kˈOkəɹO/) please.")
    assert "kˈOkəɹO" in "".join(c.phonemes for c in chunks)
    assert heart.synthesize("Say [Kokoro](/kˈOkəɹO/) please.").duration > 0.5
    slow = heart.synthesize(TEXT, speed=0.7).duration
    fast = heart.synthesize(TEXT, speed=1.4).duration
    assert slow > 1.5 * fast
    raw = heart.synthesize(phonemes="həlˈO wˈɜɹld!")
    assert 0.4 < raw.duration < 2.0


def test_british_voices_use_the_british_g2p(hf_cache):
    install("emma")
    assert "emma" in tiny.available()
    emma = vocalize.Engine(model="tiny", voice="emma", seed=1)
    american = vocalize.Engine(model="tiny", seed=1)
    word = "tomato water"
    us = "".join(c.phonemes for c in american.chunks(word))
    gb = "".join(c.phonemes for c in emma.chunks(word))
    assert us != gb
    assert gb == "".join(c.phonemes for c in american.chunks(word, voice="emma"))  # per request too
    assert emma.synthesize("Hello there.").duration > 0.3
    assert american.synthesize("Hello there.", voice="emma").duration > 0.3


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"voice": "jm_kumo"}, vocalize.VoiceError, "is a voice of the Kokoro model, not of the tiny one; the tiny model speaks with heart"),
        ({"voice": "af_heart"}, vocalize.VoiceError, "voice of the Kokoro model"),
        ({"voice": "heart+kore"}, vocalize.VoiceError, "cannot be blended"),
        ({"voice": "heart:0.5+emma:0.5"}, vocalize.VoiceError, "cannot be blended"),
        ({"voice": "nobody"}, vocalize.VoiceError, "unknown tiny voice 'nobody'; the tiny model speaks with heart"),
        ({"voice": "emma"}, vocalize.VoiceError, "run `vocalize download voices emma`"),
        ({"voice": "./mine.npy"}, vocalize.VoiceError, "not a voice file"),
        ({"speed": 3.0}, vocalize.InputError, "speed must be between 0.5 and 2.0"),
        ({"lang": "ja"}, vocalize.InputError, "speaks English only"),
        ({"provider": "cuda"}, vocalize.InputError, "CPU only"),
        ({"seed": -1}, vocalize.InputError, "seed must be"),
    ],
)
def test_bad_settings_are_one_clear_error(kwargs, error, message):
    with pytest.raises(error, match=_literal(message)):
        vocalize.Engine(model="tiny", **kwargs)


def test_a_tiny_voice_asked_of_kokoro_names_the_tiny_model(engine):
    with pytest.raises(vocalize.VoiceError, match=_literal("'heart' is a voice of the tiny model: use it with --model tiny")):
        vocalize.Engine(voice="heart")
    with pytest.raises(vocalize.VoiceError, match="voice of the tiny model"):
        engine.synthesize("Hi.", voice="jm_kumo:0.5+kore:0.5")


def test_bad_requests(heart):
    with pytest.raises(vocalize.InputError, match="text is empty"):
        heart.synthesize("   ")
    with pytest.raises(vocalize.InputError, match="text is empty"):
        heart.stream("")
    with pytest.raises(vocalize.InputError, match="speed must be between"):
        heart.synthesize("Hi.", speed=0.1)
    with pytest.raises(vocalize.VoiceError, match="voice of the Kokoro model"):
        heart.synthesize("Hi.", voice="jm_kumo")
    with pytest.raises(vocalize.InputError, match="must be a string"):
        heart.synthesize(42)  # type: ignore[arg-type]
    # Huge text is cut into chunks the model takes, none over the limit.
    huge = "word " * 6000 + "x" * 3000
    chunks = heart.chunks(huge)
    assert len(chunks) > 50 and max(len(c.token_ids) for c in chunks) <= vocalize._native.MAX_TOKENS


def test_a_corrupt_downloaded_voice_is_one_error_and_is_removed_from_the_cache(hf_cache):
    path = install("kore")
    data = bytearray(path.read_bytes())
    data[100:4000] = b"\xff" * 3900  # same size: not noticed until it is loaded
    path.write_bytes(bytes(data))
    engine = vocalize.Engine(model="tiny", voice="kore")
    with pytest.raises(vocalize.ModelError, match=_literal("the downloaded tiny voice 'kore' does not load")) as caught:
        engine.synthesize("Hi.")
    assert "run `vocalize download voices kore` again" in str(caught.value)
    assert not path.exists() and hub.cached_file("voices/" + tiny.voices()["kore"].file, hub.TINY_REPO_ID) is None
    with pytest.raises(vocalize.VoiceError, match="not downloaded"):
        vocalize.Engine(model="tiny", voice="kore")


def test_a_truncated_downloaded_voice_counts_as_not_downloaded(hf_cache):
    path = install("kore")
    path.write_bytes(path.read_bytes()[:1000])
    assert "kore" not in tiny.available()
    with pytest.raises(vocalize.VoiceError, match="run `vocalize download voices kore`"):
        vocalize.Engine(model="tiny", voice="kore")


def _literal(text: str) -> str:
    import re

    return re.escape(text)


# ---------------------------------------------------------------------------------------------
# Downloads, against a stand-in Hub on 127.0.0.1


@pytest.fixture
def hibari_hub(tmp_path, monkeypatch):
    from huggingface_hub import constants

    files = {f"voices/{v.file}": heart_bytes() for v in tiny.voices().values() if not v.bundled}
    with StandInHub(hub.TINY_REPO_ID, files, {"voices/" + tiny.voices()["fable"].file: "500"}) as server:
        env = hub_env(server.url, tmp_path)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}")
        server.env = env
        yield server


def cache_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()) if root.exists() else []


def test_download_checks_the_registry_sha256_and_removes_a_mismatch(hibari_hub):
    # The stand-in serves heart's model for emma: the size matches hibari's registry, the sha256 does not.
    result = run_cli("download", "voices", "emma", env=hibari_hub.env)
    err = result.stderr.decode()
    assert result.returncode == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("vocalize: error: the downloaded tiny voice 'emma'") and "sha256" in err and "removed from the cache" in err
    assert hibari_hub.gets("voices/bf_emma.int8.onnx") == 1
    assert "emma" not in tiny.available()
    assert [p for p in cache_files(hub.hub_cache()) if "blobs" in p or "snapshots" in p] == []


def test_download_then_speak_with_the_voice(hibari_hub, monkeypatch):
    registry = dict(tiny.voices())
    digest = hashlib.sha256(heart_bytes()).hexdigest()
    registry["emma"] = tiny.TinyVoice(**{**registry["emma"].__dict__, "sha256": digest})
    monkeypatch.setattr(tiny, "voices", lambda: registry)
    (path,) = hub.download_voices(["emma"])
    assert path.read_bytes() == heart_bytes() and f"snapshots/{COMMIT}/voices/bf_emma.int8.onnx" in str(path)
    assert "emma" in tiny.available()
    listed = {v.name: v for v in voice_store.catalog()}
    assert listed["emma"].tier == "tiny" and listed["emma"].source == "downloaded" and listed["emma"].available
    assert listed["emma"].language == "British English"
    assert vocalize.Engine(model="tiny", voice="emma").synthesize("Downloaded.").duration > 0.3
    # A failed download is one error, and leaves nothing partial behind.
    with pytest.raises(vocalize.AssetError, match="cannot download the tiny voice 'fable'"):
        hub.download_voices(["fable"])
    assert [p for p in cache_files(hub.hub_cache()) if p.endswith((".incomplete", ".part")) or "fable" in p] == []


# ---------------------------------------------------------------------------------------------
# The command line


def test_speak_model_tiny_to_a_file_stdout_and_pcm(tmp_path):
    out = tmp_path / "hi.wav"
    result = run_cli("speak", "--model", "tiny", "Hello, world!", "-o", str(out))
    assert result.returncode == 0, result.stderr
    pcm = read_wav(out)
    assert 0.5 < len(pcm) / 24000 < 2.5 and np.abs(pcm).max() > 2000
    streamed = run_cli("speak", "--model", "tiny", TEXT, "-o", "-")
    assert streamed.returncode == 0, streamed.stderr
    with wave.open(io.BytesIO(streamed.stdout)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        assert w.readframes(10**9)
    raw = run_cli("speak", "--model", "tiny", "--phonemes", "həlˈO wˈɜɹld!", "-o", "-", "--format", "pcm")
    assert raw.returncode == 0, raw.stderr
    assert 0.4 < len(raw.stdout) / 2 / 24000 < 2.0


def test_speak_model_tiny_plays(tmp_path):
    played = tmp_path / "played.raw"
    (tmp_path / "sounddevice.py").write_text(
        "import os\n"
        "class OutputStream:\n"
        "    def __init__(self, **kwargs): self.out = open(os.environ['PLAYED'], 'wb')\n"
        "    def start(self): pass\n"
        "    def write(self, samples): self.out.write(samples.tobytes())\n"
        "    def stop(self): pass\n"
        "    def close(self): self.out.close()\n"
        "    def abort(self): self.out.close()\n"
    )
    path = os.pathsep.join(p for p in [str(tmp_path), os.environ.get("PYTHONPATH", "")] if p)
    result = run_cli("speak", "--model", "tiny", "Play this.", "--play", env={"PYTHONPATH": path, "PLAYED": str(played)})
    assert result.returncode == 0, result.stderr
    samples = np.frombuffer(played.read_bytes(), dtype=np.float32)
    assert 0.4 < len(samples) / 24000 < 2.5 and np.abs(samples).max() > 0.05


@pytest.mark.parametrize(
    "args, message",
    [
        (["--voice", "jm_kumo"], "is a voice of the Kokoro model, not of the tiny one"),
        (["--voice", "heart+kore"], "cannot be blended"),
        (["--voice", "emma"], "run `vocalize download voices emma`"),
        (["--lang", "ja"], "speaks English only"),
    ],
)
def test_speak_model_tiny_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out.wav"
    result = run_cli("speak", "--model", "tiny", "Hello.", "-o", str(out), *args)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_speak_with_a_tiny_voice_and_no_model_names_the_tiny_model(tmp_path):
    result = run_cli("speak", "Hello.", "--voice", "heart", "-o", str(tmp_path / "x.wav"))
    err = result.stderr.decode()
    assert result.returncode == 1 and "use it with --model tiny" in err and len(err.strip().splitlines()) == 1


def test_empty_text_and_bad_speed(tmp_path):
    out = tmp_path / "out.wav"
    empty = run_cli("speak", "--model", "tiny", "-o", str(out), input=b"  \n")
    assert empty.returncode == 1 and "text is empty" in empty.stderr.decode()
    speed = run_cli("speak", "--model", "tiny", "Hi.", "--speed", "9", "-o", str(out))
    assert speed.returncode == 2
    assert not out.exists()


START_UP = r"""
import json, sys, time
start = time.perf_counter()
from vocalize import cli
sys.argv = ["vocalize", "speak", "--model", "tiny", "Hello, world!", "-o", sys.argv[1], "--no-server"]
try:
    cli.main()
except SystemExit:
    pass
from vocalize import _native
print(json.dumps({"loaded": _native.loaded_models(), "modules": sorted(m for m in sys.modules if m.startswith(("vocalize", "onnx", "huggingface")))}))
"""


def test_speak_model_tiny_loads_nothing_else(tmp_path):
    """A new process speaking with the tiny model loads its model only: no Kokoro model
    (neither assembled nor loaded), no split, no optimized Kokoro graph; the tiny model's
    optimized graph is cached for the next process, as Kokoro's is."""
    cache = tmp_path / "cache"
    out = tmp_path / "hi.wav"
    env = {**os.environ, "VOCALIZE_CACHE": str(cache)}
    import subprocess

    for attempt in range(2):
        result = subprocess.run([sys.executable, "-c", START_UP, str(out)], capture_output=True, env=env, timeout=240)
        assert result.returncode == 0, result.stderr.decode()
        report = json.loads(result.stdout.decode().strip().splitlines()[-1])
        assert [kind for kind, _ in report["loaded"]] == ["tiny"], report
        assert report["loaded"][0][1].endswith("hibari.onnx")
        assert "onnx" not in report["modules"] and "onnxruntime" not in report["modules"]
        assert "huggingface_hub" not in report["modules"]
        files = [p.name for p in cache.rglob("*") if p.is_file()]
        assert not [f for f in files if "kokoro" in f.lower() or "encoder" in f or "decoder" in f], files
        assert len([f for f in files if f.endswith(".onnx") or f.endswith(".ort")]) == 1, files  # the tiny model's optimized graph
        assert len(read_wav(out)) > 12000


GIVES_BACK = r"""
import json, sys
import vocalize

def rss():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmRSS"].split()[0]) / 1024

engine = vocalize.Engine(model="tiny", seed=1)
engine.synthesize("Hello, world!")
before = rss()
audio = engine.synthesize(sys.argv[1])
print(json.dumps({"before": before, "after": rss(), "audio_mb": audio.samples.nbytes / 2**20}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_tiny_tier_gives_back_a_long_chunks_memory():
    """After a long text, the process holds little more than the audio it returned: the
    model's arena and the vocoder's buffers for its longest chunk are given back (before,
    about 70 MB stayed)."""
    import subprocess

    text = " ".join(["The quiet river carried the small boat past the old mill, under the bridge and out toward the wide grey sea."] * 2)
    text = f"{text} {text.replace('.', ';')}. Then it stopped."
    result = subprocess.run([sys.executable, "-c", GIVES_BACK, text], capture_output=True, timeout=240)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert report["audio_mb"] > 1.0, report  # a long chunk was spoken
    assert report["after"] - report["before"] - report["audio_mb"] < 25, report


def test_voices_and_info_list_the_tiny_voices_with_their_tier():
    result = run_cli("voices")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    heart = next(line for line in lines if line.split()[0] == "heart")
    assert heart.split()[1:] == ["American", "English", "female", "tiny", "embedded", "default"]
    emma = next(line for line in lines if line.split()[0] == "emma")
    assert "British English" in emma and "tiny" in emma and "not downloaded" in emma
    kumo = next(line for line in lines if line.split()[0] == "jm_kumo")
    assert "kokoro" in kumo
    listed = {v["name"]: v for v in json.loads(run_cli("voices", "--json").stdout)}
    assert {n for n, v in listed.items() if v["tier"] == "tiny"} == {"heart", "emma", "fable", "fenrir", "kore"}
    assert listed["heart"]["available"] and not listed["kore"]["available"]
    info = json.loads(run_cli("info", "--json").stdout)
    assert info["tiny voices"] == {"heart": "embedded", "emma": "not downloaded", "fenrir": "not downloaded",
                                   "fable": "not downloaded", "kore": "not downloaded"}
    assert info["tiny model"].startswith(str(tiny.hibari_assets()))
    assert "heart" not in vocalize.voices() and "heart" in tiny.available()


def test_bench_model_tiny():
    result = run_cli("bench", "--model", "tiny", "--runs", "1", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["model"] == "tiny" and figures["threads"] == default_threads()
    assert figures["audio_seconds"] > 5 and figures["real_time_factor"] > 0 and figures["first_audio_ms"] > 0


# ---------------------------------------------------------------------------------------------
# The server and `speak` through it


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    pytest.importorskip("fastapi")
    from server_process import running_server

    with running_server(tmp_path_factory.mktemp("tiny-server"), "--model", "tiny", "--workers", "2") as server:
        yield server


def post(server, body: dict, route: str = "/v1/audio/speech") -> tuple[int, bytes, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.url + route, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def test_server_captioned_speech_with_the_tiny_model_is_a_clear_400(tiny_server):
    status, data, _ = post(tiny_server, {"model": "tiny", "input": "Hello."}, "/dev/captioned_speech")
    assert status == 400 and "no word timestamps" in json.loads(data)["error"]["message"]
    status, data, _ = post(tiny_server, {"model": "kokoro", "input": "Hello.", "stream": False}, "/dev/captioned_speech")
    assert status == 200 and json.loads(data)["timestamps"]


def test_timestamps_with_the_tiny_model_are_a_clear_error(heart, tmp_path):
    engine = vocalize.Engine(model="tiny")
    with pytest.raises(vocalize.ModelError, match="no token durations"):
        engine.synthesize("Hello.", timestamps=True)
    result = run_cli("speak", "Hello.", "--model", "tiny", "-o", str(tmp_path / "a.wav"), "--captions", str(tmp_path / "a.srt"))
    assert result.returncode == 2 and "tiny model does not give" in result.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def server_formats() -> tuple[str, ...]:
    from vocalize import encoders

    return encoders.FORMATS


@pytest.mark.parametrize("fmt", server_formats())
def test_server_speaks_every_format_with_the_tiny_model(tiny_server, fmt):
    from vocalize import encoders

    status, data, kind = post(tiny_server, {"model": "tiny", "input": "Every format works.", "response_format": fmt})
    assert status == 200, data[:300]
    assert kind == encoders.MEDIA_TYPES[fmt] and len(data) > 1000
    if fmt == "wav":
        with wave.open(io.BytesIO(data)) as w:
            assert w.getframerate() == 24000 and w.readframes(10**9)


def test_server_tiny_voices_and_models(tiny_server):
    status, data, _ = post(tiny_server, {"model": "tiny", "input": "Hello.", "voice": "jm_kumo", "response_format": "pcm"})
    assert status == 400 and "voice of the Kokoro model" in json.loads(data)["error"]["message"]
    status, data, _ = post(tiny_server, {"model": "tiny", "input": "Hello.", "voice": "heart+kore", "response_format": "pcm"})
    assert status == 400 and "cannot be blended" in json.loads(data)["error"]["message"]
    status, data, _ = post(tiny_server, {"model": "tiny", "input": "Hello.", "voice": "alloy", "response_format": "pcm"})
    assert status == 200 and len(data) > 10000  # an OpenAI voice name speaks with heart
    status, data, _ = post(tiny_server, {"model": "kokoro", "input": "Hello.", "voice": "heart", "response_format": "pcm"})
    assert status == 400 and "--model tiny" in json.loads(data)["error"]["message"]
    status, data, _ = post(tiny_server, {"model": "tiny", "input": "x" * 5000, "response_format": "pcm"})
    assert status == 413
    status, data, _ = post(tiny_server, {"model": "tiny", "input": "Hi.", "speed": 4, "response_format": "pcm"})
    assert status == 400
    import urllib.request

    with urllib.request.urlopen(tiny_server.url + "/v1/models", timeout=30) as r:
        assert "tiny" in [m["id"] for m in json.loads(r.read())["data"]]
    with urllib.request.urlopen(tiny_server.url + "/v1/audio/voices", timeout=30) as r:
        voices = json.loads(r.read())
    assert voices["tiny"] == {"voices": ["heart"], "default": "heart"} and "jm_kumo" in voices["voices"]
    # Kokoro is there too, loaded with its first request.
    status, data, _ = post(tiny_server, {"model": "tts-1", "input": "Kokoro too.", "response_format": "pcm"})
    assert status == 200 and len(data) > 10000


def test_speak_model_tiny_goes_through_a_running_server(tiny_server, tmp_path):
    out = tmp_path / "served.wav"
    local = tmp_path / "local.wav"
    env = {"VOCALIZE_SERVER": tiny_server.url}
    before = tiny_server.metric("vocalize_http_requests_total", route="/v1/audio/speech", status="200")
    result = run_cli("speak", "--model", "tiny", "Served by the tiny model.", "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert tiny_server.metric("vocalize_http_requests_total", route="/v1/audio/speech", status="200") == before + 1
    assert run_cli("speak", "--model", "tiny", "Served by the tiny model.", "-o", str(local), "--no-server").returncode == 0
    served, mine = read_wav(out), read_wav(local)
    assert abs(len(served) - len(mine)) < 2400 and np.abs(served).max() > 2000  # same speech; the noise differs


def test_phonemize_for_a_british_tiny_voice_uses_the_british_g2p():
    british = run_cli("phonemize", "--voice", "emma", "Tomato, water.")
    american = run_cli("phonemize", "--voice", "heart", "Tomato, water.")
    assert british.returncode == american.returncode == 0
    assert "ɑː" in british.stdout.decode() and "ɑː" not in american.stdout.decode()
    assert "British English" in british.stderr.decode()
    # An explicit --lang is what the user asked for.
    told = run_cli("phonemize", "--voice", "emma", "--lang", "en-us", "Tomato, water.")
    assert told.stdout.decode().splitlines()[1] == american.stdout.decode().splitlines()[1]
