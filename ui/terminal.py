"""Text for a terminal: answers in readable form, and nothing a document could use to drive the terminal."""

from __future__ import annotations

import re

from rag.types import Answer

__all__ = ["format_answer", "printable", "terminal_safe"]

_TERMINAL_CONTROLS = str.maketrans({code: "\ufffd" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]})
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def printable(text: str) -> str:
    """Text that stdout can encode: lone surrogates (from undecodable input echoed back) shown as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def terminal_safe(text: str) -> str:
    """Document text for a terminal: control characters (escape sequences that recolour or retitle the
    terminal, say) shown as U+FFFD, so a document cannot drive the terminal it is read in."""
    return printable(text).translate(_TERMINAL_CONTROLS)


def format_answer(answer: Answer) -> str:
    """The readable (non-JSON) form of an answer for a terminal."""
    lines = [answer.answer, ""]
    if answer.refused:
        if answer.passages:
            lines.append("Closest passages (they do not answer the question):")
            for p in answer.passages[:3]:
                lines.append(f"  - {p.title}: {' '.join(p.text.split())[:200]}...")
    else:
        if answer.low_support:
            lines.insert(1, "(Weak support: these quotes only loosely match the question; check them.)")
        for c in answer.citations:
            page = f", page {c.page}" if c.page else ""
            ocr = " (OCR: recognised from an image, may contain recognition errors)" if c.ocr else ""
            lines.append(f"[{c.n}] {c.title}{page}{ocr}")
            lines.append(f"    “{' '.join(c.quote.split())}”")
    return "\n".join(terminal_safe(line) for line in lines).rstrip()
