"""A corpus spoken from a manifest: one audio file per row, resumable, on every core.

The manifest is JSON Lines (one object per line) or CSV (a header row), each row with an
``id`` and either a ``text`` or a ``file`` (a text file, relative to the manifest's folder),
and optionally its own ``voice``, ``speed``, ``lang``, ``model`` and ``format``. Every row is
checked before any work starts (:func:`read_manifest`): a bad row is named by its line.

:func:`run` speaks the rows into a folder: ``<id>.wav`` (the id made a safe file name) per
row and ``manifest.jsonl``, one line per row with its id, file, duration, sample rate, voice,
the hash of its text and settings, and its error when it failed; ``words`` when the engine
gives word timings. Each audio file is written under a temporary name and renamed, and its
line is appended to ``manifest.jsonl`` right after, so a kill loses at most the rows being
spoken; at the end the file is rewritten in manifest order (followed by the rows of earlier
batches whose files are still there). Running again skips each row whose file exists and
whose hash is unchanged.

Rows are spoken in this process (``jobs=1``), in ``jobs`` worker processes each with its own
engine, or by actors on a Ray cluster (:mod:`vocalize.batch_ray`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import signal
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .encoders import FILE_SUFFIX, FORMATS, EncodedFile
from .errors import InputError, OutputError, VocalizeError
from .output import SAMPLE_RATE, AtomicFile, prepare_folder, write_atomic

__all__ = ["Row", "BadRow", "Settings", "Summary", "read_manifest", "run", "speak_row", "INDEX"]

INDEX = "manifest.jsonl"
COLUMNS = ("id", "text", "file", "voice", "speed", "lang", "model", "format")
SPEED_RANGE = (0.5, 2.0)
# Reserved on Windows or meaningful to shells; path separators above all.
_RESERVED = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
MAX_NAME_BYTES = 200


@dataclass(frozen=True)
class Settings:
    """The batch-wide defaults a row may override."""

    voice: str | None = None
    speed: float = 1.0
    lang: str = "en-us"
    model: str | None = None
    format: str = "wav"


@dataclass(frozen=True)
class Row:
    line: int  # in the manifest (CSV: counting the header as line 1)
    id: str
    name: str  # the file name's stem: the id made safe
    text: str | None
    file: str | None  # absolute path of the text file
    voice: str | None
    speed: float
    lang: str
    model: str | None
    format: str
    digest: str  # of the text and every setting that changes the audio

    @property
    def filename(self) -> str:
        return self.name + FILE_SUFFIX[self.format]


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def safe_name(row_id: str) -> str:
    """``row_id`` as a file name stem: no path separators, reserved or control characters
    (each becomes ``_``), no leading dot or trailing dots and spaces, at most 200 bytes, never
    a Windows device name; empty when nothing is left."""
    name = _RESERVED.sub("_", unicodedata.normalize("NFC", row_id)).strip(" ").lstrip(".").rstrip(" .")
    while len(name.encode()) > MAX_NAME_BYTES:
        name = name[:-1]
    if name.split(".")[0].upper() in _DEVICES:
        name = "_" + name
    return name


def read_manifest(path: str | os.PathLike[str], defaults: Settings = Settings()) -> tuple[list[Row], list[BadRow]]:
    """The rows of the manifest at ``path`` and those that cannot be spoken, with why.

    Raises :class:`InputError` for a manifest that cannot be read at all: missing, empty,
    neither JSON Lines nor CSV, or a CSV header without ``id`` or without ``text``/``file``."""
    source = Path(path).expanduser()
    try:
        data = source.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the manifest {source}: {e.strerror or e}") from None
    from .textinput import decode_text

    content = decode_text(data, name=str(source)).text
    records = _records(content, source)
    rows: list[Row] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}  # file name (case-folded) -> line
    for line, record in records:
        if isinstance(record, str):
            bad.append(BadRow(line, record))
            continue
        try:
            row = _row(line, record, source.parent, defaults)
        except InputError as e:
            bad.append(BadRow(line, str(e)))
            continue
        key = row.filename.casefold()
        if key in seen:
            bad.append(BadRow(line, f"duplicate id {row.id!r} (the file {row.filename} is line {seen[key]}'s)"))
            continue
        seen[key] = line
        rows.append(row)
    if not rows and not bad:
        raise InputError(f"the manifest {source} has no rows")
    return rows, bad


def _records(content: str, source: Path) -> list[tuple[int, dict[str, Any] | str]]:
    """(line, record or why it is not one) for each row of JSON Lines or CSV."""
    first = content.lstrip()[:1]
    if source.suffix.lower() in (".jsonl", ".ndjson", ".json") or first == "{":
        out: list[tuple[int, dict[str, Any] | str]] = []
        for number, text in enumerate(content.split("\n"), 1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError as e:
                out.append((number, f"not JSON: {e}"))
                continue
            out.append((number, value if isinstance(value, dict) else "not a JSON object"))
        return out
    if not first:
        return []
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    if "id" not in header or not {"text", "file"} & set(header):
        raise InputError(
            f"the manifest {source} has no {'id' if 'id' not in header else 'text or file'} column "
            f"(its header: {', '.join(header) or 'none'}); it needs id and text (or file)"
        )
    reader.fieldnames = header
    records: list[tuple[int, dict[str, Any] | str]] = []
    for record in reader:
        line = reader.line_num
        if None in record:
            records.append((line, f"more fields than the header's {len(header)}"))
            continue
        records.append((line, {k: v for k, v in record.items() if v not in (None, "")}))
    return records


def _row(line: int, record: dict[str, Any], base: Path, defaults: Settings) -> Row:
    def text_field(key: str) -> str | None:
        value = record.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)) or (key != "id" and isinstance(value, int)):
            raise InputError(f"{key} must be a string, not {json.dumps(value)[:40]}")
        return str(value)

    row_id = text_field("id")
    if row_id is None or not row_id.strip():
        raise InputError("no id")
    name = safe_name(row_id)
    if not name:
        raise InputError(f"the id {row_id!r} leaves nothing for a file name")
    text, file = text_field("text"), text_field("file")
    if text is not None and file is not None:
        raise InputError(f"row {row_id!r} has both text and file; give one")
    if file is not None:
        path = (base / Path(file).expanduser()).resolve()
        try:
            content = path.read_bytes()
        except OSError as e:
            raise InputError(f"row {row_id!r}: cannot read {file}: {e.strerror or e}") from None
        source = {"file_sha256": hashlib.sha256(content).hexdigest()}
    elif text is not None and text.strip():
        path, source = None, {"text": text}
    else:
        raise InputError(f"row {row_id!r} has no text (or file)")
    speed = record.get("speed", defaults.speed)
    try:
        speed = float(speed)
    except (TypeError, ValueError):
        raise InputError(f"row {row_id!r}: speed {speed!r} is not a number") from None
    if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        raise InputError(f"row {row_id!r}: speed {speed} is outside {SPEED_RANGE[0]} to {SPEED_RANGE[1]}")
    fmt = (text_field("format") or defaults.format).lower()
    if fmt not in FORMATS:
        raise InputError(f"row {row_id!r}: unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    voice = text_field("voice") or defaults.voice
    lang = text_field("lang") or defaults.lang
    model = text_field("model") or defaults.model
    settings = {"voice": voice, "speed": speed, "lang": lang, "model": model, "format": fmt}
    digest = hashlib.sha256(json.dumps({**source, **settings}, sort_keys=True).encode()).hexdigest()
    return Row(line, row_id, name, text, str(path) if path else None, voice, speed, lang, model, fmt, digest)


class Engines:
    """One engine per model and language, made when a row first needs it; the voice and
    speed go with each request."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._engines: dict[tuple[str | None, str], Any] = {}

    def get(self, model: str | None, lang: str) -> Any:
        engine = self._engines.get((model, lang))
        if engine is None:
            from .engine import Engine

            engine = self._engines[(model, lang)] = Engine(model=model, lang=lang, threads=self.threads)
        return engine


def speak_row(engines: Engines, row: Row, folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Speaks ``row`` into its file in ``folder``; returns its manifest entry, with ``error``
    when the row cannot be spoken (a voice that does not exist, text that is not text).
    Raises :class:`OutputError` when the folder cannot be written (a full disk)."""
    entry: dict[str, Any] = {"id": row.id, "line": row.line, "sha256": row.digest}
    start = time.monotonic()
    try:
        text = _row_text(row)
        engine = engines.get(row.model, row.lang)
        voice = row.voice or engine.voice
        seconds, words = _write(engine.stream(text, voice=voice, speed=row.speed), Path(folder) / row.filename, row.format)
    except OutputError:
        raise
    except VocalizeError as e:
        return {**entry, "error": str(e)}
    entry.update(
        file=row.filename, duration=round(seconds, 3), sample_rate=SAMPLE_RATE, voice=voice, speed=row.speed,
        lang=row.lang, model=row.model, format=row.format, seconds=round(time.monotonic() - start, 3),
    )
    if words is not None:
        entry["words"] = words
    return entry


def _row_text(row: Row) -> str:
    from .textinput import decode_text, read_text_file

    if row.file is not None:
        return read_text_file(row.file).text
    assert row.text is not None
    return decode_text(row.text.encode("utf-8", "surrogatepass"), name=f"row {row.id!r}").text


def _write(pieces: Any, path: Path, fmt: str) -> tuple[float, list[Any] | None]:
    """Streams ``pieces`` into ``path`` atomically: the seconds written, and the word timings
    when the engine's pieces carry them (a ``words`` list each)."""
    target = AtomicFile(path)
    sink = None
    frames, words, timed = 0, [], False
    try:
        sink = EncodedFile(target.file, fmt)
        try:
            for piece in pieces:
                sink.write(piece.samples)
                frames += len(piece.samples)
                piece_words = getattr(piece, "words", None)
                if piece_words is not None:
                    timed = True
                    words += [dataclasses.asdict(w) if dataclasses.is_dataclass(w) else w for w in piece_words]
        finally:
            pieces.close()
        sink.close()
        target.commit()
    except OSError as e:
        if sink is not None:
            sink.abort()
        target.discard()
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        if sink is not None:
            sink.abort()
        target.discard()
        raise
    return frames / SAMPLE_RATE, words if timed else None


@dataclass
class Summary:
    rows: int = 0
    written: int = 0
    kept: int = 0
    failed: int = 0
    audio_seconds: float = 0.0  # spoken in this run
    wall_seconds: float = 0.0
    failures: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def done(self) -> int:
        return self.written + self.kept + self.failed


ProgressFn = Callable[[Summary, dict[str, Any] | None], None]


def run(
    rows: list[Row],
    folder: str | os.PathLike[str],
    *,
    jobs: int | None = None,
    threads: int | None = None,
    ray_address: str | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> Summary:
    """Speaks ``rows`` into ``folder`` (see the module's doc) and returns what happened.

    ``jobs`` worker processes (default 1: this one; the command line's default is
    :func:`default_jobs`) each run one engine with ``threads``
    inference threads (default: the cores this process may use, shared out); ``ray_address``
    (``"local"`` for a Ray started here, or a cluster's address) runs them as Ray actors
    instead (``jobs`` of them, default as many as the cluster's CPUs hold).
    ``progress`` is called before any work and after each row."""
    out = prepare_folder(Path(folder).expanduser(), INDEX, "a batch")
    _remove_leftovers(out, rows)
    previous = read_index(out)
    summary = Summary(rows=len(rows))
    entries: dict[str, dict[str, Any]] = {}
    todo: list[Row] = []
    for row in rows:
        old = previous.get(row.id)
        if not force and old is not None and _finished(old, row, out):
            entries[row.id] = old
            summary.kept += 1
        else:
            todo.append(row)
    if progress:
        progress(summary, None)
    start = time.monotonic()
    try:
        with open(out / INDEX, "a", encoding="utf-8") as log:
            def finished(entry: dict[str, Any]) -> None:
                entries[entry["id"]] = entry
                _append(log, entry)
                if "error" in entry:
                    summary.failed += 1
                    summary.failures.append(entry)
                else:
                    summary.written += 1
                    summary.audio_seconds += entry["duration"]
                summary.wall_seconds = time.monotonic() - start
                if progress:
                    progress(summary, entry)

            if not todo:
                pass
            elif ray_address is not None:
                from .batch_ray import run_on_ray

                run_on_ray(todo, out, ray_address, jobs, threads, finished)
            elif (jobs or 1) > 1 and len(todo) > 1:
                _run_in_processes(todo, out, min(jobs, len(todo)), threads, finished)
            else:
                engines = Engines(worker_threads(1, threads))
                for row in todo:
                    finished(speak_row(engines, row, out))
    except OSError as e:
        raise OutputError(f"cannot write {out / INDEX}: {e.strerror or e}") from None
    finally:
        summary.wall_seconds = time.monotonic() - start
        # This batch's rows in manifest order, then the rows of earlier batches whose files
        # are still there: the manifest lists every file in the folder.
        order = {row.id: i for i, row in enumerate(rows)}
        ordered = sorted((e for e in entries.values() if e["id"] in order), key=lambda e: order[e["id"]])
        ordered += [e for i, e in previous.items() if i not in order and _present(out, e)]
        try:
            write_atomic(out / INDEX, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ordered).encode())
        except OutputError:
            pass  # the appended lines stay: every finished row is still in the file
    return summary


def _remove_leftovers(folder: Path, rows: list[Row]) -> None:
    """Removes the temporary files a killed run left for these rows (``.NAME.XXXX.part``)."""
    names = {row.filename for row in rows}
    for path in folder.glob(".*.part"):
        if path.name[1:].rsplit(".", 2)[0] in names:
            with contextlib.suppress(OSError):
                path.unlink()


def read_index(folder: Path) -> dict[str, dict[str, Any]]:
    """The last entry of each id in ``folder/manifest.jsonl`` (a line cut short by a kill is
    left out)."""
    try:
        lines = (folder / INDEX).read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return {}
    entries: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            entries[entry["id"]] = entry
    return entries


def _finished(entry: dict[str, Any], row: Row, folder: Path) -> bool:
    if "error" in entry or entry.get("sha256") != row.digest or entry.get("file") != row.filename:
        return False
    try:
        return (folder / row.filename).is_file()
    except OSError:
        return False


def _present(folder: Path, entry: dict[str, Any]) -> bool:
    name = entry.get("file")
    return isinstance(name, str) and "error" not in entry and Path(name).name == name and (folder / name).is_file()


def _append(log: Any, entry: dict[str, Any]) -> None:
    log.write(json.dumps(entry, ensure_ascii=False) + "\n")
    log.flush()
    os.fsync(log.fileno())


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Peak RSS of one worker speaking Kokoro (benches/batch.py: 472–511 MB), with room to spare.
WORKER_MB = 600


def default_jobs(available_mb: int | None = None) -> int:
    """Worker processes when none are asked for: one per core, each with one thread, as many
    as the memory available holds (:data:`WORKER_MB` each), at least one. Measured with
    ``benches/batch.py`` on 2 idle cores: two one-thread workers spoke 200 short sentences
    1.32× as fast as one process with two threads, and 20 paragraphs 1.09× as fast."""
    if available_mb is None:
        try:
            with open("/proc/meminfo") as f:
                available_mb = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) // 1024
        except (OSError, StopIteration, ValueError):
            return 1
    return max(1, min(cores(), available_mb // WORKER_MB))


def worker_threads(jobs: int, threads: int | None) -> int:
    """Inference threads per worker: ``threads``, else the cores shared out among ``jobs``."""
    return threads if threads is not None else max(1, cores() // jobs)


# One engine cache per worker process, made by the pool's initializer.
_worker_engines: Engines | None = None
# Whether this worker is speaking a row, has been told to stop, and is to exit after it.
_speaking = False
_stopping = False
_ending = False


def _init_worker(threads: int) -> None:
    """A worker leaves Ctrl-C to the parent, which stops its pool with SIGUSR1; SIGTERM (a
    kill, or the parent gone) ends the worker. Either way the row under way ends like an
    error, so its temporary file is removed."""
    global _worker_engines
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _stop_worker)
    signal.signal(signal.SIGTERM, _end_worker)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="vocalize-parent-watch", daemon=True).start()
    _worker_engines = Engines(threads)


def _stop_worker(signum: int, frame: Any) -> None:
    """The parent stops its pool (Ctrl-C, an error): the row under way ends. A worker between
    rows begins no other and exits at the pool's own stop message; interrupting its read of
    the shared queue would leave half a message there for the next worker, which then fails
    with a traceback."""
    global _stopping
    _stopping = True
    if _speaking:
        raise SystemExit(128 + signum)


def _end_worker(signum: int, frame: Any) -> None:
    global _ending
    _ending = True
    _stop_worker(signum, frame)
    os._exit(128 + signum)


def _watch_parent(parent: int) -> None:
    """Ends this worker when the batch's process is gone (killed, out of memory), so that no
    worker lingers holding a model."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker_speak(row: Row, folder: str) -> dict[str, Any]:
    global _speaking
    assert _worker_engines is not None
    if _stopping:  # a row queued before the stop: not begun, so the parent records it as lost
        raise SystemExit(128 + signal.SIGUSR1)
    _speaking = True
    try:
        return speak_row(_worker_engines, row, folder)
    finally:
        _speaking = False
        if _ending:
            os._exit(128 + signal.SIGTERM)


def _run_in_processes(rows: list[Row], folder: Path, jobs: int, threads: int | None, finished: Callable[[dict[str, Any]], None]) -> None:
    """Rows spoken by ``jobs`` worker processes, a few queued per worker; a worker that dies
    costs the rows it had (recorded as failed), and a new pool goes on with the rest."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")
    pending: Iterator[Row] = iter(rows)
    per_worker = worker_threads(jobs, threads)
    while True:
        pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(per_worker,))
        in_flight: dict[Any, Row] = {}
        lost: list[Row] = []
        try:
            for row in _take(pending, 2 * jobs):
                in_flight[pool.submit(_worker_speak, row, str(folder))] = row
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    row = in_flight.pop(future)
                    try:
                        entry = future.result()
                    except BrokenProcessPool:
                        lost.append(row)
                        entry = {"id": row.id, "line": row.line, "sha256": row.digest, "error": "the worker process died"}
                    finished(entry)
                if lost:
                    _remove_leftovers(folder, lost + list(in_flight.values()))
                    for future, row in in_flight.items():
                        finished({"id": row.id, "line": row.line, "sha256": row.digest, "error": "the worker process died"})
                    in_flight.clear()
                    break
                for row in _take(pending, len(done)):
                    in_flight[pool.submit(_worker_speak, row, str(folder))] = row
        except BaseException:
            _stop_workers(pool)
            # A worker stopped inside an inference (which holds off its signal handler) may
            # have been killed before it removed its temporary file.
            _remove_leftovers(folder, list(in_flight.values()))
            _settle(folder, in_flight, finished)
            raise
        pool.shutdown(wait=not lost)
        if not lost:
            return


def _settle(folder: Path, in_flight: dict[Any, Row], finished: Callable[[dict[str, Any]], None]) -> None:
    """After an interruption: records the rows whose worker finished but was not heard yet,
    and removes a file a stopped worker put in place before it could report it, unless an
    earlier batch's manifest line names it, so the manifest and the files still agree."""
    for future, row in in_flight.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            finished(future.result())
    known = read_index(folder)
    for future, row in in_flight.items():
        if not (future.done() and not future.cancelled() and future.exception() is None) and row.id not in known:
            with contextlib.suppress(OSError):
                (folder / row.filename).unlink()


def _take(rows: Iterator[Row], n: int) -> list[Row]:
    out = []
    for row in rows:
        out.append(row)
        if len(out) == n:
            break
    return out


def _stop_workers(pool: Any) -> None:
    """Stops the pool's processes (Ctrl-C, an error) so that each removes the temporary file
    of the row it was speaking; those rows are lost, the others kept. The processes are
    taken before ``shutdown``, which forgets them."""
    processes = [p for p in list((getattr(pool, "_processes", None) or {}).values()) if p.is_alive()]
    for process in processes:
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGUSR1)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(5)


def summary_line(summary: Summary) -> str:
    speed = summary.audio_seconds / summary.wall_seconds if summary.wall_seconds > 0 else 0.0
    parts = [f"{summary.written} written"]
    if summary.kept:
        parts.append(f"{summary.kept} unchanged and kept")
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    return (
        f"{summary.rows} rows: {', '.join(parts)}; {clock(summary.audio_seconds)} of audio in "
        f"{clock(summary.wall_seconds)} ({speed:.2f}x real time)"
    )


def clock(seconds: float) -> str:
    """``1:02:03`` or ``2:03.4``."""
    hours, rest = divmod(seconds, 3600)
    return f"{int(hours)}:{int(rest // 60):02d}:{int(rest % 60):02d}" if hours >= 1 else f"{int(rest // 60)}:{rest % 60:04.1f}"


def iter_failures(summary: Summary) -> Iterable[str]:
    for entry in summary.failures:
        yield f"  line {entry['line']} ({entry['id']}): {entry['error']}"
