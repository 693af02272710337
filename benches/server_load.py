"""Load on `vocalize serve`: time to first audio, throughput, back-pressure and memory.

Starts a server on a free loopback port (or uses --url, loopback only), then:

1. peer: the same first text streamed in this process with Engine.stream, with the server
   idle; server time to first byte is printed as a ratio to it (the cost of HTTP and queueing);
2. closed-loop clients, 1, 2, 4 and 8 at once, each streaming its own 2-3 sentence texts as
   raw PCM, one request after another: p50 / p95 time to first byte of audio, audio seconds
   per wall second (all clients together), errors, 503s;
3. over the bound: more clients than workers + queue, each sending one request at once:
   the surplus must get 503 (with Retry-After) quickly, not time out;
4. memory: the server's RSS after the first 50 requests and after --rss-requests (short
   sentences in every response format, two clients).

Every loop is bounded in requests and seconds, and only 127.0.0.1 is contacted.

    python benches/server_load.py                      # about 5-8 minutes on 2 cores
    python benches/server_load.py --rss-requests 500   # the long memory run
    python benches/server_load.py --levels 1,4 --requests-per-client 2 --rss-requests 60

The machine may be shared: compare the ratios, and rerun before trusting absolute times.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

TEXTS = [
    "The train pulled into the station just after midnight. A few tired passengers stepped onto the cold platform, pulling their coats tight.",
    "She opened the old wooden box and found a stack of letters. Each one was tied with a faded blue ribbon and addressed to her grandmother.",
    "Rain had been falling for three days without a pause. The river rose slowly, and the farmers moved their animals to higher ground.",
    "He practiced the piano every morning before breakfast. By the end of the summer, he could play the whole sonata from memory.",
    "The market opens at six on Saturdays. Farmers bring apples, honey and fresh bread, and the square fills with people by seven.",
    "Our flight was delayed by two hours. We found a quiet corner of the airport, shared a sandwich, and watched the planes land in the fog.",
    "The museum's new wing is devoted to maps. Some of them are five hundred years old, drawn by hand on sheets of thin, brittle parchment.",
    "A small robot rolled across the laboratory floor. It stopped at the door, turned its camera toward us, and waited for someone to open it.",
]
SHORT = [
    "Good morning.", "The meeting starts at ten.", "Please close the window.", "It is raining again today.",
    "Thank you for calling.", "The package has arrived.", "Turn left at the next corner.", "Dinner is ready.",
]
FORMATS = ["pcm", "wav", "mp3", "opus", "flac"]
BYTES_PER_SECOND = 48_000  # 16-bit mono at 24 kHz


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Result:
    def __init__(self) -> None:
        self.first: float | None = None
        self.total = 0.0
        self.audio = 0.0
        self.status = 0
        self.error = ""
        self.retry_after: str | None = None


def speak(host: str, port: int, text: str, fmt: str = "pcm", timeout: float = 120.0) -> Result:
    """One streamed request; time to the first audio byte and to the end."""
    result = Result()
    body = json.dumps({"model": "kokoro", "input": text, "voice": "jm_kumo", "response_format": fmt})
    start = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        result.status = response.status
        if response.status != 200:
            result.retry_after = response.getheader("Retry-After")
            result.error = response.read().decode("utf-8", "replace")[:200]
            return result
        size = 0
        while True:
            data = response.read1(65536)
            if not data:
                break
            if result.first is None:
                result.first = time.perf_counter() - start
            size += len(data)
        result.audio = size / BYTES_PER_SECOND
    except (OSError, http.client.HTTPException) as e:
        result.error = f"{type(e).__name__}: {e}"
    finally:
        result.total = time.perf_counter() - start
        conn.close()
    return result


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def closed_loop(host: str, port: int, clients: int, per_client: int, max_seconds: float) -> dict:
    results: list[Result] = []
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def client(i: int) -> None:
        for k in range(per_client):
            if time.monotonic() > deadline:
                return
            r = speak(host, port, TEXTS[(i + k * clients) % len(TEXTS)])
            with lock:
                results.append(r)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ok = [r for r in results if r.status == 200 and not r.error]
    firsts = [r.first for r in ok if r.first is not None]
    return {
        "clients": clients,
        "requests": len(results),
        "p50_first": percentile(firsts, 0.5),
        "p95_first": percentile(firsts, 0.95),
        "audio_per_wall": sum(r.audio for r in ok) / wall,
        "errors": sum(1 for r in results if r.status != 200 or r.error),
        "busy": sum(1 for r in results if r.status == 503),
        "wall": wall,
    }


def over_the_bound(host: str, port: int, clients: int) -> dict:
    """``clients`` requests at once, each with a 2-3 sentence text."""
    results: list[Result] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        r = speak(host, port, TEXTS[i % len(TEXTS)], timeout=300)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    busy = [r for r in results if r.status == 503]
    return {
        "clients": clients,
        "ok": sum(1 for r in results if r.status == 200 and not r.error),
        "busy": len(busy),
        "busy_with_retry_after": sum(1 for r in busy if r.retry_after),
        "busy_answer_max_s": max((r.total for r in busy), default=float("nan")),
        "other_errors": [r.error or r.status for r in results if r.status not in (200, 503) or (r.status == 200 and r.error)],
    }


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory(host: str, port: int, pid: int, total: int, clients: int = 2) -> dict:
    done = 0
    errors = 0
    lock = threading.Lock()
    marks: dict[int, int] = {}
    next_index = iter(range(total))

    def client() -> None:
        nonlocal done, errors
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            r = speak(host, port, SHORT[i % len(SHORT)] + " " + SHORT[(i * 3 + 1) % len(SHORT)], FORMATS[i % len(FORMATS)])
            with lock:
                done += 1
                errors += bool(r.status != 200 or r.error)
                if done in (50, total):
                    marks[done] = rss_kib(pid)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"requests": total, "errors": errors, "rss_after_50_mib": marks.get(50, 0) / 1024,
            "rss_after_all_mib": marks.get(total, 0) / 1024, "wall": time.perf_counter() - start}


def peer_first_audio(text: str, repeats: int = 3) -> float:
    """Time to the first piece of Engine.stream in this process (warm): what HTTP adds to."""
    import vocalize

    engine = vocalize.Engine()
    engine.warm_up()
    engine.synthesize("Warm up.")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        stream = engine.stream(text)
        next(stream)
        times.append(time.perf_counter() - start)
        for _ in stream:  # to the end, so no cancelled chunk is still running at the next start
            pass
    return statistics.median(times)


def start_server(port: int, workers: int | None, queue: int | None, log: str) -> subprocess.Popen:
    exe = shutil.which("vocalize")
    cmd = [exe] if exe else [sys.executable, "-m", "vocalize.cli"]
    cmd += ["serve", "--port", str(port)]
    if workers:
        cmd += ["--workers", str(workers)]
    if queue is not None:
        cmd += ["--queue", str(queue)]
    env = {k: v for k, v in os.environ.items() if k != "VOCALIZE_API_KEY"}
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server not ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server on this machine (loopback only) instead of starting one")
    parser.add_argument("--pid", type=int, help="the --url server's process id, for its RSS")
    parser.add_argument("--workers", type=int, help="server --workers (default: the server's)")
    parser.add_argument("--queue", type=int, help="server --queue (default: the server's)")
    parser.add_argument("--levels", default="1,2,4,8", help="concurrent clients to measure")
    parser.add_argument("--requests-per-client", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=120, help="per level")
    parser.add_argument("--rss-requests", type=int, default=150, help="requests in the memory run (500 for the full one)")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    proc = None
    if args.url:
        url = args.url.rstrip("/")
        host = urllib.parse.urlsplit(url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("only a server on this machine (127.0.0.1) may be loaded")
        port = urllib.parse.urlsplit(url).port or 80
        pid = args.pid
    else:
        host, port = "127.0.0.1", free_port()
        url = f"http://{host}:{port}"
        log = tempfile.NamedTemporaryFile(prefix="vocalize-serve-", suffix=".log", delete=False).name
        proc = start_server(port, args.workers, args.queue, log)
        pid = proc.pid
        print(f"server: {url} (log {log})")
    figures: dict = {"machine": {"cores": os.cpu_count(), "load_before": os.getloadavg()}}
    try:
        wait_ready(url, proc)
        with urllib.request.urlopen(url + "/status") as r:
            status = json.load(r)
        workers, queue = status["workers"], status["queue_limit"]
        print(f"workers {workers}, queue {queue}, threads {status['threads']}, load average {os.getloadavg()[0]:.2f}")
        figures["server"] = {"workers": workers, "queue": queue, "threads": status["threads"]}

        speak(host, port, TEXTS[0])  # the server's first request of this run
        if not args.skip_peer:
            peer = peer_first_audio(TEXTS[0])
            solo = sorted(speak(host, port, TEXTS[0]).first or float("nan") for _ in range(3))[1]
            figures["peer"] = {"engine_stream_first_s": peer, "server_first_byte_s": solo}
            print(f"\npeer, idle server, same text: Engine.stream first audio {peer * 1000:.0f} ms, "
                  f"server first byte {solo * 1000:.0f} ms (x{solo / peer:.2f})")

        print(f"\n{'clients':>7} {'requests':>8} {'p50 first':>10} {'p95 first':>10} {'audio s/s':>9} {'errors':>6} {'503':>4} {'wall s':>7}")
        levels = []
        for clients in [int(c) for c in args.levels.split(",") if c]:
            row = closed_loop(host, port, clients, args.requests_per_client, args.max_seconds)
            levels.append(row)
            print(f"{row['clients']:>7} {row['requests']:>8} {row['p50_first'] * 1000:>8.0f}ms {row['p95_first'] * 1000:>8.0f}ms "
                  f"{row['audio_per_wall']:>9.2f} {row['errors']:>6} {row['busy']:>4} {row['wall']:>7.1f}")
        figures["levels"] = levels
        if levels and levels[0]["clients"] == 1:
            base = levels[0]["audio_per_wall"]
            print("throughput vs 1 client: " + ", ".join(f"{r['clients']}: x{r['audio_per_wall'] / base:.2f}" for r in levels))

        burst = 2 * (workers + queue) + 2
        over = over_the_bound(host, port, burst)
        figures["over_the_bound"] = over
        print(f"\nover the bound ({workers} workers + {queue} queued): {burst} requests at once -> {over['ok']} served, "
              f"{over['busy']} x 503 ({over['busy_with_retry_after']} with Retry-After, slowest 503 in "
              f"{over['busy_answer_max_s'] * 1000:.0f} ms), other errors: {over['other_errors'] or 'none'}")

        if pid and args.rss_requests >= 50:
            mem = memory(host, port, pid, args.rss_requests)
            figures["memory"] = mem
            growth = mem["rss_after_all_mib"] / mem["rss_after_50_mib"] - 1 if mem["rss_after_50_mib"] else float("nan")
            print(f"\nmemory: RSS after 50 requests {mem['rss_after_50_mib']:.0f} MiB, after {mem['requests']} "
                  f"{mem['rss_after_all_mib']:.0f} MiB ({growth * 100:+.1f} %), {mem['errors']} errors, {mem['wall']:.0f} s")
        figures["machine"]["load_after"] = os.getloadavg()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=2)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
