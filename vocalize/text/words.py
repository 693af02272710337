"""Which words a chunk's phoneme ids came from: the spoken words (the G2P's, after
normalization) with their ids, and the written word of the input each was read from.

The model's durations give the frames of each id; these spans turn them into word times
(see :mod:`vocalize.timestamps`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from .segment import ChunkWord, Word, is_speakable

__all__ = ["Spoken", "spoken_words", "align_written", "number_alone", "locate"]


@dataclass
class Spoken:
    """A spoken word while chunks are being built: its text (with the punctuation written
    right after it), its phonemes (speech only), and its written word once aligned."""

    text: str
    phonemes: str
    written: str = ""
    group: int = -1


def spoken_words(words: list[Word]) -> list[Spoken]:
    """The speakable words of a group of G2P words; punctuation that follows a word with no
    space between joins its text ("world" + "!" -> "world!")."""
    out: list[Spoken] = []
    for i, word in enumerate(words):
        if is_speakable(word.phonemes):
            # The later pieces of a word cut for length are marked to share its group.
            out.append(Spoken(word.text, word.phonemes, group=-2 if word.continued else -1))
        elif out and i > 0 and not words[i - 1].space_after:
            out[-1].text += word.text
    return out


# Inline pronunciations show their word: "[Kokoro](/kˈOkəɹO/)" -> "Kokoro".
_LINK = re.compile(r"\[([^\[\]]+)\]\(/[^()]*/\)")
_KEY = re.compile(r"[^\w]+")


def _key(text: str) -> str:
    return _KEY.sub("", text).lower()


def align_written(original: str, spoken: list[Spoken], first_group: int) -> int:
    """Sets each spoken word's written word: the whitespace-separated word of ``original``
    (the input text the words were read from, markup aside) that it matches, letters and
    digits compared; the words between two matches share the written words between them
    ("2023-03-14" read as "March fourteenth 2023"), and words the reading added ("dollars"
    of "$4.5") join the written word before them. Written words with no letter or digit
    (an emoji, a dash) are not spoken. Returns the next free group number."""
    written = [w for w in _LINK.sub(r"\1", original).split() if _key(w)]
    spoken = [s for s in spoken if s.group != -2]
    if not spoken:
        return first_group
    matcher = difflib.SequenceMatcher(None, [_key(w) for w in written], [_key(s.text) for s in spoken], autojunk=False)
    owner: list[int | None] = [None] * len(spoken)  # index into `written`
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(j2 - j1):
                owner[j1 + k] = i1 + k
        elif tag == "replace":
            m, n = i2 - i1, j2 - j1
            for k in range(n):
                owner[j1 + k] = i1 + (k * m) // n
        # "insert" (spoken words with no written word) is settled below; "delete" (written
        # words not spoken) gets no time.
    previous: int | None = None
    for j, index in enumerate(owner):
        if index is None:
            owner[j] = previous
        previous = owner[j]
    # Leading words the reading added join the first written word after them.
    first = next((o for o in owner if o is not None), None)
    groups: dict[int, int] = {}
    for s, index in zip(spoken, owner):
        index = first if index is None else index
        if index is None:  # nothing written matches at all: each word stands for itself
            s.written, s.group = s.text, first_group
            first_group += 1
            continue
        if index not in groups:
            groups[index] = first_group
            first_group += 1
        s.written, s.group = written[index], groups[index]
    _number_pieces(spoken)
    return first_group


def number_alone(spoken: list[Spoken], first_group: int) -> int:
    """Each spoken word is its own written word (raw phonemes, Japanese); returns the next
    free group number."""
    for s in spoken:
        if s.group != -2:
            s.written, s.group = s.text, first_group
            first_group += 1
    _number_pieces(spoken)
    return first_group


def _number_pieces(spoken: list[Spoken]) -> None:
    """Pieces of a word cut for length (group -2) take the word's written word and group."""
    for i, s in enumerate(spoken):
        if s.group == -2 and i > 0:
            s.written, s.group = spoken[i - 1].written, spoken[i - 1].group


def locate(phonemes: str, spoken: list[Spoken], encode: Callable[[str], tuple[int, ...]]) -> tuple[ChunkWord, ...]:
    """The words of a chunk whose phoneme string is ``phonemes`` (their phonemes, in order,
    inside it) with the ids each produced."""
    out = []
    cursor = 0
    for s in spoken:
        at = phonemes.find(s.phonemes, cursor)
        if at < 0:
            continue
        cursor = at + len(s.phonemes)
        start = len(encode(phonemes[:at]))
        out.append(ChunkWord(s.text, s.written or s.text, s.group, start, start + len(encode(s.phonemes))))
    return tuple(out)
