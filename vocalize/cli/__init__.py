"""The ``vocalize`` command line.

Only click is imported up front; each command imports what it needs inside its callback so
``vocalize --help`` stays instant.
"""

from __future__ import annotations

import os
import sys

import click

from ..encoders import FORMATS
from ..errors import VocalizeError

SPEED_RANGE = click.FloatRange(0.5, 2.0)
VOICE_LANG_HELP = (
    "Language of the voice when its name does not tell it (a voice file): a, b, j, ... or en-us, en-gb, ja, ...; "
    "English is written in Kokoro's English alphabet for English voices and in espeak-style IPA for the others."
)


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


def read_text(text: str | None, encoding: str | None = None) -> str:
    """TEXT, or standard input when TEXT is omitted or '-' (refused when it is not text)."""
    if text is not None and text != "-":
        return text
    if sys.stdin is None or sys.stdin.isatty():
        raise click.UsageError("no text given: pass TEXT or pipe text on standard input")
    from ..textinput import read_stdin

    return read_stdin(encoding=encoding).text


@cli.command()
@click.argument("text", required=False, metavar="[TEXT | FILE]")
@click.option("-o", "--output", type=click.Path(allow_dash=True), help="Write the audio here, in the format its extension names (.wav, .flac, .mp3, .ogg or .opus for Ogg Opus, .pcm or .raw); '-' streams WAV to standard output; a folder (book/) gets one file per chapter of FILE.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Output format, whatever the extension says; needed for '-o -' other than WAV. pcm is raw 16-bit little-endian 24 kHz mono; chapters in a folder are WAV unless this says otherwise.")
@click.option("--play", is_flag=True, help="Play through the default audio device (needs vocalize[play]).")
@click.option("-v", "--voice", default=None, help="Voice name (see `vocalize voices`), voice file, or blend like jm_kumo:0.7+jf_alpha:0.3; default jm_kumo.")
@click.option("-s", "--speed", type=SPEED_RANGE, default=1.0, show_default=True, help="Speaking rate, 0.5 to 2.0.")
@click.option("--model", type=click.Path(dir_okay=False), help="tiny (the tiny model: instant, English, voices heart, emma, fable, fenrir, kore), kokoro (the embedded int8 model, the default), fp32, fp16 or int8 (see `vocalize download model`), or a Kokoro ONNX model file.")
@click.option("--voices", "voices_file", type=click.Path(dir_okay=False), help="A voices file (.npz, .npy or raw .bin).")
@click.option("-l", "--lang", default="en-us", show_default=True, help="Language of the text: en-us, en-gb or ja.")
@click.option("--g2p", type=click.Choice(["hibari", "ttstokenizer"]), default="hibari", show_default=True, help="English grapheme-to-phoneme backend; ttstokenizer needs its NLTK data (NLTK_DATA).")
@click.option("--phonemes", "as_phonemes", is_flag=True, help="TEXT is raw phonemes in Kokoro's alphabet (see `vocalize phonemize`), spoken as given.")
@click.option("--voice-lang", default=None, help=VOICE_LANG_HELP)
@click.option("--threads", type=click.IntRange(min=1), help="Inference threads (default: VOCALIZE_THREADS or the core count, at most 4).")
@click.option("--provider", default=None, help="ONNX Runtime execution provider: cpu (default), cuda, tensorrt, rocm, coreml, openvino or xnnpack; falls back to the CPU with a warning when the installed runtime lacks it (see `vocalize info`). Env: VOCALIZE_PROVIDER.")
@click.option("--verbose", is_flag=True, help="Print a timing tree of where the time went to standard error.")
@click.option("--no-server", is_flag=True, help="Do not use a running `vocalize serve` (VOCALIZE_SERVER, default http://127.0.0.1:8880).")
@click.option("--text", "literal", is_flag=True, help="Speak TEXT as it is, even when it names a file.")
@click.option("--encoding", default=None, help="Encoding of a text file or standard input (default UTF-8, or what a byte order mark says).")
@click.option("--list", "list_only", is_flag=True, help="Print the chapters FILE has (number, title, words) and stop.")
@click.option("--chapters", "chapter_spec", default=None, help="Chapters of FILE to speak: 3, 3-5, 8- or 1,4-6 (see --list).")
@click.option("--force", is_flag=True, help="With -o FOLDER/: speak every chapter again, even those already written and unchanged.")
@click.option("--captions", "captions_path", default=None, help="Also write when each word is spoken: .srt or .vtt captions, or .json for the word list (written once the audio is complete).")
@click.option("--caption-words", type=click.Choice(["written", "spoken"]), default="written", show_default=True, help="Caption the words as written in the text ($4.5) or as read (4.5 dollars).")
def speak(
    text: str | None,
    output: str | None,
    fmt: str | None,
    play: bool,
    voice: str | None,
    speed: float,
    model: str | None,
    voices_file: str | None,
    lang: str,
    g2p: str,
    as_phonemes: bool,
    voice_lang: str | None,
    threads: int | None,
    provider: str | None,
    verbose: bool,
    no_server: bool,
    literal: bool,
    encoding: str | None,
    list_only: bool,
    chapter_spec: str | None,
    force: bool,
    captions_path: str | None,
    caption_words: str,
) -> None:
    """Speak TEXT (or standard input, or FILE) into an audio file or the speakers.

    When TEXT names an existing file it is read: an EPUB, Markdown (.md), HTML or PDF
    document, or plain text; to speak such a name itself, add --text. A document's
    chapters go one file each into a folder (-o book/, with book.m3u and book.json;
    running again resumes), or joined into one file (-o book.wav).

    Numbers, dates, currency and abbreviations are read out; [pause:0.5s] or
    <break time="500ms"/> inserts a pause; [word](/phonemes/) sets a pronunciation.

    \b
    Examples:
      vocalize speak "Hello, world!" -o hello.wav
      vocalize speak "Hello, world!" -o hello.mp3
      vocalize speak -o - --format opus < notes.txt > notes.ogg
      echo "Read this aloud." | vocalize speak --play
      vocalize speak "Wait [pause:1s] now go." -o wait.wav
      vocalize speak --model tiny "Instant speech." -o now.wav
      vocalize speak --lang ja "こんにちは。" -o ja.wav
      vocalize speak book.epub --list
      vocalize speak book.epub -o book/ --chapters 3-5
    """
    from .. import timing

    path = text if text not in (None, "-") and not literal and os.path.isfile(text) else None
    if path is None and (list_only or chapter_spec or force):
        raise click.UsageError("--list, --chapters and --force need a document FILE")
    if output is None and not play and not list_only:
        raise click.UsageError("say where the audio goes: -o FILE, --play, or both")
    fmt = output_format(output, fmt)
    if captions_path is not None:
        from .. import captions

        if output is not None and output != "-" and (output.endswith(("/", os.sep)) or os.path.isdir(output)):
            raise click.UsageError("--captions goes with one audio file (-o FILE, -o - or --play), not a folder")
        if model is not None and model.strip().lower() == "tiny":
            raise click.UsageError("--captions needs Kokoro's token durations, which the tiny model does not give")
        try:
            captions.format_of(captions_path)
        except VocalizeError as e:
            raise click.BadParameter(str(e), param_hint="--captions") from None
        captions.check_writable(captions_path)
    if path is not None:
        from . import documents

        if as_phonemes:
            raise click.UsageError("--phonemes takes phonemes as TEXT or on standard input, not a document FILE")
        chapters, count = documents.chapters_of(path, encoding, chapter_spec)
        if list_only:
            click.echo(documents.listing(chapters))
            return
        if output is not None and output != "-" and documents.is_folder(output):
            from ..engine import Engine

            engine = Engine(
                voice=voice, speed=speed, model=model, voices=voices_file, lang=lang, threads=threads, g2p=g2p,
                provider=provider, voice_lang=voice_lang,
            )
            settings = {
                "voice": engine.voice, "speed": engine.speed, "lang": engine.lang, "g2p": g2p, "model": model,
                "voices": voices_file, "voice_lang": engine.voice_lang,
            }
            documents.speak_book(engine, chapters, count, output, fmt, force, settings, documents.book_title(path))
            return
        text = documents.joined(chapters)
    elif output not in (None, "-") and (output.endswith(("/", os.sep)) or os.path.isdir(output)):
        raise click.UsageError(f"{output} is a folder: one file per chapter needs a document FILE to read")
    if verbose:
        root = timing.enable()
        startup = timing.process_age()
        if startup is not None:
            timing.add(timing.Span("startup (interpreter, imports)", startup))
            from .. import _native

            _native.enable_tracing()
    content = read_text(text, encoding)
    # A running `vocalize serve` has the model loaded: use it for what it does the same way.
    tiny = model is not None and model.strip().lower() == "tiny"
    served_model = "tiny" if tiny else "kokoro" if model is None or model.strip().lower() == "kokoro" else None
    local_only = (play, verbose, served_model is None, voices_file, as_phonemes, voice_lang, threads, provider, lang != "en-us", g2p != "hibari", captions_path)
    if output is not None and not no_server and not any(local_only):
        from .. import client

        if client.try_speak(content, output, fmt, voice, speed, model=served_model or "kokoro") is not None:
            return
    with timing.span("engine setup"):
        from ..engine import Engine

        engine = Engine(
            voice=voice, speed=speed, model=model, voices=voices_file, lang=lang, threads=threads, g2p=g2p,
            provider=provider, preload=True, voice_lang=voice_lang,
        )
    timed = {"timestamps": True, "words": caption_words} if captions_path is not None else {}
    pieces = engine.stream(phonemes=content, **timed) if as_phonemes else engine.stream(content, **timed)
    finish = None
    if captions_path is not None:
        pieces, finish = _captioned(pieces, captions_path)
    with timing.span("synthesize and write", native=True):
        seconds = write_stream(pieces, output, fmt, play, finish)
    if verbose:
        root.duration = sum(child.duration for child in root.children)
        root.name = f"vocalize speak ({seconds:.2f} s of audio)"
        timing.render(root, sys.stderr)


def _captioned(pieces, path: str):
    """``pieces`` passed through, their words kept, and what writes the captions of them
    all to ``path`` once they are complete."""
    from .. import captions

    words: list = []

    def collect():
        for piece in pieces:
            words.extend(piece.words or ())
            yield piece

    return collect(), lambda: captions.write(path, words)


def output_format(output: str | None, fmt: str | None) -> str:
    """The format to write: ``--format``, else the one ``-o``'s extension names (WAV for
    standard output and for a folder of chapters). Any other extension is a usage error."""
    from ..encoders import SUFFIXES, format_of

    if fmt is not None:
        return fmt
    if output in (None, "-") or output.endswith(("/", os.sep)) or os.path.isdir(output):
        return "wav"
    found = format_of(output)
    if found is None:
        raise click.UsageError(
            f"cannot tell the audio format of {output!r}: name it {', '.join(SUFFIXES)}, or give --format",
            ctx=click.get_current_context(silent=True),
        )
    return found


def write_stream(pieces, output: str | None, fmt: str, play: bool, finish=None) -> float:
    """Writes (and/or plays) audio pieces as they arrive; returns the seconds written.

    A file is written under a temporary name and renamed at the end, so an error or Ctrl-C
    leaves nothing behind. Playback starts with the first piece. ``finish`` runs once all
    audio is written, before the file is renamed into place: if it fails, the audio file
    is not left either."""
    from ..audio import SAMPLE_RATE, AtomicFile, open_player
    from ..encoders import EncodedFile

    target = AtomicFile(output) if output not in (None, "-") else None
    sink = None
    if output is not None:
        out = target.file if target else sys.stdout.buffer
        try:
            sink = EncodedFile(out, fmt)
        except BaseException:
            if target:
                target.discard()
            raise
    progress = target is not None and not play and sys.stderr.isatty()
    player = None
    frames = 0
    try:
        for piece in pieces:
            if play and player is None:
                player = open_player(SAMPLE_RATE)
            if sink:
                sink.write(piece.samples)
            if player:
                player.write(piece.samples)
            frames += len(piece.samples)
            if progress:
                click.echo(f"\r  {frames / SAMPLE_RATE:7.1f} s of audio", err=True, nl=False)
        if sink:
            sink.close()
        if finish is not None:
            finish()
        if target:
            target.commit()
        if player:
            player.finish()
    except BaseException:
        if sink:
            sink.abort()
        if target:
            target.discard()
        if player:
            player.abort()
        raise
    finally:
        if progress:
            click.echo("\r" + " " * 30 + "\r", err=True, nl=False)
    return frames / SAMPLE_RATE


@cli.command()
@click.argument("text", required=False)
@click.option("-l", "--lang", default="en-us", show_default=True, help="Language of the text: en-us, en-gb or ja.")
@click.option("--g2p", type=click.Choice(["hibari", "ttstokenizer"]), default="hibari", show_default=True, help="English grapheme-to-phoneme backend.")
@click.option("-v", "--voice", default=None, help="The voice the phonemes are for (its language decides how English is written); default jm_kumo.")
@click.option("--voice-lang", default=None, help=VOICE_LANG_HELP)
def phonemize(text: str | None, lang: str, g2p: str, voice: str | None, voice_lang: str | None) -> None:
    """Print how TEXT (or standard input) will be read: the normalized text, then its
    phonemes as `vocalize speak` sends them to the model for the voice (standard error
    says which alphabet). Feed edited phonemes back with `vocalize speak --phonemes`.
    """
    from ..assets import voice_store
    from ..assets.models import DEFAULT_VOICE
    from ..text import Frontend
    from ..text.render import alphabet_for

    from .. import tiny

    content = read_text(text)
    voice = voice or DEFAULT_VOICE
    if tiny.is_tiny_voice(voice):
        # The tiny voices speak Kokoro's English alphabet; the British ones read with the British G2P.
        language = tiny.voices()[voice].language
        if tiny.voices()[voice].british and click.get_current_context().get_parameter_source("lang").name == "DEFAULT":
            lang = "en-gb"
    else:
        language = voice_store.language_letter(voice_lang) if voice_lang else voice_store.voice_language(voice)
    alphabet = alphabet_for(language)
    frontend = Frontend(lang, g2p=g2p, alphabet=alphabet)
    click.echo(frontend.normalize(content))
    click.echo(frontend.phonemize(content))
    described = voice_store.LANGUAGES.get(language or "", "language unknown")
    shown = "Kokoro's English alphabet (misaki)" if alphabet == "misaki" else "espeak-style IPA"
    if not frontend.japanese:
        click.echo(f"(English in {shown}, for the voice {voice}: {described})", err=True)


# `voices` (list, blend), `download` and `info` live in cli/assets.py (click only at import).
from .assets import download_command, info_command, voices_command  # noqa: E402

cli.add_command(voices_command)
cli.add_command(download_command)
cli.add_command(info_command)

from .batch import batch_command  # noqa: E402

cli.add_command(batch_command)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; anything but loopback needs an API key.")
@click.option("--port", type=click.IntRange(0, 65535), default=8880, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=8, show_default=True, help="Requests synthesized at once (they share one model; their chunks take turns).")
@click.option("--queue", type=click.IntRange(min=0), default=8, show_default=True, help="Requests that may wait for a worker (at most 60 s); past that the server answers 503 with Retry-After.")
@click.option("--max-input-chars", type=click.IntRange(min=1), default=4096, show_default=True, help="Longest input text accepted (longer: 413).")
@click.option("--api-key", envvar="VOCALIZE_API_KEY", help="Require 'Authorization: Bearer KEY' (env VOCALIZE_API_KEY); needed off loopback.")
@click.option("--threads", type=click.IntRange(min=1), help="Inference threads (default: VOCALIZE_THREADS or the core count, at most 4).")
@click.option("--model", type=click.Choice(["kokoro", "tiny"]), default="kokoro", show_default=True, help="The model loaded at start-up (/health waits for it); a request's \"model\" picks either, the other loading with its first request.")
def serve(host: str, port: int, workers: int, queue: int, max_input_chars: int, api_key: str | None, threads: int | None, model: str) -> None:
    """Serve OpenAI's speech API (POST /v1/audio/speech) from a warm engine.

    Needs the server extra: pip install 'vocalize[server]'. `vocalize speak` uses a
    running server by itself. /health says 200 once the model is loaded.

    \b
    Examples:
      vocalize serve
      curl -s localhost:8880/v1/audio/speech -H 'Content-Type: application/json' \\
        -d '{"model":"kokoro","input":"Hello!","voice":"jm_kumo","response_format":"wav"}' -o hello.wav
    """
    try:
        from ..server import ServerSettings, serve as run_server
    except ImportError as e:
        raise click.ClickException(f"the server needs its extra: pip install 'vocalize[server]' ({e})") from None
    settings = ServerSettings(host=host, port=port, workers=workers, queue=queue, max_input_chars=max_input_chars, api_key=api_key or None, threads=threads, model=model)
    run_server(settings)
    # Inference may still be finishing on a native thread: skip the interpreter's teardown.
    _exit_now(0)


@cli.command()
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True, help="Times the text is spoken.")
@click.option("--text", "text", default=None, help="Text to speak instead of the built-in paragraph.")
@click.option("--threads", type=click.IntRange(min=1), help="Inference threads (default: VOCALIZE_THREADS or the core count, at most 4).")
@click.option("-v", "--voice", default=None, help="Voice to speak with.")
@click.option("--provider", default=None, help="ONNX Runtime execution provider (default cpu).")
@click.option("--model", default=None, help="tiny, or a model as for `vocalize speak --model` (default the embedded Kokoro model).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench(runs: int, text: str | None, threads: int | None, voice: str | None, provider: str | None, model: str | None, as_json: bool) -> None:
    """Measure load time, time to first audio, real-time factor and peak memory here.

    Speaks a built-in paragraph (or --text) RUNS times after loading the model, as in a new
    process: the first load of a model also saves ONNX Runtime's optimized graph, so run it
    twice to see the usual load time. Try --threads 1, 2, 4 to pick VOCALIZE_THREADS.
    """
    import json

    from . import benchmark as bench_module

    def progress(i: int, n: int) -> None:
        if not as_json and sys.stderr.isatty():
            click.echo(f"\r  run {i}/{n}", err=True, nl=False)

    result = bench_module.run(text or bench_module.TEXT, runs, threads, voice, provider, progress, model=model)
    if not as_json and sys.stderr.isatty():
        click.echo("\r" + " " * 20 + "\r", err=True, nl=False)
    if as_json:
        import dataclasses

        click.echo(json.dumps(dataclasses.asdict(result)))
    else:
        click.echo(bench_module.render(result))


def main() -> None:
    """Entry point: errors become one line on stderr and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        _exit_now(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except VocalizeError as e:
        if os.environ.get("VOCALIZE_DEBUG"):
            raise
        click.echo(f"vocalize: error: {e}", err=True)
        _exit_now(1)


def run() -> None:
    """The ``vocalize`` command: :func:`main`, then, once a command that ran a model has
    finished (its files written and renamed into place), an exit that skips the teardown of
    the interpreter and of ONNX Runtime's globals, which takes longer than a short request's
    synthesis (about 75 ms of a 0.5 s ``speak --model tiny``)."""
    main()
    if "vocalize._native" in sys.modules:
        _exit_now(0)


def _exit_now(code: int) -> None:
    """Exits without running interpreter and C++ teardown: after Ctrl-C or an error an
    inference may still be running on a native thread, and tearing ONNX Runtime's globals
    down under it crashes. Output files were already cleaned up by then."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)

