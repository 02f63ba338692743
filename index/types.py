"""The build side's data types: a document and the chunks cut from it.

Offsets are the backbone of the project: a chunk is `document.text[start:end]`,
and a sentence span is a pair of offsets into the same text, so any quote can
be cut from the original and shown in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Chunk", "Document", "Span", "TableSpan"]

Span = tuple[int, int]


@dataclass(frozen=True)
class TableSpan:
    """A table in a document's text: its column names and one line per row (see index.tables).

    Row i is `text[rows[i][0]:rows[i][1]]`, one line naming every filled cell with its
    column ("Region: Donetsk | Status: occupied"), so a row is quoted whole with its header.
    """

    start: int
    end: int
    columns: tuple[str, ...]
    rows: tuple[Span, ...]

    def row_at(self, start: int, end: int) -> int | None:
        """The index of the row holding text[start:end], or None if the span is not inside one row."""
        for number, (row_start, row_end) in enumerate(self.rows):
            if row_start <= start and end <= row_end:
                return number
        return None


@dataclass(frozen=True)
class Document:
    """One source document, as loaded from a file."""

    id: str
    text: str
    title: str
    path: str
    format: str
    content_hash: str
    authors: tuple[str, ...] = ()
    date: str | None = None
    url: str | None = None
    publisher: str | None = None
    # Page i (1-based) of a PDF covers text[page_starts[i-1]:page_starts[i]].
    page_starts: tuple[int, ...] = ()
    # Anything else a file declared (front matter keys we do not model).
    extra: dict[str, object] = field(default_factory=dict)
    # The tables in the text, each row one line that a quote takes whole (index.tables).
    tables: tuple[TableSpan, ...] = ()
    # The text spans recognised by OCR in an image (scanned PDF pages, image files): see index.ocr.
    ocr_spans: tuple[Span, ...] = ()

    def __post_init__(self) -> None:
        # Read back from JSON (index.store), tables arrive as plain dicts and lists.
        if any(not isinstance(table, TableSpan) for table in self.tables):
            tables = tuple(
                table
                if isinstance(table, TableSpan)
                else TableSpan(
                    start=table["start"],
                    end=table["end"],
                    columns=tuple(table["columns"]),
                    rows=tuple((s, e) for s, e in table["rows"]),
                )
                for table in self.tables
            )
            object.__setattr__(self, "tables", tables)
        elif not isinstance(self.tables, tuple):
            object.__setattr__(self, "tables", tuple(self.tables))

    def from_ocr(self, start: int, end: int) -> bool:
        """Whether any of text[start:end] was recognised by OCR (and may hold recognition errors)."""
        return any(span_start < end and start < span_end for span_start, span_end in self.ocr_spans)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding `offset`, or None for formats without pages."""
        if not self.page_starts:
            return None
        page = 1
        for number, start in enumerate(self.page_starts, start=1):
            if start <= offset:
                page = number
        return page


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one document, small enough to embed untruncated."""

    id: str
    doc_id: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]
    page: int | None = None
