"""EPUB e-books, read with the standard zipfile and lxml: the chapters in reading order.

An EPUB is a zip holding XHTML chapters and a package file (the OPF) whose
spine lists the chapters in reading order; META-INF/container.xml says where
the OPF is. Each chapter becomes paragraphs (headings, paragraphs, list items,
quotations) and tables rendered row by row (index.tables). Title, authors and
date come from the OPF's Dublin Core metadata (dc:title, dc:creator, dc:date).

A book whose chapters are encrypted (DRM; META-INF/encryption.xml naming them)
is refused with that reason; fonts obfuscated the standard way are not DRM.
XML is parsed without entities or network access (no billion-laughs, no XXE).
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

from index.containers import check_package, read_member
from index.errors import DocumentLoadError
from index.tables import TextBuilder, clean_cell
from index.titles import meaningful_author

__all__ = ["read_epub"]

_NS = {
    "container": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "enc": "http://www.w3.org/2001/04/xmlenc#",
}
_CHAPTER_TYPES = ("application/xhtml+xml", "text/html")
# Elements whose text is one paragraph when nothing block-level is inside them.
_BLOCKS = frozenset(
    "p h1 h2 h3 h4 h5 h6 li dt dd blockquote pre div section article aside header footer figcaption caption "
    "address td th tr table ul ol dl body nav main figure".split()
)
_SKIPPED = frozenset("script style head title".split())


def _xml(data: bytes, what: str):
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise DocumentLoadError(f"damaged .epub file: {what} is not valid XML ({error})") from error


def _html(data: bytes):
    import lxml.html

    try:
        return lxml.html.document_fromstring(data)
    except Exception as error:  # lxml raises ParserError for an empty document
        raise DocumentLoadError(f"damaged .epub file: a chapter cannot be parsed ({error})") from error


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _holding_blocks(body) -> set:
    """The elements that have a block-level element inside them (found in one pass, not one per element)."""
    holding: set = set()
    for element in body.iter():
        if _local(element.tag) in _BLOCKS:
            for ancestor in element.iterancestors():
                if ancestor in holding:
                    break
                holding.add(ancestor)
    return holding


def _chapter_blocks(element, text: TextBuilder, holding: set) -> None:
    """Write an element's text: a table row by row, a block without inner blocks as one paragraph."""
    tag = _local(element.tag)
    if tag in _SKIPPED:
        return
    if tag == "table":
        rows = [
            [clean_cell(" ".join(cell.itertext())) for cell in row if _local(cell.tag) in ("td", "th")]
            for row in element.iter()
            if _local(row.tag) == "tr"
        ]
        text.table(rows)  # type: ignore[arg-type]
        return
    if element not in holding:
        text.paragraph(" ".join("".join(element.itertext()).split()))
        return
    if element.text and element.text.strip():
        text.paragraph(" ".join(element.text.split()))
    for child in element:
        _chapter_blocks(child, text, holding)
        if child.tail and child.tail.strip():
            text.paragraph(" ".join(child.tail.split()))


def _drm_protected(archive, chapters: set[str]) -> bool:
    if "META-INF/encryption.xml" not in archive.namelist():
        return False
    encryption = _xml(read_member(archive, "META-INF/encryption.xml", ".epub"), "META-INF/encryption.xml")
    for reference in encryption.iter(f"{{{_NS['enc']}}}CipherReference"):
        if unquote(reference.get("URI", "")) in chapters:
            return True
    return False


def read_epub(data: bytes) -> dict[str, object]:
    archive = check_package(data, ".epub")
    container = _xml(read_member(archive, "META-INF/container.xml", ".epub"), "META-INF/container.xml")
    rootfile = container.find(".//container:rootfile", _NS)
    if rootfile is None or not rootfile.get("full-path"):
        raise DocumentLoadError("damaged .epub file: META-INF/container.xml names no package (OPF) file")
    opf_path = rootfile.get("full-path")
    package = _xml(read_member(archive, opf_path, ".epub"), opf_path)
    folder = posixpath.dirname(opf_path)
    manifest = {
        item.get("id"): (
            posixpath.normpath(posixpath.join(folder, unquote(item.get("href", "")))),
            item.get("media-type"),
        )
        for item in package.iterfind(".//opf:manifest/opf:item", _NS)
    }
    idrefs = [ref.get("idref") for ref in package.iterfind(".//opf:spine/opf:itemref", _NS)]
    spine = [manifest[idref] for idref in idrefs if idref in manifest]
    chapters = [path for path, media_type in spine if media_type in _CHAPTER_TYPES]
    if not chapters:
        raise DocumentLoadError("damaged .epub file: its spine lists no chapters")
    if _drm_protected(archive, set(chapters)):
        raise DocumentLoadError("encrypted (DRM-protected) .epub file: only books without DRM can be read")
    text = TextBuilder()
    for path in chapters:
        body = _html(read_member(archive, path, ".epub")).find("body")
        if body is not None:
            _chapter_blocks(body, text, _holding_blocks(body))
    return {**text.fields(), **_metadata(package)}


def _metadata(package) -> dict[str, object]:
    fields: dict[str, object] = {}
    title = package.findtext(".//dc:title", namespaces=_NS)
    if title and title.strip():
        fields["title"] = " ".join(title.split())
    authors = [meaningful_author(creator.text) for creator in package.iterfind(".//dc:creator", _NS)]
    if any(authors):
        fields["authors"] = tuple(a for a in authors if a)
    day = package.findtext(".//dc:date", namespaces=_NS)
    if day and day.strip():
        fields["date"] = day.strip()[:10] if day.strip()[:4].isdigit() else day.strip()
    return fields
