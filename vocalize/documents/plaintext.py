"""Plain text as chapters: blank lines between paragraphs, chapter headings on lines of
their own ("Chapter 4", "CHAPTER IV.", "Chapter Twelve: The Storm", "Prologue").

A heading stands alone between blank lines; one that is only "Chapter N" may instead take
the next line as its title when that line is short and followed by a blank line (Project Gutenberg's "CHAPTER I.\\nDown the
Rabbit-Hole"). The licence text around a Project Gutenberg e-book's "*** START OF" and
"*** END OF" lines is left out. Hard-wrapped lines are joined into their paragraph.
"""

from __future__ import annotations

import re

from .chapters import Block, Chapter, Draft, finish

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred"
)
_NUMBER = rf"(?:\d{{1,4}}|[IVXLCDM]{{1,8}}|(?:{_NUMBER_WORDS})(?:[- ](?:{_NUMBER_WORDS}))*)"
HEADING = re.compile(
    rf"^\s*(?:(?:chapter|chap\.)\s+{_NUMBER}\b[.:\-–—]?(?:\s+\S.*)?|prologue|epilogue|preface|introduction|afterword)\s*[.:]?\s*$",
    re.I,
)
_BARE_HEADING = re.compile(rf"^\s*(?:chapter|chap\.)\s+{_NUMBER}\s*[.:]?\s*$", re.I)
_GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
MAX_HEADING = 80  # characters: a longer line is prose that happens to start with "Chapter"


def read(text: str, default_title: str) -> list[Chapter]:
    lines, first_line = _body_lines(text)
    drafts: list[Draft] = [Draft("")]
    paragraph: list[str] = []
    start = 0

    def end_paragraph() -> None:
        if paragraph:
            drafts[-1].blocks.append(Block(" ".join(" ".join(paragraph).split()), 0, start, start + len(paragraph) - 1))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        number = first_line + i
        alone = (i == 0 or not lines[i - 1].strip()) and (i + 1 == len(lines) or not lines[i + 1].strip())
        bare = bool(_BARE_HEADING.match(line))
        subtitled = bare and i + 1 < len(lines) and _is_subtitle(lines, i + 1) and (i == 0 or not lines[i - 1].strip())
        if (alone or subtitled) and len(line.strip()) <= MAX_HEADING and HEADING.match(line):
            end_paragraph()
            title = line.strip()
            end = number
            if subtitled:
                title = f"{title.rstrip('.:')}. {lines[i + 1].strip()}"
                i += 1
                end += 1
            drafts.append(Draft(title))
            drafts[-1].blocks.append(Block(title, 1, number, end))
        elif line.strip():
            if not paragraph:
                start = number
            paragraph.append(line)
        else:
            end_paragraph()
        i += 1
    end_paragraph()
    preamble = drafts.pop(0)
    if preamble.has_text() or not drafts:
        preamble.title = _first_line_title(preamble) or default_title
        drafts.insert(0, preamble)
    return finish(drafts)


def _body_lines(text: str) -> tuple[list[str], int]:
    """The lines of ``text`` between Project Gutenberg's start and end markers, if any, and
    the 1-based number of the first."""
    first = 1
    start = _GUTENBERG_START.search(text)
    if start:
        first = text.count("\n", 0, start.end()) + 2
        text = text[start.end() + 1 :]
    end = _GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    return text.split("\n"), first


def _is_subtitle(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    followed_by_blank = i + 1 >= len(lines) or not lines[i + 1].strip()
    return bool(line) and len(line) <= MAX_HEADING and followed_by_blank and not HEADING.match(line)


def _first_line_title(draft: Draft) -> str:
    """A short first paragraph (a title line) names the opening chapter."""
    first = next((b.text for b in draft.blocks if b.text), "")
    return first if first and len(first) <= MAX_HEADING else ""
