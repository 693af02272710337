"""Engine.stream / astream: order, equality with synthesize(), seams, cancellation."""

import asyncio
import gc
import threading
import time

import numpy as np
import pytest

import vocalize
from vocalize import _native

STORY = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of storms. "
    "Every evening, the keeper climbed the spiral stairs to light the lamp. "
    "Ships passing in the night relied on its steady beam to guide them safely past the rocks.\n\n"
    "One winter, a terrible storm knocked out the power across the entire coast. "
    "The keeper lit oil lanterns and kept watch until dawn. "
    "By morning, three fishing boats had returned home safely, their crews grateful for the light."
)


@pytest.fixture(scope="module")
def whole(engine):
    return engine.synthesize(STORY).samples


@pytest.fixture(scope="module")
def streamed(engine):
    return list(engine.stream(STORY))


def test_stream_concatenates_to_synthesize(streamed, whole):
    assert len(streamed) >= 3
    assert all(isinstance(p, vocalize.Audio) and p.duration > 0 for p in streamed)
    np.testing.assert_array_equal(np.concatenate([p.samples for p in streamed]), whole)


def test_first_chunk_is_short_and_comes_before_the_rest_is_done(engine):
    engine.synthesize("warm up")
    _native.enable_tracing()
    _native.take_spans()
    stream = engine.stream(STORY)
    first = next(stream)
    work = ("inference", "decode")
    done_at_first = [s for s in _native.take_spans() if s[2] in work]
    rest = list(stream)
    done_later = [s for s in _native.take_spans() if s[2] in work]
    assert len(rest) >= 2
    # When the first audio arrived, most of the text had not been synthesized yet.
    assert len(done_at_first) < len(done_later)
    name, size = done_at_first[0][3].split("=")
    # A short first chunk: the first clause, about 3 s of audio.
    assert int(size) <= (60 if name == "tokens" else 160), done_at_first[0]
    assert first.duration < 4.0
    assert first.duration < max(p.duration for p in rest)


def test_seams_have_no_clicks(streamed):
    pieces = [p.samples for p in streamed]
    audio = np.concatenate(pieces)
    steps = np.abs(np.diff(audio))
    typical = np.percentile(steps[steps > 0], 90)
    offset = 0
    for piece in pieces[:-1]:
        offset += len(piece)
        seam = abs(float(audio[offset]) - float(audio[offset - 1]))
        assert seam <= typical, (seam, typical)
    # The stream starts and ends at silence: a fade or a pause.
    assert abs(audio[0]) < 1e-3 and abs(audio[-1]) < 1e-3


def test_breaking_out_releases_the_engine(engine):
    for i, _ in enumerate(engine.stream(STORY)):
        if i == 0:
            break
    # A new request runs right after, and to completion.
    assert engine.synthesize("Next request.").duration > 0.5


def test_closing_a_stream_terminates_its_running_inference(engine):
    """The chunk being synthesized when the stream is closed is stopped midway (ONNX
    Runtime's terminate flag), not run to its end: the sessions are free at once."""
    _native.enable_tracing()
    stream = engine.stream(STORY)
    next(stream)  # the second chunk is being synthesized now
    _native.take_spans()
    stream.close()
    assert _native.stop_streams(30.0)  # every worker has left ONNX Runtime
    names = [s[2] for s in _native.take_spans()]
    assert "terminated" in names, names
    assert engine.synthesize("Next request.").duration > 0.5


@pytest.mark.slow
def test_a_stream_left_open_at_exit_exits_cleanly(tmp_path):
    """A generator never closed, its inference still running at interpreter exit: the
    process exits at once with status 0 and nothing from ONNX Runtime on stderr."""
    import subprocess
    import sys

    script = (
        "import vocalize\n"
        f"stream = vocalize.Engine().stream({STORY!r})\n"
        "next(stream)\n"
        "print('exiting')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exiting"
    assert "onnxruntime" not in result.stderr.lower() and "error" not in result.stderr.lower(), result.stderr


def test_abandoned_generators_do_not_block(engine):
    for _ in range(3):
        stream = engine.stream(STORY)
        next(stream)
        del stream
        gc.collect()
    assert engine.synthesize("Still working.").duration > 0.5


# A closed stream's reader must be out of its loop long before this; the bound is only there
# so a deadlock fails the test instead of hanging it.
HANG = 60.0


def read_in_thread(stream):
    """Starts a thread that reads ``stream`` to its end; returns (thread, pieces, errors, first)."""
    pieces, errors, first = [], [], threading.Event()

    def read():
        try:
            for piece in stream:
                pieces.append(piece)
                first.set()
        except BaseException as e:  # noqa: BLE001  the test inspects it
            errors.append(e)
        finally:
            first.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, pieces, errors, first


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5])
def test_close_from_another_thread_ends_the_readers_loop(engine, delay):
    """A reader thread is in its loop (waiting in next(), or between pieces) when another
    thread closes the stream: close() returns, the inference under way is terminated and the
    reader's loop ends without an exception, long before the text could have been spoken."""
    _native.enable_tracing()
    stream = engine.stream(STORY)
    reader, pieces, errors, first = read_in_thread(stream)
    assert first.wait(HANG), "no first piece"
    time.sleep(delay)
    closer = threading.Thread(target=stream.close, daemon=True)
    closer.start()
    closer.join(HANG)
    assert not closer.is_alive(), "close() did not return"
    reader.join(HANG)
    assert not reader.is_alive(), "the reader's loop did not end"
    assert errors == []
    assert stream.closed
    assert _native.stop_streams(HANG)  # nothing of this stream is left in ONNX Runtime
    assert list(stream) == []


def test_close_before_reading_and_twice(engine):
    stream = engine.stream(STORY)
    stream.close()
    stream.close()
    assert list(stream) == [] and stream.closed


def test_a_with_block_closes_the_stream(engine):
    with engine.stream(STORY) as stream:
        first = next(stream)
    assert first.duration > 0 and stream.closed
    assert list(stream) == []
    assert engine.synthesize("Next request.").duration > 0.5


def test_aclose_from_another_task_ends_the_readers_loop(engine):
    async def run():
        stream = engine.astream(STORY)
        got: list = []

        async def read():
            async for piece in stream:
                got.append(piece)

        reader = asyncio.create_task(read())
        while not got:
            await asyncio.sleep(0.01)
        await stream.aclose()
        await asyncio.wait_for(reader, HANG)  # ends, without an exception
        return stream, got

    stream, got = asyncio.run(run())
    assert stream.closed and len(got) >= 1
    assert engine.synthesize("Next request.").duration > 0.5


def test_astream_closed_before_it_opens(engine):
    async def run():
        async with engine.astream(STORY) as stream:
            pass
        return [p async for p in stream]

    assert asyncio.run(run()) == []


@pytest.mark.slow
def test_two_threads_stream_at_once(engine, whole):
    results: dict[int, np.ndarray] = {}

    def run(i):
        results[i] = np.concatenate([p.samples for p in engine.stream(STORY)])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    np.testing.assert_array_equal(results[0], whole)
    np.testing.assert_array_equal(results[1], whole)


def test_astream(engine, whole):
    async def collect():
        return [p.samples async for p in engine.astream(STORY)]

    pieces = asyncio.run(collect())
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_astream_cancelled_mid_chunk_releases_the_engine(engine):
    """Cancelling the task while a chunk is being made closes the stream once that chunk is
    done (no "generator already executing"), and the engine serves the next request."""

    async def cancel_during_second_chunk():
        got = []

        async def consume():
            async for piece in engine.astream(STORY):
                got.append(piece)

        task = asyncio.create_task(consume())
        while not got:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return len(got)

    assert asyncio.run(cancel_during_second_chunk()) >= 1
    assert engine.synthesize("Still here.").duration > 0.3


def test_stream_errors_early(engine):
    with pytest.raises(vocalize.InputError):
        next(engine.stream("   "))
    with pytest.raises(vocalize.InputError):
        next(engine.stream("Hi", voice="nobody"))
