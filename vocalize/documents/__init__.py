"""Documents read as a list of chapters: EPUB, Markdown, HTML, plain text and PDF.

:func:`read_document` picks the reader by the file's extension:

- ``.epub``: the spine's order, titles from the navigation document (EPUB 3 ``nav``, else
  the EPUB 2 ``toc.ncx``); a table-of-contents entry pointing inside a file cuts it there;
- ``.md``/``.markdown``: headings start chapters; code blocks, images and link targets are
  not read out, tables are read row by row as "header: cell";
- ``.html``/``.htm``/``.xhtml``: the visible text, headings starting chapters;
- ``.pdf``: pypdf's text per page, chapters from the outline (bookmarks);
- anything else: plain text, with blank lines between paragraphs and "Chapter 4" or
  "CHAPTER IV" lines starting chapters.

The parsers are an optional extra (``pip install 'vocalize[docs]'``: lxml, markdown-it-py,
pypdf); plain text needs none.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from ..errors import AssetError
from .chapters import Chapter
from .names import chapter_filename
from .selection import parse_chapters

__all__ = ["Chapter", "read_document", "DOCUMENT_SUFFIXES", "chapter_filename", "parse_chapters", "needs"]

EXTRA = "pip install 'vocalize[docs]'"
DOCUMENT_SUFFIXES = {
    ".epub": "epub",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}


def needs(module: str) -> ModuleType:
    """``module``, or an error naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise AssetError(f"reading documents needs {top}: {EXTRA}") from None


def read_document(path: str | os.PathLike[str], encoding: str | None = None) -> list[Chapter]:
    """The chapters of the document at ``path``, in reading order, numbered from 1.

    Chapters with nothing to say are kept, marked ``skipped`` with the reason. A file that
    cannot be read as its kind is an :class:`~vocalize.errors.InputError`."""
    from ..errors import InputError
    from ..textinput import read_text_file

    target = Path(path).expanduser()
    kind = DOCUMENT_SUFFIXES.get(target.suffix.lower(), "text")
    if not target.exists():
        raise InputError(f"no such file: {target}")
    if target.is_dir():
        raise InputError(f"{target} is a folder, not a document")
    if kind == "epub":
        from . import epub

        return epub.read(target)
    if kind == "pdf":
        from . import pdf

        return pdf.read(target)
    if kind == "html":
        from . import html

        data = _read_bytes(target)
        return html.read(_decode(data, encoding or html.sniff_encoding(data), target), target.stem)
    text = read_text_file(target, encoding).text
    if kind == "markdown":
        from . import markdown

        return markdown.read(text, target.stem)
    from . import plaintext

    return plaintext.read(text, target.stem)


def _read_bytes(target: Path) -> bytes:
    from ..errors import InputError

    try:
        return target.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {target}: {e.strerror or e}") from None


def _decode(data: bytes, encoding: str | None, target: Path) -> str:
    from ..textinput import decode_text

    return decode_text(data, encoding, name=str(target)).text
