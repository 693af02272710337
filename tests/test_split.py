"""The model split into encoder and decoder (vocalize/assets/split.py)."""

from pathlib import Path

import numpy as np
import pytest

from conftest import read_wav, run_cli


@pytest.fixture(scope="module")
def parts():
    from vocalize.assets import models, split

    found = split.split_model(models.default_model())
    assert found is not None, "the embedded model should split"
    return found


def test_the_model_splits_into_an_encoder_and_a_decoder(parts):
    import onnx

    encoder, decoder = (onnx.load(str(p), load_external_data=False).graph for p in parts)
    assert [i.name for i in encoder.input] == ["tokens", "style", "speed"]
    assert [o.name for o in encoder.output] == ["asr", "f0", "n", "durations"]
    assert [i.name for i in decoder.input] == ["asr", "f0", "n", "style"]
    assert [o.name for o in decoder.output] == ["audio"]
    # The two halves hold the whole model's weights once, not twice.
    size = sum(p.stat().st_size for p in parts)
    from vocalize.assets import models

    assert abs(size - models.default_model().stat().st_size) < 2_000_000


def test_the_decoder_fuses_activations_and_normalizations(parts):
    """Each residual block's activation is one ai.vocalize:Snake node (only the harmonic
    source's sines are left as Sin nodes), nearly every instance normalization one
    ai.vocalize:AdaIN node, and nearly every int8 convolution's sums become floats in one
    ai.vocalize:BiasScale node."""
    import onnx

    decoder = onnx.load(str(parts[1]), load_external_data=False)
    ops = [node.op_type for node in decoder.graph.node]
    fused = [node for node in decoder.graph.node if node.op_type in ("Snake", "AdaIN", "BiasScale")]
    convs = {node.output[0] for node in decoder.graph.node if node.op_type == "ConvInteger"}
    assert ops.count("BiasScale") >= 60 and ops.count("ConvInteger") - ops.count("BiasScale") <= 8
    assert all(node.input[0] in convs for node in fused if node.op_type == "BiasScale")
    assert all(node.domain == "ai.vocalize" for node in fused)
    assert ops.count("Snake") == 48 and ops.count("Sin") <= 3
    assert ops.count("AdaIN") >= 50 and ops.count("ReduceMean") <= 8
    assert all(node.attribute[0].name == "epsilon" for node in fused if node.op_type == "AdaIN")
    assert any(o.domain == "ai.vocalize" for o in decoder.opset_import)


@pytest.mark.slow
def test_the_fused_decoder_sounds_as_the_whole_model(engine):
    """The split model with fused activations against the model run whole, on the same
    chunks: same length, and the same waveform up to the int8 graph's own rounding (a
    wrong activation gives a signal-to-difference ratio near 0 dB)."""
    from vocalize import _native
    from vocalize.assets import models
    from vocalize.engine import _requests

    split_model = engine._model()
    assert split_model.split
    whole = _native.load_model(str(models.default_model()), 2, provider="cpu", optimized=None)
    assert not whole.split
    style, rate, _, frontend = engine._request("x", None, None, None)
    # Every chunk is decoded whole, its leading silence included, short or long (2.5 s and
    # more: "Several engineers reviewed ...").
    for text in ["Several engineers met.", "Send me the report today.", "Several engineers reviewed the design before lunch."]:
        requests = _requests(engine._chunks(text, False, frontend), style, rate)
        a, b = np.asarray(split_model.synthesize(requests)), np.asarray(whole.synthesize(requests))
        assert len(a) == len(b) > 24000
        snr = 10 * np.log10(np.sum(b**2) / np.sum((a - b) ** 2))
        assert snr > 15, f"{text}: {snr:.1f} dB"


def test_fusion_leaves_other_graphs_alone():
    """A graph with a sine that is not a Snake activation keeps it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from vocalize.assets import split

    alpha = numpy_helper.from_array(np.ones((1, 4, 1), np.float32), "alpha")
    nodes = [helper.make_node("Mul", ["alpha", "x"], ["ax"]), helper.make_node("Sin", ["ax"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [alpha],
    )
    model = helper.make_model(graph)
    assert split.fuse_snakes(model) == 0
    assert [n.op_type for n in model.graph.node] == ["Mul", "Sin"]


def test_the_engine_runs_the_split_model(engine):
    model = engine._model()
    assert model.split


def _tiny_model(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, None]),
        helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, 256]),
        helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1]),
    ]
    out = helper.make_tensor_value_info("audio", TensorProto.FLOAT, [None])
    graph = helper.make_graph([helper.make_node("Identity", ["speed"], ["audio"])], "tiny", inputs, [out])
    onnx.save(helper.make_model(graph), str(path))


def test_a_model_of_another_layout_is_used_whole(tmp_path, monkeypatch):
    from vocalize.assets import split

    monkeypatch.setenv("VOCALIZE_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "other.onnx"
    _tiny_model(model)
    with pytest.raises(split.NotSplittable):
        split.build(model)
    assert split.split_model(model) is None
    # The verdict is remembered: no second attempt in this process or the next.
    markers = list((tmp_path / "cache" / "split").glob("*.unsplittable"))
    assert len(markers) == 1
    split._split_paths.clear()
    assert split.split_model(model) is None


def test_an_unwritable_cache_runs_the_model_whole(tmp_path, monkeypatch):
    from vocalize.assets import models, split

    model = models.default_model()
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    monkeypatch.setenv("VOCALIZE_CACHE", str(blocked / "cache"))
    assert split._find_or_build(model) is None
    assert blocked.read_text() == ""


def test_a_damaged_split_is_rebuilt(tmp_path):
    """A split file damaged on disk (with no optimized graph to fall back on) is deleted,
    built again, and speech comes out the same."""
    cache = tmp_path / "cache"
    env = {"VOCALIZE_CACHE": str(cache), "VOCALIZE_NO_OPTIMIZED_CACHE": "1"}
    first = run_cli("speak", "Hello there, how are you today? I am fine.", "-o", str(tmp_path / "a.wav"), "--no-server", env=env)
    assert first.returncode == 0, first.stderr.decode()
    (decoder,) = (cache / "split").glob("*.decoder.onnx")
    size = decoder.stat().st_size
    decoder.write_bytes(b"\x07not a model" * 1000)
    again = run_cli("speak", "Hello there, how are you today? I am fine.", "-o", str(tmp_path / "b.wav"), "--no-server", env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert decoder.stat().st_size == size
    assert np.array_equal(read_wav(tmp_path / "a.wav"), read_wav(tmp_path / "b.wav"))


def test_no_split_runs_the_model_whole(tmp_path):
    out = tmp_path / "whole.wav"
    result = run_cli("speak", "Whole, please.", "-o", str(out), "--no-server", "--verbose", env={"VOCALIZE_NO_SPLIT": "1"})
    log = result.stderr.decode()
    assert result.returncode == 0, log
    assert "inference" in log and "decode" not in log
    assert len(read_wav(out)) > 12000


def test_two_split_models_load_at_once_in_a_new_process(parts):
    """The first sessions with the custom operators, created on two threads at once, both
    load (ONNX Runtime registers a custom domain process-wide, once)."""
    import subprocess
    import sys

    code = f"""
import threading
from vocalize import _native
from vocalize.assets import models, paths
_native.init(str(paths.ort_library()))
errors = []
def load():
    try:
        model = _native.load_model(str(models.default_model()), 1, provider="cpu", optimized=None, split=({str(parts[0])!r}, {str(parts[1])!r}))
        assert model.split
    except Exception as e:
        errors.append(e)
threads = [threading.Thread(target=load) for _ in range(2)]
[t.start() for t in threads]
[t.join() for t in threads]
assert not errors, errors
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert result.returncode == 0 and result.stdout.decode().strip() == "ok", result.stderr.decode()[-2000:]
