"""Voices by name, by file and as blends, and where each one comes from.

A *voice spec* is what ``--voice`` and ``Engine(voice=...)`` take:

- a **name**, looked up in this order: the voices file given with ``--voices`` /
  ``Engine(voices=...)``, the user voice folder (:func:`voices_dir`), the voices embedded in
  vocalize, the voices downloaded from the Hugging Face Hub (``vocalize download voices``).
  A name is letters, digits, ``_`` and ``-`` only, so it never reaches a file outside these;
- a **path** to a voice file: ``.npy`` (510×1×256 or 510×256), a raw little-endian float32
  ``.bin`` of 510×256, or an ``.npz`` holding one voice. A spec is a path when it holds a
  path separator, starts with ``~`` or ``.``, or ends in ``.npy``, ``.bin`` or ``.npz``;
- a **blend**: ``jm_kumo:0.7+jf_alpha:0.3``, or Kokoro-FastAPI's ``jm_kumo(7)+jf_alpha(3)``.
  A part without a weight counts 1; weights must be positive and are scaled to sum to 1. The
  blend is the weighted sum of the voices' style tables.

Nothing heavy is imported here at module level (numpy loads with the first voice), and a
spec resolved once is kept: a later request with it costs a few ``stat`` calls to notice a
changed file, no file reads and no folder scans.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
import stat
import threading
import time
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from . import hub
from ..errors import AssetError, InputError, OutputError, VoiceError
from ..output import replace_atomically
from .models import DEFAULT_VOICE, STYLE_DIM, VOICE_ROWS
from .paths import data_dir, user_data_dir

if TYPE_CHECKING:
    import numpy as np

LANGUAGES = {
    "a": "American English",
    "b": "British English",
    "e": "Spanish",
    "f": "French",
    "h": "Hindi",
    "i": "Italian",
    "j": "Japanese",
    "p": "Brazilian Portuguese",
    "z": "Mandarin Chinese",
}

VOICE_SUFFIXES = (".npy", ".bin", ".npz")

# The grammar of voice names and of blends of names, written once for the resolver, the
# server's validation and OpenAPI schema, and the HTTP client. A name has no dots and no
# separators, so it can never point outside the voice store.
NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
WEIGHT = r"\d+(?:\.\d+)?"


def blend_grammar(name: str = NAME, weight: str = WEIGHT, space: str = r"\s*") -> str:
    """A regular expression of a name or a blend of names with optional weights
    (``a:0.7+b:0.3`` or ``a(7)+b(3)``), from the expressions of one ``name``, one ``weight``
    and the white ``space`` allowed around the signs."""
    weighted = rf"(?:{space}:{space}(?:{weight})|{space}\({space}(?:{weight}){space}\))"
    return rf"(?:{name}){weighted}?(?:{space}\+{space}(?:{name}){weighted}?)*"


VOICE_NAME = re.compile(NAME)
VOICE_SPEC = re.compile(blend_grammar())
# Environment variables that decide where voices are looked up (voices_dir, hub.hub_cache).
_FOLDER_VARIABLES = (
    "VOCALIZE_VOICES_DIR", "VOCALIZE_DATA", "XDG_DATA_HOME", "HOME",
    "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
)  # fmt: skip
_CACHE_SIZE = 64

_lock = threading.Lock()
# (spec, voices file, allow_paths, folders searched) -> (style table, ((path, stamp), ...) it was built from)
_resolved: "OrderedDict[tuple[object, ...], tuple[np.ndarray, tuple[tuple[str, object], ...]]]" = OrderedDict()
# voice folder -> (its stamp, {name: file})
_indexes: dict[Path, tuple[object, dict[str, Path]]] = {}


def describe(name: str) -> tuple[str, str]:
    """Language and gender from Kokoro's naming convention (``jm_kumo``: Japanese, male)."""
    prefix = name.split("_", 1)[0]
    if len(prefix) != 2 or "_" not in name:
        return "unknown", "unknown"
    gender = {"f": "female", "m": "male"}.get(prefix[1], "unknown")
    return LANGUAGES.get(prefix[0], "unknown"), gender


def voices_dir() -> Path:
    """The user voice folder: ``VOCALIZE_VOICES_DIR``, else ``voices`` in vocalize's user
    data folder (``$XDG_DATA_HOME/vocalize``, default ``~/.local/share/vocalize``)."""
    explicit = os.environ.get("VOCALIZE_VOICES_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return user_data_dir() / "voices"


def is_path(ref: str) -> bool:
    """Whether a voice reference names a file rather than a voice."""
    return (
        "/" in ref
        or "\\" in ref
        or ref.startswith(("~", "."))
        or ref.lower().endswith(VOICE_SUFFIXES)
    )


# ---------------------------------------------------------------------------------------------
# Specs and blends

_WEIGHTED = re.compile(r"(?P<ref>.+?)\s*(?:\((?P<paren>[^()]*)\)|:(?P<colon>[^:/\\()]*))")


def parse(spec: str) -> list[tuple[str, float | None]]:
    """The parts of a voice spec: ``[(name or path, weight or None), ...]``. One part without
    a weight is a plain voice; anything else is a blend."""
    if not isinstance(spec, str):
        raise VoiceError(f"a voice must be a string, got {type(spec).__name__}")
    text = spec.strip()
    if not text:
        raise VoiceError("the voice is empty")
    if is_path(text) and Path(text).expanduser().is_file():
        return [(text, None)]  # a file whose name holds '+' or ':'
    parts: list[tuple[str, float | None]] = []
    for piece in text.split("+"):
        piece = piece.strip()
        if not piece:
            raise VoiceError(f"the voice blend {spec!r} has an empty part; write it like jm_kumo:0.7+jf_alpha:0.3")
        match = _WEIGHTED.fullmatch(piece)
        if match is None:
            parts.append((piece, None))
            continue
        ref = match["ref"].strip()
        raw = match["paren"] if match["paren"] is not None else match["colon"]
        parts.append((ref, _weight(raw, ref, spec)))
    return parts


def _weight(raw: str, ref: str, spec: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise VoiceError(f"the weight of {ref!r} in the voice blend {spec!r} must be a positive number, got {raw.strip()!r}")
    return value


def mix(parts: Sequence[tuple[str, "np.ndarray", float]]) -> "np.ndarray":
    """The weighted sum of style tables ``[(name, table, weight), ...]``, weights scaled to
    sum to 1. Every table must have the same shape."""
    import numpy as np

    if not parts:
        raise VoiceError("a voice blend needs at least one voice")
    shapes = {table.shape for _, table, _ in parts}
    if len(shapes) != 1:
        listed = ", ".join(f"{name} {table.shape}" for name, table, _ in parts)
        raise VoiceError(f"the voices in a blend must have the same shape: {listed}")
    for name, _, weight in parts:
        if not (math.isfinite(weight) and weight > 0):
            raise VoiceError(f"the weight of {name!r} in a voice blend must be a positive number, got {weight}")
    total = math.fsum(weight for _, _, weight in parts)
    out = np.zeros(parts[0][1].shape, dtype=np.float32)
    for _, table, weight in parts:
        out += np.float32(weight / total) * table.astype(np.float32, copy=False)
    return out


# ---------------------------------------------------------------------------------------------
# Resolving


def resolve(
    spec: str | os.PathLike[str], voices_file: str | os.PathLike[str] | None = None, *, allow_paths: bool = True
) -> "np.ndarray":
    """The style table (float32, 510×256) of a voice spec: a name, a file or a blend.

    ``allow_paths=False`` accepts names (and blends of names) only, for specs that come from
    someone who must not choose files on this machine (an HTTP client, say)."""
    if isinstance(spec, os.PathLike):
        if not allow_paths:
            raise VoiceError(f"a voice file cannot be used here, only voice names: {os.fspath(spec)!r}")
        spec = os.fspath(spec)
    file_key = os.fspath(voices_file) if voices_file is not None else None
    # The variables choosing the folders searched, and the folder relative paths start from,
    # are part of the key.
    key = (spec, file_key, allow_paths, _cwd(), *map(os.environ.get, _FOLDER_VARIABLES))
    with _lock:
        hit = _resolved.get(key)
    if hit is not None and all(_stamp(path) == stamp for path, stamp in hit[1]):
        return hit[0]
    parts = parse(spec)
    deps: list[Path] = []
    if len(parts) == 1 and parts[0][1] is None:
        table = _lookup(parts[0][0], voices_file, allow_paths, deps, spec)
    else:
        table = mix([(ref, _lookup(ref, voices_file, allow_paths, deps, spec), weight or 1.0) for ref, weight in parts])
    stamps = tuple((os.fspath(p), _stamp(p)) for p in dict.fromkeys(deps))
    with _lock:
        _resolved[key] = (table, stamps)
        _resolved.move_to_end(key)
        while len(_resolved) > _CACHE_SIZE:
            _resolved.popitem(last=False)
    return table


def _lookup(
    ref: str, voices_file: str | os.PathLike[str] | None, allow_paths: bool, deps: list[Path], spec: str
) -> "np.ndarray":
    """One voice of a spec, by path or by name; appends the files it depends on to ``deps``."""
    if is_path(ref):
        if not allow_paths:
            raise VoiceError(f"a voice file cannot be used here, only voice names: {ref!r}")
        path = Path(ref).expanduser()
        found = load_voices(path)
        deps.append(path)
        if len(found) != 1:
            shown = ", ".join(sorted(found)[:6]) + (", …" if len(found) > 6 else "")
            raise VoiceError(f"{path} holds {len(found)} voices ({shown}): choose one with --voices {path} --voice NAME")
        return next(iter(found.values()))
    if not VOICE_NAME.fullmatch(ref):
        raise VoiceError(
            f"{ref!r} is not a voice name (letters, digits, '_' and '-') nor a path to a "
            ".npy, .bin or .npz voice file"
        )
    if voices_file is not None:
        found = load_voices(voices_file)
        deps.append(Path(voices_file).expanduser())
        if ref in found:
            return found[ref]
    folder = voices_dir()
    deps.append(folder)  # a file added there may shadow the voice found below
    user = _user_index().get(ref)
    if user is not None:
        deps.append(user)
        found = load_voices(user)
        if ref in found:
            return found[ref]
    embedded = load_voices()
    if ref in embedded:
        deps.append(default_voices_path())
        return embedded[ref]
    downloaded = hub.voice_file(ref)
    if downloaded is not None:
        deps.append(downloaded)
        return next(iter(load_voices(downloaded).values()))
    raise _unknown(ref, voices_file, spec)


def _unknown(name: str, voices_file: str | os.PathLike[str] | None, spec: str) -> VoiceError:
    where = f" in the voice blend {spec!r}" if spec.strip() != name else ""
    if name in hub.OFFICIAL_VOICES:
        return VoiceError(f"voice {name!r}{where} is not downloaded: run `vocalize download voices {name}`")
    from .. import tiny

    if tiny.is_tiny_voice(name):
        return VoiceError(
            f"{name!r}{where} is a voice of the tiny model: use it with --model tiny (Engine(model=\"tiny\")); "
            f"Kokoro's voices: {', '.join(names(voices_file))}"
        )
    return VoiceError(f"unknown voice {name!r}{where}; available: {', '.join(names(voices_file))}")


def _cwd() -> str:
    try:
        return os.getcwd()  # relative voice paths depend on it
    except OSError:
        return ""


# A folder changed less than this long ago may change again within the same clock tick
# without its mtime moving (git's "racily clean" problem), so its stamp is not trusted yet.
_RACY_NS = 2_000_000_000


def _stamp(path: str | Path) -> object:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode) and time.time_ns() - st.st_mtime_ns < _RACY_NS:
        return object()  # equal to nothing: look again next time
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _user_index() -> dict[str, Path]:
    """``{name: file}`` of the user voice folder, rebuilt only when the folder changes."""
    folder = voices_dir()
    stamp = _stamp(folder)
    if stamp is None:
        return {}
    with _lock:
        cached = _indexes.get(folder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    index: dict[str, Path] = {}
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return {}
    for entry in entries:
        stem, ext = os.path.splitext(entry.name)
        if entry.name.startswith(".") or ext.lower() not in VOICE_SUFFIXES:
            continue  # a save in progress writes NAME.npy.XXXX.part: skipped by its suffix
        try:
            if not entry.is_file():
                continue
        except OSError:
            continue
        path = Path(entry.path)
        members = _npz_members(path)
        for name in members if members is not None else [stem]:
            if VOICE_NAME.fullmatch(name):
                index.setdefault(name, path)
    with _lock:
        _indexes[folder] = (stamp, index)
    return index


def _npz_members(path: Path) -> list[str] | None:
    """Voice names in an ``.npz`` (read from the zip directory only), None for other files."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as z:
            return [n[: -len(".npy")] for n in z.namelist() if n.endswith(".npy")]
    except (OSError, zipfile.BadZipFile):
        return None


# ---------------------------------------------------------------------------------------------
# Listing


@dataclasses.dataclass(frozen=True)
class VoiceInfo:
    name: str
    language: str
    gender: str
    source: str  # "file", "user", "embedded", "downloaded", or "hub" (official, not downloaded)
    path: str | None
    available: bool
    downloaded: bool  # a copy from the Hub is in the Hugging Face cache
    default: bool = False
    tier: str = "kokoro"  # the model it speaks with: "kokoro", or "tiny" (vocalize.tiny)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def catalog(voices_file: str | os.PathLike[str] | None = None) -> list[VoiceInfo]:
    """Every voice: usable now first (by name), then the official voices not downloaded.
    With ``voices_file``, the voices in that file only."""
    downloaded = hub.downloaded_voices()
    if voices_file is not None:
        path = os.fspath(Path(voices_file).expanduser())
        return [
            VoiceInfo(name, *describe(name), "file", path, True, name in downloaded)
            for name in sorted(load_voices(voices_file))
        ]
    found: dict[str, tuple[str, str]] = {}
    for name, file in _user_index().items():
        found.setdefault(name, ("user", os.fspath(file)))
    for name in load_voices():
        found.setdefault(name, ("embedded", os.fspath(default_voices_path())))
    for name, file in downloaded.items():
        found.setdefault(name, ("downloaded", os.fspath(file)))
    ready = [
        VoiceInfo(name, *describe(name), source, file, True, name in downloaded, name == DEFAULT_VOICE)
        for name, (source, file) in sorted(found.items())
    ]
    missing = [
        VoiceInfo(name, *describe(name), "hub", None, False, False)
        for name in sorted(hub.OFFICIAL_VOICES)
        if name not in found
    ]
    tiny_ready, tiny_missing = _tiny_catalog()
    return ready + tiny_ready + missing + tiny_missing


def _tiny_catalog() -> tuple[list[VoiceInfo], list[VoiceInfo]]:
    """The tiny model's voices (see :mod:`vocalize.tiny`): usable now, and not downloaded."""
    from .. import tiny

    try:
        registry = tiny.voices()
    except AssetError:
        return [], []
    ready, missing = [], []
    for name, voice in registry.items():
        file = tiny.voice_file(voice)
        source = "embedded" if voice.bundled else "downloaded" if file is not None else "hub"
        info = VoiceInfo(
            name, LANGUAGES[voice.language], voice.gender, source, os.fspath(file) if file else None,
            file is not None, file is not None and not voice.bundled, name == tiny.DEFAULT_VOICE, "tiny",
        )
        (ready if file is not None else missing).append(info)
    return ready, missing


def names(voices_file: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of Kokoro's voices usable now: the voices file's, the user folder's, the
    embedded and the downloaded (the tiny model's are :func:`vocalize.tiny.available`)."""
    usable = {info.name for info in catalog() if info.available and info.tier == "kokoro"}
    if voices_file is not None:
        usable.update(load_voices(voices_file))
    return sorted(usable)


# ---------------------------------------------------------------------------------------------
# Saving


def save(spec: str, target: str | os.PathLike[str], voices_file: str | os.PathLike[str] | None = None) -> Path:
    """Writes the voice ``spec`` (a blend, usually) to ``target`` atomically: ``.npy``
    (510×1×256 float32, the shape of Kokoro's own voice tensors) or raw ``.bin``."""
    import numpy as np

    path = Path(target).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".bin"):
        raise VoiceError(f"a voice is saved as .npy or .bin, not {path.name!r}")
    table = resolve(spec, voices_file)
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, table.reshape(VOICE_ROWS, 1, STYLE_DIM).astype(np.float32))
        data = buffer.getvalue()
    else:
        data = table.astype("<f4").tobytes()
    try:
        replace_atomically(path, data)
    except OSError as e:
        raise OutputError(f"cannot write the voice to {path}: {e.strerror or e}") from None
    return path


def save_named(spec: str, name: str, voices_file: str | os.PathLike[str] | None = None) -> Path:
    """Saves the voice ``spec`` as ``name`` in the user voice folder, usable as ``--voice NAME``."""
    if not VOICE_NAME.fullmatch(name):
        raise VoiceError(f"a voice name is letters, digits, '_' and '-', up to 64 characters: {name!r}")
    if name in hub.OFFICIAL_VOICES or name in load_voices():
        raise VoiceError(f"{name!r} is the name of an official voice; choose another name")
    folder = voices_dir()
    target = folder / f"{name}.npy"
    other = _user_index().get(name)
    if other is not None and other != target:
        raise VoiceError(f"the voice folder already has a voice named {name!r} in {other}; remove it or choose another name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the voice folder {folder}: {e.strerror or e}; set VOCALIZE_VOICES_DIR") from None
    return save(spec, target, voices_file)


# ---------------------------------------------------------------------------------------------
# The language a voice speaks

# Language codes a user may give for a voice, as Kokoro's voice-name letters.
_LANGUAGE_CODES = {
    "en": "a", "en-us": "a", "en-gb": "b", "es": "e", "fr": "f", "hi": "h", "it": "i",
    "ja": "j", "pt": "p", "pt-br": "p", "zh": "z",
}  # fmt: skip


def language_letter(value: str) -> str:
    """A voice language given by a user (a Kokoro letter such as ``a`` or ``j``, or a code
    such as ``en-gb`` or ``ja``) as Kokoro's voice-name letter."""
    key = str(value).strip().lower().replace("_", "-")
    if key in LANGUAGES:
        return key
    if key in _LANGUAGE_CODES:
        return _LANGUAGE_CODES[key]
    known = ", ".join([*LANGUAGES, *_LANGUAGE_CODES])
    raise InputError(f"unknown voice language {value!r}; give one of: {known}")


def voice_language(spec: str | os.PathLike[str], voices_file: str | os.PathLike[str] | None = None) -> str | None:
    """The language (a Kokoro voice-name letter) of a voice spec, or None when unknown.

    A name tells it by Kokoro's convention (``jm_kumo``: ``j``); a blend speaks as its
    heaviest part (the first of equals); a voice file, a voices file's voice, or a voice of
    the user folder, by a ``.json`` beside the file holding ``{"lang": "a"}`` (or ``"en-us"``,
    ...)."""
    try:
        parts = parse(os.fspath(spec))
    except InputError:
        return None
    ref = max(parts, key=lambda part: part[1] or 1.0)[0]
    if is_path(ref):
        return _sidecar_language(Path(ref).expanduser())
    prefix = ref.split("_", 1)[0]
    if len(prefix) == 2 and "_" in ref and prefix[0] in LANGUAGES:
        return prefix[0]
    if voices_file is not None:
        told = _sidecar_language(Path(voices_file).expanduser())
        if told is not None:
            return told
    user = _user_index().get(ref)
    return _sidecar_language(user) if user is not None else None


def _sidecar_language(path: Path) -> str | None:
    sidecar = path.with_suffix(".json")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    lang = data.get("lang") if isinstance(data, dict) else None
    try:
        return language_letter(lang) if isinstance(lang, str) else None
    except InputError:
        return None


# Voice files as read: path -> (the file's (mtime, size, inode) when read, its voices).
_files_lock = threading.Lock()
_voice_cache: dict[Path, tuple[tuple[int, int, int], dict[str, "np.ndarray"]]] = {}


def default_voices_path() -> Path:
    return data_dir() / "voices_ja.npz"


def load_voices(path: str | os.PathLike[str] | None = None) -> dict[str, "np.ndarray"]:
    """Voices in a file, as ``{name: float32 array of shape (510, 256)}``.

    Accepts an ``.npz`` of several voices (like kokoro-onnx's ``voices-v1.0.bin``), a single
    ``.npy``, or a raw little-endian float32 ``.bin`` of 510×256 values; single-voice files are
    named after the file. Read once per file, and again only when the file changes (a
    ``stat`` per call), so a long-running process sees a voice file that was replaced.
    """
    # Absolute, but symlinks kept: a voice in the Hugging Face cache is a link named after the
    # voice to a blob named after its hash, and a single-voice file is named after its path.
    path = Path(os.path.abspath(Path(path).expanduser())) if path is not None else default_voices_path()
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        stamp = None
    with _files_lock:
        cached = _voice_cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    voices = _read_voices(path)
    if stamp is not None:
        with _files_lock:
            _voice_cache[path] = (stamp, voices)
    return voices


def _read_voices(path: Path) -> dict[str, "np.ndarray"]:
    import numpy as np

    if not path.is_file():
        raise AssetError(f"voices file not found: {path}")
    try:
        if zipfile.is_zipfile(path):
            with np.load(path) as npz:
                raw = {name: npz[name] for name in npz.files}
        elif _head(path, 6) == b"\x93NUMPY":
            raw = {path.stem: np.load(path)}
        else:
            data = np.fromfile(path, dtype="<f4")
            if data.size != VOICE_ROWS * STYLE_DIM:
                raise AssetError(
                    f"{path}: a raw voice file holds {VOICE_ROWS}×{STYLE_DIM} float32 values "
                    f"({VOICE_ROWS * STYLE_DIM * 4} bytes), this one has {path.stat().st_size} bytes "
                    "(truncated, or not a voice)"
                )
            raw = {path.stem: data}
    except AssetError:
        raise
    except Exception as e:  # numpy raises many kinds for a damaged file
        raise AssetError(f"cannot read voices from {path}: {e}") from None
    if not raw:
        raise AssetError(f"{path} holds no voices")
    return {name: _voice_array(path, name, array) for name, array in raw.items()}


def _head(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _voice_array(path: Path, name: str, array: "np.ndarray") -> "np.ndarray":
    import numpy as np

    if array.dtype.kind != "f" or array.size != VOICE_ROWS * STYLE_DIM:
        raise AssetError(
            f"{path}: voice {name!r} has shape {array.shape} and dtype {array.dtype}; "
            f"expected float32 of shape ({VOICE_ROWS}, 1, {STYLE_DIM}) or ({VOICE_ROWS}, {STYLE_DIM})"
        )
    voice = np.ascontiguousarray(array.reshape(VOICE_ROWS, STYLE_DIM), dtype=np.float32)
    if not np.isfinite(voice).all():
        raise AssetError(f"{path}: voice {name!r} contains NaN or infinite values")
    return voice
