"""EPUB 2 and 3 books as chapters: the standard library's zipfile, lxml for the XML.

The package document (OPF, found through ``META-INF/container.xml``) gives the spine: the
reading order. Titles come from the navigation document: EPUB 3's ``nav`` (its ``toc``
list), else EPUB 2's NCX. Each spine file with a table-of-contents entry starts a chapter;
an entry pointing at an anchor inside a file (``ch1.xhtml#part2``) cuts the file there; a
spine file without an entry continues the chapter before it (books split long chapters
into several files), or, before the first entry, is a chapter of its own (cover, title
page). Spine items marked ``linear="no"``, the navigation document itself and items that
are not (X)HTML are listed as skipped. A book whose content is encrypted (DRM, declared in
``META-INF/encryption.xml``; obfuscated fonts alone do not count) is refused.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urldefrag

from ..errors import InputError
from . import needs
from .chapters import Block, Chapter, Draft, finish, title_first
from .html import parse, sniff_encoding

# Font obfuscation (IDPF and Adobe): not DRM, the text is readable.
FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
MAX_MEMBER = 64 << 20  # bytes of one file in the book, uncompressed
XHTML_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/x-dtbook+xml"})


@dataclass
class Item:
    href: str  # path inside the archive
    media_type: str
    properties: str


def read(path: Path) -> list[Chapter]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError(f"{path} is not an EPUB: not a ZIP archive (damaged or another format)") from None
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    with archive:
        return _Book(path, archive).chapters()


class _Book:
    def __init__(self, path: Path, archive: zipfile.ZipFile) -> None:
        self.path, self.archive = path, archive
        self.etree = needs("lxml.etree")
        self.names = set(archive.namelist())

    def fail(self, why: str) -> InputError:
        return InputError(f"{self.path} is not a readable EPUB: {why}")

    def member(self, name: str) -> bytes:
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise self.fail(f"{name} is missing") from None
        if info.file_size > MAX_MEMBER:
            raise self.fail(f"{name} is larger than {MAX_MEMBER >> 20} MB")
        try:
            with self.archive.open(info) as f:
                return f.read(MAX_MEMBER + 1)[:MAX_MEMBER]
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as e:
            raise self.fail(f"{name} cannot be unpacked ({e})") from None

    def xml(self, name: str):
        parser = self.etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
        try:
            root = self.etree.fromstring(self.member(name), parser)
        except self.etree.XMLSyntaxError as e:
            raise self.fail(f"{name} is not XML ({e})") from None
        if root is None:
            raise self.fail(f"{name} is not XML")
        return root

    def check_drm(self) -> None:
        for name in ("META-INF/rights.xml", "META-INF/sinf.xml"):
            if name in self.names:
                raise InputError(f"{self.path} is DRM-protected ({name}); vocalize reads only DRM-free books")
        if "META-INF/encryption.xml" not in self.names:
            return
        try:
            root = self.xml("META-INF/encryption.xml")
        except InputError:
            raise InputError(f"{self.path} declares encrypted content (an unreadable META-INF/encryption.xml)") from None
        for data in root.iter("{*}EncryptedData"):
            method = data.find("{*}EncryptionMethod")
            algorithm = method.get("Algorithm", "") if method is not None else ""
            if algorithm not in FONT_OBFUSCATION:
                reference = data.find(".//{*}CipherReference")
                uri = reference.get("URI", "?") if reference is not None else "?"
                raise InputError(
                    f"{self.path} is DRM-protected: its content is encrypted ({uri}); vocalize reads only DRM-free books"
                )

    def package_path(self) -> str:
        if "META-INF/container.xml" in self.names:
            for rootfile in self.xml("META-INF/container.xml").iter("{*}rootfile"):
                full = rootfile.get("full-path")
                if full and (rootfile.get("media-type") in (None, "application/oebps-package+xml")):
                    if full not in self.names:
                        raise self.fail(f"its package document {full} is missing")
                    return full
        candidates = sorted(n for n in self.names if n.lower().endswith(".opf"))
        if len(candidates) == 1:
            return candidates[0]
        raise self.fail("no package document (OPF)" if not candidates else "several package documents and no container.xml")

    def chapters(self) -> list[Chapter]:
        self.check_drm()
        opf_path = self.package_path()
        opf = self.xml(opf_path)
        base = posixpath.dirname(opf_path)
        items: dict[str, Item] = {}
        manifest = opf.find("{*}manifest")
        for element in manifest.iter("{*}item") if manifest is not None else ():
            ident, href = element.get("id"), element.get("href")
            if ident and href:
                items[ident] = Item(_join(base, href), element.get("media-type", ""), element.get("properties", ""))
        spine = opf.find("{*}spine")
        if spine is None:
            raise self.fail(f"{opf_path} has no spine (reading order)")
        refs = [(r.get("idref", ""), r.get("linear", "yes")) for r in spine.iter("{*}itemref")]
        if not refs:
            raise self.fail(f"{opf_path} has an empty spine")
        nav = next((i for i in items.values() if "nav" in i.properties.split()), None)
        ncx = items.get(spine.get("toc", "")) or next(
            (i for i in items.values() if i.media_type == "application/x-dtbncx+xml"), None
        )
        toc = self.nav_toc(nav.href) if nav and nav.href in self.names else []
        if not toc and ncx and ncx.href in self.names:
            toc = self.ncx_toc(ncx.href)
        return self.cut(refs, items, toc, nav.href if nav else None)

    def nav_toc(self, href: str) -> list[tuple[str, str, str]]:
        """(file, fragment, title) of the nav document's ``toc`` list, in order."""
        lxml_html = needs("lxml.html")
        data = self.member(href)
        try:
            root = lxml_html.document_fromstring(data, parser=lxml_html.HTMLParser(encoding=sniff_encoding(data) or "utf-8"))
        except (self.etree.ParserError, ValueError, LookupError):
            return []
        navs = root.iter("nav")
        toc = next((n for n in navs if "toc" in (n.get("epub:type", "") + " " + n.get("role", "")).split()), None)
        if toc is None:
            toc = next(root.iter("nav"), None)
        if toc is None:
            return []
        base = posixpath.dirname(href)
        entries = []
        for link in toc.iter("a"):
            target = link.get("href")
            title = " ".join(link.text_content().split())
            if target and title:
                entries.append((*_target(base, target), title))
        return entries

    def ncx_toc(self, href: str) -> list[tuple[str, str, str]]:
        root = self.xml(href)
        base = posixpath.dirname(href)
        entries = []
        for point in root.iter("{*}navPoint"):
            label = point.find("{*}navLabel/{*}text")
            content = point.find("{*}content")
            if label is None or content is None or not content.get("src"):
                continue
            title = " ".join((label.text or "").split())
            if title:
                entries.append((*_target(base, content.get("src")), title))
        return entries

    def cut(self, refs, items: dict[str, Item], toc, nav_href: str | None) -> list[Chapter]:
        by_file: dict[str, list[tuple[str, str]]] = {}
        for file, fragment, title in toc:
            entries = by_file.setdefault(file, [])
            if (fragment, title) not in entries and not any(f == fragment for f, _ in entries):
                entries.append((fragment, title))
        drafts: list[Draft] = []
        started = False  # a file with a table-of-contents entry came already
        for number, (idref, linear) in enumerate(refs, 1):
            item = items.get(idref)
            if item is None:
                drafts.append(_skipped(f"Item {number}", idref or "?", "not in the manifest"))
                continue
            if item.href == nav_href:
                drafts.append(_skipped("Table of contents", item.href, "the table of contents"))
                continue
            title = dict(by_file.get(item.href, [])).get("", item.href)
            if linear == "no":
                drafts.append(_skipped(title, item.href, "outside the reading order (linear=no)"))
                continue
            if item.media_type not in XHTML_TYPES:
                drafts.append(_skipped(title, item.href, f"not a text document ({item.media_type or 'no type'})"))
                continue
            if item.href not in self.names:
                drafts.append(_skipped(title, item.href, "missing from the archive"))
                continue
            entries = by_file.get(item.href, [])
            drafts.extend(self.file_drafts(item.href, entries, drafts if started else []))
            started = started or bool(entries)
        return finish(drafts)

    def file_drafts(self, href: str, entries: list[tuple[str, str]], before: list[Draft]) -> list[Draft]:
        """The drafts one spine file adds; a file without an entry of its own continues the
        last draft of ``before`` instead, if there is one."""
        from ..textinput import decode_text

        data = self.member(href)
        try:
            markup = decode_text(data, sniff_encoding(data)).text
        except InputError as e:
            return [_skipped(dict(entries).get("", href), href, str(e).removeprefix("input "))]
        anchors = frozenset(f for f, _ in entries if f)
        extract = parse(markup, anchors)
        titles = dict(entries)
        out: list[Draft] = []
        current: Draft | None = None
        if "" in titles:
            current = Draft(titles[""], source=href)
            out.append(current)
        elif before and not before[-1].skipped and not (anchors and _starts_with_anchor(extract.blocks)):
            current = before[-1]  # a file with no entry of its own continues the chapter before
            current.source = _extend_source(current.source, href)
        for index, block in enumerate(extract.blocks):
            for anchor in block.anchors:
                if anchor in titles:
                    current = Draft(titles[anchor], source=f"{href}#{anchor}")
                    out.append(current)
            if current is None:
                current = Draft("", source=href)
                out.append(current)
            if block.text:
                current.blocks.append(block)
            current.images += extract.images_at.get(index, 0)
        if current is None:
            current = Draft(extract.title, source=href)
            out.append(current)
        current.images += extract.images_at.get(len(extract.blocks), 0)
        for draft in out:
            if not draft.title:
                draft.title = next((b.text for b in draft.blocks if b.heading), "") or extract.title
            title_first(draft)
        return out


def _starts_with_anchor(blocks: list[Block]) -> bool:
    return bool(blocks and blocks[0].anchors)


def _extend_source(source: str, href: str) -> str:
    """"a.xhtml to c.xhtml": the files a chapter spans."""
    return f"{source.split(' to ')[0]} to {href}"


def _skipped(title: str, source: str, reason: str) -> Draft:
    return Draft(title, source=source, skipped=reason)


def _join(base: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(base, unquote(href))).lstrip("/")


def _target(base: str, href: str) -> tuple[str, str]:
    path, fragment = urldefrag(href)
    return _join(base, path), unquote(fragment)

