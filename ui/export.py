"""Answers and conversations as files to keep: Markdown, and one self-contained HTML page.

    items = [export_item(e.question, e.answer, e.error, engine.data.documents) for e in exchanges]
    conversation_markdown("Geneva talks", items)
    conversation_html("Geneva talks", items)   # inline CSS, nothing fetched, every string escaped

Every quote is written out verbatim with its document's title, its character
offsets (and page when there is one) and a mark saying whether it was checked
just now: `check_quotes` cuts `document.text[start:end]` from the index as it
is at export time and compares it with the stored quote. A quote that no
longer matches (the document was changed or removed since) is still exported,
marked "not verified", never dropped. Pure functions: no gradio, no files.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from index.types import Document
from rag.compose import REFUSAL
from rag.types import Answer, Citation

__all__ = [
    "UNVERIFIED",
    "VERIFIED",
    "ExportItem",
    "QuoteCheck",
    "answer_markdown",
    "check_quotes",
    "conversation_html",
    "conversation_markdown",
    "export_item",
]

VERIFIED = "✓ verified"
UNVERIFIED = "✗ not verified"


@dataclass(frozen=True)
class QuoteCheck:
    """A citation and whether its quote is still at its offsets in its document."""

    citation: Citation
    verified: bool
    reason: str = ""  # why not, when not verified


@dataclass(frozen=True)
class ExportItem:
    """One question of a conversation as exported: its answer (or error) and the checked quotes."""

    question: str
    answer: Answer | None
    error: str | None
    checks: tuple[QuoteCheck, ...]


def check_quotes(answer: Answer, documents: Mapping[str, Document]) -> tuple[QuoteCheck, ...]:
    """Each citation of `answer` checked against the documents as they are now."""
    checks = []
    for citation in answer.citations:
        document = documents.get(citation.doc_id)
        if document is None:
            checks.append(QuoteCheck(citation, False, "the document is no longer in the index"))
        elif document.text[citation.start : citation.end] != citation.quote:
            checks.append(QuoteCheck(citation, False, "the document's text at these offsets has changed"))
        else:
            checks.append(QuoteCheck(citation, True))
    return tuple(checks)


def export_item(
    question: str, answer: Answer | None, error: str | None, documents: Mapping[str, Document]
) -> ExportItem:
    return ExportItem(question, answer, error, check_quotes(answer, documents) if answer is not None else ())


def _where(citation: Citation) -> str:
    """ "characters 120–245, page 3": where the quote is in its document."""
    place = f"characters {citation.start}–{citation.end}"
    return f"{place}, page {citation.page}" if citation.page else place


def _mark(check: QuoteCheck) -> str:
    return VERIFIED if check.verified else f"{UNVERIFIED} ({check.reason})"


def _answer_text(item: ExportItem) -> str:
    if item.answer is None:
        return f"Could not answer: {item.error or 'no answer'}"
    if item.answer.refused or not item.answer.citations:
        return REFUSAL
    return item.answer.answer


# -- Markdown ------------------------------------------------------------------


def _quote_markdown(check: QuoteCheck) -> str:
    c = check.citation
    quoted = "\n".join(f"   > {line}" if line else "   >" for line in c.quote.split("\n"))
    return f"{c.n}. {_mark(check)} · *{c.title}* · {_where(c)}\n{quoted}"


def answer_markdown(item: ExportItem, heading: str = "##") -> str:
    """One question, its answer with [n] markers, and its numbered, checked quotes (also the copy button's text)."""
    parts = [f"{heading} {' '.join(item.question.split())}", _answer_text(item)]
    if item.answer is not None and item.answer.low_support and item.checks:
        parts.append("*Weak support: these quotes only loosely match the question. Read them before relying on it.*")
    if item.checks:
        parts.append("Sources:\n\n" + "\n".join(_quote_markdown(check) for check in item.checks))
    return "\n\n".join(parts) + "\n"


def _stamp(exported_at: datetime | None) -> str:
    return (exported_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")


def conversation_markdown(title: str, items: Sequence[ExportItem], exported_at: datetime | None = None) -> str:
    """A whole conversation (or one answer: a list of one) as a Markdown document."""
    intro = (
        f"# {' '.join(title.split())}\n\nExported from Grounded Q&A on {_stamp(exported_at)}. "
        f"Every quote was checked against the documents at export: {VERIFIED} means it is word for word at "
        f"those character offsets; {UNVERIFIED} means the document has changed since.\n"
    )
    return "\n".join([intro, *(answer_markdown(item) for item in items)])


# -- HTML ------------------------------------------------------------------------

_CSS = """
body { font: 16px/1.55 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1f2937; max-width: 46rem;
  margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin: 2rem 0 0.5rem; }
.intro, .where, .weak { color: #6b7280; font-size: 0.9rem; }
.weak { border-left: 3px solid #c77c02; padding-left: 8px; }
.answer { white-space: pre-wrap; }
ol.sources { padding-left: 1.4rem; }
ol.sources li { margin: 0.8rem 0; }
.check { font-weight: 600; font-size: 0.85rem; }
.check.verified { color: #047857; } .check.unverified { color: #b91c1c; }
.source-title { font-weight: 600; }
blockquote.quote { font-family: Georgia, 'Liberation Serif', serif; margin: 0.3rem 0 0; padding: 2px 10px;
  border-left: 3px solid #4f46e5; background: #fff8d6; white-space: pre-wrap; }
.error { color: #b91c1c; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _quote_html(check: QuoteCheck) -> str:
    c = check.citation
    kind = "verified" if check.verified else "unverified"
    return (
        f'<li class="source" id="source-{c.n}"><span class="check {kind}" title="{_e(_mark(check))}">'
        f"{_e(_mark(check))}</span> · "
        f'<span class="source-title">{_e(c.title)}</span> · <span class="where">{_e(_where(c))}</span>'
        f'<blockquote class="quote">{_e(c.quote)}</blockquote></li>'
    )


def _item_html(number: int, item: ExportItem) -> str:
    kind = "error" if item.answer is None else "answer"
    weak = (
        '<p class="weak">Weak support: these quotes only loosely match the question. Read them before relying on '
        "it.</p>"
        if item.answer is not None and item.answer.low_support and item.checks
        else ""
    )
    sources = f'<ol class="sources">{"".join(_quote_html(c) for c in item.checks)}</ol>' if item.checks else ""
    return (
        f'<section class="exchange" id="q{number}"><h2 class="question">{_e(" ".join(item.question.split()))}</h2>'
        f'<p class="{kind}">{_e(_answer_text(item))}</p>{weak}{sources}</section>'
    )


def conversation_html(title: str, items: Sequence[ExportItem], exported_at: datetime | None = None) -> str:
    """A whole conversation (or one answer) as one HTML page that needs nothing else.

    The CSS is inline and a Content-Security-Policy forbids loading anything,
    so the file opens the same offline; every string from a document, a person
    or a model is escaped.
    """
    body = "".join(_item_html(n, item) for n, item in enumerate(items, start=1))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="intro">Exported from Grounded Q&amp;A on {_e(_stamp(exported_at))}. Every quote was checked '
        f"against the documents at export: {_e(VERIFIED)} means it is word for word at those character offsets; "
        f"{_e(UNVERIFIED)} means the document has changed since.</p>"
        f"{body}</body></html>\n"
    )
