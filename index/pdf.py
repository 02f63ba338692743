"""PDF text with page offsets, read with pypdf; wrapped lines joined into sentences; OCR for pages without text.

pypdf gives each page's text as lines, and where each line sits on the page. index.lines joins the
lines a sentence wraps over (and hyphenated line ends), keeps paragraph breaks, and records where each
page starts in the joined text, so a quote is a whole sentence and its page is exact. A page with no
text layer (a scan) is read by Tesseract (index.ocr) when it is installed; a PDF in which no page has
text is skipped without it, with the reason naming what to install, while a PDF with some text keeps
that text (its scanned pages stay empty).
"""

from __future__ import annotations

import math
from typing import Any

from index.errors import DocumentLoadError
from index.lines import Line, join_pages
from index.ocr import OCR_MISSING_REASON, ocr_available, ocr_pdf_pages
from index.types import Span

__all__ = ["PDF_TEXT_VERSION", "read_pdf"]

# Raise this whenever the stored text of a PDF changes for the same file: the content hash is of the
# file's bytes, so index.builder.pipeline_signature carries this number to re-read PDFs.
# 2: wrapped lines and hyphenated line ends joined into sentences; OCR of pages without text.
PDF_TEXT_VERSION = 2


def read_pdf(data: bytes) -> dict[str, object]:
    import io

    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [_page_lines(page) for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except Exception as error:  # pypdf raises many types for a damaged file
        raise DocumentLoadError(f"cannot read PDF ({type(error).__name__}: {error})") from error
    textless = [number for number, lines in enumerate(pages) if not any(line.text.strip() for line in lines)]
    recognised: set[int] = set()
    if textless and ocr_available():
        for number, lines in ocr_pdf_pages(data, textless).items():
            pages[number] = lines
            recognised.add(number)
    elif textless and len(textless) == len(pages):
        raise DocumentLoadError(f"no text layer (a scanned PDF?): {OCR_MISSING_REASON}")
    joined = join_pages(pages)
    fields: dict[str, object] = {"text": joined.text, "page_starts": joined.page_starts}
    spans = _page_spans(joined.text, joined.page_starts, recognised)
    if spans:
        fields["ocr_spans"] = spans
    if title:
        fields["title"] = str(title)
    return fields


def _page_lines(page: Any) -> list[Line]:
    """The page's text lines as pypdf extracts them, each with its baseline and font size when known."""
    pieces: list[tuple[str, float | None, float | None]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, font_size: float) -> None:
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        size = font_size * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) if font_size else None
        pieces.append((text, y, size))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(piece for piece, _, _ in pieces) != text:
        return [Line(line) for line in text.split("\n")]  # positions unknown: join by the text alone
    lines: list[Line] = []
    current, position = "", (None, None)
    for piece, y, size in pieces:
        for number, segment in enumerate(piece.split("\n")):
            if number:
                lines.append(Line(current, *position))
                current, position = "", (None, None)
            if segment.strip() and position == (None, None):
                position = (y, size)
            current += segment
    lines.append(Line(current, *position))
    return lines


def _page_spans(text: str, page_starts: tuple[int, ...], pages: set[int]) -> tuple[Span, ...]:
    """The text spans (surrounding space left out) of the given 0-based pages."""
    spans: list[Span] = []
    ends = [*page_starts[1:], len(text)]
    for number in sorted(pages):
        start, end = page_starts[number], ends[number]
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return tuple(spans)
