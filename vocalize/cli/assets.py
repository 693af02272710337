"""The ``vocalize voices``, ``vocalize download`` and ``vocalize info`` commands.

Like the rest of the command line, only click is imported up front; numpy, the native
engine and huggingface_hub load inside the callbacks that need them.
"""

from __future__ import annotations

import json
import sys

import click

SOURCES = {"hub": "Hub"}


@click.group("voices", invoke_without_command=True, short_help="List the voices; blend voices into new ones.")
@click.option("--voices", "voices_file", type=click.Path(dir_okay=False), help="List the voices in this file instead.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per voice.")
@click.pass_context
def voices_command(ctx: click.Context, voices_file: str | None, as_json: bool) -> None:
    """List the voices: those usable now (embedded, your own, downloaded) and the official
    Kokoro voices not downloaded yet, with language and gender from the name (jm_kumo:
    Japanese, male), the model they speak with (kokoro, or tiny: --model tiny) and where
    each comes from.

    Your own voice files (.npy, .bin, .npz) go in the voice folder (VOCALIZE_VOICES_DIR,
    default ~/.local/share/vocalize/voices) and are used by name.

    \b
    Examples:
      vocalize voices
      vocalize download voices af_heart
      vocalize speak "Hi." --voice "af_heart:0.6+bf_emma:0.4" -o mix.wav
      vocalize voices blend "jm_kumo:0.7+jf_alpha:0.3" --name kumo_alpha
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..assets import voice_store

    infos = voice_store.catalog(voices_file)
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in infos], indent=2, ensure_ascii=False))
        return
    for info in infos:
        status = "default" if info.default else ("" if info.available else "not downloaded")
        source = SOURCES.get(info.source, info.source)
        click.echo(f"{info.name:<16} {info.language:<21} {info.gender:<8} {info.tier:<7} {source:<10} {status}".rstrip())


@voices_command.command("blend")
@click.argument("spec")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the voice to this .npy or .bin file.")
@click.option("--name", help="Save it in the voice folder under this name, to use as --voice NAME.")
@click.option("--voices", "voices_file", type=click.Path(dir_okay=False), help="A voices file to take voices from as well.")
def blend_command(spec: str, output: str | None, name: str | None, voices_file: str | None) -> None:
    """Mix voices into a new voice file. SPEC is like jm_kumo:0.7+jf_alpha:0.3 (or
    Kokoro-FastAPI's jm_kumo(7)+jf_alpha(3)); weights are scaled to sum to 1. Blends also
    work directly as --voice, without saving.

    \b
    Examples:
      vocalize voices blend "jm_kumo:0.7+jf_alpha:0.3" -o my_voice.npy
      vocalize speak "Hello." --voice my_voice.npy -o hello.wav
      vocalize voices blend "af_heart+bf_emma" --name transatlantic
      vocalize speak "Hello." --voice transatlantic -o hello.wav
    """
    if (output is None) == (name is None):
        raise click.UsageError("say where the voice goes: -o FILE (.npy or .bin) or --name NAME")
    from ..assets import voice_store

    if output is not None:
        path = voice_store.save(spec, output, voices_file)
    else:
        path = voice_store.save_named(spec, name or "", voices_file)
    click.echo(f"saved {path}")


@click.group("download", short_help="Download voices or models from the Hugging Face Hub.")
def download_command() -> None:
    """Download voices or models from the Hugging Face Hub
    (onnx-community/Kokoro-82M-v1.0-ONNX). Needs: pip install 'vocalize[hub]'.

    Files go to the Hugging Face cache (HF_HOME, HF_HUB_CACHE) and are fetched once;
    HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE apply.

    \b
    Examples:
      vocalize download voices af_heart bf_emma
      vocalize download voices --all
      vocalize download model fp16 && vocalize speak "Hi." --model fp16 -o hi.wav
    """


@download_command.command("voices")
@click.argument("names", nargs=-1)
@click.option("--all", "all_voices", is_flag=True, help="Every official Kokoro-82M v1.0 voice (54, about 28 MB).")
def download_voices_command(names: tuple[str, ...], all_voices: bool) -> None:
    """Download voices by NAME (see `vocalize voices`); each Kokoro voice is checked to be
    a 510×256 float32 table before it is used. The tiny model's voices (emma, fable,
    fenrir, kore: 7.9 MB each, from maureesewilliams/hibari) are checked against hibari's
    registry (size and sha256)."""
    from ..assets import hub

    if all_voices and names:
        raise click.UsageError("give voice names or --all, not both")
    if not all_voices and not names:
        raise click.UsageError("name the voices to download (see `vocalize voices`), or pass --all")
    for name in hub.OFFICIAL_VOICES if all_voices else names:
        (path,) = hub.download_voices([name])
        click.echo(f"{name:<16} {path}")


@download_command.command("model")
@click.argument("variant", type=click.Choice(["fp32", "fp16", "int8"]))
def download_model_command(variant: str) -> None:
    """Download a model: fp32 (onnx/model.onnx), fp16 (onnx/model_fp16.onnx) or int8
    (onnx/model_quantized.onnx). Use it with --model VARIANT; until the int8 one is
    downloaded, --model int8 is the embedded int8 model."""
    from ..assets import hub

    path = hub.download_model(variant)
    click.echo(f"{variant}: {path}")
    click.echo(f"use it with: vocalize speak --model {variant} ...", err=True)


@click.command("info", short_help="Show versions, models, voices and folders in use.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def info_command(as_json: bool) -> None:
    """Show the versions, the ONNX Runtime library, the models and voices available, and the
    folders vocalize reads and writes."""
    report = collect_info()
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    width = max(len(key) for key in report)
    for key, value in report.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "none"
        click.echo(f"{key + ':':<{width + 1}} {value}")


def collect_info() -> dict[str, object]:
    from .. import __version__, _native
    from ..assets import hub, models, paths, voice_store
    from ..engine import default_threads
    from ..errors import VocalizeError

    report: dict[str, object] = {"vocalize": __version__, "python": sys.version.split()[0]}
    try:
        library = paths.ort_library()
        report["onnxruntime library"] = str(library)
    except VocalizeError as e:
        library = None
        report["onnxruntime library"] = f"not found: {e}"
    for key, function in (("onnxruntime build", _native.runtime_info), ("execution providers", _native.available_providers)):
        try:
            if library is not None:
                _native.init(str(library))
            report[key] = function()
        except Exception as e:  # a broken library must not hide the rest of the report
            report[key] = f"unavailable: {e}"
    default = paths.cache_dir() / models.MODEL_FILE
    report["model"] = f"{default} (embedded int8{'' if default.is_file() else ', assembled on first use'})"
    downloaded = hub.downloaded_models()
    report["downloaded models"] = {variant: str(path) for variant, path in downloaded.items()}
    counts: dict[str, int] = {}
    tiny_voices: dict[str, str] = {}
    for voice in voice_store.catalog():
        if voice.tier == "tiny":
            tiny_voices[voice.name] = "not downloaded" if voice.source == "hub" else voice.source
            continue
        counts[voice.source] = counts.get(voice.source, 0) + 1
    report["voices"] = {
        "embedded": counts.get("embedded", 0),
        "user": counts.get("user", 0),
        "downloaded": counts.get("downloaded", 0),
        "not downloaded": counts.get("hub", 0),
    }
    try:
        from .. import tiny

        report["tiny model"] = f"{tiny.hibari_assets() / tiny.voices()[tiny.DEFAULT_VOICE].file} (hibari, --model tiny)"
    except VocalizeError as e:
        report["tiny model"] = f"unavailable: {e}"
    report["tiny voices"] = tiny_voices
    try:
        report["threads (default)"] = default_threads()
    except VocalizeError as e:
        report["threads (default)"] = str(e)
    report["cache folder"] = str(paths.cache_dir())
    report["voice folder"] = str(voice_store.voices_dir())
    report["hugging face cache"] = str(hub.hub_cache())
    report["hugging face endpoint"] = hub.endpoint() + (" (offline: HF_HUB_OFFLINE)" if hub.offline() else "")
    report["huggingface_hub"] = _version("huggingface_hub") or "not installed (pip install 'vocalize[hub]')"
    return report


def _version(package: str) -> str | None:
    """An installed package's version, without importing it."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


__all__ = ["voices_command", "blend_command", "download_command", "info_command", "collect_info"]
