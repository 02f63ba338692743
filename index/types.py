"""The build side's data types: a document and the chunks cut from it.

Offsets are the backbone of the project: a chunk is `document.text[start:end]`,
and a sentence span is a pair of offsets into the same text, so any quote can
be cut from the original and shown in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Chunk", "Document", "Span"]

Span = tuple[int, int]


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
