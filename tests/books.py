"""EPUB books built for the tests: zipfile, a minimal OPF, an EPUB 3 nav or an EPUB 2 NCX."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape

# Ten short chapters of public-domain prose (Lewis Carroll, Alice's Adventures in Wonderland),
# one or two sentences each so that speaking them is quick.
TEN_CHAPTERS = [
    ("Down the Rabbit-Hole", "Alice was beginning to get very tired of sitting by her sister on the bank."),
    ("The Pool of Tears", "Curiouser and curiouser, cried Alice."),
    ("A Caucus-Race and a Long Tale", "They were indeed a queer-looking party that assembled on the bank."),
    ("The Rabbit Sends in a Little Bill", "It was the White Rabbit, trotting slowly back again."),
    ("Advice from a Caterpillar", "The Caterpillar and Alice looked at each other for some time in silence."),
    ("Pig and Pepper", "For a minute or two she stood looking at the house."),
    ("A Mad Tea-Party", "There was a table set out under a tree in front of the house."),
    ("The Queen's Croquet-Ground", "A large rose-tree stood near the entrance of the garden."),
    ("The Mock Turtle's Story", "You can't think how glad I am to see you again, you dear old thing!"),
    ("Who Stole the Tarts?", "The King and Queen of Hearts were seated on their throne when they arrived."),
]

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""


def chapter_xhtml(title: str, body: str, heading: bool = True) -> str:
    head = f"<h1>{escape(title)}</h1>" if heading else ""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>{escape(title)}</title><style>p {{ margin: 0 }}</style></head>
<body>{head}{body}</body>
</html>"""


def epub_files(
    chapters: list[tuple[str, str]] = TEN_CHAPTERS,
    nav: str = "nav",
    raw_bodies: bool = False,
    headings: bool = True,
) -> dict[str, bytes]:
    """The files of a book: chapter i is ``OEBPS/text/chNN.xhtml``; ``nav`` is "nav"
    (EPUB 3), "ncx" (EPUB 2) or "none". Bodies are paragraphs unless ``raw_bodies``."""
    files: dict[str, bytes] = {"mimetype": b"application/epub+zip", "META-INF/container.xml": CONTAINER.encode()}
    manifest, spine, points, links = [], [], [], []
    for i, (title, body) in enumerate(chapters, 1):
        name = f"text/ch{i:02d}.xhtml"
        markup = body if raw_bodies else f"<p>{escape(body)}</p>"
        files[f"OEBPS/{name}"] = chapter_xhtml(title, markup, headings).encode()
        manifest.append(f'<item id="ch{i}" href="{name}" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="ch{i}"/>')
        links.append(f'<li><a href="{name}">{escape(title)}</a></li>')
        points.append(
            f'<navPoint id="p{i}" playOrder="{i}"><navLabel><text>{escape(title)}</text></navLabel>'
            f'<content src="{name}"/></navPoint>'
        )
    if nav == "nav":
        manifest.append('<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>')
        files["OEBPS/nav.xhtml"] = f"""<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head>
<body><nav epub:type="toc"><h1>Contents</h1><ol>{''.join(links)}</ol></nav>
<nav epub:type="landmarks"><ol><li><a epub:type="bodymatter" href="text/ch01.xhtml">Start</a></li></ol></nav></body></html>""".encode()
    toc_attr = ""
    if nav == "ncx":
        manifest.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
        toc_attr = ' toc="ncx"'
        files["OEBPS/toc.ncx"] = f"""<?xml version="1.0" encoding="UTF-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><head/><docTitle><text>Book</text></docTitle>
<navMap>{''.join(points)}</navMap></ncx>""".encode()
    version = "3.0" if nav == "nav" else "2.0"
    files["OEBPS/content.opf"] = f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="{version}" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">test-book</dc:identifier>
    <dc:title>Alice</dc:title><dc:language>en</dc:language></metadata>
  <manifest>{''.join(manifest)}</manifest>
  <spine{toc_attr}>{''.join(spine)}</spine>
</package>""".encode()
    return files


def write_epub(path: Path, files: dict[str, bytes] | None = None, change: Callable[[dict[str, bytes]], None] | None = None) -> Path:
    """Writes ``files`` (default: the ten-chapter book) as an EPUB, after ``change(files)``."""
    files = dict(epub_files() if files is None else files)
    if change:
        change(files)
    with zipfile.ZipFile(path, "w") as z:
        if "mimetype" in files:
            z.writestr(zipfile.ZipInfo("mimetype"), files.pop("mimetype"), compress_type=zipfile.ZIP_STORED)
        for name, data in files.items():
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path
