"""Bytes to text for the plain-text formats (.txt .md .html .csv): UTF-8, newlines normalized."""

from __future__ import annotations

from index.errors import DocumentLoadError

__all__ = ["decode_text"]


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
