"""`vocalize speak` through a running `vocalize serve` (vocalize.client), and its fallbacks."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading

import pytest

from conftest import read_wav, run_cli

pytest.importorskip("fastapi")

from server_process import Server, free_port, running_server  # noqa: E402

TEXT = "The server speaks this sentence, and the file must match."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("server"), "--workers", "1") as srv:
        yield srv


def served(server: Server) -> float:
    return server.metric("vocalize_http_requests_total", route="/v1/audio/speech", status="200")


@pytest.fixture(scope="module")
def local_wav(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "local.wav"
    result = run_cli("speak", TEXT, "-o", str(out), "--no-server")
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def test_speak_through_the_server_writes_the_same_wav(server, local_wav, tmp_path):
    before = served(server)
    out = tmp_path / "served.wav"
    result = run_cli("speak", TEXT, "-o", str(out), env={"VOCALIZE_SERVER": server.url})
    assert result.returncode == 0, result.stderr
    assert served(server) == before + 1  # it went through the server
    assert out.read_bytes() == local_wav  # byte for byte, header sizes included
    assert [p.name for p in tmp_path.iterdir()] == ["served.wav"]  # no temporary file left


def test_speak_to_stdout_and_as_pcm_through_the_server(server, local_wav):
    before = served(server)
    wav = run_cli("speak", TEXT, "-o", "-", env={"VOCALIZE_SERVER": server.url})
    pcm = run_cli("speak", TEXT, "-o", "-", "--format", "pcm", env={"VOCALIZE_SERVER": server.url})
    assert wav.returncode == 0 and pcm.returncode == 0, (wav.stderr, pcm.stderr)
    assert served(server) == before + 2
    assert wav.stdout[44:] == local_wav[44:] and wav.stdout[:4] == b"RIFF"  # a stream's header: length unknown
    assert pcm.stdout == local_wav[44:]


def test_other_formats_through_the_server_are_the_files_speak_writes_itself(server, local_wav, tmp_path):
    """The server's PCM through the same encoders: FLAC the same samples, mp3 and Ogg Opus
    as long, whether the model ran here or in the server."""
    import io

    import numpy as np
    import soundfile

    reference = np.frombuffer(local_wav[44:], dtype="<i2")
    before = served(server)
    for name, subtype, slack in [("served.flac", "PCM_16", 0), ("served.mp3", "MPEG_LAYER_III", 2400), ("served.ogg", "OPUS", 1000)]:
        result = run_cli("speak", TEXT, "-o", str(tmp_path / name), env={"VOCALIZE_SERVER": server.url})
        assert result.returncode == 0, result.stderr
        with soundfile.SoundFile(io.BytesIO((tmp_path / name).read_bytes())) as f:
            assert (f.samplerate, f.channels, f.subtype) == (24000, 1, subtype)
            samples = f.read(dtype="int16")
        assert abs(len(samples) - len(reference)) <= slack, name
        if subtype == "PCM_16":
            assert np.array_equal(samples, reference)
    assert served(server) == before + 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served.flac", "served.mp3", "served.ogg"]


def test_voice_and_speed_go_to_the_server(server, tmp_path):
    before = served(server)
    out, ref = tmp_path / "a.wav", tmp_path / "b.wav"
    args = ("speak", "Slower, please.", "--voice", "jf_alpha", "--speed", "0.8")
    assert run_cli(*args, "-o", str(out), env={"VOCALIZE_SERVER": server.url}).returncode == 0
    assert run_cli(*args, "-o", str(ref), "--no-server").returncode == 0
    assert served(server) == before + 1
    assert out.read_bytes() == ref.read_bytes()


def test_the_client_path_loads_neither_numpy_nor_the_engine(server, tmp_path):
    out = tmp_path / "light.wav"
    code = (
        "import sys\n"
        "from vocalize.cli import main\n"
        f"sys.argv = ['vocalize', 'speak', {TEXT!r}, '-o', {str(out)!r}]\n"
        "main()\n"
        "print([m for m in ('numpy', 'onnxruntime', 'vocalize._native', 'vocalize.engine', 'hibari') if m in sys.modules], file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**_env(), "VOCALIZE_SERVER": server.url}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "[]", result.stderr
    assert len(read_wav(out)) > 24000


def test_falls_back_when_no_server_listens(local_wav, tmp_path):
    out = tmp_path / "fallback.wav"
    result = run_cli("speak", TEXT, "-o", str(out), env={"VOCALIZE_SERVER": f"http://127.0.0.1:{free_port()}"})
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == local_wav


def test_options_the_server_does_not_take_stay_local(server, tmp_path):
    before = served(server)
    env = {"VOCALIZE_SERVER": server.url}
    assert run_cli("speak", "həlˈO.", "--phonemes", "-o", str(tmp_path / "p.wav"), env=env).returncode == 0
    assert run_cli("speak", "Hi there.", "--threads", "1", "-o", str(tmp_path / "t.wav"), env=env).returncode == 0
    assert run_cli("speak", "Hi there.", "--no-server", "-o", str(tmp_path / "n.wav"), env=env).returncode == 0
    assert run_cli("speak", "Hi there.", "-o", str(tmp_path / "off.wav"), env={"VOCALIZE_SERVER": "off"}).returncode == 0
    assert served(server) == before


def test_bad_input_through_the_server_is_the_usual_one_line_error(server, tmp_path):
    out = tmp_path / "bad.wav"
    result = run_cli("speak", "Hi", "-o", str(out), "--voice", "nobody", env={"VOCALIZE_SERVER": server.url})
    err = result.stderr.decode()
    assert result.returncode == 1 and "jm_kumo" in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


class _Fake(http.server.BaseHTTPRequestHandler):
    """A server that refuses (503) or breaks off mid-stream."""

    mode = "busy"
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.mode == "busy":
            body = json.dumps({"error": {"message": "server busy"}}).encode()
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/pcm")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"2000\r\n" + bytes(0x2000) + b"\r\n")  # some audio, then the connection drops
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=["busy", "drops"])
def fake(request):
    handler = type("Handler", (_Fake,), {"mode": request.param})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_falls_back_when_the_server_refuses_or_breaks_off(fake, local_wav, tmp_path):
    out = tmp_path / "out.wav"
    result = run_cli("speak", TEXT, "-o", str(out), env={"VOCALIZE_SERVER": fake})
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == local_wav  # the local synthesis, not a half-served file
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_server_url_and_voices(monkeypatch):
    from vocalize import client

    monkeypatch.delenv("VOCALIZE_SERVER", raising=False)
    assert client.server_url() == "http://127.0.0.1:8880"
    monkeypatch.setenv("VOCALIZE_SERVER", "off")
    assert client.server_url() is None
    monkeypatch.setenv("VOCALIZE_SERVER", "http://10.1.2.3:9000")
    assert client.server_url() == "http://10.1.2.3:9000"
    assert client.usable_voice(None) and client.usable_voice("jm_kumo") and client.usable_voice("jm_kumo:0.7+jf_alpha:0.3")
    assert not client.usable_voice("./voices/mine.npy") and not client.usable_voice("~/v.bin") and not client.usable_voice("a/b")


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("VOCALIZE_DEBUG", None)
    return env
