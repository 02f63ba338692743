"""Which titles and author names a file declares mean something.

Files carry placeholders in their properties: a PDF printed from a browser is
titled "about:blank", a Word file "Microsoft Word - report.docx" or "Untitled",
a workbook "Book1", a file made by a library names the library as its author.
A citation titled "about:blank" tells a reader nothing, so every format passes
its declared title through `meaningful_title` and falls back to the file name.
"""

from __future__ import annotations

import re

__all__ = ["meaningful_author", "meaningful_title"]

# Placeholder titles that programs write when the person gave none (compared lower-cased, without a
# trailing number: "Untitled 3", "Presentation1", "Document2").
_PLACEHOLDER_TITLES = frozenset(
    """untitled|untitled document|untitled presentation|untitled spreadsheet|new document|document|doc|
    presentation|powerpoint presentation|slide|workbook|book|sheet|spreadsheet|title|no title|none|null|
    undefined|default|blank|new tab|text""".replace("\n", "").split("|")
)
_PLACEHOLDER = re.compile(r"^(.*?)[\s_-]*\d*$")
# "Microsoft Word - x.docx", "about:blank", "file:///C:/x.pdf", "x.doc": a program's name or a path, not a title.
_PROGRAM_OR_PATH = re.compile(
    r"^(microsoft\s+(word|powerpoint|excel)\b|about:|file:|https?://|[a-z]:\\)|"
    r"\.(docx?|pptx?|xlsx?|odt|rtf|pdf|txt|html?|epub|csv)$",
    re.IGNORECASE,
)
# Authors that are the program that wrote the file, or an account's placeholder name.
_PLACEHOLDER_AUTHORS = frozenset(
    """python-docx|python-pptx|openpyxl|odfpy|microsoft office user|office user|user|admin|administrator|
    author|unknown|owner|windows user""".replace("\n", "").split("|")
)


def meaningful_title(candidate: object, fallback: str) -> str:
    """`candidate` when it is a real title, else `fallback` (the file name)."""
    title = " ".join(str(candidate).split()) if candidate is not None else ""
    if not title or not any(ch.isalpha() for ch in title):
        return fallback
    base = _PLACEHOLDER.match(title.lower())
    if (base and base.group(1).strip() in _PLACEHOLDER_TITLES) or _PROGRAM_OR_PATH.search(title):
        return fallback
    return title[:300]


def meaningful_author(candidate: object) -> str | None:
    """`candidate` as an author name, or None when it is empty or a placeholder ("python-docx", "User")."""
    name = " ".join(str(candidate).split()) if candidate is not None else ""
    if not name or not any(ch.isalpha() for ch in name) or name.lower() in _PLACEHOLDER_AUTHORS:
        return None
    return name[:300]
