import json
from dataclasses import replace

import pytest

from books import TEN_CHAPTERS, epub_files, write_epub
from conftest import read_wav
from vocalize.audiobook import MANIFEST, PLAYLIST, make_audiobook
from vocalize.documents import read_document
from vocalize.errors import OutputError

# Two chapters to speak, one to skip: the engine speaks every test's chapters, so they are short.
SHORT = [
    ("Down the Rabbit-Hole", "Alice was tired."),
    ("Cover", '<img src="cover.png"/>'),
    ("The Pool of Tears", "Curiouser!"),
]


@pytest.fixture
def book(tmp_path):
    files = epub_files([(t, b if b.startswith("<") else f"<p>{b}</p>") for t, b in SHORT], raw_bodies=True)
    return read_document(write_epub(tmp_path / "short.epub", files))


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def manifest(folder):
    return json.loads((folder / MANIFEST).read_text())


def test_a_book_becomes_one_file_per_chapter_a_playlist_and_a_manifest(engine, book, tmp_path):
    out = tmp_path / "book"
    events = []
    results = make_audiobook(engine, book, out, title="Alice", progress=events.append)
    assert [(r.chapter.title, r.status, r.reason) for r in results] == [
        ("Down the Rabbit-Hole", "written", None),
        ("Cover", "skipped", "only images"),
        ("The Pool of Tears", "written", None),
    ]
    assert listing(out) == ["01 Down the Rabbit-Hole.wav", "03 The Pool of Tears.wav", MANIFEST, PLAYLIST]
    data = manifest(out)
    assert data["title"] == "Alice" and data["format"] == "wav" and data["settings"]["voice"] == "jm_kumo"
    entries = data["chapters"]
    assert [(e["number"], e["file"], e["skipped"]) for e in entries] == [
        (1, "01 Down the Rabbit-Hole.wav", None),
        (2, None, "only images"),
        (3, "03 The Pool of Tears.wav", None),
    ]
    assert entries[0]["source"] == "OEBPS/text/ch01.xhtml"
    for entry, result in zip(entries, results):
        if entry["file"]:
            samples = read_wav(out / entry["file"])
            assert len(samples) / 24000 == pytest.approx(entry["duration"], abs=1e-3)
            assert entry["duration"] == pytest.approx(result.duration, abs=1e-3) and result.duration > 0.5
            assert len(entry["sha256"]) == 64
    # Streamed into the file, the audio is what synthesize() gives for the chapter's text.
    import numpy as np

    from vocalize.audio import to_pcm16

    whole = np.frombuffer(to_pcm16(engine.synthesize(book[2].text).samples), dtype="<i2")
    assert np.array_equal(read_wav(out / "03 The Pool of Tears.wav"), whole)
    assert (out / PLAYLIST).read_text().splitlines() == [
        "#EXTM3U",
        "#PLAYLIST:Alice",
        f"#EXTINF:{round(entries[0]['duration'])},Down the Rabbit-Hole",
        "01 Down the Rabbit-Hole.wav",
        f"#EXTINF:{round(entries[2]['duration'])},The Pool of Tears",
        "03 The Pool of Tears.wav",
    ]
    # Progress: the chapter being spoken, the share done, and once measured the time left.
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert [e.chapter.number for e in events if e.audio_seconds == 0.0][:2] == [1, 3]
    assert all(e.total == 3 for e in events)
    later = [e for e in events if e.chapter.number == 3 and e.audio_seconds > 0]
    assert later and all(e.eta is not None and e.eta >= 0 for e in later)


def test_running_again_resumes_and_force_redoes(engine, book, tmp_path):
    out = tmp_path / "book"
    make_audiobook(engine, book, out)
    stamps = {name: (out / name).stat().st_mtime_ns for name in listing(out) if name.endswith(".wav")}
    again = make_audiobook(engine, book, out)
    assert [r.status for r in again] == ["kept", "skipped", "kept"]
    assert {name: (out / name).stat().st_mtime_ns for name in stamps} == stamps
    assert [r.duration for r in again if r.file] == [e["duration"] for e in manifest(out)["chapters"] if e["file"]]
    # The third chapter's text changed: only it is spoken again.
    changed = [replace(c, text=c.text + " Oh!") if c.number == 3 else c for c in book]
    assert [r.status for r in make_audiobook(engine, changed, out)] == ["kept", "skipped", "written"]
    assert (out / "01 Down the Rabbit-Hole.wav").stat().st_mtime_ns == stamps["01 Down the Rabbit-Hole.wav"]
    # A file deleted by hand is spoken again.
    (out / "01 Down the Rabbit-Hole.wav").unlink()
    assert [r.status for r in make_audiobook(engine, changed, out)] == ["written", "skipped", "kept"]
    assert [r.status for r in make_audiobook(engine, changed, out, force=True)] == ["written", "skipped", "written"]


def test_other_settings_or_a_new_title_redo_the_chapter(engine, book, tmp_path):
    import vocalize

    out = tmp_path / "book"
    first = make_audiobook(engine, book[:1], out)
    faster = make_audiobook(vocalize.Engine(speed=1.5), book[:1], out)
    assert faster[0].status == "written" and faster[0].duration < first[0].duration
    renamed = [replace(book[0], title="Rabbit Hole")]
    assert make_audiobook(engine, renamed, out)[0].status == "written"
    assert [n for n in listing(out) if n.endswith(".wav")] == ["01 Rabbit Hole.wav"]  # the old name is gone


def test_ctrl_c_leaves_finished_chapters_whole_and_nothing_partial(engine, book, tmp_path):
    out = tmp_path / "book"
    seen = []

    def interrupt(p):
        seen.append((p.chapter.number, p.audio_seconds))
        if p.chapter.number == 3 and p.audio_seconds > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_audiobook(engine, book, out, progress=interrupt)
    assert seen[-1][0] == 3 and seen[-1][1] > 0  # it stopped inside the last chapter, after some of its audio
    assert listing(out) == ["01 Down the Rabbit-Hole.wav", MANIFEST, PLAYLIST]
    entries = manifest(out)["chapters"]
    assert [e["number"] for e in entries] == [1, 2]  # the skipped chapter is listed too
    assert len(read_wav(out / "01 Down the Rabbit-Hole.wav")) / 24000 == pytest.approx(entries[0]["duration"], abs=1e-3)
    assert "03 The Pool of Tears.wav" not in (out / PLAYLIST).read_text()
    # Running it again finishes the job without speaking the first chapter again.
    assert [r.status for r in make_audiobook(engine, book, out)] == ["kept", "skipped", "written"]


def test_an_engine_with_only_synthesize_works(engine, book, tmp_path):
    class Plain:
        voice, speed = "jm_kumo", 1.0

        def synthesize(self, text):
            return engine.synthesize(text)

    results = make_audiobook(Plain(), book[:2], tmp_path / "book")
    assert [r.status for r in results] == ["written", "skipped"]
    assert len(read_wav(results[0].file)) / 24000 == pytest.approx(results[0].duration, abs=1e-3)


@pytest.mark.parametrize("fmt, subtype", [("flac", "PCM_16"), ("mp3", "MPEG_LAYER_III"), ("opus", "OPUS")])
def test_other_formats_go_through_the_shared_encoders(engine, book, tmp_path, fmt, subtype):
    import soundfile

    result = make_audiobook(engine, book[:1], tmp_path / "book", fmt=fmt)[0]
    assert result.file.name == f"01 Down the Rabbit-Hole.{fmt}"
    with soundfile.SoundFile(str(result.file)) as f:
        assert (f.samplerate if fmt != "opus" else 24000, f.channels, f.subtype) == (24000, 1, subtype)
        assert f.frames < 10**9  # a length, not "unknown" (as the server's streamed FLAC says)
        frames = f.read(dtype="float32").shape[0]
    assert frames / 24000 == pytest.approx(result.duration, abs=0.1 if fmt != "flac" else 1e-3)


def test_a_read_only_folder_is_one_clear_error_before_any_work(book, read_only_folder):
    class Untouchable:
        voice = "jm_kumo"

        def stream(self, text):
            raise AssertionError("nothing should be spoken")

    with pytest.raises(OutputError, match=r"cannot write .*locked/book.json"):
        make_audiobook(Untouchable(), book, read_only_folder)
    with pytest.raises(OutputError, match="cannot create the folder"):
        make_audiobook(Untouchable(), book, read_only_folder / "inside")
    assert listing(read_only_folder) == []


def test_a_file_in_the_way_and_an_unknown_format_are_errors(book, tmp_path):
    blocker = tmp_path / "book"
    blocker.write_text("")
    with pytest.raises(OutputError, match="is a file"):
        make_audiobook(object(), book, blocker)
    with pytest.raises(OutputError, match="unknown audio format 'aac'"):
        make_audiobook(object(), book, tmp_path / "other", fmt="aac")


def test_the_ten_chapter_book_numbers_its_files(engine, tmp_path):
    chapters = read_document(write_epub(tmp_path / "alice.epub"))
    assert len(chapters) == len(TEN_CHAPTERS) == 10
    picked = [replace(chapters[9], text="The tarts!")]
    results = make_audiobook(engine, picked, tmp_path / "book", count=120)
    assert [r.file.name for r in results] == ["010 Who Stole the Tarts.wav"]
