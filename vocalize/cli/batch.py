"""``vocalize batch``: a manifest of rows spoken into a folder (see :mod:`vocalize.batch`).
Only click is imported up front."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..encoders import FORMATS


@click.command("batch")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "folder", required=True, type=click.Path(file_okay=False), help="Folder for the audio files and manifest.jsonl (on Ray: a path every node sees).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes, each with its own engine (default: one per core, as many as memory holds at 600 MB each; with --ray, as many actors as the cluster's CPUs hold).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads per worker (default: the cores shared out among the workers; 1 per Ray actor).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]", help="Run on Ray (needs vocalize[ray]): alone, a Ray started here; --ray=auto or --ray=ray://HEAD:10001 for a cluster.")
@click.option("--skip-bad", is_flag=True, help="Go on without the rows that fail the check (each is reported); by default any stops the batch before it starts.")
@click.option("--force", is_flag=True, help="Speak every row again, even those already written and unchanged.")
@click.option("-v", "--voice", default=None, help="Voice of the rows that name none (default jm_kumo).")
@click.option("-s", "--speed", type=click.FloatRange(0.5, 2.0), default=1.0, show_default=True, help="Speed of the rows that give none.")
@click.option("-l", "--lang", default="en-us", show_default=True, help="Language of the rows that give none: en-us, en-gb or ja.")
@click.option("--model", default=None, help="Model of the rows that name none (fp32, fp16, int8 or a file; default the embedded model).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="wav", show_default=True, help="Format of the rows that give none.")
def batch_command(
    manifest: str, folder: str, jobs: int | None, threads: int | None, ray_address: str | None, skip_bad: bool, force: bool,
    voice: str | None, speed: float, lang: str, model: str | None, fmt: str,
) -> None:
    """Speak every row of MANIFEST into a file of its own in a folder.

    MANIFEST is JSON Lines or CSV with an id and a text (or a file, relative to the
    manifest) per row, and optionally voice, speed, lang, model and format. Each row
    becomes OUTPUT/ID.wav (the id made a safe file name), listed in OUTPUT/manifest.jsonl
    with its duration, sample rate and voice. Every row is checked first. Running the same
    command again skips the rows already written and unchanged; a row that fails is
    recorded with its error and the rest go on; the exit status is 1 when any row failed.

    \b
    Examples:
      vocalize batch corpus.jsonl -o corpus/
      vocalize batch corpus.csv -o corpus/ --jobs 2 --format flac
      vocalize batch corpus.jsonl -o /shared/corpus/ --ray=auto
    """
    from .. import batch
    from ..errors import InputError, VocalizeError

    defaults = batch.Settings(voice=voice, speed=speed, lang=lang, model=model, format=fmt)
    rows, bad = batch.read_manifest(manifest, defaults)
    for b in bad[:20]:
        click.echo(f"{manifest} {b}", err=True)
    if len(bad) > 20:
        click.echo(f"... and {len(bad) - 20} more bad rows", err=True)
    if bad and not skip_bad:
        raise InputError(f"{len(bad)} bad rows in {manifest}, nothing spoken (--skip-bad goes on without them)")
    if bad:
        click.echo(f"skipping {len(bad)} bad rows", err=True)
    if not rows:
        raise InputError(f"no row of {manifest} can be spoken")
    line = _ProgressLine() if sys.stderr.isatty() else None
    try:
        if jobs is None and ray_address is None:
            jobs = batch.default_jobs()
        summary = batch.run(rows, folder, jobs=jobs, threads=threads, ray_address=ray_address, force=force, progress=line)
    finally:
        if line is not None:
            line.clear()
    click.echo(batch.summary_line(summary), err=True)
    for failure in batch.iter_failures(summary):
        click.echo(failure, err=True)
    if summary.failed or bad:
        what = [f"{summary.failed} rows failed"] if summary.failed else []
        what += [f"{len(bad)} bad rows were skipped"] if bad else []
        raise VocalizeError(f"not every row was spoken: {' and '.join(what)} (see {folder}/{batch.INDEX})")


class _ProgressLine:
    """``[ 42%] 84/200 rows, 4:48.0 of audio, 3.10x real time`` on one terminal line."""

    def __init__(self) -> None:
        self.width = 0

    def __call__(self, summary: Any, entry: Any) -> None:
        from ..batch import clock

        share = summary.done / summary.rows if summary.rows else 1.0
        speed = summary.audio_seconds / summary.wall_seconds if summary.wall_seconds > 0 else 0.0
        line = (
            f"  [{share * 100:3.0f}%] {summary.done}/{summary.rows} rows, {clock(summary.audio_seconds)} of audio, "
            f"{speed:.2f}x real time" + (f", {summary.failed} failed" if summary.failed else "")
        )
        click.echo("\r" + line.ljust(self.width), err=True, nl=False)
        self.width = len(line)

    def clear(self) -> None:
        click.echo("\r" + " " * self.width + "\r", err=True, nl=False)
