"""The English G2P as the frontend uses it: homographs by part of speech, lexicon words, and
unknown words read by the OOV net (American English, Kokoro/misaki phonemes)."""

from __future__ import annotations

import re

import pytest

from vocalize.text import Frontend
from vocalize.text.vocab import load_vocab


@pytest.fixture(scope="module")
def frontend() -> Frontend:
    return Frontend()


def _words(phonemes: str) -> list[str]:
    return [w for w in re.split(r"[\s,.;:!?—…\"“”()]+", phonemes) if w]


# (sentence, the homograph's phonemes in it)
HOMOGRAPHS = [
    ("Yesterday I read a book.", "ɹˈɛd"),
    ("I read it last week.", "ɹˈɛd"),
    ("She has read it.", "ɹˈɛd"),
    ("I will read it tomorrow.", "ɹˈid"),
    ("Please read this.", "ɹˈid"),
    ("The object is heavy.", "ˈɑbʤəkt"),
    ("They live here.", "lˈɪv"),
    ("It was a live show.", "lˈIv"),
    ("Live music.", "lˈIv"),
    ("She will lead the team.", "lˈid"),
    ("The lead singer.", "lˈid"),
    # The metal: a noun with no determiner.
    ("Lead is a heavy metal.", "lˈɛd"),
    ("The pipe is made of lead.", "lˈɛd"),
    ("He took the lead.", "lˈid"),
    ("The wind is strong.", "wˈɪnd"),
    ("Wind the clock.", "wˈInd"),
    ("The record is old.", "ɹˈɛkəɹd"),
    ("Record the song.", "ɹəkˈɔɹd"),
    ("They record music.", "ɹəkˈɔɹd"),
    ("The present was nice.", "pɹˈɛzᵊnt"),
    ("I present the award.", "pɹizˈɛnt"),
    ("The use of force.", "jˈus"),
    ("Use the force.", "jˈuz"),
    ("A tear fell down her cheek.", "tˈɪɹ"),
    ("Do not tear the paper.", "tˈɛɹ"),
    ("Close the door.", "klˈOz"),
    ("The store is close to home.", "klˈOs"),
    ("A close friend.", "klˈOs"),
    ("We caught a bass in the lake.", "bˈæs"),
    ("Wait a minute.", "mˈɪnət"),
    ("The desert is hot.", "dˈɛzəɹt"),
    ("Do not desert me.", "dəzˈɜɹt"),
    ("I refuse to go.", "ɹəfjˈuz"),
    ("Take out the refuse.", "ɹˈɛfjˌus"),
    ("The dove flew.", "dˈʌv"),
    ("He dove in.", "dˈOv"),
    ("Permit me.", "pəɹmˈɪt"),
    ("A permit is needed.", "pˈɜɹmɪt"),
    ("Produce more food.", "pɹədˈus"),
    ("Fresh produce.", "pɹˈOdˌus"),
    ("I wound the rope.", "wˈWnd"),
    ("The wound healed.", "wˈund"),
    ("Separate the eggs.", "sˈɛpəɹˌAt"),
    ("Separate rooms.", "sˈɛpəɹət"),
    ("Estimate the cost.", "ˈɛstəmˌAt"),
    ("An estimate.", "ˈɛstəmət"),
    ("I suspect him.", "səspˈɛkt"),
    ("He is a suspect.", "sˈʌspˌɛkt"),
    ("Prices increase.", "ɪnkɹˈis"),
    ("An increase in price.", "ˈɪnkɹˌis"),
    ("Conduct the orchestra.", "kəndˈʌkt"),
    ("His conduct was bad.", "kˈɑndˌʌkt"),
    ("The house is big.", "hˈWs"),
    ("We house refugees.", "hˈWz"),
    ("No excuse.", "ɪkskjˈus"),
    ("Excuse me.", "ɪkskjˈuz"),
    ("Insult him.", "ɪnsˈʌlt"),
    ("An insult.", "ˈɪnsˌʌlt"),
    ("Convert the file.", "kənvˈɜɹt"),
    ("A religious convert.", "kˈɑnvˌɜɹt"),
    ("Rebel forces.", "ɹˈɛbᵊl"),
    ("They rebel.", "ɹəbˈɛl"),
    ("The subject is math.", "sˈʌbʤɛkt"),
    ("Subject them to tests.", "səbʤˈɛkt"),
    ("I used to go.", "jˈust"),
    ("The used car.", "jˈuzd"),
    # A verb after a plural noun that begins its clause; a compound stays a noun.
    ("The doctors object strongly.", "əbʤˈɛkt"),
    ("Officials project a deficit.", "pɹəʤˈɛkt"),
    ("The sales record was broken.", "ɹˈɛkəɹd"),
    # An imperative that opens the sentence, before its object.
    ("Bow to the king.", "bˈW"),
    ("Object to the plan.", "əbʤˈɛkt"),
    ("Record profits were reported.", "ɹˈɛkəɹd"),
    # A predicative adjective after a linking verb.
    ("I am content.", "kəntˈɛnt"),
    ("She seemed very content with it.", "kəntˈɛnt"),
    ("The content was removed.", "kˈɑntɛnt"),
    ("The difference is minute.", "mInˈut"),
    # An adjective reading before the noun it modifies; a compound's noun keeps its own.
    ("He plays bass guitar.", "bˈAs"),
    ("A minute amount.", "mInˈut"),
    ("The minute details matter.", "mInˈut"),
    ("The minute hand moved.", "mˈɪnət"),
    ("It is a ten minute walk.", "mˈɪnət"),
    ("Last minute changes.", "mˈɪnət"),
    # A plural noun spelled as a verb form, where only the noun can stand.
    ("Two does ran.", "dˈOz"),
    ("The deer and the does grazed.", "dˈOz"),
    ("This does not work.", "dˈʌz"),
    ("Version 2 does not support it.", "dˈʌz"),
    # Verb readings the lexicon lacks, and their inflections.
    ("They protest loudly.", "pɹətˈɛst"),
    ("The protest ended.", "pɹˈOtˌɛst"),
    ("Students protested.", "pɹətˈɛstᵻd"),
    ("We export cars.", "ɪkspˈɔɹt"),
    ("Export figures rose.", "ˈɛkspˌɔɹt"),
    ("The country annexed it.", "ənˈɛkst"),
]

# Readings hibari's tagger or lexicon gets wrong today (strict: a fix shows up as XPASS).
KNOWN_WRONG = [
    ("The bass player sang.", "bˈAs"),
]

LEXICON = [
    ("hello", "həlˈO"),
    ("world", "wˈɜɹld"),
    ("computer", "kəmpjˈuTəɹ"),
    ("beautiful", "bjˈuTəfəl"),
    ("through", "θɹˈu"),
    ("thought", "θˈɔt"),
    ("yacht", "jˈɑt"),
    ("colonel", "kˈɜɹnᵊl"),
    ("queue", "kjˈu"),
    ("knight", "nˈIt"),
    ("phone", "fˈOn"),
    ("psychology", "sIkˈɑləʤi"),
    ("water", "wˈɔTəɹ"),
    ("butter", "bˈʌTəɹ"),
    ("little", "lˈɪTᵊl"),
    ("tomato", "təmˈATO"),
    ("garage", "ɡəɹˈɑʒ"),
    ("language", "lˈæŋɡwɪʤ"),
    ("mountain", "mˈWntᵊn"),
    ("yesterday", "jˈɛstəɹdˌA"),
    ("tomorrow", "təmˈɑɹO"),
    ("information", "ˌɪnfəɹmˈAʃən"),
    ("people", "pˈipᵊl"),
    ("because", "bəkˈʌz"),
    ("question", "kwˈɛsʧᵊn"),
    ("family", "fˈæmᵊli"),
]

OOV = ["blorptastic", "snurfle", "glimbering", "zorbify", "frandulent", "quizzaciously", "Vexlington", "plonkish"]

# The American phoneme set hibari writes (misaki's US alphabet, with T for the flap).
US_PHONEMES = set("AIOWYabdefhijklmnpstuvwzæðŋɑɔəɛɜɡɪɹʃʊʌʒʤʧθᵊᵻˈˌT")


@pytest.mark.parametrize("sentence, expected", HOMOGRAPHS)
def test_homograph(frontend: Frontend, sentence: str, expected: str) -> None:
    assert expected in _words(frontend.phonemize(sentence))


@pytest.mark.parametrize(
    "sentence, expected", [pytest.param(s, e, marks=pytest.mark.xfail(strict=True)) for s, e in KNOWN_WRONG]
)
def test_homograph_known_wrong(frontend: Frontend, sentence: str, expected: str) -> None:
    assert expected in _words(frontend.phonemize(sentence))


@pytest.mark.parametrize("word, expected", LEXICON)
def test_lexicon_word(frontend: Frontend, word: str, expected: str) -> None:
    assert frontend.phonemize(word) == expected


@pytest.mark.parametrize("word", OOV)
def test_oov_word(frontend: Frontend, word: str) -> None:
    phonemes = frontend.phonemize(word)
    assert phonemes and " " not in phonemes
    assert set(phonemes) <= US_PHONEMES
    assert set(phonemes) <= set(load_vocab().table)
    assert "ˈ" in phonemes and re.search("[AIOWYaeiuæɑɔəɛɜɪʊʌᵊᵻ]", phonemes)
    assert 0.4 <= len(phonemes.replace("ˈ", "").replace("ˌ", "")) / len(word) <= 1.6


def test_oov_in_sentence_keeps_neighbours(frontend: Frontend) -> None:
    phonemes = frontend.phonemize("The blorptastic cat sat.")
    assert phonemes.startswith("ðə ") and phonemes.endswith(" kˈæt sˈæt.")


# Noun/verb homographs right after a subject pronoun or a modal are verbs (the tagger alone
# reads them as nouns there).
AFTER_SUBJECT = [
    ("I object to that.", "əbʤˈɛkt"),
    ("We project growth.", "pɹəʤˈɛkt"),
    ("They will record it.", "ɹəkˈɔɹd"),
    ("You present it well.", "pɹizˈɛnt"),
    ("The object is red.", "ˈɑbʤəkt"),
    ("Play the record again.", "ɹˈɛkəɹd"),
    ("It converts heat into power.", "kənvˈɜɹts"),
    # After a noun subject, with no verb before it in its clause and an object after it.
    ("Photosynthesis converts sunlight into energy.", "kənvˈɜɹts"),
    ("The factory converts old tires into fuel.", "kənvˈɜɹts"),
    ("The committee objects to the plan.", "əbʤˈɛkts"),
    ("The city projects strong growth.", "pɹəʤˈɛkts"),
    # ... but a compound noun, or a noun after the clause's verb, stays a noun.
    ("The city projects were delayed.", "pɹˈɑʤˌɛkts"),
    ("She finished the science projects early.", "pɹˈɑʤˌɛkts"),
    ("The wind was too strong to wind the sail.", "wˈInd"),
    # "read" tagged as a present verb: the tense the rest of the sentence has.
    ("I read every night.", "ɹˈid"),
    ("They read the paper and then they go to work.", "ɹˈid"),
    ("I read the paper and then I went to work.", "ɹˈɛd"),
    ("We read it two days ago.", "ɹˈɛd"),
]


@pytest.mark.parametrize("sentence, expected", AFTER_SUBJECT)
def test_homograph_after_subject(frontend: Frontend, sentence: str, expected: str) -> None:
    assert expected in _words(frontend.phonemize(sentence))


# Text written in capitals (headings, notices) is read as the same words in ordinary case;
# abbreviations the lexicon has no word for stay spelled, Roman numerals stay numbers.
SHOUTED = [
    ("SECTION IV FAIRY STORIES—MODERN FANTASTIC TALES", "Section IV fairy stories—modern fantastic tales"),
    ("193 THE EMPEROR'S NEW CLOTHES", "193 the emperor's new clothes"),
    ("WARNING: DO NOT ENTER", "Warning: do not enter"),
    ("FBI AGENTS RAID THE OFFICE", "FBI agents raid the office"),
    ("CHAPTER XII. THE STORM", "Chapter XII. The storm"),
    ("THE LORD HELPETH MAN AND BEAST", "The lord helpeth man and beast"),
    ("He said: PLEASE KEEP THIS DOOR CLOSED.", "He said: please keep this door closed."),
]


@pytest.mark.parametrize("shouted, ordinary", SHOUTED)
def test_text_in_capitals_reads_as_its_words(frontend: Frontend, shouted: str, ordinary: str) -> None:
    assert frontend.phonemize(shouted) == frontend.phonemize(ordinary)


@pytest.mark.parametrize("text", ["The NASA and FBI report.", "Text STOP to 55123.", "Flights from JFK to LAX", "IT support"])
def test_a_few_capitals_in_ordinary_text_are_left_to_the_lexicon(frontend: Frontend, text: str) -> None:
    from vocalize.text.g2p import _unshouted, get_g2p

    assert _unshouted(get_g2p(False).lexicon, text) == text


# Three letters in capitals that stand for a name are spelled, as espeak-ng spells them, even
# where their lower case is a word; words in capitals stay words.
@pytest.mark.parametrize(
    "sentence, word, spelled",
    [
        ("Her flight from JFK to LAX takes six hours.", "LAX", True),
        ("She landed at LAX.", "LAX", True),
        ("Enter the ZIP code.", "ZIP", False),  # it modifies the noun after it
        ("The CAT scan was clear.", "CAT", False),
        ("It was a BIG day.", "BIG", False),
        ("I did NOT say that.", "NOT", False),  # not a name
        ("It has 16 GB of RAM.", "RAM", False),  # the lexicon has it in capitals
        ("Go, BIG RED!", "RED", False),  # beside another word in capitals
    ],
)
def test_three_capitals_naming_something_are_spelled(sentence: str, word: str, spelled: bool) -> None:
    from vocalize.text.g2p import english_tokens, get_g2p

    phonemes = dict((t[0], t[1]) for t in english_tokens(sentence, False))[word]
    letters = "".join(get_g2p(False).lexicon.golds.get(c) for c in word)  # each letter's name
    assert (re.sub("[ˈˌ]", "", phonemes) == re.sub("[ˈˌ]", "", letters)) is spelled


# A short part of a web address's path that is no word is said letter by letter; words stay.
@pytest.mark.parametrize(
    "text, word, spelled",
    [
        ("Read www.example.com/faq today.", "faq", True),
        ("Call example.org/api/v2 first.", "api", True),
        ("Open example.com/map now.", "map", False),  # a word
        ("Open example.com/news now.", "news", False),
        ("Ask mia@example.com today.", "mia", False),  # an e-mail name, not a path
    ],
)
def test_short_path_parts_that_are_no_word_are_spelled(text: str, word: str, spelled: bool) -> None:
    from vocalize.text.g2p import english_tokens, get_g2p

    phonemes = dict((t[0], t[1]) for t in english_tokens(Frontend().normalize(text), False))[word]
    letters = "".join(get_g2p(False).lexicon.golds.get(c) for c in word.upper())
    assert (re.sub("[ˈˌ]", "", phonemes) == re.sub("[ˈˌ]", "", letters)) is spelled
