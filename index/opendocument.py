"""OpenDocument text (.odt), read with odfpy: headings, paragraphs, lists and tables in order.

Tables are rendered row by row (index.tables). Title, authors and date come
from the file's meta.xml (dc:title, dc:creator or meta:initial-creator, dc:date
or meta:creation-date). A password-protected file (its manifest declares
encryption data) is refused with that reason.
"""

from __future__ import annotations

import io

from index.containers import check_package, read_member
from index.errors import DocumentLoadError
from index.tables import TextBuilder
from index.titles import meaningful_author

__all__ = ["read_odt"]

_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_DC = "http://purl.org/dc/elements/1.1/"
_META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
_PARAGRAPHS = {(_TEXT, "p"), (_TEXT, "h")}
# A cell repeated more than this many times is the empty rest of a row, written once.
_MAX_REPEAT = 50


def _text_of(element) -> str:
    from odf import teletype

    return teletype.extractText(element)


def _table_rows(table) -> list[list[object]]:
    from odf.table import TableRow

    rows: list[list[object]] = []
    for row in table.getElementsByType(TableRow):
        cells: list[object] = []
        for cell in row.childNodes:
            if cell.qname == (_TABLE, "table-cell"):
                repeat = int(cell.getAttrNS(_TABLE, "number-columns-repeated") or 1)
                value = " ".join(_text_of(p) for p in cell.childNodes if p.qname in _PARAGRAPHS)
                cells.extend([value] * min(repeat, _MAX_REPEAT))
        rows.append(cells)
    return rows


def _blocks(element, text: TextBuilder) -> None:
    for child in element.childNodes:
        qname = getattr(child, "qname", None)
        if qname in _PARAGRAPHS:
            text.paragraph(_text_of(child))
        elif qname == (_TABLE, "table"):
            text.table(_table_rows(child))
        elif qname is not None:  # lists, sections, frames: their paragraphs, in order
            _blocks(child, text)


def _metadata(document) -> dict[str, object]:
    values: dict[tuple[str, str], str] = {}
    for node in document.meta.childNodes:
        qname = getattr(node, "qname", None)
        if qname is not None and qname not in values:
            values[qname] = _text_of(node).strip()
    fields: dict[str, object] = {}
    if values.get((_DC, "title")):
        fields["title"] = values[(_DC, "title")]
    author = meaningful_author(values.get((_DC, "creator")) or values.get((_META, "initial-creator")))
    if author:
        fields["authors"] = (author,)
    day = values.get((_DC, "date")) or values.get((_META, "creation-date"))
    if day:
        fields["date"] = day[:10]
    return fields


def read_odt(data: bytes) -> dict[str, object]:
    archive = check_package(data, ".odt")
    if b"encryption-data" in read_member(archive, "META-INF/manifest.xml", ".odt"):
        raise DocumentLoadError("encrypted (password-protected) .odt file: open it, remove the password, save it")
    from odf.opendocument import load

    try:
        document = load(io.BytesIO(data))
        text = TextBuilder()
        _blocks(document.text, text)
        metadata = _metadata(document)
    except DocumentLoadError:
        raise
    except Exception as error:  # odfpy raises KeyError, xml.sax errors... for a damaged part
        raise DocumentLoadError(f"damaged .odt file ({type(error).__name__}: {error})") from error
    return {**text.fields(), **metadata}
