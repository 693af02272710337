"""Markdown as chapters (markdown-it-py, CommonMark with tables and strikethrough).

Headings start chapters (see :func:`~vocalize.documents.chapters.split_at_headings`). What a
listener hears in place of what a reader sees:

- emphasis, links and inline code: their text (a link's target is not read);
- images: nothing (a chapter of only images is skipped as such);
- code blocks: "Code block skipped.";
- tables: one sentence per row, each cell after its column's header ("Name: Ada; Born: 1815.");
- list items: a paragraph each, numbered items with their number;
- inline and block HTML: its visible text; YAML front matter: nothing.
"""

from __future__ import annotations

import re

from . import needs
from .chapters import CODE_BLOCK, Block, Chapter, clean, finish, split_at_headings

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def read(text: str, default_title: str) -> list[Chapter]:
    markdown_it = needs("markdown_it")
    text, offset = _without_front_matter(text)
    parser = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = parser.parse(text)
    blocks, images_at = _blocks(tokens, offset)
    return finish(split_at_headings(blocks, default_title, images_at))


def _without_front_matter(text: str) -> tuple[str, int]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, 0
    front = match.group(0)
    return text[len(front):], front.count("\n")


def _blocks(tokens, offset: int) -> tuple[list[Block], dict[int, int]]:
    blocks: list[Block] = []
    images_at: dict[int, int] = {}
    lists: list[list[int]] = []  # per open list: [next number] (or [-1] when bulleted)
    item_prefix = ""
    table: list[list[str]] | None = None
    table_map = None
    i = 0

    def lines(token) -> tuple[int | None, int | None]:
        if token.map is None:
            return None, None
        return token.map[0] + 1 + offset, token.map[1] + offset

    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            inline = tokens[i + 1]
            text, images = _inline(inline.children or [])
            _count(images_at, len(blocks), images)
            if text:
                blocks.append(Block(text, int(token.tag[1]), *lines(token)))
            i += 3
            continue
        if kind == "ordered_list_open":
            lists.append([int(token.attrGet("start") or 1)])
        elif kind == "bullet_list_open":
            lists.append([-1])
        elif kind in ("ordered_list_close", "bullet_list_close"):
            lists.pop()
        elif kind == "list_item_open" and lists:
            number = lists[-1][0]
            item_prefix = f"{number}. " if number >= 0 else ""
            if number >= 0:
                lists[-1][0] += 1
        elif kind == "inline" and table is None:
            text, images = _inline(token.children or [])
            _count(images_at, len(blocks), images)
            if text:
                blocks.append(Block(item_prefix + text, 0, *lines(token)))
            item_prefix = ""
        elif kind in ("fence", "code_block"):
            blocks.append(Block(CODE_BLOCK, 0, *lines(token)))
        elif kind == "html_block":
            from .html import parse

            extract = parse(token.content)
            _count(images_at, len(blocks), extract.images)
            start, end = lines(token)
            blocks.extend(Block(b.text, 0, start, end) for b in extract.blocks if b.text)
        elif kind == "table_open":
            table, table_map = [], token
        elif kind == "tr_open" and table is not None:
            table.append([])
        elif kind == "inline" and table is not None:
            text, images = _inline(token.children or [])
            _count(images_at, len(blocks), images)
            table[-1].append(text)
        elif kind == "table_close" and table is not None:
            blocks.extend(Block(row, 0, *lines(table_map)) for row in _table_rows(table))
            table = None
        i += 1
    return blocks, images_at


def _count(images_at: dict[int, int], index: int, images: int) -> None:
    if images:
        images_at[index] = images_at.get(index, 0) + images


def _inline(children) -> tuple[str, int]:
    """The spoken text of an inline token's children, and the number of images in them."""
    parts: list[str] = []
    images = 0
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "image":
            images += 1
        elif kind == "html_inline":
            if re.match(r"<br\s*/?>", child.content, re.I):
                parts.append("\n")
            elif child.content.lower().startswith("<img"):
                images += 1
    return clean("".join(parts)), images


def _table_rows(rows: list[list[str]]) -> list[str]:
    """Body rows as "header: cell; header: cell." (cells of an empty header alone)."""
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not body:
        return [_sentence("; ".join(c for c in header if c))]
    spoken = []
    for row in body:
        cells = [f"{h}: {c}" if h else c for h, c in zip(header + [""] * len(row), row) if c]
        if cells:
            spoken.append(_sentence("; ".join(cells)))
    return spoken


def _sentence(text: str) -> str:
    return text if not text or text[-1] in ".!?;:" else text + "."
