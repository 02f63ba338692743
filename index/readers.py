"""One reader per file format: the file's bytes in, its text and metadata fields out.

A reader returns a dict with at least "text" (the exact text the index stores; every
offset and quote refers to it) and any of Document's metadata fields ("title",
"authors", "date", "url", "publisher", "page_starts", "extra"). It raises
DocumentLoadError with a reason a person can act on; `index.loaders.load_file`
turns anything else into one. A new format is a reader here and one entry in
READERS (discovery and uploads take their suffixes from it).
"""

from __future__ import annotations

from collections.abc import Callable

from index.errors import DocumentLoadError
from index.front_matter import read_markdown
from index.pdf import read_pdf

__all__ = ["READERS", "Reader", "decode_text"]

Reader = Callable[[bytes], dict[str, object]]


def _looks_like_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: mostly NUL bytes at every other position (Latin text)."""
    sample = data[:4096]
    if len(sample) < 16:
        return False
    even, odd = sample[0::2], sample[1::2]
    for zeros, other in ((odd, even), (even, odd)):
        if zeros.count(0) >= 0.4 * len(zeros) and other.count(0) <= 0.05 * len(other):
            return True
    return False


def decode_text(data: bytes) -> str:
    """UTF-8 text with newlines normalized; UTF-16 and binary files are refused with a reason."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_like_utf16(data):
        raise DocumentLoadError("UTF-16 text, not UTF-8; re-save the file as UTF-8")
    if b"\x00" in data[:8192]:
        raise DocumentLoadError("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentLoadError(f"not valid UTF-8 (byte {error.start}); re-save the file as UTF-8") from error
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_text(data: bytes) -> dict[str, object]:
    return {"text": decode_text(data)}


def _read_markdown(data: bytes) -> dict[str, object]:
    return read_markdown(decode_text(data))


def _read_html(data: bytes) -> dict[str, object]:
    html = decode_text(data)
    # trafilatura finds the main text of a page and drops menus, footers and ads.
    import trafilatura

    extracted = trafilatura.bare_extraction(html, include_comments=False, include_tables=True, with_metadata=True)
    if extracted is None or not (extracted.text or "").strip():
        raise DocumentLoadError("no main text found in the HTML page")
    fields: dict[str, object] = {"text": extracted.text}
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
}
