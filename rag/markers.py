"""The `[n]` citation markers of an answer, read and removed in one place.

An answer's sentences end in markers that name their citations: `[1]`, or
`[1][2]` for a sentence quoting two. That is the only form this project writes
(`rag.compose`, `rag.verify`), and the interfaces and the eval read it back
(`MARKER`, `MARKED_SENTENCE`). A language model's draft is looser: small models
write `[1, 2]`, `[1-2]` or `[1–3]` too, so the patterns that read drafts
(`MARKER_GROUP`, `LEADING_MARKERS`, `marker_numbers`) accept lists and ranges.

    marker_numbers("Rubio went [1, 3-4].")    # [1, 3, 4]
    strip_markers("Rubio went to Geneva. [1]")  # "Rubio went to Geneva."
"""

from __future__ import annotations

import re

__all__ = [
    "LEADING_MARKERS",
    "MARKED_SENTENCE",
    "MARKER",
    "MARKER_GROUP",
    "SPACED_MARKER",
    "marker_numbers",
    "strip_markers",
]

# One marker as answers write it; group 1 is its number.
MARKER = re.compile(r"\[(\d+)\]")
# A marker with the space before it, so removing it leaves no gap before the full stop.
SPACED_MARKER = re.compile(r"\s*\[\d+\]")
# A sentence followed by its run of markers: group 1 is the text, group 2 the markers.
MARKED_SENTENCE = re.compile(r"(.+?)((?:\s*\[\d+\])+)(?=\s|$)", re.DOTALL)

_NUMBERS = r"\d+(?:\s*[,\-–]\s*\d+)*"  # "1", "1, 2", "1-2", "1–3"
# One marker in any form a model writes; group 1 is what is inside the brackets.
MARKER_GROUP = re.compile(rf"\[({_NUMBERS})\]")
# Markers opening a piece of text (a model's "... Geneva. [1]" puts them after the full stop).
LEADING_MARKERS = re.compile(rf"^(?:\s*\[{_NUMBERS}\])+[\s.,;:]*")
_SPACED_GROUP = re.compile(rf"\s*\[{_NUMBERS}\]")
_MAX_RANGE = 10  # a wider "range" ([2-2024]) is two numbers, not a range


def marker_numbers(text: str) -> list[int]:
    """Every number the markers in `text` cite, in order; ranges such as `[1-3]` expanded."""
    numbers: list[int] = []
    for group in MARKER_GROUP.findall(text):
        for part in re.split(r"\s*,\s*", group):
            bounds = [int(x) for x in re.split(r"\s*[\-–]\s*", part) if x]
            if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < _MAX_RANGE:
                numbers.extend(range(bounds[0], bounds[1] + 1))
            else:
                numbers.extend(bounds)
    return numbers


def strip_markers(text: str) -> str:
    """`text` without its markers (any form) and the spaces before them."""
    return _SPACED_GROUP.sub("", text)
