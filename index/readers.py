"""One reader per file format: the file's bytes in, its text and metadata fields out.

A reader returns a dict with at least "text" (the exact text the index stores; every
offset and quote refers to it) and any of Document's metadata fields ("title",
"authors", "date", "url", "publisher", "page_starts", "extra", "tables"). It raises
DocumentLoadError with a reason a person can act on; `index.loaders.load_file`
turns anything else into one. A new format is a reader here and one entry in
READERS (discovery and uploads take their suffixes from it).
"""

from __future__ import annotations

from collections.abc import Callable

from index.ebook import read_epub
from index.encoding import decode_text
from index.errors import DocumentLoadError
from index.front_matter import read_markdown
from index.ocr import read_image
from index.office import read_docx, read_pptx
from index.opendocument import read_odt
from index.pdf import read_pdf
from index.rtf import read_rtf
from index.spreadsheets import read_csv, read_xlsx
from index.tables import rewrite_pipe_tables

__all__ = ["READERS", "Reader", "decode_text"]

Reader = Callable[[bytes], dict[str, object]]


def _read_text(data: bytes) -> dict[str, object]:
    return {"text": decode_text(data)}


def _with_tables(fields: dict[str, object], *, headerless: bool = False) -> dict[str, object]:
    """Pipe tables in the text (Markdown's, and those trafilatura writes for HTML) rendered row by row."""
    text = str(fields["text"])
    if "|" in text:
        fields["text"], tables = rewrite_pipe_tables(text, headerless=headerless)
        if tables:
            fields["tables"] = tables
    return fields


def _read_markdown(data: bytes) -> dict[str, object]:
    return _with_tables(read_markdown(decode_text(data)))


def _read_html(data: bytes) -> dict[str, object]:
    html = decode_text(data)
    # trafilatura finds the main text of a page and drops menus, footers and ads.
    import trafilatura

    extracted = trafilatura.bare_extraction(html, include_comments=False, include_tables=True, with_metadata=True)
    if extracted is None or not (extracted.text or "").strip():
        raise DocumentLoadError("no main text found in the HTML page")
    fields: dict[str, object] = _with_tables({"text": extracted.text}, headerless=True)
    if extracted.title:
        fields["title"] = extracted.title
    if extracted.author:
        fields["authors"] = tuple(a.strip() for a in extracted.author.split(";") if a.strip())
    if extracted.date:
        fields["date"] = extracted.date
    if extracted.url:
        fields["url"] = extracted.url
    if extracted.sitename:
        fields["publisher"] = extracted.sitename
    return fields


READERS: dict[str, Reader] = {
    ".txt": _read_text,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,  # Office, OpenDocument and e-books: index.office, index.opendocument, index.ebook
    ".pptx": read_pptx,
    ".odt": read_odt,
    ".epub": read_epub,
    ".rtf": read_rtf,
    ".xlsx": read_xlsx,  # tables: index.spreadsheets
    ".csv": read_csv,
    ".png": read_image,  # images: text recognised by Tesseract (index.ocr), skipped with a reason without it
    ".jpg": read_image,
    ".jpeg": read_image,
    ".tif": read_image,
    ".tiff": read_image,
}
