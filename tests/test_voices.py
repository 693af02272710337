"""Voices by name, file and blend: the voice store, `vocalize voices`, and the Engine paths.

The stand-in model (tests/standins.py) echoes the style row it was given, so tests on it see
exactly which voice reached the model."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

import vocalize
from conftest import read_wav, run_cli
from standins import build_model
from vocalize.assets import hub, models, paths, voice_store
from vocalize.cli import cli


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty user voice folder."""
    path = tmp_path / "voices"
    path.mkdir()
    monkeypatch.setenv("VOCALIZE_VOICES_DIR", str(path))
    return path


@pytest.fixture(scope="module")
def standin_model(tmp_path_factory):
    return build_model(tmp_path_factory.mktemp("model") / "standin.onnx")


def embedded(name):
    return voice_store.load_voices()[name]


def kumo_alpha(a=0.7, b=0.3):
    return (a * embedded("jm_kumo") + b * embedded("jf_alpha")) / (a + b)


# ---------------------------------------------------------------------------------------------
# Naming convention and spec syntax


@pytest.mark.parametrize(
    "name, language, gender",
    [
        ("jm_kumo", "Japanese", "male"),
        ("af_heart", "American English", "female"),
        ("bm_george", "British English", "male"),
        ("zf_xiaoxiao", "Mandarin Chinese", "female"),
        ("pm_santa", "Brazilian Portuguese", "male"),
        ("ef_dora", "Spanish", "female"),
        ("ff_siwis", "French", "female"),
        ("hm_psi", "Hindi", "male"),
        ("im_nicola", "Italian", "male"),
        ("my_voice", "unknown", "unknown"),
        ("qx_thing", "unknown", "unknown"),
        ("kumo", "unknown", "unknown"),
    ],
)
def test_language_and_gender_from_the_name(name, language, gender):
    assert voice_store.describe(name) == (language, gender)


def test_official_list_is_complete_and_well_formed():
    assert len(hub.OFFICIAL_VOICES) == len(set(hub.OFFICIAL_VOICES)) == 54
    assert all(voice_store.describe(n) != ("unknown", "unknown") for n in hub.OFFICIAL_VOICES)
    assert set(voice_store.load_voices()) <= set(hub.OFFICIAL_VOICES)


@pytest.mark.parametrize(
    "spec, parts",
    [
        ("jm_kumo", [("jm_kumo", None)]),
        ("  jm_kumo  ", [("jm_kumo", None)]),
        ("jm_kumo:0.7+jf_alpha:0.3", [("jm_kumo", 0.7), ("jf_alpha", 0.3)]),
        ("jm_kumo(7)+jf_alpha(3)", [("jm_kumo", 7.0), ("jf_alpha", 3.0)]),
        ("jm_kumo : 2 + jf_alpha", [("jm_kumo", 2.0), ("jf_alpha", None)]),
        ("jm_kumo:1e-1", [("jm_kumo", 0.1)]),
        ("./mine.npy:0.5+jm_kumo:0.5", [("./mine.npy", 0.5), ("jm_kumo", 0.5)]),
        ("C:\\voices\\mine.npy", [("C:\\voices\\mine.npy", None)]),
    ],
)
def test_spec_syntax(spec, parts):
    assert voice_store.parse(spec) == parts


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("jm_kumo+", "empty part"),
        ("+jm_kumo", "empty part"),
        ("jm_kumo++jf_alpha", "empty part"),
        ("jm_kumo:-1+jf_alpha", "positive"),
        ("jm_kumo:0+jf_alpha", "positive"),
        ("jm_kumo(0)+jf_alpha(1)", "positive"),
        ("jm_kumo(-3)", "positive"),
        ("jm_kumo:nan", "positive"),
        ("jm_kumo:inf", "positive"),
        ("jm_kumo:abc", "positive"),
        ("jm_kumo:", "positive"),
    ],
)
def test_bad_spec_is_an_input_error(spec, message):
    with pytest.raises(vocalize.InputError, match=message):
        voice_store.resolve(spec)


# ---------------------------------------------------------------------------------------------
# Resolving names and blends


def test_name_resolves_to_the_embedded_table():
    table = voice_store.resolve("jm_kumo")
    assert table.shape == (510, 256) and table.dtype == np.float32
    np.testing.assert_array_equal(table, embedded("jm_kumo"))


@pytest.mark.parametrize("spec", ["jm_kumo:0.7+jf_alpha:0.3", "jm_kumo(7)+jf_alpha(3)", "jm_kumo:70+jf_alpha:30"])
def test_blend_is_the_normalized_weighted_sum(spec):
    table = voice_store.resolve(spec)
    assert table.shape == (510, 256) and table.dtype == np.float32
    np.testing.assert_allclose(table, kumo_alpha(), rtol=1e-6, atol=1e-6)


def test_blend_parts_without_weight_count_equally():
    np.testing.assert_allclose(voice_store.resolve("jm_kumo+jf_alpha"), kumo_alpha(1, 1), atol=1e-6)
    np.testing.assert_allclose(voice_store.resolve("jm_kumo:2"), embedded("jm_kumo"), atol=1e-6)


def test_unknown_voice_in_a_blend_names_it_and_the_available_ones():
    with pytest.raises(vocalize.InputError) as err:
        voice_store.resolve("jm_kumo:0.5+nobody:0.5")
    assert "'nobody'" in str(err.value) and "jf_alpha" in str(err.value)


def test_official_voice_not_downloaded_says_how_to_get_it():
    with pytest.raises(vocalize.InputError, match="vocalize download voices af_heart"):
        voice_store.resolve("af_heart")
    with pytest.raises(vocalize.InputError, match="vocalize download voices bf_emma"):
        vocalize.Engine(voice="jm_kumo+bf_emma")


def test_blend_of_different_shapes_is_refused():
    a = np.zeros((510, 256), np.float32)
    b = np.zeros((400, 256), np.float32)
    with pytest.raises(vocalize.InputError, match=r"same shape.*\(510, 256\).*\(400, 256\)"):
        voice_store.mix([("a", a, 1.0), ("b", b, 1.0)])
    with pytest.raises(vocalize.InputError, match="positive"):
        voice_store.mix([("a", a, 1.0), ("b", a, -1.0)])


def test_blend_with_a_file_of_the_wrong_shape_names_the_file(tmp_path):
    odd = tmp_path / "short.npy"
    np.save(odd, np.zeros((400, 256), np.float32))
    with pytest.raises(vocalize.AssetError, match=r"short\.npy.*\(400, 256\).*expected"):
        voice_store.resolve(f"jm_kumo:0.5+{odd}:0.5")


def test_names_never_reach_outside_the_voice_store(tmp_path, folder, monkeypatch):
    secret = tmp_path / "secret.npy"
    np.save(secret, embedded("jm_kumo"))
    monkeypatch.chdir(folder)
    # A name is looked up in the store only: a file beside the folder is not a voice.
    with pytest.raises(vocalize.InputError, match="unknown voice 'secret'"):
        voice_store.resolve("secret")
    # Anything with a separator or a dot is a path, and paths can be refused outright.
    for spec in ["../secret.npy", "../secret", "..", "voices/../../secret.npy", "~/x.npy"]:
        with pytest.raises(vocalize.InputError, match="only voice names"):
            voice_store.resolve(spec, allow_paths=False)
    with pytest.raises(vocalize.InputError, match="only voice names"):
        voice_store.resolve("jm_kumo:0.5+../secret.npy:0.5", allow_paths=False)
    with pytest.raises(vocalize.InputError, match="not a voice name"):
        voice_store.resolve("secret.v2")
    # Given as a path, a file anywhere is fine.
    np.testing.assert_array_equal(voice_store.resolve("../secret.npy"), embedded("jm_kumo"))


# ---------------------------------------------------------------------------------------------
# Voice files: formats, errors, the user voice folder


def test_every_file_format_by_path_and_by_name(tmp_path, folder):
    kumo, alpha = embedded("jm_kumo"), embedded("jf_alpha")
    np.save(folder / "three_d.npy", kumo.reshape(510, 1, 256))
    np.save(folder / "two_d.npy", alpha)
    kumo.astype("<f4").tofile(folder / "raw.bin")
    np.savez(folder / "pack.npz", packed_one=alpha, packed_two=kumo.reshape(510, 1, 256))
    (folder / ".hidden.npy.1234.part").write_bytes(b"half a file")
    (folder / "notes.txt").write_text("not a voice")
    for name, expected in [("three_d", kumo), ("two_d", alpha), ("raw", kumo), ("packed_one", alpha), ("packed_two", kumo)]:
        np.testing.assert_array_equal(voice_store.resolve(name), expected)
        infos = {i.name: i for i in voice_store.catalog()}
        assert infos[name].source == "user" and infos[name].available
    for path in [folder / "three_d.npy", folder / "raw.bin"]:
        np.testing.assert_array_equal(voice_store.resolve(str(path)), kumo)
        np.testing.assert_array_equal(voice_store.resolve(path), kumo)
    names = voice_store.names()
    assert {"three_d", "two_d", "raw", "packed_one", "packed_two", "jm_kumo"} <= set(names)
    assert not [n for n in names if "hidden" in n or "notes" in n]
    with pytest.raises(vocalize.InputError, match="holds 2 voices"):
        voice_store.resolve(str(folder / "pack.npz"))


@pytest.mark.parametrize(
    "filename, write, match",
    [
        ("short.bin", lambda p: p.write_bytes(b"\0" * 1000), r"short\.bin.*522240 bytes.*1000 bytes"),
        ("empty.bin", lambda p: p.write_bytes(b""), r"empty\.bin.*522240"),
        ("rows.npy", lambda p: np.save(p, np.zeros((511, 256), np.float32)), r"rows\.npy.*\(511, 256\).*expected"),
        ("ints.npy", lambda p: np.save(p, np.zeros((510, 256), np.int32)), r"ints\.npy.*int32.*expected float32"),
        ("nan.npy", lambda p: np.save(p, np.full((510, 256), np.nan, np.float32)), r"nan\.npy.*NaN"),
        ("bad.npz", lambda p: np.savez(p, good=np.zeros((510, 256)), bad=np.zeros(3)), r"bad\.npz.*'bad'.*expected"),
        ("broken.npz", lambda p: p.write_bytes(b"PK\x03\x04 broken"), r"broken\.npz"),
    ],
)
def test_bad_voice_file_is_a_clear_error(folder, filename, write, match):
    path = folder / filename
    write(path)
    with pytest.raises(vocalize.AssetError, match=match):
        voice_store.resolve(str(path))
    stem = path.stem
    if stem != "bad":  # by name from the folder too (bad.npz's names are its members)
        with pytest.raises(vocalize.AssetError, match=match):
            voice_store.resolve(stem)


def test_resolved_voices_are_cached_and_a_replaced_file_is_reread(folder, monkeypatch):
    path = folder / "mine.npy"
    np.save(path, embedded("jm_kumo"))
    os.utime(folder, ns=(time.time_ns() - 10**10,) * 2)  # a folder changed a while ago
    reads = []
    real = voice_store._read_voices
    monkeypatch.setattr(voice_store, "_read_voices", lambda p: reads.append(p) or real(p))
    first = voice_store.resolve("mine:0.5+jf_alpha:0.5")
    for _ in range(20):
        assert voice_store.resolve("mine:0.5+jf_alpha:0.5") is first
        voice_store.resolve("mine")
    assert [p.name for p in reads] == ["mine.npy"]
    np.save(folder / ".tmp.npy", embedded("jf_tebukuro"))
    (folder / ".tmp.npy").replace(path)  # as an atomic save would
    np.testing.assert_array_equal(voice_store.resolve("mine"), embedded("jf_tebukuro"))


def test_a_user_file_shadows_an_embedded_voice_of_the_same_name(folder):
    np.testing.assert_array_equal(voice_store.resolve("jf_nezumi"), embedded("jf_nezumi"))
    np.save(folder / "jf_nezumi.npy", embedded("jm_kumo"))
    np.testing.assert_array_equal(voice_store.resolve("jf_nezumi"), embedded("jm_kumo"))


def test_voices_file_comes_first_and_the_stores_stay_usable(tmp_path):
    pack = tmp_path / "pack.npz"
    np.savez(pack, jm_kumo=embedded("jf_alpha"), extra=embedded("jf_nezumi"))
    np.testing.assert_array_equal(voice_store.resolve("jm_kumo", pack), embedded("jf_alpha"))
    np.testing.assert_array_equal(voice_store.resolve("jf_tebukuro", pack), embedded("jf_tebukuro"))
    assert vocalize.voices(pack) == ["extra", "jm_kumo"]
    assert {"extra", "jf_tebukuro"} <= set(vocalize.Engine(voices=pack).voices)


# ---------------------------------------------------------------------------------------------
# Saving blends


def test_save_blend_as_npy_and_bin(tmp_path):
    npy = voice_store.save("jm_kumo:0.7+jf_alpha:0.3", tmp_path / "blend.npy")
    saved = np.load(npy)
    assert saved.shape == (510, 1, 256) and saved.dtype == np.float32
    np.testing.assert_allclose(saved.reshape(510, 256), kumo_alpha(), atol=1e-6)
    raw = voice_store.save("jm_kumo:0.7+jf_alpha:0.3", tmp_path / "blend.bin")
    assert raw.stat().st_size == 522240
    np.testing.assert_array_equal(np.fromfile(raw, "<f4").reshape(510, 256), saved.reshape(510, 256))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blend.bin", "blend.npy"]


def test_save_refuses_and_leaves_nothing(tmp_path):
    with pytest.raises(vocalize.InputError, match=r"\.npy or \.bin"):
        voice_store.save("jm_kumo", tmp_path / "blend.wav")
    with pytest.raises(vocalize.OutputError, match="missing"):
        voice_store.save("jm_kumo", tmp_path / "missing" / "blend.npy")
    with pytest.raises(vocalize.InputError, match="nobody"):
        voice_store.save("jm_kumo+nobody", tmp_path / "blend.npy")
    assert list(tmp_path.iterdir()) == []


def test_save_named_goes_to_the_voice_folder(folder):
    path = voice_store.save_named("jm_kumo:0.7+jf_alpha:0.3", "kumo_alpha")
    assert path == folder / "kumo_alpha.npy"
    np.testing.assert_allclose(voice_store.resolve("kumo_alpha"), kumo_alpha(), atol=1e-6)
    # Saving again under the same name replaces it.
    voice_store.save_named("jf_alpha", "kumo_alpha")
    np.testing.assert_array_equal(voice_store.resolve("kumo_alpha"), embedded("jf_alpha"))
    for name, match in [("jm_kumo", "official"), ("af_heart", "official"), ("../up", "letters"), ("a b", "letters")]:
        with pytest.raises(vocalize.InputError, match=match):
            voice_store.save_named("jf_alpha", name)
    assert sorted(p.name for p in folder.iterdir()) == ["kumo_alpha.npy"]


def test_voice_folder_is_under_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("VOCALIZE_VOICES_DIR")
    monkeypatch.delenv("VOCALIZE_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert voice_store.voices_dir() == tmp_path / "share" / "vocalize" / "voices"
    monkeypatch.setenv("VOCALIZE_DATA", str(tmp_path / "data"))
    assert voice_store.voices_dir() == tmp_path / "data" / "voices"


# ---------------------------------------------------------------------------------------------
# The Engine: blends everywhere a voice goes, a second model export


def test_engine_takes_a_blend_at_construction_and_per_request(standin_model):
    engine = vocalize.Engine(model=standin_model, voice="jm_kumo:0.7+jf_alpha:0.3")
    assert engine._model().schema == ("input_ids", "style", "speed", "waveform")
    tokens = len(engine.chunks("Hi.")[0].token_ids)
    audio = engine.synthesize("Hi.")
    # The stand-in's waveform repeats the style row it got once per id, padding included.
    assert len(audio.samples) == (tokens + 2) * 256
    blend_row = kumo_alpha()[tokens - 1]
    np.testing.assert_allclose(audio.samples[256:512], blend_row, atol=1e-6)
    other = engine.synthesize("Hi.", voice="jf_tebukuro(1)+jf_nezumi(3)").samples
    np.testing.assert_allclose(
        other[256:512], (embedded("jf_tebukuro")[tokens - 1] + 3 * embedded("jf_nezumi")[tokens - 1]) / 4, atol=1e-6
    )
    streamed = np.concatenate([piece.samples for piece in engine.stream("Hi.", voice="jm_kumo:0.7+jf_alpha:0.3")])
    np.testing.assert_array_equal(streamed, audio.samples)
    with pytest.raises(vocalize.InputError, match="positive"):
        engine.synthesize("Hi.", voice="jm_kumo:-1")


def test_the_kokoro_onnx_schema_stand_in_works_too(tmp_path):
    model = build_model(tmp_path / "kokoro-onnx-style.onnx", tokens="tokens", audio="audio")
    engine = vocalize.Engine(model=model, voice="jf_alpha")
    assert engine._model().schema == ("tokens", "style", "speed", "audio")
    tokens = len(engine.chunks("Hi.")[0].token_ids)
    np.testing.assert_allclose(engine.synthesize("Hi.").samples[256:512], embedded("jf_alpha")[tokens - 1], atol=1e-6)


def test_a_file_that_is_not_onnx_is_a_model_error(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("these are my notes, not a model\n" * 20)
    with pytest.raises(vocalize.ModelError, match=r"notes\.onnx"):
        vocalize.Engine(model=bad).synthesize("Hello.")


def test_model_variants_that_are_not_downloaded():
    for variant in ("fp16", "fp32", "FP16"):
        with pytest.raises(vocalize.ModelError, match=f"vocalize download model {variant.lower()}"):
            vocalize.Engine(model=variant)
    # Until the Hub's int8 export is downloaded, int8 is the embedded int8 model.
    assert vocalize.Engine(model="int8")._model_path is None


def test_blend_speaks_through_the_real_model(engine):
    kumo = engine.synthesize("Good morning.").samples
    blend = vocalize.Engine(voice="jm_kumo:0.5+jf_alpha:0.5").synthesize("Good morning.").samples
    assert 0.5 < len(blend) / 24000 < 3.0
    assert float(np.sqrt(np.mean(blend**2))) > 0.02
    assert len(blend) != len(kumo) or not np.array_equal(blend, kumo)


# ---------------------------------------------------------------------------------------------
# The command line


def test_voices_lists_available_then_not_downloaded(folder):
    np.save(folder / "mine.npy", embedded("jm_kumo"))
    result = CliRunner().invoke(cli, ["voices"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # embedded and mine, the tiny model's heart, then the official voices and tiny voices not downloaded
    assert len(lines) == 6 + 1 + 49 + 4
    assert lines[0].startswith("jf_alpha")
    kumo = next(line for line in lines if line.startswith("jm_kumo"))
    assert "Japanese" in kumo and "male" in kumo and "embedded" in kumo and "default" in kumo
    assert next(line for line in lines if line.startswith("mine")).split()[-1] == "user"
    heart = next(line for line in lines if line.startswith("af_heart"))
    assert "American English" in heart and "female" in heart and "not downloaded" in heart
    assert lines[6].split()[0] == "heart" and "tiny" in lines[6]
    assert all("not downloaded" in line for line in lines[7:])


def test_voices_json(folder):
    np.save(folder / "mine.npy", embedded("jm_kumo"))
    result = CliRunner().invoke(cli, ["voices", "--json"])
    assert result.exit_code == 0, result.output
    voices = {v["name"]: v for v in json.loads(result.output)}
    assert len(voices) == 55 + 5  # and the tiny model's
    assert {name for name, v in voices.items() if v["tier"] == "tiny"} == {"heart", "emma", "fable", "fenrir", "kore"}
    assert voices["jm_kumo"] == {
        "name": "jm_kumo",
        "language": "Japanese",
        "gender": "male",
        "source": "embedded",
        "path": str(voice_store.default_voices_path()),
        "available": True,
        "downloaded": False,
        "default": True,
        "tier": "kokoro",
    }
    assert voices["mine"]["source"] == "user" and voices["mine"]["path"] == str(folder / "mine.npy")
    assert voices["bf_emma"]["source"] == "hub" and not voices["bf_emma"]["available"]


def test_voices_of_one_file(tmp_path):
    np.savez(tmp_path / "pack.npz", af_one=embedded("jm_kumo"), bm_two=embedded("jf_alpha"))
    result = CliRunner().invoke(cli, ["voices", "--voices", str(tmp_path / "pack.npz")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == ["af_one", "bm_two"]
    assert "American English" in lines[0] and "file" in lines[0]


def test_blend_command_writes_a_usable_voice(tmp_path, folder):
    out = tmp_path / "my_voice.npy"
    result = CliRunner().invoke(cli, ["voices", "blend", "jm_kumo(7)+jf_alpha(3)", "-o", str(out)])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(out).reshape(510, 256), kumo_alpha(), atol=1e-6)
    result = CliRunner().invoke(cli, ["voices", "blend", "jm_kumo:0.7+jf_alpha:0.3", "--name", "kumo_alpha"])
    assert result.exit_code == 0, result.output
    assert (folder / "kumo_alpha.npy").is_file()
    result = CliRunner().invoke(cli, ["voices", "blend", "jm_kumo"])
    assert result.exit_code == 2 and "-o FILE" in result.output


def test_speak_with_blends_and_saved_voices_in_a_new_process(tmp_path, folder):
    np.save(folder / "kumo_alpha.npy", kumo_alpha())
    wavs = {}
    for label, voice in [("blend", "jm_kumo:0.7+jf_alpha:0.3"), ("saved", "kumo_alpha")]:
        wavs[label] = tmp_path / f"{label}.wav"
        # Locally, even if a `vocalize serve` happens to run on this machine.
        result = run_cli("speak", "Blended voices.", "--voice", voice, "-o", str(wavs[label]), env={"VOCALIZE_SERVER": "off"})
        assert result.returncode == 0, result.stderr
    blend, saved = read_wav(wavs["blend"]), read_wav(wavs["saved"])
    assert len(blend) / 24000 > 0.5 and np.abs(blend).max() > 3000
    # The same voice, by spec or saved to a file, up to float rounding in the sum.
    assert abs(len(blend) - len(saved)) < 2400


@pytest.mark.parametrize(
    "args, message",
    [
        (["speak", "Hi", "-o", "{out}", "--voice", "jm_kumo:-1+jf_alpha"], "positive"),
        (["speak", "Hi", "-o", "{out}", "--voice", "jm_kumo:0.5+nobody:0.5"], "nobody"),
        (["speak", "Hi", "-o", "{out}", "--voice", "af_heart"], "vocalize download voices af_heart"),
        (["speak", "Hi", "-o", "{out}", "--voice", "{tmp}/short.bin"], "522240"),
        (["speak", "Hi", "-o", "{out}", "--model", "fp16"], "vocalize download model fp16"),
        (["voices", "blend", "jm_kumo+nobody", "-o", "{tmp}/blend.npy"], "nobody"),
        (["voices", "blend", "jm_kumo+{tmp}/short.bin", "-o", "{tmp}/blend.npy"], "short.bin"),
        (["voices", "blend", "jm_kumo", "-o", "{tmp}/no/such/dir/blend.npy"], "blend.npy"),
    ],
)
def test_bad_voice_input_is_one_line(tmp_path, args, message):
    (tmp_path / "short.bin").write_bytes(b"\0" * 4000)
    out = tmp_path / "out.wav"
    result = run_cli(*[a.format(out=out, tmp=tmp_path) for a in args], env={"VOCALIZE_SERVER": "off"})
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.startswith("vocalize: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.bin"]


@pytest.mark.parametrize("args", [["voices", "blend"], ["download"], ["download", "voices"], ["download", "model"], ["info"]])
def test_new_commands_have_help(args):
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_info_reports_versions_models_voices_and_folders(folder, monkeypatch):
    from vocalize import _native

    np.save(folder / "mine.npy", embedded("jm_kumo"))
    result = CliRunner().invoke(cli, ["info", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["vocalize"] == vocalize.__version__
    assert "libonnxruntime" in info["onnxruntime library"]
    assert info["onnxruntime build"].startswith("ORT Build Info")
    assert info["model"].startswith(str(paths.cache_dir() / models.MODEL_FILE))
    assert info["downloaded models"] == {}
    assert info["voices"] == {"embedded": 5, "user": 1, "downloaded": 0, "not downloaded": 49}
    assert info["voice folder"] == str(folder)
    assert info["hugging face cache"] == str(hub.hub_cache())
    assert isinstance(info["threads (default)"], int)
    text = CliRunner().invoke(cli, ["info"]).output
    assert "onnxruntime build:" in text and "voices:" in text and "embedded 5" in text


def test_info_lists_the_execution_providers_when_the_native_module_has_them(monkeypatch):
    from vocalize import _native

    monkeypatch.setattr(_native, "available_providers", lambda: ["CPUExecutionProvider"], raising=False)
    info = json.loads(CliRunner().invoke(cli, ["info", "--json"]).output)
    assert info["execution providers"] == ["CPUExecutionProvider"]
    text = CliRunner().invoke(cli, ["info"]).output
    assert "execution providers:" in text and "CPUExecutionProvider" in text


def test_nothing_here_imports_huggingface_hub():
    code = (
        "import sys, vocalize\n"
        "from vocalize.cli import cli\n"
        "from click.testing import CliRunner\n"
        "for args in (['--help'], ['voices'], ['voices', '--json'], ['info'], ['download', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        "vocalize.Engine(voice='jm_kumo:0.5+jf_alpha:0.5').synthesize('Hi.')\n"
        "print('huggingface_hub' in sys.modules, 'httpx2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False False"


def test_download_without_huggingface_hub_says_which_extra():
    code = (
        "import sys\n"
        "sys.modules['huggingface_hub'] = None  # as if not installed\n"
        "from vocalize.cli import main\n"
        "sys.argv = ['vocalize', 'download', 'voices', 'af_heart']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "vocalize: error: downloading needs huggingface_hub: pip install 'vocalize[hub]'"
