"""Answers and documents as HTML for the web chat: pure functions, no gradio.

Everything that came from a document or a person (text, titles, authors,
quotes, questions, file names) goes through `html.escape` here, so a document
holding `<script>` shows that text literally instead of running it. The web
app only ever puts the strings made here on screen. Only ids and classes carry
structure: the chat's sanitizer drops `data-*` attributes.

Quotes are cut from `Document.text` by their offsets (never re-typed), which
is what lets a quote be highlighted inside its own paragraph.

The module is longer than the usual ~350 lines on purpose: every place where
outside text becomes HTML is in this one file, so the escaping can be
reviewed in one read rather than hunted for across several.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from index.tables import row_cells
from index.types import Document
from rag.compose import REFUSAL
from rag.markers import MARKER
from rag.types import Answer, Citation, Passage, RemovedSentence

__all__ = [
    "DRAFT_STAGES",
    "RELATED_HEADING",
    "WEAK_SUPPORT",
    "answer_html",
    "document_html",
    "document_label",
    "draft_html",
    "error_html",
    "merge_spans",
    "notice_html",
    "paragraph_around",
    "paragraphs",
    "table_html",
]

RELATED_HEADING = "Related passages (not an answer)"
FIRST_QUOTE_ID = "rag-first-quote"  # the document view's first highlighted span (one document is shown)
CONTEXT_CHARS = 600  # how much of the quote's paragraph a source card shows
DRAFT_STAGES = {  # what a language model's draft bubble says at each stage
    "searching": "Searching the documents…",
    "waiting": "Waiting for the model: it reads the passages first, which takes a while on a CPU…",
    "drafting": "Drafting… (being verified against the documents)",
    "checking": "Checking each sentence against the documents…",
}
PASSAGE_CHARS = 320  # how much of a related passage a refusal shows
TABLE_CONTEXT_ROWS = 3  # rows a source card shows on each side of a cited table row

_BLANK_LINE = re.compile(r"\n[ \t\u00a0]*\n")
_MARKER = MARKER
_SPACES = re.compile(r"\s+")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# -- paragraphs and spans ----------------------------------------------------


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph: runs of text between blank lines, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    position = 0
    for gap in [*_BLANK_LINE.finditer(text), None]:
        stop = gap.start() if gap else len(text)
        start, end = position, stop
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
        position = gap.end() if gap else len(text)
    return spans


def _cut_before(text: str, budget: int) -> tuple[str, bool]:
    """The last `budget` characters of `text`, starting at a word; True if cut."""
    if len(text) <= budget:
        return text, False
    piece = text[len(text) - budget :]
    space = piece.find(" ")
    return (piece[space + 1 :] if 0 <= space < 40 else piece), True


def _cut_after(text: str, budget: int) -> tuple[str, bool]:
    """The first `budget` characters of `text`, ending at a word; True if cut."""
    if len(text) <= budget:
        return text, False
    piece = text[:budget]
    space = piece.rfind(" ")
    return (piece[:space] if space > budget - 40 else piece), True


def paragraph_around(text: str, start: int, end: int, limit: int = CONTEXT_CHARS) -> tuple[str, str, str]:
    """(before, quote, after): the paragraph(s) holding text[start:end], capped near `limit` chars.

    The quote is always whole; the context around it is shared out between the
    two sides (what one side does not need goes to the other) and cut at words.
    A cut side is marked with an ellipsis.
    """
    para_start = 0
    for gap in _BLANK_LINE.finditer(text, 0, start):
        para_start = gap.end()
    gap = _BLANK_LINE.search(text, end)
    para_end = gap.start() if gap else len(text)
    before, after = text[para_start:start].lstrip(), text[end:para_end].rstrip()
    room = max(0, limit - (end - start))
    before_room = max(room // 2, room - len(after))
    after_room = max(room // 2, room - len(before))
    before, cut_before = _cut_before(before, before_room)
    after, cut_after = _cut_after(after, after_room)
    return ("…" if cut_before else "") + before, text[start:end], after + ("…" if cut_after else "")


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping spans covering the same characters."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# -- small pieces ------------------------------------------------------------


def _byline(document: Document | None, page: int | None = None) -> str:
    parts: list[str] = []
    if document is not None:
        if document.authors:
            parts.append(", ".join(document.authors))
        if document.date:
            parts.append(document.date)
        if document.publisher:
            parts.append(document.publisher)
    if page:
        parts.append(f"{'slide' if document is not None and document.format == 'pptx' else 'page'} {page}")
    return " · ".join(_e(p) for p in parts)


def table_html(document: Document, start: int, end: int, around: int = TABLE_CONTEXT_ROWS) -> str:
    """The table holding the quoted row text[start:end]: its header and `around` rows each side, the
    quoted row marked; "" when the quote is not a table row."""
    for table in document.tables:
        row = table.row_at(start, end)
        if row is None:
            continue
        first, last = max(0, row - around), min(len(table.rows), row + around + 1)
        head = "".join(f"<th>{_e(column)}</th>" for column in table.columns)
        body = []
        for number in range(first, last):
            cells = [_e(cell) for cell in row_cells(document.text[slice(*table.rows[number])], table.columns)]
            if number == row:  # the quoted row, marked as quotes are elsewhere
                cells = [f"<mark>{cell}</mark>" for cell in cells]
            cited = ' class="rag-table-cited"' if number == row else ""
            body.append(f"<tr{cited}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        hidden = len(table.rows) - (last - first)
        more = f'<p class="rag-table-more">{hidden} more rows in this table</p>' if hidden else ""
        return f'<table class="rag-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'
    return ""


def _safe_url(url: str | None) -> str | None:
    """The URL if it is a plain web link (a `javascript:` link from a document is not)."""
    if url and re.match(r"(?i)^https?://[^\s\"'<>]+$", url.strip()):
        return url.strip()
    return None


def document_label(document: Document) -> str:
    """One line naming a document, for lists and filters (plain text, not HTML)."""
    details = [", ".join(document.authors)] if document.authors else []
    if document.date:
        details.append(document.date)
    return f"{document.title} — {', '.join(details)}" if details else document.title


def notice_html(kind: str, message: str, details: Sequence[str] = ()) -> str:
    """A status box ("ok", "warn" or "error") with a message and optional detail lines."""
    kind = kind if kind in ("ok", "warn", "error") else "warn"
    items = "".join(f"<li>{_e(line)}</li>" for line in details)
    listing = f"<ul>{items}</ul>" if items else ""
    return f'<div class="rag-notice rag-notice-{kind}"><p>{_e(message)}</p>{listing}</div>'


def error_html(message: str) -> str:
    """A chat message saying the question could not be answered, and why."""
    return (
        '<div class="rag-answer rag-error" role="alert">'
        f'<p class="rag-error-title">Could not answer</p><p>{_e(message)}</p></div>'
    )


# -- answers -----------------------------------------------------------------


def _answer_text(answer: Answer, answer_id: str) -> str:
    numbers = {c.n for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in numbers:
            return match.group(0)
        return f'<a href="#cite-{answer_id}-{n}" class="cite-marker cite-{n}" title="Show source {n}">[{n}]</a>'

    return _MARKER.sub(link, _e(answer.answer))


# On a source card whose quote was recognised by OCR (Citation.ocr).
_OCR_MARK = (
    '<span class="rag-ocr" title="Recognised by OCR from an image (a scanned page or picture): '
    'the text may contain recognition errors; check it against the original." '
    'style="font-size:0.7rem;border:1px solid currentColor;border-radius:3px;padding:0 4px;opacity:0.8">OCR</span>'
)


def _source_card(citation: Citation, document: Document | None, answer_id: str) -> str:
    placed = document is not None and document.text[citation.start : citation.end] == citation.quote
    if placed:
        before, quote, after = paragraph_around(document.text, citation.start, citation.end)
    else:  # cannot place it in context; still show the verified quote itself
        before, quote, after = "", citation.quote, ""
    table = table_html(document, citation.start, citation.end) if placed and document is not None else ""
    if table:  # a table row: the table around it is the context, not the rows as lines of text
        before, after = "", ""
    title = document.title if document is not None else citation.title
    byline = _byline(document, citation.page)
    return (
        f'<div class="rag-source source-{citation.n}" id="cite-{answer_id}-{citation.n}">'
        f'<div class="rag-source-head"><span class="rag-source-n">{citation.n}</span>'
        f'<span class="rag-source-title">{_e(title)}</span>{_OCR_MARK if citation.ocr else ""}</div>'
        + (f'<div class="rag-source-meta">{byline}</div>' if byline else "")
        + f'<blockquote class="rag-context">{_e(before)}<mark class="rag-quote">{_e(quote)}</mark>{_e(after)}'
        "</blockquote>" + table + f'<div class="rag-source-foot">match score {citation.score:.2f}</div>'
        "</div>"
    )


def _passage_card(passage: Passage, document: Document | None) -> str:
    text = _SPACES.sub(" ", passage.text).strip()
    excerpt, cut = _cut_after(text, PASSAGE_CHARS)
    title = document.title if document is not None else passage.title
    byline = _byline(document, passage.page)
    return (
        '<div class="rag-passage">'
        f'<div class="rag-passage-title">{_e(title)}</div>'
        + (f'<div class="rag-passage-meta">{byline}</div>' if byline else "")
        + f'<p class="rag-passage-text">{_e(excerpt)}{"…" if cut else ""}</p>'
        "</div>"
    )


def _milliseconds(ms: float) -> str:
    return f"{ms:.0f} ms"


def _seconds_or_ms(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _timings(answer: Answer) -> str:
    t = answer.timings_ms
    if "total" not in t:
        return ""
    if "generate" in t:  # a language model's answer takes seconds
        names, duration = ("retrieve", "select", "generate", "verify"), _seconds_or_ms
    else:
        names, duration = ("retrieve", "select", "compose"), _milliseconds
    stages = " · ".join(f"{name} {duration(t[name])}" for name in names if name in t)
    detail = f" ({stages})" if stages else ""
    return f'<div class="rag-timings">answered in {duration(t["total"])}{detail}</div>'


def answer_html(
    answer: Answer,
    documents: Mapping[str, Document],
    answer_id: str,
    *,
    searched: Collection[str] | None = None,
) -> str:
    """An answer with linked [n] markers and a source card per citation, or a refusal.

    `answer_id` must be unique on the page (it prefixes the card ids) and is
    used as-is in attributes, so keep it to letters, digits and dashes.
    `searched` is the document filter the question was asked with (none: all);
    a refusal under a filter names the documents searched, since the others
    were not.
    """
    if not re.fullmatch(r"[A-Za-z0-9-]+", answer_id):
        raise ValueError(f"answer_id must be letters, digits and dashes, not {answer_id!r}")
    if answer.refused or not answer.citations:
        related = "".join(_passage_card(p, documents.get(p.doc_id)) for p in answer.passages[:3])
        block = (
            f'<div class="rag-related"><div class="rag-related-heading">{RELATED_HEADING}</div>{related}</div>'
            if related
            else ""
        )
        return (
            f'<div class="rag-answer rag-refused" id="answer-{answer_id}">'
            f'<p class="rag-refusal">{REFUSAL}</p>{_filter_note(searched, documents)}'
            f"{_generation_note(answer)}{block}{_timings(answer)}</div>"
        )
    cards = "".join(_source_card(c, documents.get(c.doc_id), answer_id) for c in answer.citations)
    return (
        f'<div class="rag-answer" id="answer-{answer_id}">'
        f'<p class="rag-answer-text">{_answer_text(answer, answer_id)}</p>'
        f"{_weak_note(answer)}{_generation_note(answer)}"
        f'<div class="rag-sources"><div class="rag-sources-heading">Sources</div>{cards}</div>'
        f"{_timings(answer)}</div>"
    )


WEAK_SUPPORT = (
    "Weak support: these quotes only loosely match the question, and answers like this are often wrong. "
    "Read the sources before relying on it."
)


def _weak_note(answer: Answer) -> str:
    """In words, not only as a number: the answer's best evidence only just cleared the refusal threshold."""
    return f'<p class="rag-weak-support">{WEAK_SUPPORT}</p>' if answer.low_support else ""


def _filter_note(searched: Collection[str] | None, documents: Mapping[str, Document]) -> str:
    """For a refusal under a document filter: which documents were searched, and how to search all."""
    if not searched or set(searched) >= set(documents):
        return ""
    titles = ", ".join(f"“{_e(documents[d].title if d in documents else d)}”" for d in sorted(searched))
    were = "was" if len(searched) == 1 else "were"
    return (
        f'<p class="rag-filter-note">Only {titles} {were} searched. Clear the document filter to search all '
        f"{len(documents)} documents.</p>"
    )


# -- language-model answers --------------------------------------------------


def _removed_list(removed: Sequence[RemovedSentence]) -> str:
    items = []
    for entry in removed:
        reason = entry.reason.removeprefix("unsupported: ")
        detail = f' <span class="rag-removed-reason">({_e(reason)})</span>' if reason else ""
        items.append(f"<li>“{_e(entry.text)}”{detail}</li>")
    if not items:
        return ""
    return (
        '<div class="rag-removed"><div class="rag-removed-heading">Removed: not supported by the documents</div>'
        f"<ul>{''.join(items)}</ul></div>"
    )


def _generation_note(answer: Answer) -> str:
    """What the language model did for this answer: empty for an extractive answer.

    Everything the model wrote (removed sentences, its raw draft) is escaped:
    model text is as untrusted as document text.
    """
    generation = answer.generation
    if generation is None:
        return ""
    name = _e(generation.generator)
    if generation.skipped:
        lines = [f"The evidence is too weak to answer, so the language model ({name}) was not asked."]
    elif generation.fallback == "extractive":
        why = "said the documents don't answer" if generation.model_refused else "wrote nothing the documents support"
        lines = [f"The language model ({name}) {why}, so this is the quotes-only answer."]
    else:
        corrected = generation.corrected_citations
        fixed = (
            f"; {corrected} sentence{'s were' if corrected != 1 else ' was'} given the quote that supports it"
            if corrected
            else ""
        )
        lines = [f"Written by {name}; every sentence was checked against the documents{fixed}."]
    draft = generation.raw_answer.strip()
    shown_draft = (
        '<details class="rag-model-draft"><summary>The model\'s draft, before checking</summary>'
        f"<p>{_e(draft)}</p></details>"
        if draft
        else ""
    )
    notes = "".join(f'<p class="rag-generation-line">{line}</p>' for line in lines)
    return f'<div class="rag-generation">{notes}{_removed_list(generation.removed)}{shown_draft}</div>'


def draft_html(text: str, stage: str, generator_name: str) -> str:
    """A language model's draft while it streams: marked as a draft, every character escaped.

    `stage` is a key of DRAFT_STAGES. The draft's [n] are the model's own
    passage numbers, not links: the verified answer replaces this bubble.
    """
    stage = stage if stage in DRAFT_STAGES else "drafting"
    body = f'<p class="rag-draft-text">{_e(text)}</p>' if text else ""
    foot = (
        ""
        if stage == "searching"
        else f'<div class="rag-draft-foot">draft by {_e(generator_name)}: sentences the documents don\'t support '
        "will be removed</div>"
    )
    return (
        f'<div class="rag-draft rag-draft-{stage}">'
        f'<div class="rag-draft-note">{_e(DRAFT_STAGES[stage])}</div>{body}{foot}</div>'
    )


# -- documents ---------------------------------------------------------------


def _marked(text: str, start: int, end: int, spans: Sequence[tuple[int, int]]) -> str:
    """text[start:end] escaped, with the parts inside `spans` wrapped in <mark>."""
    out: list[str] = []
    position = start
    for span_start, span_end in spans:
        lo, hi = max(span_start, start), min(span_end, end)
        if lo >= hi:
            continue
        out.append(_e(text[position:lo]))
        out.append(f'<mark class="rag-quoted">{_e(text[lo:hi])}</mark>')
        position = hi
    out.append(_e(text[position:end]))
    return "".join(out)


def document_html(document: Document, quoted: Iterable[tuple[int, int]] = ()) -> str:
    """The full text of a document, paragraph by paragraph, with quoted spans marked."""
    spans = merge_spans((max(0, s), min(len(document.text), e)) for s, e in quoted)
    byline = _byline(document)
    url = _safe_url(document.url)
    facts = [f"{_e(document.format)} file", f"id {_e(document.id)}"]
    if url:
        facts.append(f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">source</a>')
    if document.extra.get("title_editorial"):
        facts.append("title added by the editors")
    count = len(spans)
    highlight = (
        f'<div class="rag-doc-quoted">{count} passage{"s are" if count != 1 else " is"} highlighted: '
        f'quoted in this conversation. <a href="#{FIRST_QUOTE_ID}">Go to the first</a></div>'
        if count
        else '<div class="rag-doc-quoted rag-doc-quoted-none">Nothing from this document has been quoted yet '
        "in this conversation.</div>"
    )
    body = "".join(
        f'<p class="rag-doc-p">{_marked(document.text, start, end, spans)}</p>'
        for start, end in paragraphs(document.text)
    )
    # Marks are made per paragraph; the first one is the target of the link above.
    body = body.replace('<mark class="rag-quoted">', f'<mark class="rag-quoted" id="{FIRST_QUOTE_ID}">', 1)
    return (
        '<article class="rag-document">'
        f'<h2 class="rag-doc-title">{_e(document.title)}</h2>'
        + (f'<div class="rag-doc-byline">{byline}</div>' if byline else "")
        + f'<div class="rag-doc-facts">{" · ".join(facts)}</div>{highlight}'
        f'<div class="rag-doc-body">{body}</div></article>'
    )
