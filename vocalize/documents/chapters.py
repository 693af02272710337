"""What every reader produces: blocks of text, cut into :class:`Chapter` objects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Said where a listener would otherwise hear the symbols of a code block read out.
CODE_BLOCK = "Code block skipped."
PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True)
class Chapter:
    """One chapter of a document, in reading order.

    ``text`` is what is spoken: paragraphs separated by blank lines, the chapter's heading
    first. ``source`` says where it comes from ("OEBPS/ch01.xhtml", "lines 12-40").
    ``skipped`` is the reason the chapter is not spoken (no text, only images, ...), else None.
    """

    number: int
    title: str
    text: str
    source: str
    skipped: str | None = None

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class Block:
    """A paragraph or heading of a document, with the lines (or other place) it came from."""

    text: str
    heading: int = 0  # 1-6 for a heading, 0 for a paragraph
    start: int | None = None  # first and last source line, 1-based
    end: int | None = None
    anchors: list[str] = field(default_factory=list)  # ids that start at this block


def clean(text: str) -> str:
    """Runs of white space as one space, except line breaks inside a paragraph (kept as one)."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def lines_source(start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    return f"line {start}" if end in (None, start) else f"lines {start}-{end}"


@dataclass
class Draft:
    title: str
    blocks: list[Block] = field(default_factory=list)
    images: int = 0
    source: str = ""
    skipped: str | None = None  # set by a reader that knows why already

    def body(self) -> list[Block]:
        return [b for b in self.blocks if b.text]

    def has_text(self) -> bool:
        return any(not b.heading and b.text for b in self.blocks)


def split_at_headings(blocks: list[Block], default_title: str, images_at: dict[int, int] | None = None) -> list[Draft]:
    """Chapters start at headings of the chapter level: the highest level that occurs more
    than once (a single top heading is the document's title, so its sections are the
    chapters). Deeper headings stay inside their chapter as paragraphs. What comes before
    the first chapter heading is a chapter of its own when it holds text, and is put in
    front of the first chapter when it holds only headings (the document's title).

    ``images_at`` counts images by block index (an image before block i counts as i)."""
    images_at = images_at or {}
    levels = [b.heading for b in blocks if b.heading]
    if not levels:
        draft = Draft(default_title, list(blocks), sum(images_at.values()))
        return [draft]
    top = min(levels)
    deeper = [level for level in levels if level > top]
    level = min(deeper) if levels.count(top) == 1 and deeper else top
    drafts: list[Draft] = [Draft("")]
    for i, block in enumerate(blocks):
        drafts[-1].images += images_at.get(i, 0)  # images before a heading end the chapter before
        if block.heading and block.heading <= level and (block.heading == level or drafts[-1].blocks):
            drafts.append(Draft(block.text))
        drafts[-1].blocks.append(block)
    drafts[-1].images += images_at.get(len(blocks), 0)
    preamble = drafts.pop(0)
    if preamble.blocks or preamble.images:
        if preamble.has_text() or not drafts:
            first_heading = next((b.text for b in preamble.blocks if b.heading), None)
            preamble.title = first_heading or default_title
            drafts.insert(0, preamble)
        else:  # only the document's title: say it before the first chapter
            drafts[0].blocks[:0] = preamble.blocks
            drafts[0].images += preamble.images
    return drafts


def finish(drafts: list[Draft], source_of=None) -> list[Chapter]:
    """Numbers the drafts and marks those with nothing to say as skipped."""
    chapters = []
    for number, draft in enumerate(drafts, 1):
        body = draft.body()
        text = PARAGRAPH_BREAK.join(b.text for b in body)
        source = draft.source or (source_of(draft) if source_of else _block_lines(body))
        skipped = draft.skipped
        if skipped:
            text = ""
        elif not draft.has_text():
            skipped = "only images" if draft.images else "no text"
        title = draft.title or (body[0].text.split("\n")[0] if body else "") or f"Chapter {number}"
        chapters.append(Chapter(number, short_title(title), text, source, skipped))
    return chapters


def _block_lines(blocks: list[Block]) -> str:
    starts = [b.start for b in blocks if b.start is not None]
    ends = [b.end if b.end is not None else b.start for b in blocks if b.start is not None]
    return lines_source(min(starts), max(ends)) if starts else ""


def said_first(title: str, blocks: list[Block]) -> bool:
    """Whether the first of ``blocks`` already says ``title``: a heading holding it (or the
    same words numbered otherwise: "1. The Rabbi" under the title "I. The Rabbi"), or a
    paragraph that is the title or starts with it and a punctuation mark ("Loomings. Call
    me Ishmael."), letters and digits compared, case ignored."""
    first = next((b for b in blocks if b.text), None)
    if first is None:
        return False
    wanted = _plain(title)
    if first.heading:
        return wanted in _plain(first.text) or _plain(_unnumbered(title)) == _plain(_unnumbered(first.text)) != ""
    text = first.text.lstrip()
    for end in range(len(text) + 1):
        if _plain(text[:end]) == wanted:
            return end == len(text) or not text[end].isalnum() and not text[end].isspace()
    return False


def title_first(draft: Draft) -> None:
    """Says a chapter's title first when its text does not already start with it. A first
    heading that is only part of the title (the heading "190" of the chapter the contents
    call "190 A Four-Leaved Clover") gives way to the title, so it is not said twice."""
    if not draft.title or not draft.has_text() or said_first(draft.title, draft.blocks):
        return
    first = next(b for b in draft.blocks if b.text)
    if first.heading and _plain(first.text) in _plain(draft.title):
        first.text = draft.title
    else:
        draft.blocks.insert(0, Block(draft.title, 1))


# A chapter number before a title: "12.", "IV.", "3)", "Chapter 7:".
_NUMBERING = re.compile(r"^\s*(?:chapter\s+)?(?:\d+|[ivxlcdm]+)\s*[.):\-–—]?\s+", re.IGNORECASE)


def _unnumbered(text: str) -> str:
    return _NUMBERING.sub("", text, count=1)


def _plain(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def short_title(title: str, limit: int = 120) -> str:
    """A title on one line, cut at a word boundary past ``limit`` characters."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-") + "…"
