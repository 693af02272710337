"""How English phonemes are written for the voice that speaks them.

The G2P writes misaki's alphabet: Kokoro's English shorthand (``A I O W Y Q`` for the
diphthongs, ``T`` for the flap, ``ᵊ`` for a reduced schwa, ``əɹ``/``ɜɹ`` for r-coloured
vowels, no length marks). Kokoro's English voices were trained on it. Its other voices
(Japanese, French, Mandarin, ...) were trained on IPA from other G2Ps and say that shorthand
poorly; they say English written as espeak-ng writes it (diphthongs spelled out, vowel length
marked, ``ɚ``) more clearly, so for them the phonemes are rewritten into that form.

The voice's language comes from Kokoro's naming convention (``af_heart``: American English;
``jm_kumo``: Japanese): see :func:`voice_language`.
"""

from __future__ import annotations

import re

__all__ = ["ALPHABETS", "alphabet_for", "render", "to_ipa"]

# "misaki": Kokoro's English alphabet, as the G2P writes it; "ipa": espeak-style IPA.
ALPHABETS = ("misaki", "ipa")
# Languages (Kokoro's voice-name letters) whose voices were trained on misaki's English.
_MISAKI_LANGUAGES = frozenset("ab")

_VOWELS = frozenset("aeiouæɐɑɒɔəɚɛɜɪʊʌᵊᵻAIOWYQ")
_STRESS = "ˈˌ"
# An ɹ that ends its syllable: no vowel after it (a stress mark may come between).
_NO_VOWEL_AFTER = f"(?![{_STRESS}]?[{''.join(sorted(_VOWELS))}])"

# Shorthand -> spelled out. Longest first (ᵊl before ᵊ).
_SPELL_OUT = (
    ("ᵊl", "əl"),
    ("A", "eɪ"),
    ("I", "aɪ"),
    ("O", "oʊ"),
    ("W", "aʊ"),
    ("Y", "ɔɪ"),
    ("Q", "əʊ"),
    ("T", "ɾ"),
    ("ᵊ", "ə"),
    ("ʤ", "dʒ"),
    ("ʧ", "tʃ"),
)
_TOKEN = re.compile(r"\S+")
_EX_PREFIX = re.compile(r"^ɪ(?=ks|ɡz)")
# Weak forms said otherwise to these voices: "the" before a vowel is ðɪ as espeak-ng writes
# it, not a long ðiː; "to" is tʊ before a consonant too, as the G2P writes it before a vowel
# (its tə was heard as "the": "drop to minus twelve").
_WEAK_FORMS = {"ði": "ðɪ", "tə": "tʊ"}


def alphabet_for(language: str | None) -> str:
    """The alphabet English phonemes are written in for voices of ``language`` (a Kokoro
    voice-name letter: ``a``, ``b``, ``j``, ...). Unknown languages get the English voices'."""
    from ..assets.voice_store import LANGUAGES

    if language in LANGUAGES and language not in _MISAKI_LANGUAGES:
        return "ipa"
    return "misaki"


def render(phonemes: str, alphabet: str, british: bool = False, spelling: str = "", opening: bool = False) -> str:
    """``phonemes`` (misaki's alphabet) in ``alphabet``; ``spelling`` is the word they read,
    when they read one; ``opening``: they open a sentence."""
    if alphabet == "misaki":
        return phonemes
    if alphabet == "ipa":
        ipa = to_ipa(phonemes, british, spelling)
        return _stress_opening(ipa) if opening else ipa
    raise ValueError(f"unknown phoneme alphabet {alphabet!r}")


def _stress_opening(word: str) -> str:
    """A sentence's first word with its secondary stress made primary, when it has no
    primary stress: these voices swallow a weak word that opens an utterance ("Our school
    closes" heard as "or school", "Her flight" as "a flight")."""
    if "ˈ" in word or "ˌ" not in word:
        return word
    return word.replace("ˌ", "ˈ", 1)


def to_ipa(phonemes: str, british: bool = False, spelling: str = "") -> str:
    """misaki's English phonemes written as espeak-ng writes them, word by word (vowel length
    depends on where a word's stress falls; a short ``ɔ`` on the spelling of one word)."""
    short_o = _SHORT_O.fullmatch(spelling.lower()) is not None and " " not in phonemes.strip()
    return _TOKEN.sub(lambda m: _word_to_ipa(m.group(), british, short_o), phonemes)


# A word whose ɔ is spelled "o" and so short, as espeak-ng writes it ("lost", "often",
# "cough"), where misaki's one ɔ is also the long vowel of "law", "thought", "broad", "water".
_SHORT_O = re.compile(r"(?!.*(?:a|ought))[a-z']*o[a-z']*")


def _word_to_ipa(word: str, british: bool, short_o: bool = False) -> str:
    # r-coloured vowels first, while the shorthand still marks the syllables.
    if not british:
        # "ɜɹ" is a long ɜ; its ɹ stays where it starts the next syllable ("currently").
        word = re.sub(rf"ɜɹ{_NO_VOWEL_AFTER}", "ɜː", word).replace("ɜɹ", "ɜːɹ")
        # An unstressed "er" is ɚ, unless its ɹ starts the next syllable ("around": əɹˈWnd).
        word = re.sub(rf"əɹ{_NO_VOWEL_AFTER}", "ɚ", word)
    for short, full in _SPELL_OUT:
        word = word.replace(short, full)
    word = _WEAK_FORMS.get(word, word)
    # An unstressed "ex-" that opens a word is ɛ as espeak-ng writes it ("example"
    # ɛɡzˈæmpəl): its ɪ ran into a word before ("help at example" heard "helpadexample").
    word = _EX_PREFIX.sub("ɛ", word)
    return _lengthen(word, british, short_o)


# What may follow a word's last vowel without being a sound ("Matthew," ends in its u).
_PUNCTUATION = ".,;:!?\"'()—…"
# Vowels espeak-ng writes long where they carry stress (or are a word's only vowel).
_LONG = {"i": "iː", "u": "uː", "ɑ": "ɑː", "ɔ": "ɔː"}


def _lengthen(word: str, british: bool, short_o: bool = False) -> str:
    """Marks ``i u ɑ ɔ`` long in a stressed syllable or a word of one vowel, as espeak-ng
    does (``θɹˈiː``, ``fˈɑːðɚ``, ``ʃiː``, ``fɔːɹ``; ``sˈɪɾi`` keeps its short final ``i``)."""
    nuclei = _nuclei(word)
    if not nuclei:
        return word
    single = len(nuclei) == 1
    out = []
    last = 0
    for start, stressed in nuclei:
        char = word[start]
        long = _LONG.get(char)
        after = word[start + 1 : start + 2]
        # Part of a diphthong (ɔɪ, iə), already long, or before ɹ (but "ɑɹ" and "ɔɹ" are
        # long): as it is. A u before ə is long, as espeak-ng writes it ("fuel" fjˈuːəl).
        diphthong = after in ("ɪ", "ʊ") or (after == "ə" and char != "u")
        if long is None or diphthong or after == "ː" or (after == "ɹ" and char not in "ɑɔ"):
            continue
        # A word's final u is long even unstressed ("value" vˈæljuː, "Matthew" mˈæθjuː), as
        # espeak-ng writes it; not in "into", said like "to".
        final_u = char == "u" and not word[start + 1 :].strip(_PUNCTUATION) and start > 0 and word[:start] != "ˈɪnt"
        if not (stressed or single or final_u) or (short_o and char == "ɔ" and after != "ɹ"):
            continue
        out.append(word[last:start])
        out.append(long)
        last = start + 1
    out.append(word[last:])
    return "".join(out)


def _nuclei(word: str) -> list[tuple[int, bool]]:
    """The start of each vowel group of ``word`` and whether a stress mark precedes it in
    its syllable."""
    nuclei = []
    stressed = False
    previous_vowel = False
    for i, char in enumerate(word):
        if char in _STRESS:
            stressed = True
            previous_vowel = False
            continue
        vowel = char in _VOWELS
        if vowel and not previous_vowel:
            nuclei.append((i, stressed))
            stressed = False
        previous_vowel = vowel or (previous_vowel and char == "ː")
    return nuclei
