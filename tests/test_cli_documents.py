"""`vocalize speak FILE`: text files, documents listed and spoken into a folder, input that
is not text refused."""

import json
import random
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from click.testing import CliRunner

from books import epub_files, write_epub
from conftest import read_wav, run_cli
from vocalize.cli import cli

_rng = random.Random(19)
NOISE = bytes(_rng.randrange(256) for _ in range(3000))  # head -c 3000 /dev/urandom


def invoke(*args, input=None):
    return CliRunner().invoke(cli, ["speak", *args], input=input)


def pcm16(audio):
    from vocalize.audio import to_pcm16

    return np.frombuffer(to_pcm16(audio.samples), dtype="<i2")


def test_help_says_how_files_and_literal_names_are_spoken():
    out = " ".join(invoke("--help").output.split())
    assert "When TEXT names an existing file it is read" in out
    assert "to speak such a name itself, add --text" in out
    for option in ("--encoding", "--list", "--chapters", "--force"):
        assert option in out


@pytest.mark.parametrize("how", ["stdin", "path"])
def test_input_that_is_not_text_is_one_line_exit_1_and_no_file(tmp_path, how):
    out = tmp_path / "rnd.wav"
    if how == "stdin":
        result = run_cli("speak", "-o", str(out), input=NOISE, cwd=tmp_path)
    else:
        (tmp_path / "noise.bin").write_bytes(NOISE)
        result = run_cli("speak", "noise.bin", "-o", str(out), cwd=tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.startswith("vocalize: error: input does not look like text: ") and err.count("\n") == 1
    assert "NUL bytes" in err
    assert list(tmp_path.iterdir()) == ([] if how == "stdin" else [tmp_path / "noise.bin"])


def test_a_text_file_path_is_read_and_text_speaks_the_name_itself(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_bytes("Grüße aus Köln.".encode("latin-1"))
    result = invoke("notes.txt", "--encoding", "latin-1", "-o", "file.wav", "--no-server")
    assert result.exit_code == 0, result.output
    assert np.array_equal(read_wav(tmp_path / "file.wav"), pcm16(engine.synthesize("Grüße aus Köln.")))
    result = invoke("--text", "notes.txt", "-o", "name.wav", "--no-server")
    assert result.exit_code == 0, result.output
    assert np.array_equal(read_wav(tmp_path / "name.wav"), pcm16(engine.synthesize("notes.txt")))


def test_list_prints_the_chapters(tmp_path):
    book = write_epub(tmp_path / "alice.epub")
    result = invoke(str(book), "--list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 10
    assert lines[0] == " 1  Down the Rabbit-Hole  [18 words, OEBPS/text/ch01.xhtml]"
    assert lines[9].startswith("10  Who Stole the Tarts?  [")
    picked = invoke(str(book), "--list", "--chapters", "3-4").output.splitlines()
    assert [line.split("  ")[1] for line in picked] == ["A Caucus-Race and a Long Tale", "The Rabbit Sends in a Little Bill"]


USAGE_ERRORS = [
    (["{book}", "--list", "--chapters", "12"], "there is no chapter 12; the document has 10"),
    (["{book}", "--list", "--chapters", "4-2"], "runs backwards"),
    (["Just words.", "--list"], "--list, --chapters and --force need a document FILE"),
    (["Just words.", "-o", "{tmp}/folder/"], "is a folder: one file per chapter needs a document FILE"),
    (["{book}", "--phonemes", "-o", "x.wav"], "--phonemes takes phonemes"),
]


@pytest.mark.parametrize("args, message", USAGE_ERRORS)
def test_usage_errors_exit_2(tmp_path, args, message):
    book = write_epub(tmp_path / "alice.epub")
    result = invoke(*[a.format(book=book, tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "folder").exists()


def test_a_document_becomes_a_folder_of_chapters_and_a_second_run_resumes(engine, tmp_path):
    book = write_epub(tmp_path / "alice.epub")
    out = tmp_path / "book"
    first = invoke(str(book), "-o", f"{out}/", "--chapters", "9-10")
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.iterdir()) == [
        "09 The Mock Turtle's Story.wav", "10 Who Stole the Tarts.wav", "book.json", "book.m3u",
    ]
    assert f"2 chapters into {out}/: 2 written;" in first.stderr
    manifest = json.loads((out / "book.json").read_text())
    assert manifest["title"] == "alice" and [e["number"] for e in manifest["chapters"]] == [9, 10]
    assert manifest["settings"] == {
        "voice": "jm_kumo", "speed": 1.0, "lang": "en-us", "g2p": "hibari", "model": None, "voices": None, "voice_lang": None,
    }
    stamp = (out / "10 Who Stole the Tarts.wav").stat().st_mtime_ns
    again = invoke(str(book), "-o", str(out), "--chapters", "10")
    assert again.exit_code == 0 and "0 written, 1 unchanged and kept" in again.stderr
    assert (out / "10 Who Stole the Tarts.wav").stat().st_mtime_ns == stamp
    forced = invoke(str(book), "-o", str(out), "--chapters", "10", "--force")
    assert forced.exit_code == 0 and "1 chapters into" in forced.stderr and ": 1 written;" in forced.stderr
    assert (out / "10 Who Stole the Tarts.wav").stat().st_mtime_ns != stamp


def test_a_document_into_one_file_joins_its_chapters(engine, tmp_path):
    md = tmp_path / "two.md"
    md.write_text("# One\n\nFirst.\n\n# Two\n\nSecond.\n")
    result = invoke(str(md), "-o", str(tmp_path / "two.wav"), "--no-server")
    assert result.exit_code == 0, result.output
    joined = engine.synthesize("One\n\nFirst.\n\n[pause:2s]\n\nTwo\n\nSecond.")
    assert np.array_equal(read_wav(tmp_path / "two.wav"), pcm16(joined))
    assert joined.duration > 2.5


def test_ctrl_c_during_a_book_keeps_finished_chapters_and_no_partial_file(tmp_path):
    chapters = [(f"Part {i}", "A sentence of some length to speak, so that each chapter takes a moment.") for i in range(1, 7)]
    book = write_epub(tmp_path / "parts.epub", epub_files(chapters))
    out = tmp_path / "book"
    proc = subprocess.Popen(
        [shutil.which("vocalize"), "speak", str(book), "-o", f"{out}/"], cwd=tmp_path, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 200
        while not (out / "01 Part 1.wav").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (out / "01 Part 1.wav").exists(), "the first chapter was never written"
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert code == 130, err
    assert b"Interrupted." in err and b"Traceback" not in err
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".") or n.endswith(".part")]
    entries = json.loads((out / "book.json").read_text())["chapters"]
    written = [e["file"] for e in entries]
    assert written and sorted(written + ["book.json", "book.m3u"]) == names
    for entry in entries:
        assert len(read_wav(out / entry["file"])) / 24000 == pytest.approx(entry["duration"], abs=1e-3)
    assert len(entries) < 6
