"""``vocalize bench``: how fast this machine runs vocalize, measured in this process.

Loads the model (as a first call in a new process would), then speaks a built-in text
several times, and reports load time, time to first audio, the real-time factor and peak
memory, like the benchmark commands of other TTS engines.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass

TEXT = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of storms. "
    "Every evening, the keeper climbed the spiral stairs to light the lamp, and ships passing in the night "
    "relied on its steady beam to guide them safely past the rocks."
)


@dataclass
class Result:
    """One bench run's figures; times in milliseconds."""

    model: str
    threads: int
    provider: str
    words: int
    runs: int
    frontend_setup_ms: float
    model_load_ms: float
    first_audio_ms: float
    first_audio_ms_runs: list[float]
    audio_seconds: float
    synthesis_seconds: float
    real_time_factor: float
    peak_rss_mb: float


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def run(
    text: str = TEXT,
    runs: int = 3,
    threads: int | None = None,
    voice: str | None = None,
    provider: str | None = None,
    progress=None,
    model: str | None = None,
) -> Result:
    """Measures ``runs`` streamed syntheses of ``text`` after loading everything once.

    ``real_time_factor`` is seconds of audio per second of synthesis (above 1: faster than
    real time); the time to first audio is the median over the runs."""
    from ..engine import Engine

    engine = Engine(voice=voice, threads=threads, provider=provider, model=model)
    start = time.perf_counter()
    engine._frontend_for(engine.voice).chunks("Warm up.")
    frontend_setup = time.perf_counter() - start
    start = time.perf_counter()
    engine._model()
    model_load = time.perf_counter() - start
    engine.synthesize("Warm up.")
    firsts: list[float] = []
    audio = synthesis = 0.0
    for i in range(runs):
        if progress:
            progress(i + 1, runs)
        start = time.perf_counter()
        first = None
        for piece in engine.stream(text):
            if first is None:
                first = time.perf_counter() - start
            audio += piece.duration
        synthesis += time.perf_counter() - start
        firsts.append((first or 0.0) * 1000)
    return Result(
        model=model or "kokoro",
        threads=engine.threads,
        provider=engine.provider,
        words=len(text.split()),
        runs=runs,
        frontend_setup_ms=round(frontend_setup * 1000, 1),
        model_load_ms=round(model_load * 1000, 1),
        first_audio_ms=round(statistics.median(firsts), 1),
        first_audio_ms_runs=[round(f, 1) for f in firsts],
        audio_seconds=round(audio, 3),
        synthesis_seconds=round(synthesis, 3),
        real_time_factor=round(audio / synthesis, 3) if synthesis else 0.0,
        peak_rss_mb=round(peak_rss_mb(), 1),
    )


def render(result: Result) -> str:
    r = asdict(result)
    return "\n".join(
        [
            f"model               {r['model']}",
            f"threads             {r['threads']} ({r['provider']})",
            f"text                {r['words']} words, {r['runs']} runs",
            f"text frontend setup {r['frontend_setup_ms']:8.0f} ms",
            f"model load          {r['model_load_ms']:8.0f} ms",
            f"first audio         {r['first_audio_ms']:8.0f} ms (median)",
            f"real-time factor    {r['real_time_factor']:8.2f}x ({r['audio_seconds']:.1f} s of audio in {r['synthesis_seconds']:.1f} s)",
            f"peak memory         {r['peak_rss_mb']:8.0f} MB",
        ]
    )
