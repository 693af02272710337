"""How English phonemes are written for each voice family, and the voice's language."""

from __future__ import annotations

import json

import pytest

import vocalize
from vocalize.assets import voice_store
from vocalize.text import Frontend
from vocalize.text.render import alphabet_for, to_ipa
from vocalize.text.vocab import load_vocab

# misaki's shorthand -> espeak-style IPA (the same words espeak-ng writes so).
IPA = [
    ("tədˈA", "tədˈeɪ"),  # diphthongs spelled out
    ("lˈIt", "lˈaɪt"),
    ("hˈWs", "hˈaʊs"),
    ("bˈY", "bˈɔɪ"),
    ("həlˈO", "həlˈoʊ"),
    ("wˈɔTəɹ", "wˈɔːɾɚ"),  # flap, length, r-coloured schwa
    ("bˈɜɹdz", "bˈɜːdz"),
    ("θɹˈi", "θɹˈiː"),  # a stressed i is long
    ("sˈɪTi", "sˈɪɾi"),  # an unstressed final i is not
    ("ʃi", "ʃiː"),  # a word of one vowel is long
    ("fjˈuᵊl", "fjˈuːəl"),  # a stressed u before ə is long
    ("vˈælju", "vˈæljuː"),  # so is a word's final u
    ("mˈæθju,", "mˈæθjuː,"),
    ("ˈɪntu", "ˈɪntu"),  # but not in "into"
    ("ʤˈuᵊləɹ", "dʒˈuːəlɚ"),
    ("mjuzˈiəm", "mjuzˈiəm"),  # an i before ə is not
    ("fˈɑðəɹ", "fˈɑːðɚ"),
    ("mˈɑɹkət", "mˈɑːɹkət"),
    ("mˈɔɹ", "mˈɔːɹ"),  # ɔ before ɹ is long, as ɑ is
    ("fɔɹ", "fɔːɹ"),
    ("stˈɔɹi", "stˈɔːɹi"),
    ("ˈɔɹᵊnʤᵻz", "ˈɔːɹəndʒᵻz"),
    ("kˈɜɹəntli", "kˈɜːɹəntli"),  # the ɹ of "currently" starts the next syllable
    ("ði", "ðɪ"),  # "the" before a vowel
    ("ðə", "ðə"),
    ("tə", "tʊ"),  # "to" before a consonant
    ("əɹˈWnd", "əɹˈaʊnd"),  # the ɹ of "around" starts the next syllable
    ("ˈæpᵊlz", "ˈæpəlz"),
    ("ʧˈɜɹʧ", "tʃˈɜːtʃ"),
    ("ɪɡzˈæmpᵊl", "ɛɡzˈæmpəl"),  # an unstressed "ex-" opening a word
    ("ɪkspˈɛkt", "ɛkspˈɛkt"),
    ("tˈæksɪz", "tˈæksɪz"),  # not inside one
]


@pytest.mark.parametrize("misaki, ipa", IPA)
def test_misaki_to_ipa(misaki: str, ipa: str) -> None:
    assert to_ipa(misaki) == ipa


@pytest.mark.parametrize(
    "misaki, spelling, ipa",
    [
        ("lˈɔst", "lost", "lˈɔst"),  # an ɔ spelled "o" is short
        ("kˈɔf", "cough", "kˈɔf"),
        ("ˈɔfᵊn", "Often", "ˈɔfən"),
        ("lˈɔ", "law", "lˈɔː"),  # spelled otherwise it is long
        ("θˈɔt", "thought", "θˈɔːt"),
        ("bɹˈɔd", "broad", "bɹˈɔːd"),
        ("dˈɔɹ", "door", "dˈɔːɹ"),  # before ɹ it is long whatever the spelling
        ("lˈɔst", "", "lˈɔːst"),  # no spelling: long
    ],
)
def test_short_o_follows_the_spelling(misaki: str, spelling: str, ipa: str) -> None:
    assert to_ipa(misaki, spelling=spelling) == ipa


def test_ipa_uses_only_the_model_vocabulary() -> None:
    vocab = load_vocab()
    phonemes = Frontend(alphabet="ipa").phonemize("Our water birds thought the butter was near, sure, and cheap.")
    assert set(phonemes) <= set(vocab.table)
    assert not set(phonemes) & set("AIOWYQTᵊ")


def test_british_ipa_spells_out_its_own_shorthand() -> None:
    assert to_ipa("hˈQm", british=True) == "hˈəʊm"
    assert "ɚ" not in to_ipa(Frontend("en-gb").phonemize("Water and butter."), british=True)


@pytest.mark.parametrize(
    "language, alphabet",
    [("a", "misaki"), ("b", "misaki"), ("j", "ipa"), ("f", "ipa"), ("z", "ipa"), (None, "misaki"), ("?", "misaki")],
)
def test_alphabet_per_voice_family(language: str | None, alphabet: str) -> None:
    assert alphabet_for(language) == alphabet


@pytest.mark.parametrize(
    "spec, language",
    [
        ("jm_kumo", "j"),
        ("af_heart", "a"),
        ("bf_emma", "b"),
        ("jm_kumo:0.3+af_heart:0.7", "a"),  # the heaviest part
        ("jm_kumo(7)+af_heart(3)", "j"),
        ("jf_alpha+af_heart", "j"),  # equals: the first
        ("my_voice.npy", None),  # a file that does not tell
        ("kumo", None),
    ],
)
def test_voice_language(spec: str, language: str | None) -> None:
    assert voice_store.voice_language(spec) == language


def test_a_voice_file_tells_its_language_beside_it(tmp_path) -> None:
    voice = tmp_path / "mine.npy"
    voice.write_bytes(b"")
    (tmp_path / "mine.json").write_text(json.dumps({"lang": "en-gb"}))
    assert voice_store.voice_language(str(voice)) == "b"
    (tmp_path / "mine.json").write_text("not json")
    assert voice_store.voice_language(str(voice)) is None


@pytest.mark.parametrize("value, letter", [("a", "a"), ("en-us", "a"), ("EN_GB", "b"), ("ja", "j"), ("zh", "z")])
def test_language_letter(value: str, letter: str) -> None:
    assert voice_store.language_letter(value) == letter


def test_unknown_voice_language_is_an_input_error() -> None:
    with pytest.raises(vocalize.InputError, match="unknown voice language"):
        voice_store.language_letter("klingon")


def test_engine_writes_english_for_the_voice_it_speaks_with() -> None:
    engine = vocalize.Engine(voice="jm_kumo")
    japanese = engine.chunks("The weather today is sunny.")[0].phonemes
    blend = engine.chunks("The weather today is sunny.", voice="jm_kumo:0.2+af_heart:0.8")[0].phonemes
    assert "eɪ" in japanese and "A" not in japanese
    assert "A" in blend and "eɪ" not in blend
    told = vocalize.Engine(voice="jm_kumo", voice_lang="en-us").chunks("The weather today is sunny.")[0].phonemes
    assert told == blend


def test_inline_phonemes_and_phoneme_input_are_never_rewritten() -> None:
    engine = vocalize.Engine(voice="jm_kumo")
    assert "kˈOkəɹO" in engine.chunks("Say [Kokoro](/kˈOkəɹO/) now.")[0].phonemes
    raw = "həlˈO wˈɜɹld."
    chunk = Frontend(alphabet="ipa").phoneme_chunks(raw)[0]
    assert chunk.phonemes == raw


def test_a_sentence_opens_on_a_stressed_word_for_these_voices() -> None:
    ipa = Frontend(alphabet="ipa").phonemize("Our school closes early. Her dog barks. The cat sleeps.")
    assert ipa.startswith("ˈaʊɚ skˈuːl")  # misaki's secondary stress on "Our" made primary
    assert " hˈɜː dˈɔɡ" in ipa
    assert " ðə kˈæt" in ipa  # an unstressed word stays so
    assert Frontend().phonemize("Our school closes early.").startswith("ˌWəɹ")  # English voices: as written
