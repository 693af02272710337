"""`POST /dev/captioned_speech`: Kokoro-FastAPI's audio with word timestamps, streamed (one
JSON object per line) and whole."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

pytest.importorskip("fastapi")
sf = pytest.importorskip("soundfile")

from server_process import running_server  # noqa: E402

TEXT = "Captions from the server. [pause:0.5s] Each word has its time, even 12 of them."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("captions"), "--workers", "2", "--queue", "2") as srv:
        yield srv


def check_times(timestamps, duration):
    assert timestamps
    for a, b in zip(timestamps, timestamps[1:]):
        assert a["start_time"] <= a["end_time"] <= b["start_time"] <= b["end_time"]
    assert timestamps[-1]["end_time"] <= duration + 0.001


def test_whole_response_is_one_object_with_audio_and_timestamps(server):
    code, headers, body = server.post({"input": TEXT, "voice": "jm_kumo", "response_format": "wav", "stream": False}, path="/dev/captioned_speech")
    assert code == 200, body
    assert headers["Content-Type"].startswith("application/json")
    reply = json.loads(body)
    assert reply["audio_format"] == "audio/wav"
    samples, rate = sf.read(io.BytesIO(base64.b64decode(reply["audio"])))
    assert rate == 24000
    words = [t["word"] for t in reply["timestamps"]]
    assert words[:4] == ["Captions", "from", "the", "server."] and words[-1] == "them."
    check_times(reply["timestamps"], len(samples) / rate)


def test_streamed_lines_join_to_the_same_audio_and_words(server):
    whole = json.loads(server.post({"input": TEXT, "response_format": "pcm", "stream": False}, path="/dev/captioned_speech")[2])
    code, headers, body = server.post({"input": TEXT, "response_format": "pcm"}, path="/dev/captioned_speech")
    assert code == 200, body
    assert headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert len(lines) >= 2  # a line per piece as it is made
    audio = b"".join(base64.b64decode(line["audio"]) for line in lines)
    assert audio == base64.b64decode(whole["audio"])
    assert [t for line in lines for t in line["timestamps"]] == whole["timestamps"]
    check_times(whole["timestamps"], len(audio) / 2 / 24000)


def test_without_timestamps_and_bad_input(server):
    reply = json.loads(server.post({"input": "Hi.", "response_format": "wav", "stream": False, "return_timestamps": False}, path="/dev/captioned_speech")[2])
    assert reply["timestamps"] is None and reply["audio"]
    code, _, body = server.post({"input": "Hi.", "voice": "nobody"}, path="/dev/captioned_speech")
    assert code == 400 and json.loads(body)["error"]["param"] == "voice"
    code, _, body = server.post({"input": " "}, path="/dev/captioned_speech")
    assert code == 400


def test_the_schema_documents_the_captioned_endpoint(server):
    code, _, body = server.get("/openapi.json")
    schema = json.loads(body)
    operation = schema["paths"]["/dev/captioned_speech"]["post"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "application/x-ndjson"}
    request = schema["components"]["schemas"]["CaptionedSpeechRequest"]["properties"]
    assert {"input", "voice", "speed", "response_format", "stream", "return_timestamps"} <= set(request)
    assert "WordTimestamp" in schema["components"]["schemas"]
