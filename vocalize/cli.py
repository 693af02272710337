"""The ``vocalize`` command line.

Only click is imported up front; each command imports what it needs inside its callback so
``vocalize --help`` stays instant.
"""

from __future__ import annotations

import os
import sys

import click

from .errors import VocalizeError

SPEED_RANGE = click.FloatRange(0.5, 2.0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vocalize", prog_name="vocalize")
def cli() -> None:
    """Fast, local, offline text-to-speech (Kokoro-82M).

    \b
    Examples:
      vocalize speak "Hello, world!" --play
      vocalize speak -o chapter.wav < chapter.txt
      vocalize voices

    Set VOCALIZE_DEBUG=1 to see a traceback on errors.
    """


def read_text(text: str | None) -> str:
    """TEXT, or standard input when TEXT is omitted or '-'."""
    if text is not None and text != "-":
        return text
    if sys.stdin is None or sys.stdin.isatty():
        raise click.UsageError("no text given: pass TEXT or pipe text on standard input")
    data = sys.stdin.buffer.read()
    return data.decode("utf-8", errors="replace")


@cli.command()
@click.argument("text", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=False), help="Write a 16-bit 24 kHz WAV file here.")
@click.option("--play", is_flag=True, help="Play through the default audio device (needs vocalize[play]).")
@click.option("-v", "--voice", default=None, help="Voice name (see `vocalize voices`); default jm_kumo.")
@click.option("-s", "--speed", type=SPEED_RANGE, default=1.0, show_default=True, help="Speaking rate, 0.5 to 2.0.")
@click.option("--model", type=click.Path(dir_okay=False), help="A Kokoro ONNX model file instead of the embedded one.")
@click.option("--voices", "voices_file", type=click.Path(dir_okay=False), help="A voices file (.npz, .npy or raw .bin).")
@click.option("-l", "--lang", default="en-us", show_default=True, help="Language of the text: en-us, en-gb or ja.")
@click.option("--g2p", type=click.Choice(["hibari", "ttstokenizer"]), default="hibari", show_default=True, help="English grapheme-to-phoneme backend; ttstokenizer needs its NLTK data (NLTK_DATA).")
@click.option("--phonemes", "as_phonemes", is_flag=True, help="TEXT is raw phonemes in Kokoro's alphabet (see `vocalize phonemize`).")
@click.option("--threads", type=click.IntRange(min=1), help="Inference threads (default: VOCALIZE_THREADS or the core count, at most 4).")
@click.option("--verbose", is_flag=True, help="Print a timing tree of where the time went to standard error.")
def speak(
    text: str | None,
    output: str | None,
    play: bool,
    voice: str | None,
    speed: float,
    model: str | None,
    voices_file: str | None,
    lang: str,
    g2p: str,
    as_phonemes: bool,
    threads: int | None,
    verbose: bool,
) -> None:
    """Speak TEXT (or standard input) into a WAV file or the speakers.

    Numbers, dates, currency and abbreviations are read out; [pause:0.5s] or
    <break time="500ms"/> inserts a pause; [word](/phonemes/) sets a pronunciation.

    \b
    Examples:
      vocalize speak "Hello, world!" -o hello.wav
      echo "Read this aloud." | vocalize speak --play
      vocalize speak "Wait [pause:1s] now go." -o wait.wav
      vocalize speak --lang ja "こんにちは。" -o ja.wav
    """
    from . import timing

    if output is None and not play:
        raise click.UsageError("say where the audio goes: -o FILE, --play, or both")
    if verbose:
        root = timing.enable()
        startup = timing.process_age()
        if startup is not None:
            timing.add(timing.Span("startup (interpreter, imports)", startup))
            from . import _native

            _native.enable_tracing()
    content = read_text(text)
    with timing.span("engine setup"):
        from .engine import Engine

        engine = Engine(voice=voice, speed=speed, model=model, voices=voices_file, lang=lang, threads=threads, g2p=g2p)
    audio = engine.synthesize(phonemes=content) if as_phonemes else engine.synthesize(content)
    if output is not None:
        with timing.span("write wav"):
            audio.save(output)
    if play:
        with timing.span("play"):
            audio.play()
    if verbose:
        root.duration = sum(child.duration for child in root.children)
        root.name = f"vocalize speak ({audio.duration:.2f} s of audio)"
        timing.render(root, sys.stderr)


@cli.command()
@click.argument("text", required=False)
@click.option("-l", "--lang", default="en-us", show_default=True, help="Language of the text: en-us, en-gb or ja.")
@click.option("--g2p", type=click.Choice(["hibari", "ttstokenizer"]), default="hibari", show_default=True, help="English grapheme-to-phoneme backend.")
def phonemize(text: str | None, lang: str, g2p: str) -> None:
    """Print how TEXT (or standard input) will be read: the normalized text, then its
    phonemes in Kokoro's alphabet. Feed edited phonemes back with `vocalize speak --phonemes`.
    """
    from .text import Frontend

    content = read_text(text)
    frontend = Frontend(lang, g2p=g2p)
    click.echo(frontend.normalize(content))
    click.echo(frontend.phonemize(content))


@cli.command("voices")
@click.option("--voices", "voices_file", type=click.Path(dir_okay=False), help="List the voices in this file instead.")
def list_voices(voices_file: str | None) -> None:
    """List the available voices."""
    from . import assets

    names = sorted(assets.load_voices(voices_file))
    for name in names:
        language, gender = describe_voice(name)
        default = "  (default)" if name == assets.DEFAULT_VOICE and voices_file is None else ""
        click.echo(f"{name:<16} {language:<20} {gender}{default}")


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


def describe_voice(name: str) -> tuple[str, str]:
    """Language and gender from Kokoro's naming convention (``jm_kumo``: Japanese, male)."""
    prefix = name.split("_", 1)[0]
    if len(prefix) != 2:
        return "unknown", "unknown"
    gender = {"f": "female", "m": "male"}.get(prefix[1], "unknown")
    return LANGUAGES.get(prefix[0], "unknown"), gender


def main() -> None:
    """Entry point: errors become one line on stderr and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except VocalizeError as e:
        if os.environ.get("VOCALIZE_DEBUG"):
            raise
        click.echo(f"vocalize: error: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
