"""PDF as chapters, with pypdf (pure Python): the text layer of each page, chapters from the
outline (bookmarks), else from "Chapter N" lines as in plain text.

Lines are joined into paragraphs: a line ends its paragraph when it is clearly shorter than
the page's usual line and ends a sentence. A hyphen at the end of a line joins the word;
lines that are only a page number, and a header or footer line repeated on most pages, are
left out. A PDF with no text layer (a scan) has nothing to read: that needs OCR first.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ..errors import InputError
from . import needs
from .plaintext import HEADING
from .chapters import PARAGRAPH_BREAK, Block, Chapter, Draft, finish

_PAGE_NUMBER = re.compile(r"^\W*(?:page\s+)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?\W*$", re.I)
_SENTENCE_END = re.compile(r"[.!?:…][\"'”’)\]]*$")


def read(path: Path) -> list[Chapter]:
    pypdf = needs("pypdf")
    errors = needs("pypdf.errors")
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(f"{path} is encrypted with a password; vocalize reads only unprotected PDFs")
        pages = [page.extract_text() or "" for page in reader.pages]
        starts = _outline_starts(reader)
    except InputError:
        raise
    except (errors.PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as e:
        raise InputError(f"{path} is not a readable PDF ({type(e).__name__}: {e})") from None
    if not pages:
        raise InputError(f"{path} has no pages")
    paragraphs = [_paragraphs(lines) for lines in _without_running_heads([p.split("\n") for p in pages])]
    if not any(paragraphs):
        return [Chapter(1, path.stem, "", f"pages 1-{len(pages)}", "no text layer (a scanned PDF needs OCR first)")]
    if not starts:
        from . import plaintext

        chapters = plaintext.read(PARAGRAPH_BREAK.join(p for page in paragraphs for p in page), path.stem)
        return chapters
    if starts[0][0] > 0:
        starts.insert(0, (0, path.stem))
    drafts = []
    for i, (first, title) in enumerate(starts):
        last = starts[i + 1][0] - 1 if i + 1 < len(starts) else len(pages) - 1
        last = max(first, last)
        draft = Draft(title, source=f"page {first + 1}" if first == last else f"pages {first + 1}-{last + 1}")
        draft.blocks = [Block(p) for page in paragraphs[first : last + 1] for p in page]
        if draft.blocks and not _starts_with(draft.blocks[0].text, title):
            draft.blocks.insert(0, Block(title, 1))
        drafts.append(draft)
    return finish(drafts)


def _outline_starts(reader) -> list[tuple[int, str]]:
    """(0-based first page, title) of the outline's top-level entries, in page order."""
    starts: dict[int, str] = {}
    for entry in reader.outline:
        if isinstance(entry, list):  # children of the entry before
            continue
        try:
            page = reader.get_destination_page_number(entry)
        except Exception:  # a destination pointing nowhere: leave it out
            continue
        title = " ".join(str(entry.title or "").split())
        if page is not None and page >= 0 and title and page not in starts:
            starts[page] = title
    return sorted(starts.items())


def _without_running_heads(pages: list[list[str]]) -> list[list[str]]:
    """Leaves out page numbers and the first or last line repeated on most pages."""
    def key(line: str) -> str:
        return re.sub(r"\d+", "#", " ".join(line.split()).lower())

    cleaned = [[line for line in lines if line.strip() and not _PAGE_NUMBER.match(line)] for lines in pages]
    if len(cleaned) >= 3:
        edges = Counter(key(lines[i]) for lines in cleaned if lines for i in {0, len(lines) - 1})
        running = {k for k, n in edges.items() if n > len(cleaned) / 2}
        cleaned = [
            [line for j, line in enumerate(lines) if not (j in (0, len(lines) - 1) and key(line) in running)]
            for lines in cleaned
        ]
    return cleaned


def _paragraphs(lines: list[str]) -> list[str]:
    lines = [" ".join(line.split()) for line in lines if line.strip()]
    if not lines:
        return []
    usual = sorted(len(line) for line in lines)[len(lines) // 2]
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if HEADING.match(line):  # "Chapter 3" on a line of its own: a paragraph of its own
            if current:
                paragraphs.append(current)
            paragraphs.append(line)
            current = ""
            continue
        if current.endswith("-") and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        if _SENTENCE_END.search(line) and len(line) < 0.8 * usual:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs



def _starts_with(text: str, title: str) -> bool:
    """Whether ``text`` starts with ``title`` (letters and digits compared, case ignored): a
    title line on the page is joined to the paragraph after it, so it is already said."""
    def plain(s: str) -> str:
        return "".join(c for c in s.lower() if c.isalnum())

    return plain(text[: len(title) * 2 + 20]).startswith(plain(title))
