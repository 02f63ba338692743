"""Word (.docx) and PowerPoint (.pptx) files, read with python-docx and python-pptx.

A .docx becomes its body in reading order: paragraphs and headings, and tables
rendered row by row (index.tables). Headers, footers and comments are left out.
A .pptx becomes its slides in order, each its title, the text of its shapes
(text boxes, placeholders, tables, grouped shapes) and its speaker notes; each
slide starts a "page", so a citation's page number is the slide number.
Title, authors and date come from the file's core properties.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime

from index.containers import check_package
from index.errors import DocumentLoadError
from index.tables import TextBuilder
from index.titles import meaningful_author

__all__ = ["read_docx", "read_pptx"]


def core_metadata(properties: object) -> dict[str, object]:
    """Title, authors and date from Office core properties (docx, pptx, xlsx), where they are set."""
    fields: dict[str, object] = {}
    title = getattr(properties, "title", None)
    if title:
        fields["title"] = str(title)
    author = meaningful_author(getattr(properties, "author", None) or getattr(properties, "creator", None))
    if author:
        fields["authors"] = tuple(name.strip() for name in author.replace(";", ",").split(",") if name.strip())
    created = getattr(properties, "created", None)
    if isinstance(created, (datetime, date)):
        fields["date"] = created.date().isoformat() if isinstance(created, datetime) else created.isoformat()
    return fields


def read_docx(data: bytes) -> dict[str, object]:
    return _read_package(data, ".docx", _docx_text)


def read_pptx(data: bytes) -> dict[str, object]:
    return _read_package(data, ".pptx", _pptx_text)


def _read_package(data: bytes, suffix: str, read: Callable[[bytes], tuple[TextBuilder, object]]) -> dict[str, object]:
    """The fields of a .docx or .pptx: `read` gives its text and its core properties; a damaged file
    becomes a DocumentLoadError that names the library's complaint."""
    check_package(data, suffix)
    try:
        text, properties = read(data)
        metadata = core_metadata(properties)
    except DocumentLoadError:
        raise
    except Exception as error:  # python-docx/-pptx raise KeyError, ValueError, lxml errors... for a damaged part
        raise DocumentLoadError(f"damaged {suffix} file ({type(error).__name__}: {error})") from error
    return {**text.fields(), **metadata}


def _docx_text(data: bytes) -> tuple[TextBuilder, object]:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    text = TextBuilder()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            text.table([[cell.text for cell in row.cells] for row in block.rows])
        else:
            text.paragraph(block.text)
    return text, document.core_properties


def _pptx_text(data: bytes) -> tuple[TextBuilder, object]:
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    text = TextBuilder()
    for slide in presentation.slides:
        text.page()
        title = slide.shapes.title
        if title is not None and title.has_text_frame:
            text.paragraph(title.text_frame.text)
        for shape in slide.shapes:
            if title is None or shape.shape_id != title.shape_id:
                _shape_blocks(shape, text)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            text.paragraph(slide.notes_slide.notes_text_frame.text)
    return text, presentation.core_properties


def _shape_blocks(shape: object, text: TextBuilder) -> None:
    """The text of one shape: a table row by row, a group shape by shape, a text frame by paragraph."""
    if getattr(shape, "has_table", False):
        text.table([[cell.text for cell in row.cells] for row in shape.table.rows])  # type: ignore[attr-defined]
    elif hasattr(shape, "shapes"):  # a group
        for inner in shape.shapes:  # type: ignore[attr-defined]
            _shape_blocks(inner, text)
    elif getattr(shape, "has_text_frame", False):
        for paragraph in shape.text_frame.paragraphs:  # type: ignore[attr-defined]
            text.paragraph(paragraph.text)
