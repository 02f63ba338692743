"""Real Office, OpenDocument, EPUB and RTF files for the tests, made with the libraries that read them
(python-docx, python-pptx, openpyxl, odfpy) or, for EPUB and RTF, written to their specifications."""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path

Rows = list[list[str]]


def make_docx(path: Path, paragraphs: list[str], table: Rows | None = None, title: str = "", author: str = "") -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = author
    document.core_properties.created = datetime.datetime(2024, 5, 6, 12, 0)
    document.add_heading(paragraphs[0], level=1)
    for text in paragraphs[1:]:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
        document.add_paragraph("The table above is from the field survey.")
    document.save(path)
    return path


def make_pptx(path: Path, slides: list[tuple[str, str, str]], title: str = "") -> Path:
    """Slides of (title, body text, speaker notes)."""
    import pptx

    presentation = pptx.Presentation()
    presentation.core_properties.title = title
    for heading, body, notes in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])  # title and content
        slide.shapes.title.text = heading
        slide.placeholders[1].text_frame.text = body
        slide.notes_slide.notes_text_frame.text = notes
    presentation.save(path)
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list[object]]], title: str = "") -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.properties.title = title
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def make_odt(path: Path, paragraphs: list[str], table: Rows | None = None, title: str = "", author: str = "") -> Path:
    from odf import dc
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, P

    document = OpenDocumentText()
    if title:
        document.meta.addElement(dc.Title(text=title))
    if author:
        document.meta.addElement(dc.Creator(text=author))
    document.meta.addElement(dc.Date(text="2023-11-20T09:30:00"))
    document.text.addElement(H(outlinelevel=1, text=paragraphs[0]))
    for text in paragraphs[1:]:
        document.text.addElement(P(text=text))
    if table:
        grid = Table(name="Survey")
        grid.addElement(TableColumn(numbercolumnsrepeated=len(table[0])))
        for values in table:
            row = TableRow()
            grid.addElement(row)
            for value in values:
                cell = TableCell()
                cell.addElement(P(text=value))
                row.addElement(cell)
        document.text.addElement(grid)
    document.save(str(path))
    return path


_CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""


def make_epub(path: Path, chapters: list[tuple[str, str]], title: str = "", creator: str = "") -> Path:
    """An EPUB 3 of (file name, XHTML body) chapters; the manifest lists them in reverse, the spine in order,
    so a reader that follows the manifest instead of the spine gets the order wrong."""
    items = "\n".join(
        f'<item id="c{n}" href="text/{name}" media-type="application/xhtml+xml"/>'
        for n, (name, _) in reversed(list(enumerate(chapters)))
    )
    spine = "\n".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
    opf = f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:12345678-1234-1234-1234-123456789abc</dc:identifier>
    <dc:title>{title}</dc:title><dc:creator>{creator}</dc:creator><dc:date>2022-09-15</dc:date>
    <dc:language>en</dc:language>
  </metadata>
  <manifest>{items}</manifest>
  <spine>{spine}</spine>
</package>"""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # first and stored, as EPUB asks
        archive.writestr("META-INF/container.xml", _CONTAINER, zipfile.ZIP_DEFLATED)
        archive.writestr("OEBPS/content.opf", opf, zipfile.ZIP_DEFLATED)
        for name, body in chapters:
            page = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{name}</title></head><body>{body}</body></html>"
            )
            archive.writestr(f"OEBPS/text/{name}", page, zipfile.ZIP_DEFLATED)
    return path


def make_rtf(path: Path, paragraphs: list[str], title: str = "") -> Path:
    """RTF 1.x written by hand (no maintained Python library writes it): a title in {\\info}, one \\par each."""
    info = f"{{\\info{{\\title {title}}}}}" if title else ""
    body = "".join(text.replace("é", "\\'e9") + "\\par\n" for text in paragraphs)
    path.write_bytes(f"{{\\rtf1\\ansi\\ansicpg1252\\deff0{{\\fonttbl{{\\f0 Arial;}}}}{info}\n{body}}}".encode("ascii"))
    return path
