"""Sentence segmentation with character offsets.

A small rule-based splitter: good on edited English prose (the default corpus,
Wikipedia, abstracts), predictable, and fast. Every returned span is a pair of
offsets into the input, stripped of surrounding whitespace, so
`text[start:end]` is always the sentence exactly as written.
"""

from __future__ import annotations

import re

from index.tables import is_table_row
from index.types import Span

__all__ = ["SPLITTER_VERSION", "split_sentences"]

# Raise this whenever a change moves sentence boundaries: an index built with another version is
# then re-split and re-embedded on its next use (index.builder.pipeline_signature). 2: Penn-Treebank
# spaced periods ("year .") end sentences. 3: a spaced ellipsis (". . .") does not. 4: ... unless it
# closes a quotation or has a fourth dot. 5: a table row (index.tables) is one sentence, never cut.
SPLITTER_VERSION = 5

# Words that end in a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof jr sr st vs etc e.g i.e u.s u.k u.n no nos fig figs inc ltd co corp gen col lt
    sgt capt rep sen gov pres rev approx est dept univ vol pp al jan feb mar apr jun jul aug sep
    sept oct nov dec""".split()
)

# Sentence-final punctuation, optional closing quotes/brackets, then whitespace. The punctuation
# either touches its word ("year.") or stands one space after it ("year ."), as in text that was
# tokenized Penn-Treebank style (Wikipedia dumps, NLP data sets) before it reached us.
_END = re.compile(r"(?:(?<=\S)|(?<=\S ))([.!?\u2026]+)([\"'\u201d\u2019\u00bb)\]]*)(?=\s)")
_PARAGRAPH = re.compile(r"\n\s*")


def _ends_sentence(text: str, punct_start: int, after: int) -> bool:
    """Decide whether the punctuation at `punct_start` closes a sentence."""
    following = text[after:].lstrip()
    if not following:
        return True
    first = following[0]
    if first.islower() or first in ".!?\u2026,;:":  # "goes on", or a spaced ellipsis ". . ."
        return False
    if text[punct_start] != ".":
        return True
    closes_quotation = after - punct_start > 1 and text[after - 1] in "\"'\u201d\u2019\u00bb"
    spaced_ellipsis = text[max(0, punct_start - 4) : punct_start] == ". . " and (
        text[max(0, punct_start - 6) : punct_start - 4] != ". "
    )
    if spaced_ellipsis and not closes_quotation:
        # The last dot of exactly ". . .": writers use it for a cut inside a quotation ("... the
        # Kremlin wall . . . The scale of ..."), so it does not end the sentence there.
        return False
    word_end = punct_start - 1 if text[punct_start - 1] == " " else punct_start  # "Mr ." as "Mr."
    word_start = word_end
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:word_end].lower().lstrip("(\"'\u201c\u2018")
    if word in _ABBREVIATIONS:
        return False
    # A single capital letter is an initial ("Jack F. Matlock").
    return not (len(word) == 1 and word.isalpha())


def _strip(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def split_sentences(text: str) -> list[Span]:
    """Return sentence spans `(start, end)` covering every non-space character of `text`.

    Line breaks always end a sentence (headings, list items and paragraphs are
    never glued to the next line's text), and a table row (see index.tables) is
    one sentence, whatever punctuation its cells hold.
    """
    spans: list[Span] = []
    line_start = 0
    for line_break in [*_PARAGRAPH.finditer(text), None]:
        line_end = line_break.start() if line_break else len(text)
        start = line_start
        row = is_table_row(text[line_start:line_end])
        for match in [] if row else _END.finditer(text, line_start, line_end):
            if match.end() < line_end and _ends_sentence(text, match.start(), match.end()):
                span = _strip(text, start, match.end())
                if span:
                    spans.append(span)
                start = match.end()
        span = _strip(text, start, line_end)
        if span:
            spans.append(span)
        line_start = line_break.end() if line_break else len(text)
    return spans
