"""Splitting normalized text into paragraphs and sentences, and phonemized sentences into
model-sized pieces (at clause punctuation first, then between words, then inside a word)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from .normalize import PARAGRAPH_BREAK

__all__ = [
    "Chunk",
    "ChunkWord",
    "Word",
    "PAUSES",
    "NON_SPEECH",
    "split_paragraphs",
    "split_sentences",
    "split_long_text",
    "pack_words",
    "join_phonemes",
    "join_text",
    "boundary_after",
    "is_speakable",
]

# Seconds of silence after a chunk, by the boundary it ends at (weakest to strongest).
PAUSES = {"word": 0.0, "clause": 0.1, "sentence": 0.3, "paragraph": 0.6}
CLAUSE_END = frozenset(",;:—…")
SENTENCE_END = frozenset(".!?")
# Phoneme characters that are not speech: a chunk of only these has nothing to say.
NON_SPEECH = frozenset(';:,.!?—…"()“” ')


@dataclass(frozen=True)
class ChunkWord:
    """A spoken word of a chunk and the ids it produced: ``token_ids[start:end]`` of its
    chunk (its speech only, not the punctuation after it).

    ``text`` is the word as the frontend read it (after normalization: "Dr" for "Dr.",
    "March" for "2023-03-14"), with the punctuation written right after it; ``written`` is
    the word of the input text it was read from, and ``group`` numbers the written words of
    one request, so the spoken words of one written word ("$4.5" read as "4.5", "dollars")
    share it."""

    text: str
    written: str
    group: int
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """One model call's worth of text."""

    text: str  # the source text of this chunk (after normalization; the G2P's words for a piece of a long sentence)
    phonemes: str  # Kokoro phonemes
    token_ids: tuple[int, ...]  # ids via the vocab, without the 0 padding
    pause_after: float  # seconds of silence to insert after this chunk
    words: tuple[ChunkWord, ...] = ()  # the spoken words, in order


@dataclass
class Word:
    """A G2P token: its text, its phonemes (vocab characters only) and whether a space follows.

    ``continued`` marks the later pieces of a word cut because it alone was too long."""

    text: str
    phonemes: str
    space_after: bool = True
    continued: bool = False


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of normalized text."""
    return [p for p in text.split(PARAGRAPH_BREAK) if p.strip()]


_SENTENCE_END = re.compile(r"([.!?…]+)([\"')\]]*)\s+(?=(\S))")
_LAST_WORD = re.compile(r"\S+$")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")
# Abbreviations a sentence does not end at ("Dr. Smith", "e.g. Paris").
_NEVER_FINAL = frozenset(
    "mr mrs ms mx dr prof rev fr st mt ft gen gov sen rep capt lt col sgt cmdr maj adm cpl hon pres supt"
    " msgr e.g eg i.e ie cf vs viz al approx ca".split()
)
# Words that open a sentence and are no one's name: pronouns, determiners, conjunctions.
_OPENER = re.compile(
    r"(?:I|We|You|He|She|It|They|This|That|These|Those|There|Then|The|A|An|But|And|So|If|When"
    r"|While|After|Before|Its|His|Her|Our|Their|My|Your)\b(?!\.)"
)
# Abbreviations a sentence does not end at when a number follows ("No. 5", "Fig. 3", "Vol. II").
_BEFORE_NUMBER = frozenset(
    "no nos vol vols fig figs p pp ch chap art sec eq ex op apt est"
    " jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


# A Roman numeral in capitals (at least one letter).
ROMAN_NUMERAL = r"(?=[IVXLCDM])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
# A number: digits, or a Roman numeral (not "I", which is more often the pronoun).
_NUMBER_NEXT = re.compile(rf"\d|(?!I\b){ROMAN_NUMERAL}\b")


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, not split after titles, "e.g.", initials, or before lowercase."""
    sentences = []
    start = 0
    for _, following in sentence_ends(paragraph):
        sentence = paragraph[start:following].strip()
        if sentence:
            sentences.append(sentence)
        start = following
    rest = paragraph[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def sentence_ends(text: str, stop: int | None = None) -> Iterator[tuple[int, int]]:
    """Where the sentences of ``text`` end (within its first ``stop`` characters), as
    :func:`split_sentences` cuts: ``(end of the sentence, start of the next)``."""
    for m in _SENTENCE_END.finditer(text, 0, len(text) if stop is None else stop):
        if not _continues(text, m):
            yield m.end(2), m.start(3)


def _continues(text: str, m: re.Match[str]) -> bool:
    """Whether the sentence goes on past the end-like punctuation ``m``."""
    following = m.group(3)
    if following.islower() or following in ",;:":
        return True
    if m.group(1) != "." or m.group(2):
        return False
    before = _LAST_WORD.search(text, max(0, m.start() - 40), m.start())
    if before is None:
        return False
    word = before.group().lstrip("\"'([").lower()
    if word in _NEVER_FINAL or (word in _BEFORE_NUMBER and _NUMBER_NEXT.match(text, m.start(3))):
        return True
    if word == "i" or _INITIALS.fullmatch(word) is None:
        return False
    # After initials ("J. Smith", "U.S. Army") the sentence goes on, unless a word that opens
    # sentences follows ("in Room B. Then", "at 10 a.m. It rained", "the U.S. He left").
    return _OPENER.match(text, m.start(3)) is None


_CLAUSE_BREAK = re.compile(r"[,;:—…](?=\s)|\s—")


def split_long_text(sentence: str, max_chars: int) -> list[str]:
    """``sentence`` cut into pieces of at most ``max_chars`` characters, at clause punctuation
    when there is some in the last three quarters of the window, else at a space."""
    pieces = []
    rest = sentence.strip()
    while len(rest) > max_chars:
        window = rest[: max_chars + 1]
        cut = 0
        for m in _CLAUSE_BREAK.finditer(window, max_chars // 4):
            if m.end() <= max_chars:
                cut = m.end()
        if not cut:
            cut = window.rfind(" ", max_chars // 4) + 1 or max_chars
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return [p for p in pieces if p]


def boundary_after(words: list[Word], i: int) -> str | None:
    """How good a place the gap after ``words[i]`` is to split: "clause", "word" or None."""
    word = words[i]
    nxt = words[i + 1] if i + 1 < len(words) else None
    if nxt is not None and not word.space_after and nxt.phonemes[:1] in NON_SPEECH:
        return None  # "word," -- never split off the punctuation that follows a word
    if word.phonemes[-1:] in CLAUSE_END or word.phonemes[-1:] in SENTENCE_END:
        return "clause"
    return "word" if word.space_after else None


def pack_words(words: list[Word], limit: int, first_limit: int | None = None) -> list[list[Word]]:
    """Consecutive groups of ``words`` whose joined phonemes have at most ``limit`` characters.

    With ``first_limit`` the first group has at most that many, and each later one at most
    twice the one before (up to ``limit``): a short first piece to start audio early, each
    next one no longer than what can be synthesized while the one before plays; a scrap of
    under half that cap left at the end joins the group before it. Such a short group ends
    only at a clause break: where none is in reach, the group is as long as ``limit`` allows
    (a phrase cut for an early start is misheard: "a permit | to park" heard as "the park").
    Each group ends at the last clause break that fits, else the last word break, else
    wherever the limit falls. Nothing is dropped."""
    first_limit = limit if first_limit is None else min(first_limit, limit)
    words = _cut_long_words(words, limit)
    groups: list[list[Word]] = []
    start, cap = 0, first_limit
    n = len(words)
    while start < n:
        if cap < limit and not _clause_within(words, start, cap):
            cap = limit
        halves = _balanced_cut(words, start, limit) if cap == limit else None
        if halves is not None and halves[1] <= len(_PHRASE_STARTS):
            groups += [words[start : halves[0]], words[halves[0] :]]
            break
        length, end = 0, start
        best_clause = best_word = 0
        # The best word break at least `floor` long: (rank, end), the lowest rank, then the
        # latest. Shorter groups are allowed for a better break while the ramp is short.
        floor = cap // 2 if cap < limit else 3 * cap // 4
        best_phrase: tuple[int, int] | None = None
        while end < n:
            add = len(words[end].phonemes) + (1 if end > start and words[end - 1].space_after else 0)
            if length + add > cap:
                break
            length += add
            end += 1
            if end < n:
                kind = boundary_after(words, end - 1)
                if kind == "clause":
                    best_clause = end
                elif kind == "word":
                    best_word = end
                    rank = _word_break_rank(words, end)
                    if length >= floor and (best_phrase is None or rank <= best_phrase[0]):
                        best_phrase = (rank, end)
        if best_phrase is not None:
            best_word = best_phrase[1]
        cut = n if end == n else (best_clause or best_word or max(end, start + 1))
        if halves is not None and 4 * len(join_phonemes(words[cut:])) < len(join_phonemes(words[start:])):
            # The greedy cut would leave a scrap: cut in the middle instead.
            groups += [words[start : halves[0]], words[halves[0] :]]
            break
        if cap < limit and cut < n and 2 * len(join_phonemes(words[cut:])) < cap:
            # A shortened group would leave a scrap ("The quick brown | fox."): cheaper to
            # say it with the rest than to break the phrase for it.
            if len(join_phonemes(words[start:])) <= limit:
                cut = n
        groups.append(words[start:cut])
        start, cap = cut, min(limit, cap * 2)
    return groups


def _clause_within(words: list[Word], start: int, cap: int) -> bool:
    """Whether ``words[start:]`` ends, or has a clause break, within ``cap`` characters."""
    length = 0
    for end in range(start, len(words)):
        length += len(words[end].phonemes) + (1 if end > start and words[end - 1].space_after else 0)
        if length > cap:
            return False
        if end + 1 == len(words) or boundary_after(words, end) == "clause":
            return True
    return True


# Words a phrase may start with, by how good a place the gap before them is to cut a
# sentence with no usable punctuation: conjunctions, relative and wh-words and "to" first,
# then prepositions (see _balanced_cut and _word_break_rank).
_PHRASE_STARTS = (
    frozenset(
        "and but or nor so yet because while when whenever where wherever which who whom whose that "
        "although though if unless until since whereas whether to".split()
    ),
    frozenset(
        "in on at of for with by from into onto over under past through across against between "
        "without within during toward towards about around behind beyond along among upon after "
        "before".split()
    ),
)


def _balanced_cut(words: list[Word], start: int, limit: int) -> tuple[int, int] | None:
    """Where to cut ``words[start:]`` when it takes exactly two groups of at most ``limit``:
    the cut and its rank: 0 at clause punctuation, 1 before a conjunction (or "to"), 2 before
    a preposition, 3 between any other words; within the best rank the cut nearest the
    middle, with neither side under a quarter of the whole. A greedy cut can leave a scrap
    ("... to guide them safely past | the rocks."), spoken as an utterance of its own: odd
    prosody, and the model's silence around it costs as much to decode as its words.
    ``None`` when one group holds it all, two cannot, or no cut is balanced enough."""
    # ends[i]: length of words[start:i] joined (the space after a word counts only inside).
    ends = [0] * (len(words) + 1)
    for i in range(start, len(words)):
        gap = 1 if i > start and words[i - 1].space_after else 0
        ends[i + 1] = ends[i] + gap + len(words[i].phonemes)
        if ends[i + 1] > 2 * limit:
            return None  # more than two groups' worth (stop early: a sentence may be long)
    total = ends[len(words)]
    if total <= limit:
        return None
    best: dict[int, tuple[int, int]] = {}  # rank -> (distance from the middle, cut)
    for cut in range(start + 1, len(words)):
        kind = boundary_after(words, cut - 1)
        if kind is None:
            continue
        head, tail = ends[cut], total - ends[cut] - (1 if words[cut - 1].space_after else 0)
        if head > limit or tail > limit or 4 * min(head, tail) < total:
            continue
        rank = 0 if kind == "clause" else _phrase_rank(words[cut].text)
        score = abs(head - tail)
        if rank not in best or score < best[rank][0]:
            best[rank] = (score, cut)
    if not best:
        return None
    rank = min(best)
    return best[rank][1], rank


# Words that lean on the word after them: a group should not end with one.
_LEANING = frozenset(
    "a an the this these those my your his her its our their some any no every each "
    "of in on at to for with by from into onto and or but nor is are was were be been "
    "has have had will would can could should shall may might must not very so than "
    "as if that".split()
)


def _word_break_rank(words: list[Word], cut: int) -> int:
    """How good a place the word break before ``words[cut]`` is: the rank of the word that
    would start the next group (see :func:`_phrase_rank`), worst after a word that leans
    on the next ("in | the class", "a short | story" is better than "the | class")."""
    before = words[cut - 1].text.strip("\"')]”’").rsplit(" ", 1)[-1].lower()
    if before in _LEANING:
        return len(_PHRASE_STARTS) + 2
    return _phrase_rank(words[cut].text)


def _phrase_rank(text: str) -> int:
    word = text.strip("\"'([“‘").split(" ", 1)[0].lower()
    for rank, starts in enumerate(_PHRASE_STARTS, 1):
        if word in starts:
            return rank
    return len(_PHRASE_STARTS) + 1


def _cut_long_words(words: list[Word], limit: int) -> list[Word]:
    """Words whose phonemes exceed ``limit`` split at their inner spaces, then every ``limit``
    characters."""
    if all(len(w.phonemes) <= limit for w in words):
        return words
    out = []
    for w in words:
        if len(w.phonemes) <= limit:
            out.append(w)
            continue
        parts: list[tuple[str, bool]] = []
        for sub in w.phonemes.split(" "):
            slices = [sub[i : i + limit] for i in range(0, len(sub), limit)] or [""]
            parts.extend((s, j == len(slices) - 1) for j, s in enumerate(slices))
        parts = [(s, space) for s, space in parts if s]
        for j, (s, space) in enumerate(parts):
            last = j == len(parts) - 1
            out.append(Word(w.text, s, w.space_after if last else space, continued=j > 0 or w.continued))
    return out


def join_phonemes(words: list[Word]) -> str:
    """The phoneme string of consecutive words."""
    out = []
    for i, w in enumerate(words):
        out.append(w.phonemes)
        if w.space_after and i + 1 < len(words):
            out.append(" ")
    return "".join(out).strip()


def join_text(words: list[Word]) -> str:
    """The source text of consecutive words (a cut word's text once)."""
    parts = []
    for i, w in enumerate(words):
        if not w.continued:
            parts.append(w.text)
        inner = i + 1 < len(words) and words[i + 1].continued
        if w.space_after and not inner:
            parts.append(" ")
    text = "".join(parts).strip()
    return text or (words[0].text if words else "")


def is_speakable(phonemes: str) -> bool:
    """Whether a phoneme string has anything but punctuation and spaces."""
    return any(c not in NON_SPEECH for c in phonemes)
