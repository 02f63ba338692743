"""Rich Text Format (.rtf), read with striprtf: the text, without formatting.

striprtf is a small, maintained, pure-Python reader (BSD licence, no
dependencies); it keeps paragraphs and decodes escaped characters (\\'e9,
\\u8217?), and drops pictures and fields' codes. RTF tables come out as cells
separated by "|" without a header rule, so they are read as text, not as
tables. The title and author come from the {\\info} group when it sets them.
"""

from __future__ import annotations

import re

from index.errors import DocumentLoadError
from index.titles import meaningful_author

__all__ = ["read_rtf"]

_INFO = re.compile(r"\{\\(title|author)\s+([^{}\\]*)\}")


def read_rtf(data: bytes) -> dict[str, object]:
    if not data.lstrip().startswith(b"{\\rtf"):
        raise DocumentLoadError("not an RTF file (it does not start with {\\rtf)")
    from striprtf.striprtf import rtf_to_text

    source = data.decode("latin-1")  # RTF is 7-bit; other characters arrive escaped and are decoded below
    try:
        text = rtf_to_text(source, encoding="cp1252", errors="replace")
    except Exception as error:  # striprtf raises ValueError, LookupError... on a damaged file
        raise DocumentLoadError(f"damaged .rtf file ({type(error).__name__}: {error})") from error
    fields: dict[str, object] = {"text": text.replace("\r\n", "\n").replace("\r", "\n")}
    for key, value in _INFO.findall(source[:65536]):
        value = " ".join(value.split())
        if key == "title" and value:
            fields["title"] = value
        elif key == "author" and meaningful_author(value):
            fields["authors"] = (value,)
    return fields
