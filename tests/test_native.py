"""The native module: its stub, zero-copy results, the GIL, errors, the timing spans."""

import subprocess
import sys
import threading

import numpy as np
import pytest

import vocalize
from vocalize import _native
from vocalize.assets import models, voice_store


def test_stub_matches_the_module():
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "vocalize._native"], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def model(engine):
    return engine._model()


def request(tokens, pause=0.0):
    style = voice_store.load_voices()["jm_kumo"][len(tokens) - 1]
    return (tokens, style, 1.0, pause)


HELLO = [50, 83, 54, 156, 57, 135, 3, 16, 65, 156, 87, 158, 54, 46, 5]


def test_audio_comes_back_without_a_copy(model):
    audio = model.synthesize([request(HELLO)])
    assert audio.dtype == np.float32 and audio.ndim == 1
    # The array wraps the Rust buffer: it does not own its data.
    assert not audio.flags.owndata and audio.base is not None


GIL_CHECK = """
import sys, threading, time
import vocalize

model = vocalize.Engine()._model()
from vocalize.assets import voice_store
tokens = %r
request = (tokens, voice_store.load_voices()["jm_kumo"][len(tokens) - 1], 1.0, 0.0)
model.synthesize([request])  # loaded and warm before the check
inside = False
seen = threading.Event()
done = threading.Event()

def watch():
    while not done.is_set():
        if inside:
            seen.set()
        time.sleep(0.001)  # releases the GIL between looks

# Set before the watcher starts, so each of its waits for the GIL is this long too: a wait
# begun under the usual 5 ms would take the GIL from running Python after 5 ms.
interval = sys.getswitchinterval()
sys.setswitchinterval(1000.0)
watcher = threading.Thread(target=watch)
watcher.start()
try:
    inside = True
    model.synthesize([request])
    inside = False
finally:
    sys.setswitchinterval(interval)
    done.set()
    watcher.join()
print("released" if seen.is_set() else "held")
"""


def test_inference_releases_the_gil():
    """Another thread runs Python while the main thread is inside the native call. The
    switch interval is made so long that the main thread never gives the GIL up on its own:
    the other thread can see `inside` set only if the native code released the GIL. It runs
    in a process of its own: there the watcher is the only other thread (in the test
    process, any thread left running Python would hold the GIL for the whole interval)."""
    result = subprocess.run([sys.executable, "-c", GIL_CHECK % (HELLO * 4,)], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "released"


def test_two_threads_share_one_model(model):
    results = [None, None]

    def run(i):
        results[i] = model.synthesize([request(HELLO)])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(results[0], results[1])


def test_pauses_are_appended_as_silence(model):
    plain = model.synthesize([request(HELLO)])
    paused = model.synthesize([request(HELLO, pause=0.5)])
    assert len(paused) - len(plain) == 12000
    assert np.all(paused[len(plain) :] == 0)


def test_silence_only_chunk(model):
    audio = model.synthesize([([], voice_store.load_voices()["jm_kumo"][0], 1.0, 0.25)])
    assert len(audio) == 6000 and not audio.any()


def test_stream_yields_chunks_in_order(model):
    chunks = [request(HELLO), request(HELLO[:8]), request(HELLO * 2)]
    streamed = list(model.stream(chunks))
    assert len(streamed) == 3
    whole = model.synthesize(chunks)
    np.testing.assert_array_equal(np.concatenate(streamed), whole)


def test_closed_stream_stops(model):
    stream = model.stream([request(HELLO)] * 5)
    next(stream)
    stream.close()
    assert list(stream) == []
    # The model is free for the next request right away.
    assert len(model.synthesize([request(HELLO)])) > 0


def test_close_from_another_thread_while_the_reader_waits(model):
    """The reader waits in __next__ (without the GIL, for a chunk being synthesized) when the
    main thread closes the stream: close() returns and the reader's loop ends. Repeated, so
    the close lands at different points of the reader's wait."""
    for _ in range(5):
        stream = model.stream([request(HELLO * 4)] * 6)
        got, started, failed = [], threading.Event(), []

        def read():
            started.set()
            try:
                for chunk in stream:
                    got.append(chunk)
            except BaseException as e:  # noqa: BLE001
                failed.append(e)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert started.wait(60)
        stream.close()
        reader.join(60)  # a bound so a deadlock fails instead of hanging
        assert not reader.is_alive(), "the reader's loop did not end"
        assert failed == [] and stream.closed
    assert len(model.synthesize([request(HELLO)])) > 0


@pytest.mark.parametrize(
    "tokens, match",
    [([1] * 511, "1 to 510"), ([1, 2, 3], None)],
)
def test_token_limits(model, tokens, match):
    style = voice_store.load_voices()["jm_kumo"][0]
    if match:
        with pytest.raises(vocalize.InputError, match=match):
            model.synthesize([(tokens, style, 1.0, 0.0)])
    else:
        audio = model.synthesize([(tokens, style, 1.0, 0.0)])
        assert audio.dtype == np.float32 and len(audio) > 0


def test_bad_style_width(model):
    with pytest.raises(vocalize.InputError, match="256"):
        model.synthesize([(HELLO, np.zeros(10, np.float32), 1.0, 0.0)])


def test_a_non_kokoro_onnx_model_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(vocalize.ModelError, match="not a Kokoro model"):
        _native.load_model(str(path))


def test_python_and_native_agree_on_the_shared_limits():
    """Voice files are read (with numpy, before the native module loads) with the widths
    the native engine takes: one style row per token count, STYLE_DIM values each."""
    assert (models.VOICE_ROWS, models.STYLE_DIM) == (_native.MAX_TOKENS, _native.STYLE_DIM)
    assert _native.ENCODER_OUTPUTS[:3] == _native.DECODER_INPUTS[:3]
