"""Stand-ins for what the tests cannot download: a second Kokoro ONNX export, and a
Hugging Face Hub served on 127.0.0.1.

The Hub speaks the part of the protocol ``hf_hub_download`` uses (read from
huggingface_hub's ``file_download.py``): ``HEAD`` then ``GET`` on
``/{repo_id}/resolve/{revision}/{filename}``; the metadata comes from ``X-Repo-Commit``,
``ETag`` (``X-Linked-Etag`` for LFS files) and ``Content-Length`` (``X-Linked-Size``);
a missing file is 404 with ``X-Error-Code: EntryNotFound``; after an interrupted body the
client retries, with ``Range: bytes=N-`` when it kept part of the file (answered with 206).
"""

from __future__ import annotations

import hashlib
import http.server
import re
import socket
import threading
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def build_model(path: Path, tokens: str = "input_ids", audio: str = "waveform") -> Path:
    """A tiny model with Kokoro's interface as the onnx-community export names it (inputs
    ``input_ids`` int64 [1, T], ``style`` float32 [1, 256], ``speed`` float32 [1]; output
    ``waveform`` float32 [N]). Its waveform is the style vector repeated once per input id
    (padding included) times the speed, so a test can tell which voice row reached it."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Shape", [tokens], ["ids_shape"]),
        helper.make_node("Gather", ["ids_shape", "one"], ["t"], axis=0),
        helper.make_node("Concat", ["t", "dim"], ["target"], axis=0),
        helper.make_node("Expand", ["style", "target"], ["tiled"]),
        helper.make_node("Mul", ["tiled", "speed"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "flat"], [audio]),
    ]
    initializers = [
        helper.make_tensor("one", TensorProto.INT64, [1], [1]),
        helper.make_tensor("dim", TensorProto.INT64, [1], [256]),
        helper.make_tensor("flat", TensorProto.INT64, [1], [-1]),
    ]
    graph = helper.make_graph(
        nodes,
        "kokoro-standin",
        [
            helper.make_tensor_value_info(tokens, TensorProto.INT64, [1, "T"]),
            helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, 256]),
            helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info(audio, TensorProto.FLOAT, ["N"])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="vocalize-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


class StandInHub:
    """A Hub on 127.0.0.1 serving ``files`` ({repo path: bytes}) of one repository.

    ``faults`` maps a repo path to what goes wrong: ``"404"`` (no such file), ``"500"`` (every
    request fails), ``"drop"`` (the body is cut after half, and every resumed request is cut
    before its first byte), ``"drop-once"`` (cut once, then resumed properly with 206)."""

    def __init__(self, repo_id: str, files: dict[str, bytes] | None = None, faults: dict[str, str] | None = None):
        self.repo_id = repo_id
        self.files = dict(files or {})
        self.faults = dict(faults or {})
        self.requests: list[tuple[str, str, str | None]] = []
        self._dropped: set[str] = set()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # keep test output clean
                pass

            def do_HEAD(self):
                hub._serve(self, body=False)

            def do_GET(self):
                hub._serve(self, body=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="standin-hub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "StandInHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def gets(self, filename: str) -> int:
        return sum(1 for method, name, _ in self.requests if method == "GET" and name == filename)

    def _serve(self, handler: http.server.BaseHTTPRequestHandler, body: bool) -> None:
        match = re.fullmatch(rf"/{re.escape(self.repo_id)}/resolve/([^/]+)/(.+)", handler.path)
        if match is None:
            self.requests.append((handler.command, handler.path, None))
            self._reply(handler, 404, b"", {"X-Error-Code": "RepoNotFound"}, body)
            return
        filename = match[2]
        self.requests.append((handler.command, filename, handler.headers.get("Range")))
        fault = self.faults.get(filename)
        if fault == "404" or (fault is None and filename not in self.files):
            self._reply(handler, 404, b"Entry not found", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}, body)
            return
        if fault == "500":
            # Retry-After: 0 keeps huggingface_hub's retries (5, with back-off) short.
            self._reply(handler, 500, b"Internal Error", {"Retry-After": "0"}, body)
            return
        data = self.files[filename]
        headers = {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        start = _range_start(handler.headers.get("Range"))
        if body and (fault == "drop" or (fault == "drop-once" and filename not in self._dropped)):
            self._dropped.add(filename)
            self._cut(handler, data, headers, half=start == 0)
            return
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self._reply(handler, 206, data[start:], headers, body)
        else:
            self._reply(handler, 200, data, headers, body)

    @staticmethod
    def _reply(handler, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if body:
            handler.wfile.write(data)

    @staticmethod
    def _cut(handler, data: bytes, headers: dict[str, str], half: bool) -> None:
        """Announces the whole file, sends half of it (or nothing), and drops the connection."""
        if half:
            handler.send_response(200)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def hub_env(url: str, home: Path) -> dict[str, str]:
    """The environment pointing huggingface_hub at a stand-in at ``url``, with a fresh cache in
    ``home`` (telemetry off, no proxy for the loopback)."""
    return {
        "HF_ENDPOINT": url,
        "HF_HOME": str(home / "hf"),
        "HF_HUB_CACHE": str(home / "hf" / "hub"),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def _range_start(value: str | None) -> int:
    match = re.fullmatch(r"bytes=(\d+)-", value or "")
    return int(match[1]) if match else 0
