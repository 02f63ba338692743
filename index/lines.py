"""Joining a page's wrapped lines back into sentences, with each page's offset in the joined text.

PDF text (and OCR text) arrives as lines, and the sentence splitter ends a sentence at every line
break, so a sentence wrapped over two lines would be cut in two and a quote would drop its end
("... free for" without "children under twelve"). Here consecutive lines are joined with one space
unless the break looks like a real one:

- a blank line, or (when positions are known) a gap well above the page's usual line spacing, a move
  up the page (a new column) or a change of font size (a heading);
- the next line starts a list item ("•", "-", "1.", "(a)");
- the line is short for the page and does not end a sentence (a heading, a label, a table row), or is
  short and does end one (the last line of a paragraph).

A line ending in a hyphen after a letter is joined to the next without a space. The hyphen is
dropped ("gov-" + "ernment" -> "government"), the usual line-end hyphenation, and kept ("well-" +
"known" -> "well-known") when the document writes that word with a hyphen on a single line
elsewhere, when the part before it is a word that commonly starts compounds (well, self, non, ...)
or is in capitals, or when the part after starts with a capital letter or a digit ("Anglo-" +
"Saxon", "COVID-" + "19"). A soft hyphen (U+00AD) is always dropped.

A sentence that runs on from one page to the next (the page's last line is full width and ends no
sentence, the next page's first line starts in lowercase) is joined the same way; its quote is cited
with the page where it starts. Page numbers ("3", "- 3 -", "Page 3 of 9") and running headers and
footers (a line that starts or ends at least 3 pages and a quarter of them, digits aside) are left
out of the text, so they cannot sit inside such a sentence; the first page keeps its first line.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["JoinedText", "Line", "join_pages"]

# Words that, before a line-end hyphen, usually start a hyphenated compound rather than a split word.
_COMPOUND_FIRST = frozenset(
    """well self ill non ex half all cross long short high low full far free old new part semi multi anti
    first second third one two three four five ten twenty hundred thousand open close mid""".split()
)
_HYPHENS = "-\u2010"
_SOFT_HYPHEN = "\u00ad"
_SENTENCE_END = re.compile(r"[.!?\u2026:;][\"'\u201d\u2019)\]]*$")
_LIST_ITEM = re.compile(r"^(?:[\u2022\u25e6\u25aa\u2023\u2043*\-\u2013\u2014]\s|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s)")
_HYPHENATED_WORD = re.compile(r"\b([^\W\d_]+)[-\u2010]([^\W\d_]+)\b")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-\u2013(\[]?\s*(?:\d{1,4}|[ivxlc]{1,7})\s*[-\u2013)\]]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.I
)
_SHORT_LINE = 0.6  # of the page's usual line length: shorter and not ending a sentence -> its own line
_PARAGRAPH_END = 0.75  # shorter than this and ending a sentence -> the last line of a paragraph
_PARAGRAPH_GAP = 1.4  # times the page's usual line spacing


@dataclass(frozen=True)
class Line:
    """One line of a page as extracted: its text and, when known, its baseline and font size (points)."""

    text: str
    y: float | None = None  # distance from the bottom of the page
    size: float | None = None


@dataclass(frozen=True)
class JoinedText:
    """Pages joined into one text: page i (1-based) starts at `page_starts[i - 1]`."""

    text: str
    page_starts: tuple[int, ...]


def join_pages(pages: Sequence[Sequence[Line]]) -> JoinedText:
    """The stored text of a document whose pages are given as lines (see the module's rules)."""
    hyphenated = _hyphenated_words(pages)
    text = ""
    starts: list[int] = []
    running = _running_lines(pages)
    previous: Sequence[Line] = ()
    for number, page in enumerate(pages):
        lines = _page_body(page, running, first_page=number == 0)
        first = next((line for line in lines if line.text.strip()), None)
        if first is not None and _runs_on(previous, first.text):
            text, offset = _glue(text, first.text.strip(), hyphenated)
            starts.append(offset)
            text += _join_page(lines, hyphenated)[len(first.text.strip()) :]
        else:
            if text:
                text = text.rstrip() + "\n\n"
            starts.append(len(text))
            text += _join_page(lines, hyphenated)
        previous = lines
    if text:
        text = text.rstrip() + "\n\n"
    return JoinedText(text, tuple(starts))


def _page_body(lines: Sequence[Line], running: frozenset[str], *, first_page: bool) -> list[Line]:
    """The page's lines without the page number ("3", "- 3 -", "Page 3 of 9") and running header or footer
    in its first and last lines. The first page keeps its first line (often the title the header repeats)."""
    kept = [line for line in lines if line.text.strip()]
    for _ in range(2):  # a page number and a running line may stack
        bottom = kept[-1].text.strip() if kept else ""
        if kept and (_PAGE_NUMBER.match(bottom) or _masked(bottom) in running):
            kept.pop()
        top = kept[0].text.strip() if kept else ""
        if kept and (_PAGE_NUMBER.match(top) or (not first_page and _masked(top) in running)):
            kept.pop(0)
    ids = {id(line) for line in kept}
    return [line for line in lines if not line.text.strip() or id(line) in ids]


def _running_lines(pages: Sequence[Sequence[Line]]) -> frozenset[str]:
    """Lines (digits masked) among the first or last two of at least 3 pages and a quarter of them: a running
    header or footer ("Annual report 2024 - page 3")."""
    counts: Counter[str] = Counter()
    for lines in pages:
        texts = [line.text.strip() for line in lines if line.text.strip()]
        counts.update({_masked(text) for text in texts[:2] + texts[-2:]})
    needed = max(3, len(pages) / 4)
    return frozenset(text for text, count in counts.items() if count >= needed)


def _masked(text: str) -> str:
    return " ".join(re.sub(r"\d+", "#", text.lower()).split())


def _join_page(lines: Sequence[Line], hyphenated: frozenset[str]) -> str:
    """One page's lines joined: breaks kept as "\\n", wrapped lines glued into their sentences."""
    usual_length = _usual_length(lines)
    spacing = _usual_spacing(lines)
    text = ""
    previous: Line | None = None
    for line in lines:
        content = line.text.strip()
        if not content:
            if previous is not None:
                previous = Line("")  # a blank line: the next line starts a new paragraph
            continue
        if previous is None:
            text = content
        elif _breaks(previous, line, usual_length, spacing):
            text += "\n" + content
        else:
            text, _ = _glue(text, content, hyphenated)
        previous = line
    return text


def _breaks(above: Line, below: Line, usual_length: float, spacing: float | None) -> bool:
    """Whether the line break between `above` and `below` is a real one (not a wrap)."""
    upper, lower = above.text.strip(), below.text.strip()
    if not upper:
        return True
    if above.size and below.size and abs(above.size - below.size) > 0.15 * max(above.size, below.size):
        return True
    if above.y is not None and below.y is not None:
        gap = above.y - below.y
        if gap <= 0 or (spacing is not None and gap > _PARAGRAPH_GAP * spacing):
            return True
    if _LIST_ITEM.match(lower):
        return True
    if _hyphen_wrap(upper, lower):
        return False
    ends_sentence = bool(_SENTENCE_END.search(upper))
    limit = _PARAGRAPH_END if ends_sentence else _SHORT_LINE
    return len(upper) < limit * usual_length


def _runs_on(previous_page: Sequence[Line], first: str) -> bool:
    """Whether a page's first line continues the sentence the previous page's last line left open."""
    last_line = _last_line(previous_page)
    last, first = (last_line.text.strip() if last_line else ""), first.strip()
    if not last or not first or _SENTENCE_END.search(last) or _LIST_ITEM.match(first):
        return False
    if len(last) < _SHORT_LINE * _usual_length(previous_page):
        return False  # a short last line: a footer, a heading, the end of a paragraph
    return first[0].islower() or _hyphen_wrap(last, first)


def _hyphen_wrap(upper: str, lower: str) -> bool:
    return len(upper) > 1 and upper[-1] in _HYPHENS + _SOFT_HYPHEN and upper[-2].isalpha() and lower[0].isalnum()


def _glue(text: str, content: str, hyphenated: frozenset[str]) -> tuple[str, int]:
    """`text` with the wrapped line `content` appended, and the offset where `content`'s first character lands."""
    text = text.rstrip()
    if text.endswith(_SOFT_HYPHEN) and content[:1].isalnum():
        text = text[:-1]
    elif text[-1:] in _HYPHENS and len(text) > 1 and text[-2].isalpha() and content[:1].isalnum():
        if not _keeps_hyphen(text, content, hyphenated):
            text = text[:-1]
    elif text:
        text += " "
    return text + content, len(text)


def _keeps_hyphen(text: str, content: str, hyphenated: frozenset[str]) -> bool:
    before = re.search(r"([^\W\d_]+)[-\u2010]$", text)
    after = re.match(r"[^\W_]+", content)
    if before is None or after is None:
        return True
    head, tail = before.group(1), after.group(0)
    if f"{head}-{tail}".lower() in hyphenated:
        return True
    if head.lower() in _COMPOUND_FIRST:
        return True
    return (len(head) > 1 and head.isupper()) or tail[0].isupper() or tail[0].isdigit()


def _hyphenated_words(pages: Sequence[Sequence[Line]]) -> frozenset[str]:
    """Every word the document writes with a hyphen inside one line ("well-known")."""
    found = set()
    for lines in pages:
        for line in lines:
            found.update(f"{a}-{b}".lower() for a, b in _HYPHENATED_WORD.findall(line.text))
    return frozenset(found)


def _usual_length(lines: Sequence[Line]) -> float:
    """The length of a full line on this page: the 80th percentile of its line lengths."""
    lengths = sorted(len(line.text.strip()) for line in lines if line.text.strip())
    if not lengths:
        return 0.0
    return float(lengths[min(len(lengths) - 1, int(0.8 * len(lengths)))])


def _usual_spacing(lines: Sequence[Line]) -> float | None:
    """The page's line spacing (the 25th percentile of downward gaps between lines), when positions are known."""
    gaps = sorted(
        above.y - below.y
        for above, below in itertools.pairwise(lines)
        if above.y is not None and below.y is not None and above.y > below.y
    )
    if not gaps:
        return None
    return gaps[len(gaps) // 4]


def _last_line(lines: Sequence[Line]) -> Line | None:
    for line in reversed(lines):
        if line.text.strip():
            return line
    return None
