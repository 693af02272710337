"""Pause markup, inline pronunciations, raw phoneme input, Japanese and `vocalize phonemize`."""

import numpy as np
import pytest
from click.testing import CliRunner

import vocalize
from vocalize.cli import cli
from vocalize.text import Frontend
from vocalize.text.markup import MAX_PAUSE, split_pauses


@pytest.fixture(scope="module")
def frontend():
    return Frontend()


@pytest.mark.parametrize(
    "text, pieces",
    [
        ("a [pause:0.5s] b", [("a ", 0.5), (" b", None)]),
        ("a [pause:300ms] b", [("a ", 0.3), (" b", None)]),
        ("a [pause:2] b", [("a ", 2.0), (" b", None)]),
        ("a [PAUSE: 1.5 S] b", [("a ", 1.5), (" b", None)]),
        ('x <break time="500ms"/> y', [("x ", 0.5), (" y", None)]),
        ("x <break time='1.5s'/> y", [("x ", 1.5), (" y", None)]),
        ("x <break time=2s> y", [("x ", 2.0), (" y", None)]),
        ('x <break strength="strong"/> y', [("x ", 0.7), (" y", None)]),
        ('x <break strength="none"/> y', [("x ", 0.0), (" y", None)]),
        ("x <break/> y", [("x ", 0.4), (" y", None)]),
        ('x <break time="1s"></break> y', [("x ", 1.0), (" y", None)]),
        ("[pause:99999s]", [("", MAX_PAUSE), ("", None)]),
        # Not markup, or markup that does not parse: left as text.
        ("[pause:]", [("[pause:]", None)]),
        ("[pause:", [("[pause:", None)]),
        ("[pause:abc]", [("[pause:abc]", None)]),
        ('<break foo="1"/>', [('<break foo="1"/>', None)]),
        ("plain text", [("plain text", None)]),
    ],
)
def test_split_pauses(text, pieces):
    assert split_pauses(text) == pieces


def test_pause_ends_a_chunk_with_the_asked_silence(frontend):
    chunks = frontend.chunks("Hello there. [pause:1.2s] How are you?")
    assert [c.text for c in chunks] == ["Hello there.", "How are you?"]
    assert chunks[0].pause_after == 1.2


def test_ssml_break_between_words(frontend):
    chunks = frontend.chunks('One <break time="750ms"/> two.')
    assert chunks[0].pause_after == 0.75 and chunks[-1].text == "two."


def test_leading_pause_is_a_silent_chunk(frontend):
    chunks = frontend.chunks("[pause:0.5s] Start late.")
    assert chunks[0].token_ids == () and chunks[0].pause_after == 0.5
    assert chunks[1].text == "Start late."


def test_markup_alone_is_nothing_to_speak(frontend):
    with pytest.raises(vocalize.NothingToSpeak, match="nothing to speak") as caught:
        frontend.chunks("[pause:1s] <break/>")
    assert isinstance(caught.value, vocalize.InputError)


def test_unbalanced_markup_is_read_as_text(frontend):
    plain = frontend.phonemize("Say please.")
    for text in ["[pause: now", "<break time=", "[Kokoro](/kˈOk", "[link](", "<<>>[[]]"]:
        (chunk,) = frontend.chunks(f"Say {text} please.")
        # One chunk of the text as written (no pause cut it), and the markup is spoken.
        assert chunk.text == f"Say {text} please." and chunk.pause_after == 0.0
        assert len(frontend.phonemize(f"Say {text} please.")) > len(plain)


def test_inline_pronunciation_is_used(frontend):
    phonemes = frontend.phonemize("Say [Kokoro](/kˈOkəɹO/) please.")
    assert "kˈOkəɹO" in phonemes
    custom = frontend.phonemize("[tomato](/təmˈɑtO/)")
    assert custom == "təmˈɑtO"


def test_pause_adds_that_much_audio(engine):
    plain = engine.synthesize("First part. Second part.")
    short = engine.synthesize("First part. [pause:0.5s] Second part.")
    long = engine.synthesize("First part. [pause:2s] Second part.")
    assert long.duration - short.duration == pytest.approx(1.5, abs=0.001)
    leading = engine.synthesize("[pause:1s] First part. Second part.")
    assert leading.duration - plain.duration == pytest.approx(1.0, abs=0.05)
    assert np.abs(leading.samples[:24000]).max() == 0.0


def test_phonemes_input_matches_text_input(engine):
    text = "The quick brown fox."
    from_text = engine.synthesize(text)
    # The default voice is Japanese: its English is written in espeak-style IPA.
    from_phonemes = engine.synthesize(phonemes=Frontend(alphabet="ipa").phonemize(text))
    np.testing.assert_array_equal(from_text.samples, from_phonemes.samples)


def test_long_phoneme_input_is_split(frontend):
    phonemes = " ".join(["həlˈO wˈɜɹld"] * 100)
    chunks = frontend.phoneme_chunks(phonemes)
    assert len(chunks) >= 2 and all(len(c.token_ids) <= 510 for c in chunks)
    assert sum(c.phonemes.count("wˈɜɹld") for c in chunks) == 100


@pytest.mark.parametrize("phonemes, match", [("", "empty"), ("   ", "empty"), ("123 ###", "alphabet")])
def test_bad_phoneme_input(engine, phonemes, match):
    with pytest.raises(vocalize.InputError, match=match):
        engine.synthesize(phonemes=phonemes)


def test_text_or_phonemes_not_both(engine):
    with pytest.raises(vocalize.InputError):
        engine.synthesize("a", phonemes="a")
    with pytest.raises(vocalize.InputError):
        engine.synthesize()


def test_japanese():
    frontend = Frontend("ja")
    chunks = frontend.chunks("こんにちは。今日の説明を始めます。")
    assert chunks[0].phonemes.startswith("koɲɲiʨiβa.")
    audio = vocalize.Engine(lang="ja", voice="jf_alpha").synthesize("こんにちは。今日はいい天気ですね。")
    assert 1.5 < audio.duration < 6


def test_unknown_language():
    with pytest.raises(vocalize.InputError, match="en-us"):
        vocalize.Engine(lang="klingon")


def test_phonemize_command_prints_text_and_phonemes():
    result = CliRunner().invoke(cli, ["phonemize", "--voice", "af_heart", "Dr. Smith read it [pause:1s] twice."])
    assert result.exit_code == 0, result.output
    normalized, phonemes = result.stdout.splitlines()
    assert "[pause:1s]" in normalized and "[pause:1s]" in phonemes
    assert "dˈɑktəɹ" in phonemes and "ɹˈɛd" in phonemes
    assert "misaki" in result.stderr and "American English" in result.stderr


def test_phonemize_shows_the_rendering_for_the_voice():
    # The default voice is Japanese: its English is written in espeak-style IPA.
    result = CliRunner().invoke(cli, ["phonemize", "Dr. Smith read the water report."])
    assert result.exit_code == 0, result.output
    phonemes = result.stdout.splitlines()[1]
    assert "dˈɑːktɚ" in phonemes and "wˈɔːɾɚ" in phonemes
    assert "IPA" in result.stderr and "Japanese" in result.stderr
    told = CliRunner().invoke(cli, ["phonemize", "--voice", "./mine.npy", "--voice-lang", "en-gb", "Go home."])
    assert told.exit_code == 0, told.output
    assert "hˈOm" in told.stdout and "British English" in told.stderr  # an English voice: misaki
    bad = CliRunner().invoke(cli, ["phonemize", "--voice-lang", "klingon", "Go home."])
    assert bad.exit_code != 0 and "unknown voice language 'klingon'" in str(bad.exception)


def test_speak_phonemes_flag(tmp_path):
    out = tmp_path / "p.wav"
    result = CliRunner().invoke(cli, ["speak", "--phonemes", "həlˈO wˈɜɹld!", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 20000


def test_inline_pronunciation_is_not_normalized(frontend):
    # "~" inside the phonemes must not become "about"; the text around is still normalized.
    phonemes = frontend.phonemize("Say [x](/ɛks~wˈI/) now, 10~20 times.")
    assert phonemes.startswith("sˈA ɛkswˈI nˈW,")
    assert "əbˈWt" in phonemes  # the second "~" is text: "about"


@pytest.mark.parametrize("abbreviation", ["Jan.", "Sept.", "Apt.", "Dec."])
def test_no_sentence_break_after_abbreviation_before_a_number(abbreviation):
    from vocalize.text.segment import split_sentences

    text = f"It was {abbreviation} 5, 2021 when it began. Then it ended."
    assert len(split_sentences(text)) == 2
