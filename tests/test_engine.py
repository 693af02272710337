"""The Python API on the real embedded model."""

import sys
import subprocess

import numpy as np
import pytest

import vocalize
from vocalize.assets import voice_store


def test_hello_world_is_speech_of_plausible_length(engine):
    audio = engine.synthesize("Hello, world!")
    assert isinstance(audio, vocalize.Audio)
    assert audio.sample_rate == 24000
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    # Two words: about a second of speech, not silence and not a minute.
    assert 0.5 < audio.duration < 3.0, audio.duration
    rms = float(np.sqrt(np.mean(audio.samples**2)))
    assert rms > 0.02, rms
    assert np.abs(audio.samples).max() <= 1.5


def test_same_input_gives_identical_audio(engine):
    a = engine.synthesize("The quick brown fox jumps over the lazy dog.")
    b = engine.synthesize("The quick brown fox jumps over the lazy dog.")
    np.testing.assert_array_equal(a.samples, b.samples)


def test_longer_text_gives_proportionally_longer_audio(engine):
    short = engine.synthesize("One sentence here.")
    long = engine.synthesize("One sentence here. " * 6)
    assert long.duration > 4 * short.duration


@pytest.mark.slow
def test_long_text_is_split_and_never_truncated(engine):
    # About 150 words in one sentence without punctuation: far beyond one 510-token input.
    words = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima " * 12).strip()
    chunks = engine.chunks(words)
    assert len(chunks) >= 2
    assert all(1 <= len(c.token_ids) <= 510 for c in chunks)
    spoken = " ".join(c.text for c in chunks).split()
    assert spoken == words.split()
    audio = engine.synthesize(words)
    # 144 words take about a minute to say; one 510-token input holds under 30 s.
    assert audio.duration > 40, audio.duration


def test_speed_changes_duration(engine):
    normal = engine.synthesize("This sentence is read at two different speeds.")
    fast = engine.synthesize("This sentence is read at two different speeds.", speed=1.8)
    assert fast.duration < 0.8 * normal.duration


@pytest.mark.slow
def test_every_embedded_voice_speaks():
    names = vocalize.voices()
    assert names == ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
    for name in names:
        audio = vocalize.Engine(voice=name).synthesize("Good morning.")
        assert audio.duration > 0.3


def test_save_writes_16bit_mono_wav(engine, tmp_path):
    from conftest import read_wav

    path = engine.synthesize("Saving a file.").save(tmp_path / "out.wav")
    pcm = read_wav(path)
    assert len(pcm) > 12000 and np.abs(pcm).max() > 1000


def test_second_engine_shares_the_loaded_model(engine):
    from vocalize import _native

    engine.synthesize("warm")
    first = engine._model()
    second = vocalize.Engine(voice="jf_alpha")._model()
    assert second.path == first.path
    # Loading again with the same settings hands back the same native sessions, no reload.
    _native.take_spans()
    _native.enable_tracing()
    vocalize.Engine()._model()
    assert not [s for s in _native.take_spans() if s[2] in ("load_model", "create_session")]


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_text_is_an_input_error(engine, text):
    with pytest.raises(vocalize.InputError, match="empty"):
        engine.synthesize(text)


def test_unknown_voice_lists_the_available_ones():
    with pytest.raises(vocalize.InputError) as err:
        vocalize.Engine(voice="nobody")
    assert "jm_kumo" in str(err.value) and isinstance(err.value, ValueError)


@pytest.mark.parametrize("speed", [0.4, 2.1, float("nan"), "fast"])
def test_speed_out_of_range(speed):
    with pytest.raises(vocalize.InputError, match="speed"):
        vocalize.Engine(speed=speed)


def test_missing_model_file(tmp_path):
    with pytest.raises(vocalize.AssetError, match="not found"):
        vocalize.Engine(model=tmp_path / "nothing.onnx")


def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not an onnx model" * 100)
    engine = vocalize.Engine(model=bad)
    with pytest.raises(vocalize.ModelError, match="bad.onnx"):
        engine.synthesize("Hello.")


def test_voices_files_in_each_format(tmp_path):
    voice = voice_store.load_voices()["jm_kumo"]
    np.save(tmp_path / "mine.npy", voice.reshape(510, 1, 256))
    voice.astype("<f4").tofile(tmp_path / "raw.bin")
    np.savez(tmp_path / "pack.npz", one=voice, two=voice.reshape(510, 1, 256))
    assert vocalize.voices(tmp_path / "mine.npy") == ["mine"]
    assert vocalize.voices(tmp_path / "raw.bin") == ["raw"]
    assert vocalize.voices(tmp_path / "pack.npz") == ["one", "two"]
    # The file's name does not tell the voice's language: told, its English is read as for
    # jm_kumo (espeak-style IPA), so the audio is the same.
    a = vocalize.Engine(voice="mine", voices=tmp_path / "mine.npy", voice_lang="ja").synthesize("Hi there.")
    b = vocalize.Engine(voice="jm_kumo").synthesize("Hi there.")
    np.testing.assert_array_equal(a.samples, b.samples)
    (tmp_path / "mine.json").write_text('{"lang": "j"}')
    c = vocalize.Engine(voice="mine", voices=tmp_path / "mine.npy").synthesize("Hi there.")
    np.testing.assert_array_equal(c.samples, b.samples)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x00" * 100, "510"),
        (b"", "510"),
    ],
)
def test_bad_raw_voice_file(tmp_path, content, match):
    path = tmp_path / "broken.bin"
    path.write_bytes(content)
    with pytest.raises(vocalize.AssetError, match=match):
        vocalize.voices(path)


def test_wrong_shape_npy_names_file_and_shape(tmp_path):
    path = tmp_path / "wrong.npy"
    np.save(path, np.zeros((10, 256), np.float32))
    with pytest.raises(vocalize.AssetError, match=r"wrong\.npy.*\(10, 256\)"):
        vocalize.voices(path)


def test_missing_voices_file(tmp_path):
    with pytest.raises(vocalize.AssetError, match="not found"):
        vocalize.Engine(voices=tmp_path / "none.npz")


def test_unwritable_output_leaves_nothing(engine, tmp_path):
    audio = engine.synthesize("Nothing to keep.")
    with pytest.raises(vocalize.OutputError, match="missing-dir"):
        audio.save(tmp_path / "missing-dir" / "out.wav")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(vocalize.OutputError):
        audio.save(blocker / "out.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_import_is_light():
    code = (
        "import sys, vocalize; "
        "heavy = [m for m in ('numpy', 'onnxruntime', 'vocalize._native', 'hibari') if m in sys.modules]; "
        "print(heavy); vocalize.VocalizeError"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_errors_form_one_tree():
    for name in ("InputError", "AssetError", "ModelError", "RuntimeLibraryError", "InferenceError", "OutputError"):
        assert issubclass(getattr(vocalize, name), vocalize.VocalizeError)
    assert issubclass(vocalize.InputError, ValueError)


def test_warm_up_loads_everything_before_the_first_request():
    from vocalize import _native

    engine = vocalize.Engine(voice="jf_alpha")
    engine.warm_up()
    _native.enable_tracing()
    _native.take_spans()
    assert engine.synthesize("Ready.").duration > 0.3
    names = {s[2] for s in _native.take_spans()}
    assert names & {"inference", "decode"} and "create_session" not in names
