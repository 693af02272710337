"""The text frontend, the pipeline's orchestrator: markup -> normalized text -> sentences ->
G2P -> words in the voice's alphabet -> token-id chunks sized for the model.

    >>> [c.phonemes for c in Frontend().chunks("Hello, world!")]
    ['həlˈO, wˈɜɹld!']
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, NothingToSpeak
from .g2p import G2P_BACKENDS, G2P_MAX_CHARS, LANGUAGES, english_tokens, get_japanese_g2p, normalize_japanese
from .markup import MARKUP_OPENERS, split_pauses
from .normalize import normalize
from .render import ALPHABETS, render
from .segment import (
    NON_SPEECH,
    PAUSES,
    Chunk,
    Word,
    boundary_after,
    is_speakable,
    join_phonemes,
    join_text,
    pack_words,
    sentence_ends,
    split_long_text,
    split_paragraphs,
    split_sentences,
)
from .vocab import Vocab, load_vocab
from .words import Spoken, align_written, locate, number_alone, spoken_words

__all__ = ["Frontend", "HEAD_CHARS", "MERGE_TARGET", "SENTENCE_MAX", "split_head"]

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
# Characters of text read before the first chunk starts synthesizing (see split_head).
HEAD_CHARS = 400
_JA_SENTENCE_END = re.compile(r"(?<=[。！？!?])")
_PARAGRAPH = re.compile(r"\n\s*\n")
_FINAL_STOP = re.compile(r"\.[\"')\]]*\s*$")


def split_head(text: str) -> tuple[str, str, float]:
    """The start of ``text`` for the first chunks, the rest, and the pause between them: a
    request's head goes through the frontend (and starts synthesizing) while the rest is read.

    Cuts at the first paragraph break, else at the last sentence end (as
    :func:`~vocalize.text.segment.split_sentences` cuts) within :data:`HEAD_CHARS`, never
    inside markup; short text is not cut."""
    if len(text) <= HEAD_CHARS:
        return text, "", 0.0
    paragraph = _PARAGRAPH.search(text, 1, HEAD_CHARS)
    if paragraph:
        return text[: paragraph.start()], text[paragraph.end() :], PAUSES["paragraph"]
    ends = list(sentence_ends(text, HEAD_CHARS))
    if ends and not any(mark in text[: ends[-1][0]] for mark in MARKUP_OPENERS):
        end, following = ends[-1]
        return text[:end], text[following:], PAUSES["sentence"]
    return text, "", 0.0


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
            raise NothingToSpeak("nothing to speak in the given text")
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
            # A sentence that ends on an abbreviation ("in Hall C.", "at 10 a.m.") ends on
            # its full stop too: the G2P reads the stop as the abbreviation's.
            if not self.japanese and _FINAL_STOP.search(sentence) and words[-1].phonemes[-1:] not in NON_SPEECH:
                words[-1].phonemes += "."
        return words

    def _g2p_words(self, text: str) -> list[Word]:
        if self.japanese:
            return self._to_words([(w, w, True) for w in get_japanese_g2p()(text).split()])
        if self._ttstokenizer is not None:
            return self._to_words(self._ttstokenizer.tokens(text))
        tokens = english_tokens(text, self.british)
        return self._to_words(tokens)

    def _to_words(self, tokens: list[tuple[str, str, bool]] | list[tuple[str, str, bool, bool]]) -> list[Word]:
        """Tokens ``(text, phonemes, space after[, phonemes given inline])`` -> words in the
        frontend's alphabet; a token with no phonemes gives its text to its neighbour."""
        words: list[Word] = []
        pending = ""
        rewrite = self.alphabet != "misaki" and not self.japanese
        for text, phonemes, space, *given in tokens:
            if rewrite and not (given and given[0]):
                phonemes = render(phonemes, self.alphabet, self.british, text, opening=not words)
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
