"""Word timings from the model's own durations.

Kokoro's duration predictor gives the frames of each phoneme id (speed already applied);
the frontend knows which ids each word produced (:class:`~vocalize.text.segment.ChunkWord`).
A word's time in a chunk is then its first and last id's frames, less what the core cut
before the chunk's audio (the trimmed leading silence) and the audio's lead over its frames (:data:`ONSET_LEAD`), clamped to the chunk's
speech; a stream adds the length of everything before the
chunk (earlier chunks, their pauses, pauses from markup).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .errors import InputError, ModelError

if TYPE_CHECKING:
    from .text import Chunk

__all__ = ["WordTime", "Timed", "FORMS", "check_form", "check_model", "chunk_words", "select"]

# Which words a timing names: as written in the input ("$4.5", "2023-03-14."), or as the
# frontend read them after normalization ("4.5", "dollars"; "March", "fourteenth,", "2023.").
FORMS = ("written", "spoken")


@dataclass(frozen=True)
class WordTime:
    """A word and when it is spoken, in seconds from the start of the audio (of the whole
    stream, for :meth:`~vocalize.Engine.stream`)."""

    word: str
    start: float
    end: float


def check_form(words: str) -> str:
    if words not in FORMS:
        raise InputError(f"words must be one of {', '.join(FORMS)}, got {words!r}")
    return words


def check_model(model: Any) -> None:
    """Raises when ``model`` (a native model) gives no token durations: no word timings."""
    if not getattr(model, "durations", False):
        raise ModelError(
            f"word timestamps are not available for this model ({getattr(model, 'path', 'unknown')}): "
            "it gives no token durations (Kokoro run split does, the default: VOCALIZE_NO_SPLIT "
            "unset; a Kokoro export run whole needs a 'durations' output)"
        )


# How far the audio runs ahead of the frames the durations give: measured on 14 sentences
# (benches/texts/plain.txt) at speed 1, a chunk's first sound (the trimming threshold,
# -46 dBFS) came a median 40 ms (10-90 %: 20-65 ms) before its first word's first frame.
# Kokoro's own timestamps (KPipeline.join_timestamps) likewise start 3 frames early.
# Every boundary of a chunk is moved by it. Inside chunks it holds too: where a word
# follows a silence (benches/texts/openings.txt at speeds 1 and 0.8, 13 words, silences
# of 50-500 ms), its first frame less this lead came a median 15 ms after the silence's
# end (10-90 %: -10 to +40 ms).
ONSET_LEAD = 0.040
# A word starts at its first phoneme's frames; the space (and punctuation) ids before it
# belong to no word. Before a pause the model stretches the previous word's last phoneme
# and the space, and the silence spans both, but where the next word's sound starts inside
# that space is not fixed: at the space's start ("is | right" at speed 0.8), at its end
# ("bakery | and"). On the same 13 words, starting words at the space's start (no lead)
# would put them a median 25 ms before the silence's end (85 ms at worst) against 15 ms
# (105 ms at worst, "right") for the first frame less the lead.

Timed = tuple[WordTime, int, str]  # a spoken word's time, its written word's group and text


def chunk_words(
    chunk: "Chunk",
    durations: Sequence[int] | None,
    start: int,
    speech: int,
    offset: int,
    sample_rate: int,
    samples_per_frame: int,
) -> list[Timed]:
    """The spoken words of ``chunk`` with their times: ``durations`` are the frames of its
    padded ids, ``start`` the samples of the model's output before the chunk's audio,
    ``speech`` the samples of speech in it, ``offset`` the samples before the chunk in the
    whole audio."""
    if not chunk.words:
        return []
    if durations is None:
        raise ModelError("the model gave no token durations for this chunk: no word timestamps")
    ids = len(chunk.token_ids) + 2
    if len(durations) != ids:
        raise ModelError(f"the model gave {len(durations)} durations for {ids} padded ids")
    # edges[i]: the frame where padded id i starts.
    edges = [0, *itertools.accumulate(int(d) for d in durations)]

    lead = round(ONSET_LEAD * sample_rate)

    def seconds(frame: int) -> float:
        sample = min(max(frame * samples_per_frame - start - lead, 0), speech)
        return (offset + sample) / sample_rate

    # Token i of the chunk is padded id i + 1.
    return [(WordTime(w.text, seconds(edges[w.start + 1]), seconds(edges[w.end + 1])), w.group, w.written) for w in chunk.words]


def select(timed: list[Timed], words: str) -> list[WordTime]:
    """The timings in the form ``words`` (see :data:`FORMS`): each spoken word, or each
    written word, from the start of its first spoken word to the end of its last."""
    if words == "spoken":
        return [t[0] for t in timed]
    out: list[WordTime] = []
    last: int | None = None
    for word, group, written in timed:
        if out and group == last:
            out[-1] = WordTime(out[-1].word, out[-1].start, word.end)
        else:
            out.append(WordTime(written, word.start, word.end))
        last = group
    return out
