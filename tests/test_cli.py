"""The `vocalize` command: in-process with CliRunner and as the installed console script."""

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import read_wav, run_cli
from vocalize.cli import cli

COMMANDS = [[], ["speak"], ["voices"], ["phonemize"], ["serve"], ["batch"]]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "vocalize")
def test_every_command_has_help(args):
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_help_loads_nothing_heavy():
    code = (
        "import sys\n"
        "from vocalize.cli import main\n"
        "sys.argv = ['vocalize', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('numpy', 'onnxruntime', 'vocalize._native', 'hibari') if m in sys.modules], file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr.strip() == "[]", result.stderr


def test_speak_writes_wav_in_a_new_process(tmp_path):
    out = tmp_path / "hello.wav"
    result = run_cli("speak", "Hello, world!", "-o", str(out))
    assert result.returncode == 0, result.stderr
    pcm = read_wav(out)
    assert 0.5 < len(pcm) / 24000 < 3.0
    assert np.abs(pcm).max() > 3000


def test_speak_reads_stdin(tmp_path):
    out = tmp_path / "stdin.wav"
    result = run_cli("speak", "-o", str(out), input=b"Reading from standard input.\n")
    assert result.returncode == 0, result.stderr
    assert len(read_wav(out)) / 24000 > 1.0


def test_speak_dash_reads_stdin(tmp_path):
    out = tmp_path / "dash.wav"
    result = CliRunner().invoke(cli, ["speak", "-", "-o", str(out)], input="A dash means stdin.")
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_verbose_prints_one_timing_tree_across_the_boundary(tmp_path):
    result = run_cli("speak", "Timing, please.", "-o", str(tmp_path / "t.wav"), "--verbose")
    assert result.returncode == 0, result.stderr
    tree = result.stderr.decode()
    for label in ("startup", "text frontend", "synthesize", "load_model", "create_session", "postprocess"):
        assert label in tree, tree
    # The model runs split (encoder, then decoder), or whole when it cannot be split.
    assert ("encode" in tree and "decode" in tree) or "inference" in tree, tree
    assert tree.rstrip().endswith("ms")


def test_voices_lists_the_embedded_voices():
    result = CliRunner().invoke(cli, ["voices"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    # Kokoro's five embedded voices and the tiny model's heart, then the voices not
    # downloaded (tests/test_voices.py).
    present = [line.split() for line in lines if "not downloaded" not in line]
    assert sorted((words[0], words[-2] if words[-1] == "default" else words[-1]) for words in present) == [
        ("heart", "embedded"), ("jf_alpha", "embedded"), ("jf_gongitsune", "embedded"),
        ("jf_nezumi", "embedded"), ("jf_tebukuro", "embedded"), ("jm_kumo", "embedded"),
    ]
    assert any(line.startswith("jm_kumo") and "Japanese" in line and "male" in line and "default" in line for line in lines)


@pytest.mark.parametrize(
    "args, stdin, code, message",
    [
        (["speak", "", "-o", "{out}"], None, 1, "empty"),
        (["speak", "   ", "-o", "{out}"], None, 1, "empty"),
        (["speak", "-o", "{out}"], b" \n\n ", 1, "empty"),
        (["speak", "Hi", "-o", "{out}", "--voice", "nobody"], None, 1, "jm_kumo"),
        (["speak", "Hi", "-o", "{out}", "--speed", "3"], None, 2, "0.5"),
        (["speak", "Hi", "-o", "{out}", "--speed", "0.1"], None, 2, "0.5"),
        (["speak", "Hi"], None, 2, "-o FILE"),
        (["speak", "Hi", "-o", "{out}", "--model", "{tmp}/none.onnx"], None, 1, "none.onnx"),
        (["speak", "Hi", "-o", "{out}", "--model", "{tmp}/bad.onnx"], None, 1, "bad.onnx"),
        (["speak", "Hi", "-o", "{out}", "--voices", "{tmp}/bad.npz"], None, 1, "bad.npz"),
        (["speak", "Hi", "-o", "{tmp}/no/such/dir/x.wav"], None, 1, "x.wav"),
        (["speak", "Hi", "-o", "{out}", "--bogus"], None, 2, "bogus"),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_file(tmp_path, args, stdin, code, message):
    (tmp_path / "bad.onnx").write_bytes(b"garbage" * 50)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken zip")
    out = tmp_path / "out.wav"
    argv = [a.format(out=out, tmp=tmp_path) for a in args]
    result = run_cli(*argv, input=stdin)
    err = result.stderr.decode()
    assert result.returncode == code, err
    assert message in err, err
    assert "Traceback" not in err
    if code == 1:
        assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]


FAKE_SOUNDDEVICE = {
    # PortAudio or the package missing: importing fails.
    "no-sounddevice": "raise ImportError('No module named sounddevice')\n",
    # PortAudio present, but no output device on this machine.
    "no-device": (
        "class PortAudioError(Exception):\n    pass\n"
        "def OutputStream(*args, **kwargs):\n    raise PortAudioError('Error querying device -1')\n"
    ),
}


@pytest.mark.parametrize("case", sorted(FAKE_SOUNDDEVICE))
def test_play_without_audio_device_suggests_output_file(tmp_path, case):
    (tmp_path / "sounddevice.py").write_text(FAKE_SOUNDDEVICE[case])
    import os

    path = os.pathsep.join(p for p in [str(tmp_path), os.environ.get("PYTHONPATH", "")] if p)
    result = run_cli("speak", "Hi", "--play", env={"PYTHONPATH": path})
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.startswith("vocalize: error: ") and "-o out.wav" in err
    assert len(err.strip().splitlines()) == 1


def test_stdout_streams_a_wav_readable_by_the_wave_module():
    import io
    import wave

    result = run_cli("speak", "Streaming to standard output works.", "-o", "-")
    assert result.returncode == 0, result.stderr
    with wave.open(io.BytesIO(result.stdout)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        pcm = np.frombuffer(w.readframes(10**9), dtype="<i2")
    assert 1.0 < len(pcm) / 24000 < 5.0 and np.abs(pcm).max() > 3000


def test_raw_pcm_format_matches_the_wav_samples(tmp_path):
    raw = run_cli("speak", "Same samples.", "-o", "-", "--format", "pcm")
    assert raw.returncode == 0, raw.stderr
    wav = tmp_path / "same.wav"
    assert run_cli("speak", "Same samples.", "-o", str(wav)).returncode == 0
    assert np.array_equal(np.frombuffer(raw.stdout, dtype="<i2"), read_wav(wav))


def test_ctrl_c_stops_quickly_and_leaves_no_file(tmp_path):
    import os
    import shutil
    import signal
    import time

    out = tmp_path / "long.wav"
    text = "This is a long text that takes a while to speak. " * 40
    exe = shutil.which("vocalize")
    # SIGINT as a terminal sends it, whatever this process inherited: a shell starts
    # background jobs with SIGINT ignored, and the child would inherit that.
    proc = subprocess.Popen(
        [exe, "speak", text, "-o", str(out)], cwd=tmp_path, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120

        def written():
            return sum(p.stat().st_size for p in tmp_path.glob(".long.wav.*.part"))

        while written() <= 44 and time.monotonic() < deadline:  # past the WAV header: audio
            time.sleep(0.05)
        assert written() > 44, "synthesis never started writing"
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert code == 130, err
    assert b"Interrupted." in err and b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []
