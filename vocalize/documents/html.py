"""The visible text of HTML and XHTML, as paragraphs and headings (lxml's HTML parser).

Scripts, styles, forms, embedded media and anything hidden are left out; block elements
(paragraphs, list items, headings, table rows, ...) become paragraphs; images are not read
(they are counted, so a chapter of only images can be told apart from an empty one);
footnote markers and page-break markers are dropped; ruby annotations (furigana) are left
out in favour of the text they annotate; ``<pre><code>`` is a code block, not read out.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from . import needs
from .chapters import CODE_BLOCK, Block, Draft, clean, finish, split_at_headings

BLOCKS = frozenset(
    "address article aside blockquote body caption center dd details dialog div dl dt fieldset figcaption "
    "figure footer form header hgroup hr legend li main nav ol p pre section summary table tbody td tfoot th "
    "thead tr ul".split()
)
HEADINGS = {f"h{i}": i for i in range(1, 7)}
SKIPPED = frozenset(
    "applet area audio button canvas datalist embed head iframe input map math meter noscript object "
    "option progress rp rt script select source style svg template textarea title track video".split()
)
IMAGES = frozenset({"img", "svg", "image", "picture"})
# epub:type / role values of markers that mean nothing read aloud.
MARKERS = frozenset({"noteref", "pagebreak", "doc-noteref", "doc-pagebreak", "doc-backlink", "backlink"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_NOTE_MARK = re.compile(r"^[\s\[\(]*[0-9*†‡§a-z]{1,3}[\]\)\s]*$")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")


@dataclass
class Extract:
    blocks: list[Block] = field(default_factory=list)
    images_at: dict[int, int] = field(default_factory=dict)  # images seen before block i
    title: str = ""  # the <title>

    @property
    def images(self) -> int:
        return sum(self.images_at.values())


def sniff_encoding(data: bytes) -> str | None:
    """The encoding an HTML or XHTML file declares (XML declaration or meta charset)."""
    for pattern in (_XML_ENCODING, _META_CHARSET):
        match = pattern.search(data[:4096])
        if match:
            name = match.group(1).decode("ascii")
            try:
                return codecs.lookup(name).name
            except LookupError:  # a name no codec knows: read it as UTF-8
                return None
    return None


def parse(markup: str, anchors: frozenset[str] = frozenset()) -> Extract:
    """Paragraphs and headings of ``markup``. An element whose id is in ``anchors`` starts
    a new block that records the id (so a file can be cut where a table of contents points)."""
    lxml_html, etree = needs("lxml.html"), needs("lxml.etree")
    markup = _XML_DECLARATION.sub("", markup, count=1)
    out = Extract()
    if not markup.strip():
        return out
    try:
        root = lxml_html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return out
    title = root.find(".//title")
    if title is not None and title.text:
        out.title = " ".join(title.text.split())
    walker = _Walker(out, anchors)
    walk = etree.iterwalk(root, events=("start", "end"))
    for event, element in walk:
        if event == "start":
            if walker.start(element):
                walk.skip_subtree()
        else:
            walker.end(element)
    walker.flush()
    return out


class _Walker:
    def __init__(self, out: Extract, anchors: frozenset[str]) -> None:
        self.out, self.anchors = out, anchors
        self.parts: list[str] = []
        self.heading = 0
        self.start_line: int | None = None
        self.pending_anchors: list[str] = []

    def flush(self) -> None:
        text = clean("".join(self.parts))
        if text or self.pending_anchors:
            self.out.blocks.append(Block(text, self.heading, self.start_line, self.start_line, self.pending_anchors))
            self.pending_anchors = []
        self.parts, self.heading, self.start_line = [], 0, None

    def add(self, text: str | None, element) -> None:
        if text:
            if self.start_line is None and text.strip():
                self.start_line = element.sourceline
            self.parts.append(text.replace("\n", " "))  # only <br> breaks a line

    def start(self, element) -> bool:
        """Handles an opening tag; True when its content is to be left out."""
        tag = _tag(element)
        ident = element.get("id") or (element.get("name") if tag == "a" else None)
        if ident and ident in self.anchors:
            self.flush()
            self.pending_anchors.append(ident)
        if not tag:  # comment or processing instruction
            return True
        if tag in IMAGES:
            index = len(self.out.blocks)
            self.out.images_at[index] = self.out.images_at.get(index, 0) + 1
        if tag in SKIPPED or tag in IMAGES or self._hidden(element) or self._marker(element, tag):
            return True
        if tag == "pre" and element.find(".//code") is not None:
            self.flush()
            self.out.blocks.append(Block(CODE_BLOCK, 0, element.sourceline, element.sourceline, self.pending_anchors))
            self.pending_anchors = []
            return True
        if tag in HEADINGS:
            self.flush()
            self.heading = HEADINGS[tag]
        elif tag in BLOCKS:
            self.flush()
        elif tag == "br":
            self.parts.append("\n")
        self.add(element.text, element)
        return False

    def end(self, element) -> None:
        tag = _tag(element)
        if tag in HEADINGS or tag in BLOCKS:
            self.flush()
        self.add(element.tail, element)

    @staticmethod
    def _hidden(element) -> bool:
        return (
            element.get("hidden") is not None
            or element.get("aria-hidden", "").lower() == "true"
            or bool(_HIDDEN_STYLE.search(element.get("style", "")))
        )

    @staticmethod
    def _marker(element, tag: str) -> bool:
        kinds = set((element.get("epub:type", "") + " " + element.get("role", "")).lower().split())
        if kinds & MARKERS:
            return True
        # <sup><a href="#note3">3</a></sup>: a footnote marker
        if tag == "sup" and element.find(".//a") is not None:
            return bool(_NOTE_MARK.match(element.text_content()))
        return False


def _tag(element) -> str:
    """The lower-case local name of an element ("" for a comment)."""
    if not isinstance(element.tag, str):
        return ""
    return element.tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def read(markup: str, default_title: str) -> list:
    """The chapters of an HTML document: its headings start chapters (see
    :func:`~vocalize.documents.chapters.split_at_headings`)."""
    extract = parse(markup)
    drafts: list[Draft] = split_at_headings(extract.blocks, extract.title or default_title, extract.images_at)
    return finish(drafts)
