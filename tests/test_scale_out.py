"""Two `vocalize serve` replicas behind a tiny round-robin TCP balancer on loopback: both serve,
each request whole, and a client (the OpenAI-style speech route) cannot tell them apart."""

from __future__ import annotations

import io
import itertools
import json
import socket
import threading
import urllib.request

import pytest

pytest.importorskip("fastapi")

from server_process import Server  # noqa: E402


class RoundRobin:
    """Accepts on a free loopback port and pipes each connection to the next backend in turn."""

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.backends = itertools.cycle(backends)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(next(self.backends))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()  # both pipes of a connection close both sockets; closing twice is harmless

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    servers = [Server(tmp_path_factory.mktemp(f"replica{i}"), "--workers", "1") for i in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        balancer = RoundRobin([("127.0.0.1", s.port) for s in servers])
        yield servers, balancer
        balancer.close()
    finally:
        for server in servers:
            server.stop()


def served(server: Server) -> float:
    return server.metric("vocalize_http_requests_total", route="/v1/audio/speech", status="200")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_replicas_behind_a_round_robin_both_serve(replicas):
    import soundfile

    servers, balancer = replicas
    before = [served(s) for s in servers]
    lengths = []
    for i in range(4):
        body = json.dumps({"model": "kokoro", "input": f"Replica request {i}.", "voice": "jm_kumo", "response_format": "flac"}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{balancer.port}/v1/audio/speech", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=240) as response:
            assert response.status == 200
            data = response.read()
        with soundfile.SoundFile(io.BytesIO(data)) as f:
            assert f.samplerate == 24000
        lengths.append(len(data))
    assert [served(s) - b for s, b in zip(servers, before)] == [2, 2]  # each replica took its turn
    for server in servers:  # readiness and the autoscaler's figures, through each replica
        assert server.get("/health")[0] == 200
        assert server.metric("vocalize_queue_depth") == 0
    assert all(n > 1000 for n in lengths)
