"""PDF text with page offsets, read with pypdf."""

from __future__ import annotations

from index.errors import DocumentLoadError

__all__ = ["read_pdf"]


def read_pdf(data: bytes) -> dict[str, object]:
    import io

    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except Exception as error:  # pypdf raises many types for a damaged file
        raise DocumentLoadError(f"cannot read PDF ({type(error).__name__}: {error})") from error
    text = ""
    page_starts: list[int] = []
    for page_text in pages:
        page_starts.append(len(text))
        text += page_text.strip() + "\n\n"
    fields: dict[str, object] = {"text": text, "page_starts": tuple(page_starts)}
    if title:
        fields["title"] = str(title)
    return fields
