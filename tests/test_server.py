"""`vocalize serve`: OpenAI's speech API, formats, errors, auth, back-pressure, cancellation.

One server (a `vocalize serve` subprocess on a free loopback port) serves the module; a second
one, with an API key, starts only for the auth tests.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import threading
import wave

import numpy as np
import pytest

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")
sf = pytest.importorskip("soundfile")

from server_process import Server, free_port, running_server  # noqa: E402

SHORT = "Hello from the speech server."
LONG = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of storms. "
    "Every evening, the keeper climbed the spiral stairs to light the lamp. "
) * 10  # 1,700 characters, about 50 s of audio: long enough to be cancelled while it is being made


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # workers 2 + queue 1: the fourth request at once is refused; short inputs to test 413.
    with running_server(tmp_path_factory.mktemp("server"), "--workers", "2", "--queue", "1", "--max-input-chars", "2000") as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="not-needed", max_retries=0)


@pytest.fixture(scope="module")
def reference(server):
    """The short text as raw PCM from the server: the length every format must decode to."""
    code, headers, body = server.post({"model": "kokoro", "input": SHORT, "voice": "jm_kumo", "response_format": "pcm"})
    assert code == 200, body
    assert headers["Content-Type"] == "audio/pcm"
    return np.frombuffer(body, dtype="<i2")


def test_health_is_503_until_warm_then_200(server):
    # The server answers while it warms up; /health says so until the engine is ready.
    assert server.health_codes[-1] == 200
    assert set(server.health_codes) <= {200, 503}
    code, _, body = server.get("/health")
    assert code == 200 and json.loads(body)["status"] == "ready"


def test_status_models_voices_and_openapi(server, client):
    status = server.status()
    assert status["ready"] and status["threads"] >= 1 and status["uptime_seconds"] > 0
    assert status["in_flight"] == 0 and status["queued"] == 0 and status["workers"] == 2
    assert "jm_kumo" in status["voices"] and status["model"]["path"].endswith(".onnx")
    code, _, body = server.get("/v1/audio/voices")
    voices = json.loads(body)
    assert code == 200 and "jf_alpha" in voices["voices"] and voices["default"] == "jm_kumo"
    assert {m.id for m in client.models.list()} >= {"kokoro", "tts-1"}
    code, _, body = server.get("/openapi.json")
    spec = json.loads(body)
    assert code == 200 and {"/v1/audio/speech", "/v1/audio/voices", "/v1/models", "/metrics", "/status", "/health"} <= set(spec["paths"])


def decode(fmt: str, data: bytes) -> np.ndarray:
    """Mono 16-bit samples of a response, decoded with what encoded it."""
    if fmt == "pcm":
        return np.frombuffer(data, dtype="<i2")
    if fmt == "wav":
        with wave.open(io.BytesIO(data)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
            return np.frombuffer(w.readframes(10**9), dtype="<i2")
    with sf.SoundFile(io.BytesIO(data)) as f:
        assert (f.samplerate, f.channels) == (24000, 1)
        if fmt != "flac":
            return f.read(dtype="int16")
        # A streamed FLAC's header says "length unknown" (it was sent before the length was
        # known). libsndfile decodes it, but its read() then seeks to the end, which fails
        # for such a stream: call its C read directly.
        out, block = [], np.empty(4096, dtype=np.int16)
        while (n := sf._snd.sf_readf_short(f._file, sf._ffi.cast("short *", block.ctypes.data), len(block))) > 0:
            out.append(block[:n].copy())
        return np.concatenate(out)


# Decoded length beyond the PCM: MP3 adds the encoder delay and pads to whole 576-sample frames.
SLACK = {"pcm": 0, "wav": 0, "flac": 0, "opus": 0, "mp3": 4 * 576}


@pytest.mark.parametrize("fmt", ["wav", "pcm", "mp3", "opus", "flac"])
def test_openai_client_every_format_decodes_to_the_audio(client, reference, fmt):
    response = client.audio.speech.create(model="kokoro", voice="jm_kumo", input=SHORT, response_format=fmt)
    samples = decode(fmt, response.content)
    assert len(reference) <= len(samples) <= len(reference) + SLACK[fmt], (len(samples), len(reference))
    if fmt in ("wav", "pcm", "flac"):  # lossless
        np.testing.assert_array_equal(samples[: len(reference)], reference)
    else:
        assert np.abs(samples).max() > 3000


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_openai_streaming_response_arrives_in_pieces(client, reference, fmt):
    text = "First a short piece. " + "Then a longer sentence follows it, so that the audio comes in several chunks."
    pieces = []
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=text, response_format=fmt) as response:
        assert response.headers["content-type"] == {"wav": "audio/wav", "mp3": "audio/mpeg"}[fmt]
        assert response.headers.get("transfer-encoding") == "chunked"
        for piece in response.iter_bytes():
            pieces.append(piece)
    samples = decode(fmt, b"".join(pieces))
    assert len(samples) / 24000 > 3.0


def test_openai_voice_names_speak_with_the_default_voice(server, reference):
    code, _, body = server.post({"model": "tts-1", "input": SHORT, "voice": "alloy", "response_format": "pcm"})
    assert code == 200
    np.testing.assert_array_equal(np.frombuffer(body, dtype="<i2"), reference)


def test_a_blend_speaks_like_the_engine_blend(server):
    import vocalize

    spec = "jm_kumo:0.7+jf_alpha:0.3"
    code, _, body = server.post({"input": SHORT, "voice": spec, "response_format": "pcm"})
    assert code == 200
    from vocalize.audio import to_pcm16

    local = np.frombuffer(to_pcm16(vocalize.Engine(voice=spec).synthesize(SHORT).samples), dtype="<i2")
    np.testing.assert_array_equal(np.frombuffer(body, dtype="<i2"), local)


def test_a_slower_speed_gives_longer_audio(server, reference):
    code, _, slow = server.post({"input": SHORT, "voice": "jf_alpha", "response_format": "pcm", "speed": 0.8})
    assert code == 200
    assert len(slow) / 2 > len(reference) * 1.1


def error(server, body, **kw):
    code, headers, data = server.post(body, **kw)
    return code, headers, json.loads(data)["error"] if data.startswith(b"{") else data


@pytest.mark.parametrize(
    "body, code, param, words",
    [
        ({"input": "Hi", "voice": "nobody"}, 400, "voice", ["jm_kumo", "jf_alpha"]),
        ({"input": "Hi", "voice": "../../etc/passwd"}, 400, "voice", ["no paths", "jm_kumo"]),
        ({"input": "Hi", "voice": "voices/jm_kumo.npy"}, 400, "voice", ["no paths"]),
        ({"input": "Hi", "voice": "~/x.npy"}, 400, "voice", ["no paths"]),
        ({"input": "Hi", "voice": "..\\\\x"}, 400, "voice", ["no paths"]),
        ({"input": "Hi", "voice": "jm_kumo:0.5+../x:0.5"}, 400, "voice", ["no paths"]),
        ({"input": "Hi", "response_format": "aac"}, 400, "response_format", ["wav", "pcm", "mp3", "opus", "flac"]),
        ({"input": "Hi", "response_format": "ogg"}, 400, "response_format", ["flac"]),
        ({"input": "Hi", "model": "whisper-1"}, 400, "model", ["kokoro"]),
        ({"input": "Hi", "speed": 4.0}, 400, "speed", ["0.5", "2.0"]),
        ({"input": "Hi", "speed": 0.25}, 400, "speed", ["0.5"]),
        ({"input": "   "}, 400, "input", ["empty"]),
        ({"voice": "jm_kumo"}, 400, "input", ["input"]),
        ({"input": "x" * 2001}, 413, "input", ["2000"]),
    ],
)
def test_bad_requests_say_what_is_valid(server, body, code, param, words):
    status, _, err = error(server, {"model": "kokoro", **body} if "model" not in body else body)
    assert status == code, err
    assert err["param"] == param, err
    for word in words:
        assert word in err["message"], err


def test_unknown_voice_in_a_blend_is_a_400_from_the_engine(server):
    status, _, err = error(server, {"input": "Hi", "voice": "jm_kumo:0.7+nobody:0.3"})
    assert status == 400 and "nobody" in err["message"] and "jm_kumo" in err["message"], err


def test_body_too_large_and_not_json(server):
    status, _, err = error(server, b'{"input": "' + b"a" * 100_000 + b'"}')
    assert status == 413 and "bytes" in err["message"]
    status, _, err = error(server, b"{not json")
    assert status == 400 and "JSON" in err["message"]
    # Without a Content-Length (chunked upload) the body is counted as it arrives.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    pieces = [b'{"input": "'] + [b"a" * 10_000] * 10 + [b'"}']
    conn.request("POST", "/v1/audio/speech", body=iter(pieces), headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413 and b"bytes" in response.read()
    conn.close()


def test_openai_client_sees_errors_as_exceptions(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.audio.speech.create(model="kokoro", voice="nobody", input="Hi")
    assert "jm_kumo" in str(e.value)


def test_metrics_parse_as_prometheus_text(server, reference):
    from prometheus_client.parser import text_string_to_metric_families

    code, headers, body = server.get("/metrics")
    assert code == 200 and headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name in (
        "vocalize_http_requests",
        "vocalize_errors",
        "vocalize_speech_time_to_first_audio_seconds",
        "vocalize_speech_duration_seconds",
        "vocalize_speech_real_time_factor",
        "vocalize_queue_depth",
        "vocalize_in_flight_requests",
    ):
        assert name in families, sorted(families)
    assert families["vocalize_speech_time_to_first_audio_seconds"].type == "histogram"
    assert server.metric("vocalize_http_requests_total", route="/v1/audio/speech", status="200") >= 1
    assert server.metric("vocalize_speech_time_to_first_audio_seconds_count") >= 1
    assert server.metric("vocalize_speech_real_time_factor_count") >= 1


def open_stream(server: Server, text: str = LONG) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request("POST", "/v1/audio/speech", json.dumps({"input": text, "response_format": "pcm"}), {"Content-Type": "application/json"})
    return conn


def test_disconnect_cancels_the_synthesis(server):
    completed = server.metric("vocalize_speech_duration_seconds_count")
    cancelled = server.metric("vocalize_errors_total", kind="cancelled")
    conn = open_stream(server)
    response = conn.getresponse()
    assert response.status == 200
    assert response.read1(4096)  # audio is flowing
    assert server.status()["in_flight"] == 1
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    # The worker is given back long before the minute of audio could have been made.
    server.wait_for(lambda s: s["in_flight"] == 0, "the cancelled request leave")
    assert server.metric("vocalize_errors_total", kind="cancelled") == cancelled + 1
    assert server.metric("vocalize_speech_duration_seconds_count") == completed  # it did not finish


def test_past_the_queue_bound_the_answer_is_503_with_retry_after(server):
    # Two workers and a queue of one: three long requests fill the server.
    conns = []
    try:
        for _ in range(3):
            conns.append(open_stream(server))
        server.wait_for(lambda s: s["in_flight"] == 2 and s["queued"] == 1, "2 synthesizing and 1 waiting")
        busy = server.metric("vocalize_errors_total", kind="busy")
        status, headers, err = error(server, {"input": SHORT})
        assert status == 503, err
        assert int(headers["Retry-After"]) >= 1
        assert "busy" in err["message"]
        assert server.metric("vocalize_errors_total", kind="busy") == busy + 1
        assert server.metric("vocalize_queue_depth") == 1
    finally:
        for conn in conns:
            if conn.sock:
                conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()
    # Every one of them is cancelled, the waiting one included.
    server.wait_for(lambda s: s["in_flight"] == 0 and s["queued"] == 0, "the server empty again")


def test_concurrent_requests_below_the_bound_all_succeed(server, reference):
    results: list[object] = []

    def one() -> None:
        code, _, body = server.post({"input": SHORT, "response_format": "pcm"})
        results.append(np.frombuffer(body, dtype="<i2") if code == 200 else code)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert len(results) == 3
    for samples in results:
        assert isinstance(samples, np.ndarray), samples
        np.testing.assert_array_equal(samples, reference)


# --- auth -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("keyed"), "--workers", "1", env={"VOCALIZE_API_KEY": "s3cret"}) as srv:
        yield srv


def test_api_key_is_required_when_set(keyed):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        status, h, err = error(keyed, {"input": SHORT}, headers=headers)
        assert status == 401 and h.get("WWW-Authenticate") == "Bearer", err
        assert keyed.get("/status", headers)[0] == 401
        assert keyed.get("/metrics", headers)[0] == 401
    assert keyed.get("/health")[0] == 200  # for load balancers and `vocalize serve` itself
    good = openai.OpenAI(base_url=keyed.url + "/v1", api_key="s3cret", max_retries=0)
    assert len(decode("wav", good.audio.speech.create(model="kokoro", voice="jm_kumo", input=SHORT, response_format="wav").content)) > 0
    bad = openai.OpenAI(base_url=keyed.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.audio.speech.create(model="kokoro", voice="jm_kumo", input=SHORT)


def test_api_key_is_not_needed_without_one(server):
    assert server.get("/status", {"Authorization": "Bearer anything"})[0] == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_refuses_to_listen_beyond_loopback_without_a_key(host):
    env = {k: v for k, v in os.environ.items() if k != "VOCALIZE_API_KEY"}
    exe = shutil.which("vocalize")
    result = subprocess.run([exe, "serve", "--host", host, "--port", str(free_port())], capture_output=True, env=env, timeout=60)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "API key" in err and len(err.strip().splitlines()) == 1, err


def test_serve_help():
    from click.testing import CliRunner

    from vocalize.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "--api-key" in result.output and "--workers" in result.output


def test_loopback_detection():
    from vocalize.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("example.com")


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac"])
def test_encoders_stream_bytes_as_pieces_arrive(fmt):
    from vocalize.encoders import encoder, mp3_frame_size

    tone = (0.3 * np.sin(np.arange(24000 * 3) / 24000 * 2 * np.pi * 220)).astype(np.float32)
    enc = encoder(fmt)
    out = [enc.start()]
    for i in range(0, len(tone), 6000):
        out.append(enc.encode(tone[i : i + 6000]))
    out.append(enc.finish())
    data = b"".join(out)
    # Bytes come out before the end: a client hears the start while the rest is made.
    assert sum(len(piece) for piece in out[:-1]) > len(data) // 2
    samples = decode(fmt, data)
    assert len(tone) <= len(samples) <= len(tone) + SLACK[fmt]
    if fmt == "mp3":
        size = mp3_frame_size(data[:4])
        assert size and any(data[4:size])  # the empty LAME tag placeholder frame was left out
