"""What ``GET /metrics`` reports, in Prometheus' text format (one registry per app)."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
RTF_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 5.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, in_flight: Callable[[], float], queued: Callable[[], float], model: str, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "vocalize_http_requests", "HTTP requests answered, by route and status code.", ["route", "status"], registry=r
        )
        self.errors = Counter(
            "vocalize_errors",
            "Requests that failed, by kind: invalid_request, too_large, unauthorized, busy, not_ready, "
            "cancelled (the client went away), synthesis (the engine failed).",
            ["kind"],
            registry=r,
        )
        self.first_audio = Histogram(
            "vocalize_speech_time_to_first_audio_seconds",
            "From a speech request's arrival to its first audio ready to send.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "vocalize_speech_duration_seconds",
            "From a speech request's arrival to its last byte handed to the connection.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "vocalize_speech_queue_wait_seconds",
            "Time a speech request waited for a free worker.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rtf = Histogram(
            "vocalize_speech_real_time_factor",
            "Synthesis time over the duration of the audio made, per completed request (below 1 is faster than real time).",
            buckets=RTF_BUCKETS,
            registry=r,
        )
        self.audio_seconds = Counter("vocalize_speech_audio_seconds", "Seconds of audio synthesized.", registry=r)
        self.characters = Counter("vocalize_speech_input_characters", "Characters of input text accepted.", registry=r)
        in_flight_gauge = Gauge("vocalize_in_flight_requests", "Speech requests holding a worker now.", registry=r)
        in_flight_gauge.set_function(in_flight)
        queue_gauge = Gauge("vocalize_queue_depth", "Speech requests waiting for a worker now.", registry=r)
        queue_gauge.set_function(queued)
        info = Gauge("vocalize_info", "The server's version and model.", ["version", "model"], registry=r)
        info.labels(version=version, model=model).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
