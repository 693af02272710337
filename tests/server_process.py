"""A `vocalize serve` subprocess on a free loopback port, for the server and client tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"server-{self.port}.log"
        exe = shutil.which("vocalize")
        cmd = [exe] if exe else [sys.executable, "-m", "vocalize.cli"]
        full_env = {**os.environ, **(env or {})}
        full_env.pop("VOCALIZE_DEBUG", None)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([*cmd, "serve", "--port", str(self.port), *args], stdout=log, stderr=subprocess.STDOUT, env=full_env)
        self.health_codes: list[int] = []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    self.health_codes.append(r.status)
                    return
            except urllib.error.HTTPError as e:
                self.health_codes.append(e.code)
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def post(self, body: object, headers: dict[str, str] | None = None, path: str = "/v1/audio/speech") -> tuple[int, Any, bytes]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json", **(headers or {})}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def status(self) -> dict:
        return json.loads(self.get("/status")[2])

    def metric(self, name: str, **labels: str) -> float:
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for family in text_string_to_metric_families(self.get("/metrics")[2].decode()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def wait_for(self, condition, what: str, timeout: float = 120) -> None:
        """Polls ``condition`` (a function of /status) until it holds; the timeout only stops
        a broken run from hanging, it is not what the test measures."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if condition(status):
                return
            time.sleep(0.05)
        raise AssertionError(f"never saw {what}: {self.status()}")


@contextlib.contextmanager
def running_server(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A ready ``vocalize serve`` (see :class:`Server`), stopped on the way out."""
    server = Server(tmp, *args, env=env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()

