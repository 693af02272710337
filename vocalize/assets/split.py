"""Splits a Kokoro ONNX model into an encoder and a decoder, and fuses the decoder's
element-wise chains into vocalize's own operators.

Kokoro's graph is a text side (ALBERT, duration, pitch and energy predictors: a few percent
of the time) and a decoder/vocoder that turns aligned features into samples (over 90 % of
the time). Cut between the two, the decoder is a graph of its own, whose Snake activations,
instance normalizations and int8 convolution epilogues are rewritten into fused
``ai.vocalize`` operators that the Rust core computes (see ``vocalize-core``'s ``ops.rs``).

The encoder takes the model's inputs (``tokens``, ``style``, ``speed``) and returns
``asr`` [1, C, F] (text features aligned to F frames of 600 samples), ``f0`` and ``n``
[1, 2F] (pitch and energy at twice the frame rate) and the frames of each token. The
decoder takes those and ``style``, and decodes a chunk's frames all at once (the decoder
normalizes over the frames it is given, so a part of them would sound different). Both
are written once per model into the cache, next to where they are loaded from; a model
whose graph is not laid out as expected is used whole.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from ..output import replace_atomically
from .models import model_identity
from .paths import cache_dir

log = logging.getLogger("vocalize")

# Bumped when the cut, the decoder's inputs or its fused operators change.
SPLIT_FORMAT = 5

_build_lock = threading.Lock()
_split_paths: dict[Path, tuple[Path, Path] | None] = {}


class NotSplittable(Exception):
    """The model's graph is not the Kokoro layout the split expects."""


def split_model(model: Path) -> tuple[Path, Path] | None:
    """The (encoder, decoder) files of ``model``, built into the cache on first use; ``None``
    when the model cannot be split (another layout) or the cache cannot be written, in which
    case the model is used whole. Worked out once per process for each model."""
    if model not in _split_paths:
        _split_paths[model] = _find_or_build(model)
    return _split_paths[model]


def discard(model: Path) -> None:
    """Deletes the split of ``model`` (so the next :func:`split_model` builds it again)."""
    _split_paths.pop(model, None)
    for path in split_paths(model) or ():
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("cannot delete %s: %s", path, e)


def digest(model: Path) -> str | None:
    """What names the split of ``model`` (and the optimized graphs of its parts): a digest of
    :func:`~vocalize.assets.models.model_identity` and :data:`SPLIT_FORMAT`."""
    identity = model_identity(model)
    if identity is None:
        return None
    return hashlib.sha256(f"{SPLIT_FORMAT}\n{identity}".encode()).hexdigest()[:20]


def split_paths(model: Path) -> tuple[Path, Path] | None:
    """Where the split of ``model`` is kept, named by its :func:`digest`."""
    name = digest(model)
    if name is None:
        return None
    folder = cache_dir() / "split"
    return folder / f"{model.stem}-{name}.encoder.onnx", folder / f"{model.stem}-{name}.decoder.onnx"


def _find_or_build(model: Path) -> tuple[Path, Path] | None:
    paths = split_paths(model)
    if paths is None:
        return None
    encoder, decoder = paths
    if encoder.is_file() and decoder.is_file():
        return paths
    marker = encoder.with_name(encoder.name.replace(".encoder.onnx", ".unsplittable"))
    if marker.exists():
        return None
    try:
        encoder.parent.mkdir(parents=True, exist_ok=True)
        # Two processes building at once each write their own temp files and rename them
        # over the same names: the content is the same.
        with _build_lock:
            if encoder.is_file() and decoder.is_file():
                return paths
            log.info("splitting %s into an encoder and a decoder (once)", model.name)
            try:
                encoder_bytes, decoder_bytes = build(model)
            except NotSplittable as e:
                log.info("using %s whole: %s", model.name, e)
                replace_atomically(marker, str(e).encode())
                return None
            # The encoder goes last: its presence says both are complete.
            replace_atomically(decoder, decoder_bytes)
            replace_atomically(encoder, encoder_bytes)
    except ImportError:
        log.info("the onnx package is missing; using %s whole", model.name)
        return None
    except OSError as e:
        log.warning("cannot write the split model into %s (%s); using %s whole", encoder.parent, e, model.name)
        return None
    return paths


def build(model: Path) -> tuple[bytes, bytes]:
    """The serialized encoder and decoder of ``model``. Raises :class:`NotSplittable`."""
    import onnx
    from onnx.utils import Extractor

    # The graph's names are the native engine's (vocalize-core's model.rs), which loads it.
    from .. import _native

    try:
        proto = onnx.load(str(model))
    except OSError:
        raise
    except Exception as e:  # protobuf's DecodeError and kin: not an ONNX file
        raise NotSplittable(f"not readable as ONNX ({type(e).__name__})") from None
    graph = proto.graph
    names = [i.name for i in graph.input]
    tokens = next((n for n in _native.TOKEN_INPUTS if n in names), None)
    style, speed = _native.ENCODER_INPUTS[1:]
    if tokens is None or style not in names or speed not in names:
        raise NotSplittable(f"inputs are {', '.join(names)}")
    asr, f0, n = _cut(graph)
    sums = [node for node in graph.node if node.op_type == "CumSum" and node.name.startswith("/encoder/")]
    if len(sums) != 1:
        raise NotSplittable(f"{len(sums)} duration sums found, expected 1")
    durations = sums[0].input[0]

    extractor = Extractor(proto)
    encoder = extractor.extract_model([tokens, style, speed], [asr, f0, n, durations])
    decoder = extractor.extract_model([asr, f0, n, style], [graph.output[0].name])
    _rename(encoder.graph, dict(zip([tokens, style, speed, asr, f0, n, durations], _native.ENCODER_INPUTS + _native.ENCODER_OUTPUTS)))
    _rename(decoder.graph, dict(zip([asr, f0, n, style, graph.output[0].name], _native.DECODER_INPUTS + _native.DECODER_OUTPUTS)))
    fuse_norms(decoder)
    fuse_snakes(decoder)
    fuse_bias_scales(decoder)
    for part in (encoder, decoder):
        part.producer_name = "vocalize split"
        onnx.checker.check_model(part)
    return encoder.SerializeToString(), decoder.SerializeToString()


def fuse_norms(model) -> int:
    """Replaces each adaptive instance normalization of the decoder, exported as
    ``Add(Mul(gain, Div(Sub(x, ReduceMean(x)), Sqrt(Add(ReduceMean(Sub(..)²), eps)))), bias)``
    over the last axis, by one ``ai.vocalize:AdaIN(x, gain, bias)`` node with its epsilon;
    returns how many were fused."""
    from onnx import helper

    graph = model.graph
    index = _Index(graph)
    constant, users = index.constant, index.users

    def over_last_axis(node) -> bool:
        axes = constant(node.input[1]) if len(node.input) > 1 else None
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if axes is None:
            axes = attrs.get("axes")
        return axes is not None and [int(a) for a in list(axes)] in ([-1], [2]) and attrs.get("keepdims", 1) == 1

    replaced: dict[str, object] = {}
    dropped: set[str] = set()
    for mean in graph.node:
        if mean.op_type != "ReduceMean" or not over_last_axis(mean):
            continue
        x = mean.input[0]
        subs = users(mean.output[0])
        if len(subs) != 1 or subs[0].op_type != "Sub" or list(subs[0].input) != [x, mean.output[0]]:
            continue
        sub = subs[0]
        centered = users(sub.output[0])
        square = [n for n in centered if n.op_type == "Mul" and list(n.input) == [sub.output[0], sub.output[0]]]
        div = [n for n in centered if n.op_type == "Div" and n.input[0] == sub.output[0]]
        if len(centered) != 2 or len(square) != 1 or len(div) != 1:
            continue
        var = users(square[0].output[0])
        if len(var) != 1 or var[0].op_type != "ReduceMean" or not over_last_axis(var[0]):
            continue
        add_eps = users(var[0].output[0])
        if len(add_eps) != 1 or add_eps[0].op_type != "Add":
            continue
        eps_name = [i for i in add_eps[0].input if i != var[0].output[0]]
        eps = constant(eps_name[0]) if len(eps_name) == 1 else None
        sqrt = users(add_eps[0].output[0])
        if eps is None or eps.size != 1 or len(sqrt) != 1 or sqrt[0].op_type != "Sqrt" or div[0].input[1] != sqrt[0].output[0]:
            continue
        scale = users(div[0].output[0])
        if len(scale) != 1 or scale[0].op_type != "Mul":
            continue
        gain = [i for i in scale[0].input if i != div[0].output[0]]
        shift = users(scale[0].output[0])
        if len(gain) != 1 or len(shift) != 1 or shift[0].op_type != "Add":
            continue
        bias = [i for i in shift[0].input if i != scale[0].output[0]]
        if len(bias) != 1:
            continue
        fused = helper.make_node(
            "AdaIN", [x, gain[0], bias[0]], [shift[0].output[0]], name=shift[0].name + "_adain",
            domain=_ops_domain(), epsilon=float(eps.reshape(-1)[0]),
        )
        replaced[shift[0].name] = fused
        dropped.update(n.name for n in (mean, sub, square[0], var[0], add_eps[0], sqrt[0], div[0], scale[0]))
    return _replace(model, replaced, dropped)


def _replace(model, replaced: dict, dropped: set[str]) -> int:
    """Puts each fused node in place of the node it replaces, drops the nodes it covers."""
    from onnx import helper

    if not replaced:
        return 0
    graph = model.graph
    nodes = [replaced.get(node.name, node) for node in graph.node if node.name not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == _ops_domain() for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(_ops_domain(), 1))
    return len(replaced)


def fuse_snakes(model) -> int:
    """Replaces each Snake activation of the vocoder, exported as
    ``Add(x, Mul(inv_alpha, Pow(Sin(Mul(alpha, x)), 2)))``, by one ``ai.vocalize:Snake(x,
    alpha, inv_alpha)`` node, which the native engine computes in one multi-threaded pass;
    returns how many were fused (none in a graph of another layout, which then runs as is)."""
    from onnx import helper

    graph = model.graph
    index = _Index(graph)

    def channel_vector(name: str) -> bool:
        init = index.initializers.get(name)
        return init is not None and len(init.dims) == 3 and init.dims[0] == 1 and init.dims[2] == 1

    def is_two(name: str) -> bool:
        value = index.constant(name)
        return value is not None and value.size == 1 and float(value.reshape(-1)[0]) == 2.0

    replaced: dict[str, object] = {}  # the final Add's name -> the fused node
    dropped: set[str] = set()
    for sin in graph.node:
        if sin.op_type != "Sin":
            continue
        scale = index.producer.get(sin.input[0])
        if scale is None or scale.op_type != "Mul":
            continue
        alpha = [i for i in scale.input if channel_vector(i)]
        x = [i for i in scale.input if i not in alpha]
        power = index.only_user(sin.output[0], "Pow")
        if len(alpha) != 1 or len(x) != 1 or power is None or not is_two(power.input[1]):
            continue
        weigh = index.only_user(power.output[0], "Mul")
        inv = [i for i in weigh.input if i != power.output[0]] if weigh is not None else []
        add = index.only_user(weigh.output[0], "Add") if weigh is not None else None
        if len(inv) != 1 or not channel_vector(inv[0]) or add is None or set(add.input) != {x[0], weigh.output[0]}:
            continue
        if len(index.users(scale.output[0])) != 1:
            continue
        fused = helper.make_node("Snake", [x[0], alpha[0], inv[0]], [add.output[0]], name=add.name + "_snake", domain=_ops_domain())
        replaced[add.name] = fused
        dropped.update(n.name for n in (scale, sin, power, weigh))
    return _replace(model, replaced, dropped)


def fuse_bias_scales(model) -> int:
    """Replaces the ``Mul(Cast(Add(ConvInteger(...), bias)), scale)`` that turns each int8
    convolution's int32 sums into floats by one ``ai.vocalize:BiasScale(sums, bias, scale)``
    node: the same numbers in one pass instead of three. Returns how many were fused."""
    from onnx import TensorProto, helper

    graph = model.graph
    index = _Index(graph)
    replaced: dict[str, object] = {}  # the Mul's name -> the fused node
    dropped: set[str] = set()
    for conv in graph.node:
        if conv.op_type != "ConvInteger":
            continue
        add = index.only_user(conv.output[0], "Add")
        if add is None or add.input[0] == add.input[1]:
            continue
        cast = index.only_user(add.output[0], "Cast")
        if cast is None:
            continue
        mul = index.only_user(cast.output[0], "Mul")
        if mul is None or not mul.name:
            continue
        to = next((helper.get_attribute_value(a) for a in cast.attribute if a.name == "to"), None)
        if to != TensorProto.FLOAT:
            continue
        bias = next(i for i in add.input if i != conv.output[0])
        scale = next(i for i in mul.input if i != cast.output[0])
        fused = helper.make_node("BiasScale", [conv.output[0], bias, scale], [mul.output[0]], name=mul.name + "_bias_scale", domain=_ops_domain())
        replaced[mul.name] = fused
        dropped.update(n.name for n in (add, cast))
    return _replace(model, replaced, dropped)


def _ops_domain() -> str:
    """The domain of the operators the native engine adds to ONNX Runtime (vocalize-core's ops.rs)."""
    from .. import _native

    return _native.OPS_DOMAIN


class _Index:
    """Who produces and who reads each tensor of a graph, and its constant values."""

    def __init__(self, graph) -> None:
        self.initializers = {i.name: i for i in graph.initializer}
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def users(self, name: str) -> list:
        """The nodes reading ``name``, each once (a Mul of a tensor by itself reads it twice)."""
        return list({id(n): n for n in self.consumers.get(name, [])}.values())

    def only_user(self, name: str, op: str):
        """The one node reading ``name`` if it is an ``op``, else ``None``."""
        users = self.users(name)
        return users[0] if len(users) == 1 and users[0].op_type == op else None

    def constant(self, name: str):
        """The value of an initializer or Constant node, else ``None``."""
        from onnx import numpy_helper

        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        return None


def _cut(graph) -> tuple[str, str, str]:
    """The three tensors the decoder takes from the text side: aligned features, F0, N."""
    producer = {out: node for node in graph.node for out in node.output}
    initializers = {i.name for i in graph.initializer}
    decoder = [node for node in graph.node if node.name.startswith("/decoder/")]
    if not decoder:
        raise NotSplittable("no /decoder/ nodes")
    crossing: dict[str, None] = {}
    for node in decoder:
        for name in node.input:
            source = producer.get(name)
            if not name or name in initializers or source is None or not source.name.startswith("/encoder/"):
                continue
            if source.op_type == "DynamicQuantizeLinear":  # the int8 export quantizes asr on the way
                name = source.input[0]
            crossing[name] = None
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def feeds(tensor: str, layer: str) -> bool:
        """Whether ``tensor`` reaches a node of ``layer`` within a few nodes."""
        frontier = [tensor]
        for _ in range(4):
            nodes = [node for name in frontier for node in consumers.get(name, [])]
            if any(f"/{layer}/" in node.name for node in nodes):
                return True
            frontier = [out for node in nodes for out in node.output]
        return False

    f0 = [t for t in crossing if feeds(t, "F0_conv")]
    n = [t for t in crossing if feeds(t, "N_conv")]
    rest = [t for t in crossing if t not in f0 + n]
    if len(f0) != 1 or len(n) != 1 or len(rest) != 1:
        raise NotSplittable(f"the decoder takes {sorted(crossing)} from the encoder")
    return rest[0], f0[0], n[0]


def _rename(graph, names: dict[str, str]) -> None:
    for value in list(graph.input) + list(graph.output):
        if value.name in names:
            value.name = names[value.name]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in names:
                node.input[i] = names[name]
        for i, name in enumerate(node.output):
            if name in names:
                node.output[i] = names[name]


def disabled() -> bool:
    """``VOCALIZE_NO_SPLIT=1`` runs the model whole (every chunk decoded in one piece)."""
    return bool(os.environ.get("VOCALIZE_NO_SPLIT"))
