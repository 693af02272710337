"""The Kokoro-82M v1.0 repository on the Hugging Face Hub: what it holds, which of it is
downloaded, and downloading it.

Downloads happen only when asked for (``vocalize download``), through ``huggingface_hub``'s
``hf_hub_download`` into the standard Hugging Face cache, so ``HF_HOME``, ``HF_HUB_CACHE``,
``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and ``HF_TOKEN`` apply as they do for every other
Hugging Face tool, and a file already there is not fetched twice.

Finding what is downloaded does not import ``huggingface_hub`` (it is an optional extra, and
slow to import): the cache's documented layout is read directly,
``models--onnx-community--Kokoro-82M-v1.0-ONNX/snapshots/<commit>/<path>`` with the current
commit in ``refs/main``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..errors import AssetError, InputError, ModelError
from .models import STYLE_DIM, VOICE_ROWS

if TYPE_CHECKING:
    from ..tiny import TinyVoice

REPO_ID = "onnx-community/Kokoro-82M-v1.0-ONNX"
REVISION = "main"
# The tiny tier's voices (hibari's, see vocalize.tiny): `voices/<file>`, one ONNX model each.
TINY_REPO_ID = "maureesewilliams/hibari"

# Model variants and their file in the repository. "int8" falls back to the embedded model
# (also Kokoro-82M v1.0 quantized to int8) until the Hub's int8 export is downloaded.
MODEL_FILES = {
    "fp32": "onnx/model.onnx",
    "fp16": "onnx/model_fp16.onnx",
    "int8": "onnx/model_quantized.onnx",
}

# A voice file of the Hub: raw float32, one style row per token count.
VOICE_BYTES = VOICE_ROWS * STYLE_DIM * 4

# The voices of Kokoro-82M v1.0 (hexgrad/Kokoro-82M VOICES.md), each `voices/<name>.bin` in
# the repository: 510×256 little-endian float32.
OFFICIAL_VOICES = (
    "af_heart", "af_alloy", "af_aoede", "af_bella", "af_jessica", "af_kore", "af_nicole",
    "af_nova", "af_river", "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir",
    "am_liam", "am_michael", "am_onyx", "am_puck", "am_santa", "bf_alice", "bf_emma",
    "bf_isabella", "bf_lily", "bm_daniel", "bm_fable", "bm_george", "bm_lewis", "ef_dora",
    "em_alex", "em_santa", "ff_siwis", "hf_alpha", "hf_beta", "hm_omega", "hm_psi", "if_sara",
    "im_nicola", "jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo", "pf_dora",
    "pm_alex", "pm_santa", "zf_xiaobei", "zf_xiaoni", "zf_xiaoxiao", "zf_xiaoyi", "zm_yunjian",
    "zm_yunxi", "zm_yunxia", "zm_yunyang",
)  # fmt: skip


def _expand(value: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(value)))


def hub_cache() -> Path:
    """The Hugging Face cache folder, found the way ``huggingface_hub.constants`` finds it:
    ``HF_HUB_CACHE``, ``HUGGINGFACE_HUB_CACHE``, ``$HF_HOME/hub``,
    ``$XDG_CACHE_HOME/huggingface/hub``, ``~/.cache/huggingface/hub``."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(var)
        if value:
            return _expand(value)
    home = os.environ.get("HF_HOME")
    if not home:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(base, "huggingface")
    return _expand(home) / "hub"


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def offline() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def repo_cache(repo: str = REPO_ID) -> Path:
    return hub_cache() / ("models--" + repo.replace("/", "--"))


def _snapshots(repo: str = REPO_ID) -> list[Path]:
    """Snapshot folders of the repository, the one ``refs/main`` names first, then newest first."""
    folder = repo_cache(repo) / "snapshots"
    try:
        found = [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []
    try:
        current = (repo_cache(repo) / "refs" / REVISION).read_text().strip()
    except OSError:
        current = ""

    def order(p: Path) -> tuple[bool, float]:
        try:
            mtime = p.stat().st_mtime
        except OSError:
            mtime = 0.0
        return (p.name != current, -mtime)

    return sorted(found, key=order)


def cached_file(filename: str, repo: str = REPO_ID) -> Path | None:
    """The downloaded copy of ``filename`` (a path in the repository), or None."""
    for snapshot in _snapshots(repo):
        path = snapshot / filename
        if path.is_file():  # follows the snapshot's symlink into blobs/
            return path
    return None


def downloaded_voices() -> dict[str, Path]:
    """``{name: file}`` of every voice in the Hugging Face cache that has a voice's size.
    A file of another size (damaged by hand, or by another tool) is left out."""
    from . import voice_store

    found: dict[str, Path] = {}
    for snapshot in _snapshots():
        try:
            entries = list(os.scandir(snapshot / "voices"))
        except OSError:
            continue
        for entry in entries:
            name, ext = os.path.splitext(entry.name)
            if ext != ".bin" or name in found or not voice_store.VOICE_NAME.fullmatch(name):
                continue
            try:
                if os.stat(entry.path).st_size == VOICE_BYTES:
                    found[name] = Path(entry.path)
            except OSError:
                continue
    return found


def voice_file(name: str) -> Path | None:
    """The downloaded voice ``name`` if it has a voice's size, else None."""
    path = cached_file(f"voices/{name}.bin")
    try:
        return path if path is not None and path.stat().st_size == VOICE_BYTES else None
    except OSError:
        return None


def downloaded_models() -> dict[str, Path]:
    """``{variant: file}`` of the model variants in the Hugging Face cache."""
    return {variant: path for variant, filename in MODEL_FILES.items() if (path := cached_file(filename))}


def model_file(model: str | os.PathLike[str]) -> Path | None:
    """The model file ``model`` names: a variant (``fp32``, ``fp16``, ``int8``) downloaded
    with ``vocalize download model``, ``kokoro`` (the embedded model), or a path (the tiny
    tier, ``tiny``, is :mod:`vocalize.tiny`'s). None means the embedded model, which is what
    ``int8`` is until the Hub's int8 export is downloaded. A file named like a variant can be
    given as ``./fp16``."""
    if isinstance(model, str) and model.lower() == "kokoro":
        return None
    if isinstance(model, str) and model.lower() in MODEL_FILES:
        variant = model.lower()
        path = cached_file(MODEL_FILES[variant])
        if path is not None:
            return path
        if variant == "int8":
            return None
        raise ModelError(
            f"the {variant} model is not downloaded: run `vocalize download model {variant}` "
            f"(it comes from {REPO_ID} on the Hugging Face Hub)"
        )
    return Path(model).expanduser().resolve()


# ---------------------------------------------------------------------------------------------
# Downloads. Only these import huggingface_hub.


def download_voices(names: Iterable[str]) -> list[Path]:
    """Downloads voices (``voices/<name>.bin``) into the Hugging Face cache, checks each is a
    510×256 float32 table, and returns their paths. A file that is not a voice is removed
    from the cache again and raises :class:`AssetError`; a name the Hub does not have raises
    :class:`InputError`."""
    from . import voice_store

    from .. import tiny

    names = list(dict.fromkeys(names))
    for name in names:
        if not voice_store.VOICE_NAME.fullmatch(name):
            raise InputError(f"not a voice name: {name!r} (letters, digits, '_' and '-')")
    paths = []
    for name in names:
        if name in tiny.voices():
            paths.append(download_tiny_voice(tiny.voices()[name]))
            continue
        path = _fetch(f"voices/{name}.bin", f"voice {name!r}")
        _check_voice_download(name, path)
        paths.append(path)
    return paths


def download_model(variant: str) -> Path:
    """Downloads a model variant (``fp32``, ``fp16``, ``int8``) into the Hugging Face cache."""
    key = variant.lower()
    if key not in MODEL_FILES:
        raise InputError(f"unknown model variant {variant!r}; choose one of {', '.join(MODEL_FILES)}")
    path = _fetch(MODEL_FILES[key], f"the {key} model")
    _check_model_download(path)
    return path


def tiny_voice_file(voice: "TinyVoice") -> Path | None:
    """The downloaded model of a tiny voice if it has the registry's size, else None (a
    truncated or damaged copy counts as not downloaded; the checksum is checked when it
    is downloaded, and a copy that does not load is removed then)."""
    path = cached_file(f"voices/{voice.file}", TINY_REPO_ID)
    try:
        return path if path is not None and path.stat().st_size == voice.bytes else None
    except OSError:
        return None


def download_tiny_voice(voice: "TinyVoice") -> Path:
    """Downloads a tiny voice's model (``voices/<file>`` of :data:`TINY_REPO_ID`) into the
    Hugging Face cache and checks its size and sha256 against hibari's registry; a file that
    fails is removed from the cache again and raises :class:`AssetError`."""
    if voice.bundled:
        return voice.bundled_path()
    path = _fetch(f"voices/{voice.file}", f"the tiny voice {voice.name!r}", TINY_REPO_ID)
    size = path.stat().st_size
    digest = _sha256(path) if size == voice.bytes else None
    if digest != voice.sha256:
        _evict(path)
        found = f"{size} bytes" if digest is None else f"sha256 {digest[:12]}…"
        raise AssetError(
            f"the downloaded tiny voice {voice.name!r} ({voice.file}) has {found}, hibari's registry says "
            f"{voice.bytes} bytes, sha256 {voice.sha256[:12]}…: not used, and removed from the cache ({hub_cache()})"
        )
    return path


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evict_tiny_voice(voice: "TinyVoice") -> bool:
    """Removes a tiny voice's downloaded model from the cache (it would not load); whether
    there was one."""
    path = cached_file(f"voices/{voice.file}", TINY_REPO_ID)
    if path is None:
        return False
    _evict(path)
    return True


def _check_voice_download(name: str, path: Path) -> None:
    from . import voice_store

    size = path.stat().st_size
    if size != VOICE_BYTES:
        _evict(path)
        raise AssetError(
            f"the downloaded voices/{name}.bin has {size} bytes, a voice has {VOICE_BYTES} "
            f"({VOICE_ROWS}×{STYLE_DIM} float32): not used, and removed from the cache ({hub_cache()})"
        )
    try:
        voice_store.load_voices(path)
    except AssetError:
        _evict(path)
        raise


def _check_model_download(path: Path) -> None:
    """An ONNX model is a protobuf ``ModelProto`` whose first field is ``ir_version`` (tag 0x08).
    Loading the model is the full check; this catches an HTML error page or an empty file."""
    with open(path, "rb") as f:
        head = f.read(1)
    if head != b"\x08":
        _evict(path)
        raise ModelError(f"the downloaded {path.name} is not an ONNX model: not used, and removed from the cache")


def _evict(path: Path) -> None:
    """Removes a downloaded file from the cache: the snapshot entry and the blob it points to."""
    try:
        blob = path.resolve()
    except OSError:
        blob = path
    for p in {path, blob}:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            raise AssetError(f"cannot remove the bad download {p}: {e.strerror or e}") from None


def _fetch(filename: str, what: str, repo: str = REPO_ID) -> Path:
    """``hf_hub_download`` of one file of ``repo``, its failures as vocalize errors."""
    try:
        # Imported before the logger is quieted below: importing configures huggingface_hub's logger.
        from huggingface_hub import errors as hf_errors
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise AssetError("downloading needs huggingface_hub: pip install 'vocalize[hub]'") from None
    cache = hub_cache()
    source = f"{endpoint()}/{repo}"
    # huggingface_hub logs each retry as a warning; the outcome is reported here in one line.
    # HF_HUB_VERBOSITY (huggingface_hub's own setting) brings them back.
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    if not os.environ.get("HF_HUB_VERBOSITY"):
        logger.setLevel(logging.ERROR)
    try:
        path = hf_hub_download(
            repo,
            filename,
            revision=REVISION,
            cache_dir=cache,
            endpoint=endpoint(),
            # huggingface_hub reads HF_HUB_OFFLINE once, at import; reading it here as well
            # makes a change of the variable in a running process count too.
            local_files_only=offline(),
        )
    except hf_errors.LocalEntryNotFoundError as e:
        if offline():
            raise AssetError(
                f"{what} is not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE is set: "
                "unset it to download"
            ) from None
        raise AssetError(f"cannot download {what} from {source}: {_reason(e)}") from e
    except hf_errors.EntryNotFoundError:
        kind = "voice" if filename.startswith("voices/") else "file"
        raise InputError(f"no such {kind} on the Hub: {source} has no {filename}") from None
    except hf_errors.RepositoryNotFoundError as e:
        raise AssetError(f"cannot download {what}: {source} answered that the repository does not exist ({_status(e)})") from e
    except Exception as e:  # the HTTP client's, the cache's and huggingface_hub's own failures
        raise AssetError(f"cannot download {what} from {source}: {_reason(e)}") from e
    finally:
        logger.setLevel(level)
    return Path(path)


def _status(error: BaseException) -> str:
    response = getattr(error, "response", None)
    code = getattr(response, "status_code", None)
    return f"HTTP {code}" if code is not None else type(error).__name__


def _reason(error: BaseException) -> str:
    """The innermost cause of a failed download, in a few words."""
    seen = set()
    current: BaseException | None = error
    last = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "response", None) is not None and getattr(current.response, "status_code", None):  # type: ignore[attr-defined]
            return f"the server answered {_status(current)}"
        last = current
        current = current.__cause__ or current.__context__
    message = str(last).strip().splitlines()[0] if str(last).strip() else ""
    name = type(last).__name__
    if name == "RemoteProtocolError" or "Consistency check failed" in message:
        return f"the connection was cut before the end of the file ({message or name})"
    if name == "ConnectError" or isinstance(last, ConnectionError):
        return f"cannot connect ({message or name})"
    if "Timeout" in name:
        return f"no answer in time ({message or name})"
    return f"{name}: {message}" if message else name
