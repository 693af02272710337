"""``ttstokenizer`` (CMUdict + a small GRU net for unknown words, ARPABET) as a G2P backend.

    g2p = TTSTokenizerG2P()
    g2p.tokens("Hello there.")  -> [("Hello", "həlˈO", True), ("there.", "ðˈɛɹ.", False)]

The output has the shape of hibari's tokens in :mod:`vocalize.text.g2p` (word text, phonemes in
Kokoro's misaki alphabet, whether whitespace follows), so the frontend can use either backend.
Text should come from :func:`vocalize.text.normalize.normalize` first; what that leaves for the
G2P (times, dates, units, currency with scale words) is read by hibari's text rules when hibari
is installed, then plain numbers by ttstokenizer's own (inflect).

ttstokenizer needs NLTK's English POS tagger, ``averaged_perceptron_tagger_eng``, which it tries to
download when imported. That never happens here: the data is looked up first (``NLTK_DATA``), and
``nltk.download`` is replaced by a no-op while ttstokenizer is imported. Its word list is the
CMUdict the wheel ships, so NLTK's ``cmudict`` corpus is not read (it is the same dictionary).

Importing this module is cheap: nltk, numpy and ttstokenizer load when the class is built.
"""

from __future__ import annotations

import gc
import os
import re
import threading
import warnings
from typing import Any

from ..errors import AssetError

__all__ = ["TTSTokenizerG2P", "NLTK_RESOURCES", "arpabet_to_misaki"]

# NLTK resources ttstokenizer uses: name -> path for nltk.data.find. Only the tagger is read
# (see the module doc); cmudict is named in the error so the usual download gives both.
NLTK_RESOURCES = {"averaged_perceptron_tagger_eng": "taggers/averaged_perceptron_tagger_eng/"}
_DOWNLOAD_NAMES = "averaged_perceptron_tagger_eng cmudict"

# -- ARPABET -> misaki -------------------------------------------------------------------------
_US_VOWELS = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "W", "AY": "I", "EH": "ɛ", "ER": "ɜɹ",
    "EY": "A", "IH": "ɪ", "IY": "i", "OW": "O", "OY": "Y", "UH": "ʊ", "UW": "u",
}
_GB_VOWELS = {**_US_VOWELS, "AE": "a", "AO": "ɔː", "ER": "ɜː", "IY": "iː", "OW": "Q", "UW": "uː"}
_CONSONANTS = {
    "B": "b", "CH": "ʧ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "ʤ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t",
    "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}
# British vowel + a following R that is not before a vowel (non-rhotic): one long vowel.
_GB_BEFORE_R = {"AA": "ɑː", "AO": "ɔː", "EH": "ɛː", "IH": "ɪə", "IY": "ɪə", "UH": "ʊə", "UW": "ʊə", "EY": "ɛː"}
_STRESS = {"1": "ˈ", "2": "ˌ"}
_SIBILANTS = frozenset(("S", "Z", "SH", "ZH", "CH", "JH"))


def arpabet_to_misaki(phones: list[str], word: str = "", british: bool = False) -> str:
    """ARPABET phones of one word -> misaki phonemes ("HH AH0 L OW1" -> "həlˈO").

    Stress marks go right before the stressed vowel; diphthongs are single letters (A I O W Y,
    British O is Q); American t between a vowel and an unstressed vowel is the flap T; unstressed
    AH before a final L/N after a consonant is ᵊ ("little" lˈɪTᵊl), and the -es/-ed vowel is ᵻ.
    ``word`` (its spelling) picks British ɒ or ɑː for AA."""
    out: list[str] = []
    n = len(phones)
    base = [p.rstrip("012") for p in phones]
    stress = [p[-1] if p[-1] in "012" else "" for p in phones]
    i = 0
    while i < n:
        b, s = base[i], stress[i]
        nxt = base[i + 1] if i + 1 < n else ""
        after_next_vowel = i + 2 < n and stress[i + 2] != ""
        if s:  # a vowel
            mark = _STRESS.get(s, "")
            if b == "ER":
                if british:
                    out.append(mark + ("ɜː" if s != "0" else "ə"))
                else:
                    out.append(mark + ("ɜɹ" if s != "0" else "əɹ"))
            elif british and nxt == "R" and b in _GB_BEFORE_R and not after_next_vowel:
                out.append(mark + _GB_BEFORE_R[b])
                i += 1  # the R is part of the vowel
            elif b == "AH" and s == "0":
                final_ln = nxt in ("L", "N") and i > 0 and not stress[i - 1] and (i + 2 == n or not after_next_vowel)
                final_ed = nxt in ("D", "Z") and i + 2 == n and i > 0 and _reduced_suffix(base[i - 1], nxt)
                out.append("ᵻ" if final_ed else "ᵊ" if final_ln and base[i - 1] not in ("R", "L", "N") else "ə")
            elif b == "IH" and s == "0" and nxt in ("D", "Z") and i + 2 == n and i > 0 and _reduced_suffix(base[i - 1], nxt):
                out.append("ᵻ")
            elif b == "IY" and nxt == "R" and not british:
                out.append(mark + "ɪ")  # "here" hˈɪɹ
            elif b == "AA" and british:
                out.append(mark + _gb_aa(word, nxt))
            else:
                vowels = _GB_VOWELS if british else _US_VOWELS
                v = vowels.get(b, "")
                if british and s == "0" and v.endswith("ː"):
                    v = v[:-1]
                out.append(mark + v)
        elif b == "T" and not british and _flaps(base, stress, i):
            out.append("T")
        elif b == "R" and british and not (i + 1 < n and stress[i + 1]):
            pass  # non-rhotic: no r before a consonant or at the end
        else:
            out.append(_CONSONANTS.get(b, ""))
        i += 1
    result = "".join(out)
    if result.count("ˈ") > 1:  # spelled acronyms in CMUdict ("FBI"): the last letter keeps it
        head, _, last = result.rpartition("ˈ")
        result = head.replace("ˈ", "ˌ") + "ˈ" + last
    return result


def _reduced_suffix(before: str, final: str) -> bool:
    return before in ("T", "D") if final == "D" else before in _SIBILANTS


def _flaps(base: list[str], stress: list[str], i: int) -> bool:
    """American t flaps between a vowel (or vowel + r) and an unstressed vowel: "water", "party"."""
    if i == 0 or i + 1 >= len(base) or stress[i + 1] != "0":
        return False
    if base[i + 1] == "AH" and i + 2 < len(base) and base[i + 2] == "N":
        return False  # before a syllabic n ("important" ɪmpˈɔɹtᵊnt) t is not flapped
    prev = i - 1
    if base[prev] == "R" and prev > 0:
        prev -= 1
    return stress[prev] != ""


def _gb_aa(word: str, nxt: str) -> str:
    """British AA: ɑː in "father", "calm", "car"; ɒ in "hot", "watch"."""
    w = word.lower()
    if nxt == "R":
        return "ɑː"
    if "a" in w and "o" not in w and not re.search(r"(?:w|qu)a", w):
        return "ɑː"
    return "ɒ"


# -- the backend -------------------------------------------------------------------------------
_CHUNK = re.compile(r"\S+")
_EDGE = re.compile(r"^([^\w$£€¥]*)(.*?)([^\w%°]*)$", re.S)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_PUNCT_KEEP = frozenset(';:,.!?—…"“”')
_LETTERS_ONLY = re.compile(r"[A-Za-z]+")
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at ", "°": " degrees ", "=": " equals ",
            "€": " euros ", "£": " pounds ", "¥": " yen ", "$": " dollars ", "#": " number ", "½": " and a half ",
            "/": " slash "}
_SYMBOL_RE = re.compile("|".join(re.escape(s) for s in _SYMBOLS))
_TITLES = {"mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor", "st": "saint", "jr": "junior",
           "sr": "senior", "vs": "versus", "prof": "professor", "mt": "mount", "ft": "fort"}
_MAX_CACHE = 20_000
# Entries of ttstokenizer's homographs.en whose two readings are the wrong way round (the verb
# reading is listed for the noun): swapped here. "read" is handled on its own (past vs present).
_SWAPPED_HOMOGRAPHS = frozenset(
    "object rebel fragment segment torment exploit exploits imprint subcontract quadruple counterbalance".split()
)
_READ = {"read": (["R", "EH1", "D"], ["R", "IY1", "D"], ("VBD", "VBN"))}
# Closed-class tags: one-syllable words with these lose their stress, as in misaki ("in" ɪn);
# pronouns keep a secondary one ("I" ˌI).
_UNSTRESSED_TAGS = frozenset("DT IN TO CC MD WDT EX POS PRP$ WP$".split())
_SECONDARY_TAGS = frozenset(("PRP", "WP"))
_UNSTRESSED_WORDS = frozenset("it you is are was were am be been has have had an and or but as than".split())
_VOWEL_PHONEMES = frozenset("AIOQWYaiuæɑɒɔəɛɜɪʊʌᵊᵻ")
_MONEY = re.compile(r"([$£€¥])(\d[\d,]*)(?:\.(\d{1,2}))?(?![\d.])")
_MONEY_WORDS = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
                "£": ("pound", "pounds", "penny", "pence"), "¥": ("yen", "yen", "", "")}

_import_lock = threading.Lock()


def _ensure_nltk_path(nltk: Any) -> None:
    """Directories in ``NLTK_DATA`` now (nltk reads it only when first imported) are searched first."""
    for path in reversed([p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]):
        if path not in nltk.data.path:
            nltk.data.path.insert(0, path)


def _missing_data_error(missing: list[str]) -> AssetError:
    return AssetError(
        f"ttstokenizer needs NLTK data that is not installed: {', '.join(missing)}. "
        f"Set NLTK_DATA to a folder holding averaged_perceptron_tagger_eng and cmudict "
        f"(taggers/averaged_perceptron_tagger_eng/, corpora/cmudict/), or on a machine with network "
        f"access run: python -m nltk.downloader {_DOWNLOAD_NAMES}"
    )


_loaded: tuple[Any, Any] | None = None  # built once per process, shared by both accents


def _load() -> tuple[Any, Any]:
    """(ttstokenizer's TTSTokenizer, a loaded NLTK PerceptronTagger); nothing is downloaded."""
    global _loaded
    if _loaded is None:
        with _import_lock:
            if _loaded is None:
                _loaded = _build()
    return _loaded


def _build() -> tuple[Any, Any]:
    """:func:`_load`'s work, under ``_import_lock``."""
    try:
        import nltk  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise AssetError("the ttstokenizer backend needs ttstokenizer: pip install ttstokenizer") from None
    import importlib.util

    try:
        found = importlib.util.find_spec("ttstokenizer") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise AssetError("the ttstokenizer backend needs ttstokenizer: pip install ttstokenizer")
    _ensure_nltk_path(nltk)
    missing = []
    for name, path in NLTK_RESOURCES.items():
        try:
            nltk.data.find(path)
        except LookupError:
            missing.append(name)
    if missing:
        raise _missing_data_error(missing)

    def no_download(*args: Any, **kwargs: Any) -> bool:  # asked at import for zips it never reads
        return False

    import nltk.downloader  # type: ignore[import-untyped,import-not-found,unused-ignore]

    saved = nltk.download, nltk.downloader.download
    nltk.download = nltk.downloader.download = no_download
    try:
        import ttstokenizer.g2p as tts_g2p  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from ttstokenizer import TTSTokenizer
    except ImportError as e:
        raise AssetError(f"ttstokenizer cannot be imported ({e}): pip install ttstokenizer") from None
    finally:
        nltk.download, nltk.downloader.download = saved
    from nltk.tag.perceptron import PerceptronTagger  # type: ignore[import-untyped,import-not-found,unused-ignore]

    try:
        tagger = PerceptronTagger()
    except (LookupError, OSError, ValueError) as e:
        raise _missing_data_error([f"averaged_perceptron_tagger_eng ({e.__class__.__name__})"]) from None
    # TTSTokenizer replaces the NLTK cmudict it loads with the copy it ships: skip that load.
    corpus = tts_g2p.cmudict
    tts_g2p.cmudict = _EmptyCmudict()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # it leaves homographs.en open
            tokenizer = TTSTokenizer()
            gc.collect()
    finally:
        tts_g2p.cmudict = corpus
    return tokenizer, tagger


class _EmptyCmudict:
    @staticmethod
    def dict() -> dict[str, list[list[str]]]:
        return {}


class TTSTokenizerG2P:
    """English G2P by ttstokenizer: CMUdict with part-of-speech homographs, a GRU net for words it
    lacks; phonemes mapped from ARPABET to Kokoro's misaki alphabet (American, or an approximate
    British with ``british=True``: non-rhotic, ɒ/ɑː, Q, long vowels; CMUdict itself is American).

    Raises :class:`~vocalize.errors.AssetError` when ttstokenizer or its NLTK data is missing."""

    def __init__(self, british: bool = False):
        self.british = british
        self._tokenizer, self._tagger = _load()
        self._vocab: dict[str, list[list[str]]] = self._tokenizer.vocab
        self._homographs: dict[str, tuple[list[str], list[str], tuple[str, ...]]] = {
            word: ((p2, p1, (pos,)) if word in _SWAPPED_HOMOGRAPHS else (p1, p2, (pos,)))
            for word, (p1, p2, pos) in self._tokenizer.homograph2features.items()
        }
        self._homographs.update(_READ)
        self._abbreviations = {k: v for k, v in self._tokenizer.multiterm.items() if "." in k}
        self._oov_cache: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._hibari_normalize = _hibari_normalize()
        from anyascii import anyascii
        from ttstokenizer.expand import normalize_numbers  # type: ignore[import-untyped,import-not-found,unused-ignore]

        self._anyascii, self._normalize_numbers = anyascii, normalize_numbers

    def __repr__(self) -> str:
        return f"TTSTokenizerG2P(british={self.british})"

    def tokens(self, text: str) -> list[tuple[str, str, bool]]:
        """``[(word text, phonemes, whitespace after)]`` for one sentence or line of text."""
        if self._hibari_normalize is not None:
            text = self._hibari_normalize(text)
        chunks = [(m.group(), m.end() < len(text)) for m in _CHUNK.finditer(text)]
        parts = [self._split(chunk) for chunk, _ in chunks]
        flat = [w for _, words, _, _ in parts for w in words]
        if not flat:
            return [(chunk, lead + trail, space) for (chunk, space), (lead, _, trail, _) in zip(chunks, parts)]
        # The tagger sees a word in its own case where it is its chunk's only word ("I", "Paris").
        cased = [
            core if len(words) == 1 and core.lower() == word else word
            for _, words, _, core in parts
            for word in words
        ]
        owners = [chunk for (chunk, _), (_, words, _, _) in zip(chunks, parts) for _ in words]
        with self._lock:
            tags = [tag for _, tag in self._tagger.tag(cased)]
            phonemes = [self._word(w, t, c) for w, t, c in zip(flat, tags, owners)]
        _weak_forms(flat, tags, phonemes)
        out = []
        k = 0
        for (chunk, space), (lead, words, trail, _) in zip(chunks, parts):
            out.append((chunk, lead + " ".join(phonemes[k : k + len(words)]) + trail, space))
            k += len(words)
        return out

    def __call__(self, text: str) -> str:
        """The phoneme string of ``text`` (a space where the text had one)."""
        return "".join(p + (" " if space else "") for _, p, space in self.tokens(text)).strip()

    # -- steps -------------------------------------------------------------------------------
    def _split(self, chunk: str) -> tuple[str, list[str], str, str]:
        """A whitespace-separated chunk -> (punctuation before, ttstokenizer words, punctuation
        after, the chunk without its edge punctuation)."""
        m = _EDGE.match(chunk)
        assert m is not None
        lead, core, trail = m.groups()
        lead = "".join(c for c in lead if c in _PUNCT_KEEP)
        kept = "".join(c for c in trail if c in _PUNCT_KEEP)
        if not core:
            return lead, [], kept, core
        dotted = trail.startswith(".")
        low = core.lower()
        if dotted and low + "." in self._abbreviations:  # "U.S." -> CMUdict's "u.s."
            return lead, [self._abbreviations[low + "."]], kept[1:], core
        if low in _TITLES and (dotted or core.istitle()):  # "Dr." / "Dr" before a name
            return lead, [_TITLES[low]], kept[1:] if dotted else kept, core
        if _LETTERS_ONLY.fullmatch(core) and core.isupper() and len(core) > 1 and low not in self._vocab:
            return lead, list(low), kept, core  # an acronym it has no entry for: spelled
        return lead, _WORD.findall(self._normalize(core)), kept, core

    def _normalize(self, text: str) -> str:
        """ttstokenizer's text rules for one chunk: ASCII, lower case, numbers and money in words."""
        text = _MONEY.sub(_money, text)
        text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group()], text)
        return self._normalize_numbers(self._anyascii(text).lower())

    def _word(self, word: str, tag: str, chunk: str) -> str:
        if word in self._homographs:
            pron1, pron2, pos1 = self._homographs[word]
            phones = pron1 if tag.startswith(pos1) else pron2
        elif word in self._vocab:
            phones = self._vocab[word][0]  # CMUdict's first (most common) reading
        elif word in self._oov_cache:
            phones = self._oov_cache[word]
        else:  # the GRU net, a few ms a word: cached
            phones = [p for p in self._tokenizer.predict(word) if p not in ("<unk>", "<pad>", "<s>", "</s>")]
            if len(self._oov_cache) >= _MAX_CACHE:
                self._oov_cache.clear()
            self._oov_cache[word] = phones
        return arpabet_to_misaki(phones, word if len(word) > 1 else chunk, self.british)


def _money(m: re.Match[str]) -> str:
    """"€12.50" -> "12 euros 50 cents", "£1" -> "1 pound" (ttstokenizer reads only "$" amounts)."""
    symbol, whole, cents = m.group(1), m.group(2), m.group(3)
    one, many, cent, cents_word = _MONEY_WORDS[symbol]
    words = f"{whole} {one if whole == '1' else many}"
    if cents and int(cents) and cent:
        cents = cents.ljust(2, "0")
        words += f" {int(cents)} {cent if int(cents) == 1 else cents_word}"
    return f" {words} "


def _weak_forms(words: list[str], tags: list[str], phonemes: list[str]) -> None:
    """misaki's reduced function words: unstressed one-syllable closed-class words, "the" ðə/ði,
    "to" tə/tʊ, "a" ɐ, "an" ɐn by what follows."""
    for i, (word, tag) in enumerate(zip(words, tags)):
        ps = phonemes[i]
        nxt = next((c for c in (phonemes[i + 1] if i + 1 < len(phonemes) else "") if c not in "ˈˌ"), "")
        before_vowel = nxt in _VOWEL_PHONEMES
        if word == "the":
            phonemes[i] = "ði" if before_vowel else "ðə"
        elif word == "to" and tag in ("TO", "IN"):
            phonemes[i] = "tʊ" if before_vowel else "tə"
        elif word == "a" and tag == "DT":
            phonemes[i] = "ɐ"
        elif word == "an" and tag == "DT":
            phonemes[i] = "ɐn"
        elif sum(c in _VOWEL_PHONEMES for c in ps) == 1:
            if tag in _UNSTRESSED_TAGS or word in _UNSTRESSED_WORDS:
                phonemes[i] = ps.replace("ˈ", "").replace("ˌ", "")
            elif tag in _SECONDARY_TAGS:
                phonemes[i] = ps.replace("ˈ", "ˌ")


def _hibari_normalize() -> Any:
    """hibari's text rules (times, dates, units, currency scale words), when hibari is installed."""
    try:
        from hibari.g2p.normalize import normalize  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    return normalize
