"""`vocalize batch`: manifests checked before work, one file per row, resume, failures
recorded, worker processes, and a real local Ray (`ray.init(num_cpus=2)`)."""

import io
import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner

from conftest import run_cli
from vocalize import batch
from vocalize.batch import INDEX, Settings, read_manifest, safe_name
from vocalize.cli import cli
from vocalize.errors import InputError

SENTENCES = ["The first row is short.", "A second row follows it.", "Row three speaks here.", "And the fourth is last."]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def index(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / INDEX).read_text().splitlines()]


def duration_of(path: Path) -> float:
    if path.suffix == ".pcm":
        return path.stat().st_size / 2 / 24000
    with soundfile.SoundFile(io.BytesIO(path.read_bytes())) as f:
        assert (f.samplerate, f.channels) == (24000, 1)
        return f.read().shape[0] / 24000


def assert_consistent(folder: Path) -> None:
    """Every entry that names a file has it, whole; no temporary file is left."""
    for entry in index(folder):
        if "error" not in entry:
            assert duration_of(folder / entry["file"]) == pytest.approx(entry["duration"], abs=0.1)
    assert not list(folder.glob(".*.part"))


@pytest.mark.parametrize("row_id, name", [
    ("utt-001", "utt-001"), ("a/b", "a_b"), ("../../etc/passwd", "_.._etc_passwd"), ("..", ""),
    ("C:\\x", "C__x"), ("CON", "_CON"), ("nul.txt", "_nul.txt"), (" spaced. ", "spaced"), ("é", "é"),
    ("x" * 300, "x" * 200),
])
def test_ids_become_safe_file_names(row_id, name):
    assert safe_name(row_id) == name


def test_jsonl_and_csv_rows_with_their_settings(tmp_path):
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "long.txt").write_text("A text file row.")
    jsonl = write_jsonl(tmp_path / "m.jsonl", [
        {"id": "a", "text": "Hello.", "voice": "jf_alpha", "speed": 1.2, "format": "mp3", "extra": "ignored"},
        {"id": 7, "file": "texts/long.txt", "lang": "en-gb"},
    ])
    rows, bad = read_manifest(jsonl, Settings(format="flac"))
    assert bad == []
    assert [(r.id, r.filename, r.voice, r.speed, r.lang, r.format) for r in rows] == [
        ("a", "a.mp3", "jf_alpha", 1.2, "en-us", "mp3"), ("7", "7.flac", None, 1.0, "en-gb", "flac"),
    ]
    assert rows[1].file == str(tmp_path / "texts" / "long.txt") and rows[1].text is None
    csv = tmp_path / "m.csv"
    csv.write_text('id,text,speed\nx,"Hello, with a comma.",0.8\ny,Second.,\n')
    rows, bad = read_manifest(csv)
    assert bad == [] and [(r.line, r.id, r.text, r.speed) for r in rows] == [
        (2, "x", "Hello, with a comma.", 0.8), (3, "y", "Second.", 1.0),
    ]


def test_a_change_of_text_or_setting_changes_the_hash(tmp_path):
    def digest(**row):
        return read_manifest(write_jsonl(tmp_path / "m.jsonl", [{"id": "a", **row}]))[0][0].digest

    base = digest(text="Hello.")
    assert digest(text="Hello.") == base
    assert len({base, digest(text="Hello!"), digest(text="Hello.", speed=1.1), digest(text="Hello.", voice="jf_alpha"),
                digest(text="Hello.", format="mp3"), digest(text="Hello.", lang="en-gb")}) == 6


def test_bad_rows_are_named_by_line(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join([
        json.dumps({"id": "ok", "text": "Fine."}),
        json.dumps({"text": "No id."}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "empty", "text": "   "}),
        json.dumps({"id": "both", "text": "x", "file": "y.txt"}),
        json.dumps({"id": "fast", "text": "x", "speed": 3}),
        json.dumps({"id": "fmt", "text": "x", "format": "aac"}),
        json.dumps({"id": "OK", "text": "Same file name as line 1 on a case-blind disk."}),
        json.dumps({"id": "missing", "file": "nowhere.txt"}),
        json.dumps({"id": "num", "text": 5}),
        "",
        json.dumps({"id": "last", "text": "Also fine."}),
    ]) + "\n")
    rows, bad = read_manifest(manifest)
    assert [r.id for r in rows] == ["ok", "last"]
    assert [b.line for b in bad] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    reasons = [b.reason for b in bad]
    assert reasons[0] == "no id" and reasons[1].startswith("not JSON") and reasons[2] == "not a JSON object"
    assert "no text" in reasons[3] and "both text and file" in reasons[4] and "outside 0.5 to 2.0" in reasons[5]
    assert "unknown format 'aac'" in reasons[6] and "duplicate id 'OK'" in reasons[7] and "line 1" in reasons[7]
    assert "cannot read nowhere.txt" in reasons[8] and "text must be a string" in reasons[9]


@pytest.mark.parametrize("content, message", [
    ("", "has no rows"),
    ("\n\n", "has no rows"),
    ("name,text\na,Hello.\n", "no id column"),
    ("id,voice\na,jm_kumo\n", "no text or file column"),
    ("\x00\x01\x02PK", "does not look like text"),
])
def test_a_manifest_that_cannot_be_read_is_one_error(tmp_path, content, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(content)
    with pytest.raises(InputError, match=message):
        read_manifest(manifest)
    result = run_cli("batch", str(manifest), "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and message in result.stderr.decode()
    assert len(result.stderr.decode().strip().splitlines()) == 1 and "Traceback" not in result.stderr.decode()
    assert not (tmp_path / "out").exists()


def test_bad_rows_stop_the_batch_before_work_unless_skipped(tmp_path, engine):
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": "a", "text": "Spoken."}, {"id": "a", "text": "Duplicate."}, {"id": "b"}])
    stopped = CliRunner().invoke(cli, ["batch", str(manifest), "-o", str(tmp_path / "out")])
    assert stopped.exit_code == 1
    assert f"{manifest} line 2: duplicate id 'a'" in stopped.output and f"{manifest} line 3: row 'b' has no text" in stopped.output
    assert "2 bad rows" in str(stopped.exception) and "--skip-bad" in str(stopped.exception)
    assert not (tmp_path / "out").exists()
    skipped = CliRunner().invoke(cli, ["batch", str(manifest), "-o", str(tmp_path / "out"), "--skip-bad"])
    assert skipped.exit_code == 1  # not everything was spoken
    assert "1 rows: 1 written" in skipped.output and "2 bad rows were skipped" in str(skipped.exception)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", INDEX]


def test_rows_become_files_and_a_second_run_keeps_them(tmp_path, engine):
    (tmp_path / "story.txt").write_text("This row comes from a file.")
    manifest = write_jsonl(tmp_path / "m.jsonl", [
        {"id": "one", "text": SENTENCES[0]},
        {"id": "two/slash", "text": SENTENCES[1], "format": "flac", "speed": 1.3},
        {"id": "three", "file": "story.txt", "format": "mp3", "voice": "jf_alpha"},
        {"id": "bad-voice", "text": SENTENCES[2], "voice": "nobody"},
        {"id": "binary", "text": "\x00\x01 not text"},
        {"id": "four", "text": SENTENCES[3], "format": "opus"},
    ])
    rows, bad = read_manifest(manifest)
    assert bad == []
    out = tmp_path / "out"
    summary = batch.run(rows, out)
    assert (summary.written, summary.kept, summary.failed) == (4, 0, 2)
    entries = index(out)
    assert [e["id"] for e in entries] == ["one", "two/slash", "three", "bad-voice", "binary", "four"]
    assert sorted(p.name for p in out.iterdir()) == ["four.opus", INDEX, "one.wav", "three.mp3", "two_slash.flac"]
    by_id = {e["id"]: e for e in entries}
    assert "unknown voice 'nobody'" in by_id["bad-voice"]["error"]
    assert "does not look like text" in by_id["binary"]["error"]
    assert by_id["three"]["voice"] == "jf_alpha" and by_id["one"]["voice"] == "jm_kumo"
    assert {k for k in by_id["one"]} >= {"id", "file", "duration", "sample_rate", "voice", "sha256"}
    assert by_id["one"]["sample_rate"] == 24000 and "words" not in by_id["one"]  # no timings from this engine
    assert_consistent(out)
    # The same rows again: nothing is spoken twice; the failed rows are tried again.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != INDEX}
    again = batch.run(rows, out)
    assert (again.written, again.kept, again.failed) == (0, 4, 2)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != INDEX} == stamps
    # A changed text is spoken again, the rest kept; --force speaks everything.
    changed, _ = read_manifest(write_jsonl(tmp_path / "m2.jsonl", [{"id": "one", "text": "A changed first row."}, {"id": "four", "text": SENTENCES[3], "format": "opus"}]))
    third = batch.run(changed, out)
    assert (third.written, third.kept) == (1, 1)
    assert [e["id"] for e in index(out)] == ["one", "four", "two/slash", "three"]  # then the other files there
    assert batch.run(changed, out, force=True).written == 2


def test_a_row_of_a_megabyte_is_chunked_not_refused(tmp_path, engine):
    paragraph = "This long row is read in chunks, sentence after sentence, like a book. "
    text = paragraph * (1_000_000 // len(paragraph) + 1)
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": "huge", "text": text}])
    rows, bad = read_manifest(manifest)
    assert bad == [] and len(rows[0].text) > 1_000_000
    with engine.stream(rows[0].text) as pieces:  # what speak_row streams into the file
        first = next(pieces)
        assert 0 < first.duration < 30


def test_jobs_2_writes_what_one_process_writes(tmp_path, engine):
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": f"s{i}", "text": t} for i, t in enumerate(SENTENCES)])
    rows, _ = read_manifest(manifest)
    one = batch.run(rows[:2], tmp_path / "one")
    two = batch.run(rows, tmp_path / "two", jobs=2)
    assert (one.written, two.written, two.failed) == (2, 4, 0)
    for name in ("s0.wav", "s1.wav"):
        assert duration_of(tmp_path / "two" / name) == pytest.approx(duration_of(tmp_path / "one" / name), abs=0.05)
    assert [e["id"] for e in index(tmp_path / "two")] == ["s0", "s1", "s2", "s3"]
    assert_consistent(tmp_path / "two")


def test_a_read_only_folder_is_one_error_before_any_work(tmp_path, read_only_folder):
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": "a", "text": "Hello."}])
    result = run_cli("batch", str(manifest), "-o", str(read_only_folder))
    stderr = result.stderr.decode()
    assert result.returncode == 1 and "cannot write" in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert list(read_only_folder.iterdir()) == []


def test_a_full_disk_stops_the_batch_with_one_error_and_a_consistent_manifest(tmp_path, engine):
    """The disk fills up (a file size limit) after a few rows: one error line, exit 1, and
    the manifest lists exactly the files that are whole."""
    engine.synthesize("Hi.")  # the model's cache files are written before the limit applies
    long = "This third row runs on and on, clause after clause, far longer than the two before it, so that its file is the one that no longer fits."
    texts = [SENTENCES[0], SENTENCES[1], long, SENTENCES[2]]
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)])
    out = tmp_path / "out"

    def limit_file_size():  # files of 4 s of WAV fit, the long row's does not
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    env = {**os.environ, "VOCALIZE_SERVER": "off"}
    env.pop("VOCALIZE_DEBUG", None)
    result = subprocess.run(
        [*vocalize_cmd(), "batch", str(manifest), "-o", str(out), "--format", "wav"],
        capture_output=True, env=env, preexec_fn=limit_file_size, timeout=600,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert "Traceback" not in stderr and "File too large" in stderr and "r2.wav" in stderr
    # The batch stopped at the row that did not fit (by default one worker per core: a row
    # already given to another worker may still be finished and listed).
    listed = [e["id"] for e in index(out)]
    assert listed[:2] == ["r0", "r1"] and "r2" not in listed and set(listed) <= {"r0", "r1", "r3"}
    assert_consistent(out)
    assert {e["file"] for e in index(out)} == {p.name for p in out.iterdir() if p.name != INDEX}


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def vocalize_cmd():
    import shutil
    import sys

    exe = shutil.which("vocalize")
    return [exe] if exe else [sys.executable, "-m", "vocalize.cli"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_default_jobs_is_a_worker_per_core_as_memory_allows():
    assert batch.default_jobs(available_mb=10**6) == batch.cores()
    assert batch.default_jobs(available_mb=batch.WORKER_MB - 1) == 1
    assert batch.default_jobs() >= 1


def test_resume_after_a_kill_speaks_no_row_twice(tmp_path):
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": f"r{i}", "text": f"Row {i}."} for i in range(5)])
    out = tmp_path / "out"
    env = {**os.environ, "VOCALIZE_SERVER": "off"}
    proc = subprocess.Popen([*vocalize_cmd(), "batch", str(manifest), "-o", str(out), "--jobs", "2"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / INDEX).exists() and len((out / INDEX).read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = [e["id"] for e in index(out)]
    assert 2 <= len(done) < 5
    assert workers
    deadline = time.monotonic() + 30  # a worker whose batch was killed does not linger
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    assert set(stamps) >= {f"{i}.wav" for i in done}
    result = subprocess.run([*vocalize_cmd(), "batch", str(manifest), "-o", str(out)], env=env, capture_output=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert f"{len(done)} unchanged and kept" in result.stderr.decode()
    entries = index(out)
    assert [e["id"] for e in entries] == [f"r{i}" for i in range(5)]
    for name, stamp in stamps.items():  # the rows finished before the kill were not spoken again
        if name[:-4] in done:
            assert (out / name).stat().st_mtime_ns == stamp
    assert_consistent(out)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ctrl_c_with_workers_keeps_finished_rows_whole(tmp_path):
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": f"r{i}", "text": f"Row number {i}, spoken by a worker."} for i in range(30)])
    out = tmp_path / "out"
    env = {**os.environ, "VOCALIZE_SERVER": "off"}
    # A shell starts a background job with Ctrl-C ignored, and the child inherits that: the
    # batch is given the default handler, as a command run at a terminal has it.
    proc = subprocess.Popen([*vocalize_cmd(), "batch", str(manifest), "-o", str(out), "--jobs", "2", "--threads", "1"],
                            env=env, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / INDEX).exists() and len((out / INDEX).read_text().splitlines()) >= 1:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C at a terminal reaches the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
    assert_consistent(out)
    assert {e["file"] for e in index(out)} == {p.name for p in out.iterdir() if p.name != INDEX}


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_worker_niceness", "0")  # as `vocalize batch --ray` starts it (see batch_ray)
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ray_writes_the_rows_and_resumes_like_a_local_batch(tmp_path, local_ray, engine):
    manifest = write_jsonl(tmp_path / "m.jsonl", [
        *({"id": f"s{i}", "text": t} for i, t in enumerate(SENTENCES)),
        {"id": "mp3", "text": "Encoded on an actor.", "format": "mp3"},
        {"id": "bad", "text": "No such voice.", "voice": "nobody"},
    ])
    rows, _ = read_manifest(manifest)
    out = tmp_path / "out"
    summary = batch.run(rows, out, ray_address="local", jobs=2, threads=1)
    assert (summary.written, summary.failed) == (5, 1)
    assert [e["id"] for e in index(out)] == ["s0", "s1", "s2", "s3", "mp3", "bad"]
    assert_consistent(out)
    local = batch.run(rows[:1], tmp_path / "local")
    assert duration_of(out / "s0.wav") == pytest.approx(duration_of(tmp_path / "local" / "s0.wav"), abs=0.05)
    again = batch.run(rows, out, ray_address="local")
    assert (again.written, again.kept, again.failed) == (0, 5, 1)
    assert local.written == 1


def test_word_timings_the_engine_gives_go_into_the_manifest(tmp_path, engine):
    """The seam for word timings: pieces that carry ``words`` have them written per row."""
    from dataclasses import dataclass

    from vocalize.audio import Audio

    @dataclass(frozen=True, eq=False)
    class TimedAudio(Audio):
        words: tuple = ()

    class Timed:
        voice = engine.voice

        def stream(self, text, voice=None, speed=None):
            inner = engine.stream(text, voice=voice, speed=speed)

            class Pieces:
                def __iter__(self):
                    for i, piece in enumerate(inner):
                        yield TimedAudio(piece.samples, words=({"word": f"w{i}", "start": 0.0, "end": piece.duration},))

                def close(self):
                    inner.close()

            return Pieces()

    class TimedEngines(batch.Engines):
        def get(self, model, lang):
            return Timed()

    rows, _ = read_manifest(write_jsonl(tmp_path / "m.jsonl", [{"id": "t", "text": SENTENCES[0]}]))
    entry = batch.speak_row(TimedEngines(), rows[0], tmp_path)
    assert entry["words"][0]["word"] == "w0"
    assert sum(w["end"] for w in entry["words"]) == pytest.approx(entry["duration"], abs=0.01)  # one per piece
