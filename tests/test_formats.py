"""Output formats: `-o` picks the format from the extension, `--format` overrides it, the
server's encoders write every file (CLI, audiobook, Audio.save), each decoded back here with
soundfile and checked for length and sample rate."""

import io
import subprocess

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from books import write_epub
from conftest import read_wav, run_cli
from vocalize.cli import cli, write_stream
from vocalize.encoders import FORMATS, SUFFIXES, EncodedFile, format_of

RATE = 24000
# Samples an encoder may add (codec delay, padding to a frame) or, for mp3 as libsndfile
# reads it back, leave out at the end.
SLACK = {"wav": 0, "pcm": 0, "flac": 0, "mp3": 2400, "opus": 1000}
EXTENSIONS = {".wav": "wav", ".flac": "flac", ".mp3": "mp3", ".ogg": "opus", ".opus": "opus", ".pcm": "pcm", ".raw": "pcm"}


def tone(seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def decode(data: bytes, fmt: str) -> np.ndarray:
    """Samples of a file's bytes, checked to be 24 kHz mono."""
    if fmt == "pcm":
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767
    with soundfile.SoundFile(io.BytesIO(data)) as f:
        assert (f.samplerate, f.channels) == (RATE, 1), fmt
        if f.frames < 2**40:
            return f.read(dtype="float32")
        # A FLAC streamed into a pipe says "length unknown"; soundfile's read() then seeks to
        # the end, which fails: call libsndfile's read directly.
        out, block = [np.zeros(0, np.float32)], np.empty(4096, dtype=np.float32)
        while (n := soundfile._snd.sf_readf_float(f._file, soundfile._ffi.cast("float *", block.ctypes.data), len(block))) > 0:
            out.append(block[:n].copy())
        return np.concatenate(out)


def assert_length(samples: np.ndarray, frames: int, fmt: str) -> None:
    assert abs(len(samples) - frames) <= SLACK[fmt], (fmt, len(samples), frames)


@pytest.mark.parametrize("name, fmt", [
    ("a.wav", "wav"), ("A.FLAC", "flac"), ("x/y.mp3", "mp3"), ("b.ogg", "opus"), ("b.opus", "opus"),
    ("c.pcm", "pcm"), ("c.raw", "pcm"), ("notes.txt", None), ("noext", None), ("a.wav.part", None),
])
def test_the_extension_names_the_format(name, fmt):
    assert format_of(name) == fmt


def test_every_extension_is_a_format_the_server_sends():
    assert SUFFIXES == EXTENSIONS
    assert set(SUFFIXES.values()) == set(FORMATS)


class Pipe(io.BytesIO):
    """Standard output into a pipe: cannot seek back."""

    def seekable(self):
        return False


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("out_kind", [io.BytesIO, Pipe])
def test_encoded_file_decodes_to_the_samples_written(fmt, out_kind):
    samples = tone()
    out = out_kind()
    sink = EncodedFile(out, fmt)
    for i in range(0, len(samples), 7000):
        sink.write(samples[i : i + 7000])
    sink.close()
    decoded = decode(out.getvalue(), fmt)
    assert_length(decoded, len(samples), fmt)
    if fmt in ("wav", "pcm", "flac"):  # lossless 16-bit: the same samples
        assert np.abs(decoded[: len(samples)] - samples).max() < 1 / 32767
    if fmt == "flac" and out_kind is io.BytesIO:
        with soundfile.SoundFile(io.BytesIO(out.getvalue())) as f:
            assert f.frames == len(samples)  # a file gets the length a stream leaves unknown


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac", "wav"])
def test_a_file_is_streamed_under_a_temporary_name_and_appears_whole(tmp_path, fmt):
    target = tmp_path / f"out.{fmt}"
    seen = []

    def pieces():
        from vocalize.audio import Audio

        for i in range(4):
            yield Audio(tone(1.0))
            parts = list(tmp_path.glob(f".out.{fmt}.*.part"))
            assert not target.exists() and len(parts) == 1
            seen.append(parts[0].stat().st_size)

    seconds = write_stream(pieces(), str(target), fmt, play=False)
    assert seconds == pytest.approx(4.0)
    assert seen[1] > seen[0] > 0 and seen[3] > seen[2]  # bytes reach the file as pieces come
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    assert_length(decode(target.read_bytes(), fmt), 4 * RATE, fmt)


def test_a_failure_while_streaming_leaves_nothing(tmp_path):
    def pieces():
        from vocalize.audio import Audio

        yield Audio(tone(1.0))
        raise RuntimeError("inference failed")

    with pytest.raises(RuntimeError):
        write_stream(pieces(), str(tmp_path / "out.mp3"), "mp3", play=False)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """`vocalize speak -o hello.EXT` for every extension, in one process (one model load)."""
    folder = tmp_path_factory.mktemp("formats")
    results = {}
    for ext in EXTENSIONS:
        out = folder / f"hello{ext}"
        result = CliRunner().invoke(cli, ["speak", "Hello, formats.", "-o", str(out), "--no-server"])
        assert result.exit_code == 0, result.output
        results[ext] = out.read_bytes()
    return results


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_speak_writes_the_format_its_extension_names(spoken, ext):
    fmt = EXTENSIONS[ext]
    reference = read_wav_bytes(spoken[".wav"])
    decoded = decode(spoken[ext], fmt)
    assert len(reference) > RATE // 2
    assert_length(decoded, len(reference), fmt)
    if fmt == "pcm":
        assert np.array_equal(np.frombuffer(spoken[ext], dtype="<i2"), reference)
    if fmt == "flac":  # lossless: the WAV's samples
        assert np.array_equal(read_wav_bytes(spoken[ext]), reference)
    if fmt == "mp3":
        assert spoken[ext][:3] != b"RIF" and spoken[ext][:2] == b"\xff\xf3"


def read_wav_bytes(data: bytes) -> np.ndarray:
    with soundfile.SoundFile(io.BytesIO(data)) as f:
        assert f.samplerate == RATE
        return f.read(dtype="int16")


def test_format_overrides_the_extension(spoken, tmp_path):
    out = tmp_path / "speech.bin"
    result = CliRunner().invoke(cli, ["speak", "Hello, formats.", "-o", str(out), "--format", "flac", "--no-server"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"fLaC"
    assert_length(decode(out.read_bytes(), "flac"), len(read_wav_bytes(spoken[".wav"])), "flac")


@pytest.mark.parametrize("name", ["speech.txt", "speech", "speech.m4a"])
def test_an_unknown_extension_is_a_usage_error_naming_the_formats_and_writes_nothing(tmp_path, name):
    result = run_cli("speak", "Hello.", "-o", str(tmp_path / name))
    assert result.returncode == 2, result.stderr
    message = result.stderr.decode()
    assert "Traceback" not in message
    for ext in EXTENSIONS:
        assert ext in message
    assert "--format" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac", "pcm"])
def test_stdout_streams_every_format_through_a_pipe(tmp_path, fmt):
    """`vocalize speak -o - --format FMT | cat > file` decodes (a pipe cannot seek back)."""
    out = tmp_path / f"piped.{fmt}"
    errors = tmp_path / "stderr"
    with open(out, "wb") as sink, open(errors, "wb") as err:
        speak = subprocess.Popen(
            [*vocalize_cmd(), "speak", "Streaming out.", "-o", "-", "--format", fmt],
            stdout=subprocess.PIPE, stderr=err, env=cli_env(),
        )
        cat = subprocess.run(["cat"], stdin=speak.stdout, stdout=sink, timeout=240)
        speak.stdout.close()
        assert speak.wait(timeout=240) == 0, errors.read_text()
        assert cat.returncode == 0
    decoded = decode(out.read_bytes(), fmt)
    assert 0.5 < len(decoded) / RATE < 4


def test_stdout_without_format_is_wav(tmp_path):
    result = run_cli("speak", "Hello.", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout[:4] == b"RIFF"


def vocalize_cmd():
    import shutil
    import sys

    exe = shutil.which("vocalize")
    return [exe] if exe else [sys.executable, "-m", "vocalize.cli"]


def cli_env():
    import os

    env = dict(os.environ)
    env.pop("VOCALIZE_DEBUG", None)
    return env


def test_audio_save_picks_the_format_from_the_suffix(tmp_path):
    from vocalize.audio import Audio

    audio = Audio(tone())
    for ext, fmt in EXTENSIONS.items():
        path = audio.save(tmp_path / f"saved{ext}")
        assert_length(decode(path.read_bytes(), fmt), len(audio), fmt)
    assert read_wav(audio.save(tmp_path / "saved.bin")).shape == (len(audio),)  # no known suffix: WAV


def test_a_book_into_a_folder_of_mp3_and_into_one_ogg(engine, tmp_path):
    book = write_epub(tmp_path / "alice.epub")
    folder = tmp_path / "book"
    result = CliRunner().invoke(cli, ["speak", str(book), "-o", f"{folder}/", "--chapters", "2-3", "--format", "mp3"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["02 The Pool of Tears.mp3", "03 A Caucus-Race and a Long Tale.mp3", "book.json", "book.m3u"]
    import json

    entries = json.loads((folder / "book.json").read_text())["chapters"]
    for entry in entries:
        decoded = decode((folder / entry["file"]).read_bytes(), "mp3")
        assert_length(decoded, round(entry["duration"] * RATE), "mp3")
    joined = tmp_path / "alice.ogg"
    result = CliRunner().invoke(cli, ["speak", str(book), "-o", str(joined), "--chapters", "2-3", "--no-server"])
    assert result.exit_code == 0, result.output
    total = sum(e["duration"] for e in entries) + 2.0  # the pause between the chapters
    assert len(decode(joined.read_bytes(), "opus")) / RATE == pytest.approx(total, abs=0.5)
