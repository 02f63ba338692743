"""Unit tests for ui/render.py: answers and documents as HTML, with small hand-made objects."""

from __future__ import annotations

import dataclasses
import re

import pytest

from index.types import Document
from rag.types import Answer, Citation, Passage
from ui.render import (
    RELATED_HEADING,
    WEAK_SUPPORT,
    answer_html,
    document_html,
    error_html,
    merge_spans,
    notice_html,
    paragraph_around,
    paragraphs,
)

HOSTILE = '<script>window.__pwned=1</script> and <img src=x onerror="window.__pwned=2">'

TEXT = (
    "Heading line\n\n"
    "The first paragraph is short. It has two sentences.\n\n"
    "The envoy went to Geneva on Monday. He met the delegates there. The talks lasted three days.\n\n"
    f"A hostile paragraph: {HOSTILE} ends here."
)


def make_document(text: str = TEXT, **fields: object) -> Document:
    base: dict[str, object] = {
        "id": "notes/geneva",
        "text": text,
        "title": "Talks in <b>Geneva</b>",
        "path": "/tmp/notes/geneva.md",
        "format": "md",
        "content_hash": "0" * 64,
        "authors": ("Ann O'Neil", "Bo <i>Li</i>"),
        "date": "2025-01-02",
    }
    base.update(fields)
    return Document(**base)  # type: ignore[arg-type]


def cite(document: Document, n: int, quote: str) -> Citation:
    start = document.text.index(quote)
    return Citation(n, document.id, document.title, quote, start, start + len(quote), None, 0.8123)


def make_answer(document: Document, quotes: list[str], text: str | None = None) -> Answer:
    citations = [cite(document, n, q) for n, q in enumerate(quotes, start=1)]
    return Answer(
        question="Who went to Geneva?",
        answer=text or " ".join(f"{q} [{c.n}]" for q, c in zip(quotes, citations, strict=True)),
        refused=False,
        citations=citations,
        passages=[],
        timings_ms={"retrieve": 12.0, "select": 30.0, "compose": 0.4, "total": 42.4},
    )


def refused_answer(document: Document) -> Answer:
    start = document.text.index("The envoy")
    end = document.text.index("three days.") + len("three days.")
    passage = Passage(document.id, "c1", document.title, document.text[start:end], start, end, 0.3, 0.2, 0.1)
    return Answer("banana bread?", "The documents don't answer this question.", True, [], [passage], {"total": 5.0})


# -- paragraphs --------------------------------------------------------------


def test_paragraphs_split_on_blank_lines() -> None:
    spans = paragraphs(TEXT)
    assert [TEXT[s:e] for s, e in spans][:2] == ["Heading line", "The first paragraph is short. It has two sentences."]
    assert len(spans) == 4


def test_paragraph_cut_contains_the_quote_and_stays_in_its_paragraph() -> None:
    quote = "He met the delegates there."
    start = TEXT.index(quote)
    before, got, after = paragraph_around(TEXT, start, start + len(quote))
    assert got == quote
    assert before == "The envoy went to Geneva on Monday. "
    assert after == " The talks lasted three days."
    assert "first paragraph" not in before + after


def test_paragraph_cut_is_capped_around_a_long_paragraph() -> None:
    text = "intro\n\n" + " ".join(f"word{i}" for i in range(600)) + " THE QUOTE. " + "tail " * 600 + "\n\nnext"
    start = text.index("THE QUOTE.")
    before, quote, after = paragraph_around(text, start, start + len("THE QUOTE."), limit=200)
    assert quote == "THE QUOTE."
    assert before.startswith("…") and after.endswith("…")
    assert len(before) + len(after) <= 210
    assert "intro" not in before and "next" not in after


def test_paragraph_cut_gives_unused_room_to_the_other_side() -> None:
    text = "x " * 400 + "QUOTE."
    start = text.index("QUOTE.")
    before, _, after = paragraph_around(text, start, len(text), limit=300)
    assert after == ""
    assert len(before) > 250


def test_merge_spans_joins_overlaps_and_sorts() -> None:
    assert merge_spans([(10, 20), (0, 5), (15, 30), (40, 40)]) == [(0, 5), (10, 30)]


# -- answers -----------------------------------------------------------------


def test_markers_link_to_their_source_cards() -> None:
    document = make_document()
    answer = make_answer(document, ["The envoy went to Geneva on Monday.", "He met the delegates there."])
    out = answer_html(answer, {document.id: document}, "a1")
    for n in (1, 2):
        assert f'<a href="#cite-a1-{n}" class="cite-marker cite-{n}"' in out
        assert f'<div class="rag-source source-{n}" id="cite-a1-{n}">' in out
    assert out.count('class="rag-source ') == 2
    assert '<mark class="rag-quote">He met the delegates there.</mark>' in out


def test_source_card_shows_title_authors_date_score_and_quote_in_context() -> None:
    document = make_document()
    out = answer_html(make_answer(document, ["He met the delegates there."]), {document.id: document}, "a1")
    card = out[out.index('id="cite-a1-1"') :]
    assert "Talks in &lt;b&gt;Geneva&lt;/b&gt;" in card
    assert "Ann O&#x27;Neil, Bo &lt;i&gt;Li&lt;/i&gt; · 2025-01-02" in card
    assert "The envoy went to Geneva on Monday. <mark" in card
    assert "</mark> The talks lasted three days." in card
    assert "0.81" in card
    assert "page" not in card


def test_page_is_shown_for_a_pdf_citation() -> None:
    document = make_document(format="pdf", page_starts=(0, 20))
    answer = make_answer(document, ["He met the delegates there."])
    answer.citations[0] = dataclasses.replace(answer.citations[0], page=2)
    assert "page 2" in answer_html(answer, {document.id: document}, "p1")


def test_marker_without_a_citation_stays_plain_text() -> None:
    document = make_document()
    answer = make_answer(document, ["He met the delegates there."], text="He met the delegates there. [1] See [7].")
    out = answer_html(answer, {document.id: document}, "a1")
    assert "See [7]." in out
    assert 'href="#cite-a1-7"' not in out


@pytest.mark.parametrize("answer_id", ["a b", 'x"onmouseover="alert(1)', "<id>", ""])
def test_answer_id_must_be_safe(answer_id: str) -> None:
    document = make_document()
    with pytest.raises(ValueError):
        answer_html(make_answer(document, ["He met the delegates there."]), {document.id: document}, answer_id)


def test_hostile_quote_and_title_are_escaped() -> None:
    document = make_document(title=HOSTILE)
    quote = f"A hostile paragraph: {HOSTILE} ends here."
    out = answer_html(make_answer(document, [quote]), {document.id: document}, "h1")
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in out
    assert "onerror=&quot;window.__pwned=2&quot;" in out
    # the only tags left are the renderer's own
    assert set(re.findall(r"<([a-z]+)", out)) <= {"div", "p", "a", "span", "blockquote", "mark"}


def test_timings_are_shown_small() -> None:
    document = make_document()
    out = answer_html(make_answer(document, ["He met the delegates there."]), {document.id: document}, "a1")
    assert '<div class="rag-timings">answered in 42 ms (retrieve 12 ms · select 30 ms · compose 0 ms)</div>' in out


def test_refusal_says_so_and_lists_related_passages_apart_from_sources() -> None:
    document = make_document()
    out = answer_html(refused_answer(document), {document.id: document}, "r1")
    assert '<p class="rag-refusal">The documents don\'t answer this question.</p>' in out
    assert f'<div class="rag-related-heading">{RELATED_HEADING}</div>' in out
    assert out.count('class="rag-passage"') == 1
    assert "The envoy went to Geneva on Monday." in out
    assert "rag-source" not in out and "cite-marker" not in out and "<mark" not in out
    assert "rag-refused" in out


def test_refusal_without_passages_has_no_related_block() -> None:
    document = make_document()
    answer = Answer("q", "The documents don't answer this question.", True, [], [], {})
    out = answer_html(answer, {document.id: document}, "r2")
    assert "rag-related" not in out and "rag-refusal" in out


def test_a_refusal_under_a_document_filter_names_what_was_searched() -> None:
    document = make_document()
    other = make_document(id="other", title="Other notes")
    documents = {document.id: document, other.id: other}
    out = answer_html(refused_answer(document), documents, "r3", searched=[document.id])
    note = re.search(r'<p class="rag-filter-note">(.*?)</p>', out)
    assert note, out
    assert note.group(1) == (
        "Only “Talks in &lt;b&gt;Geneva&lt;/b&gt;” was searched. Clear the document filter to search all 2 documents."
    )
    assert "rag-filter-note" not in answer_html(refused_answer(document), documents, "r4")  # no filter
    everything = answer_html(refused_answer(document), documents, "r5", searched=list(documents))
    assert "rag-filter-note" not in everything  # a filter that keeps every document is no filter
    answer = make_answer(document, ["The envoy went to Geneva on Monday."])
    answered = answer_html(answer, documents, "r6", searched=[document.id])
    assert "rag-filter-note" not in answered  # only a refusal needs the reminder


def test_error_and_notice_are_escaped() -> None:
    assert "&lt;script&gt;" in error_html("bad <script>")
    out = notice_html("error", "Nothing <b>added</b>", ["evil<img src=x onerror=1>.txt: unsupported"])
    assert "<b>" not in out and "<img" not in out
    assert "rag-notice-error" in out and "<li>" in out


# -- documents ---------------------------------------------------------------


def test_document_view_keeps_paragraphs_and_marks_quoted_spans() -> None:
    document = make_document()
    quote = "He met the delegates there."
    start = TEXT.index(quote)
    out = document_html(document, [(start, start + len(quote)), (start + 3, start + 10)])
    assert out.count('<p class="rag-doc-p">') == 4
    assert f'<mark class="rag-quoted" id="rag-first-quote">{quote}</mark>' in out
    assert out.count("<mark") == 1  # overlapping spans merged
    assert "1 passage is highlighted" in out and '<a href="#rag-first-quote">Go to the first</a>' in out


def test_document_view_escapes_hostile_text_and_metadata() -> None:
    document = make_document(title=HOSTILE, publisher="<b>P</b>", url="javascript:alert(1)")
    out = document_html(document)
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in out
    assert "javascript:" not in out  # not a link the reader could click
    assert "Nothing from this document has been quoted yet" in out


def test_document_view_links_a_web_source() -> None:
    out = document_html(make_document(url="https://example.org/a?b=1&c=2"))
    assert '<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">source</a>' in out


def test_spans_crossing_paragraphs_are_marked_in_each() -> None:
    document = make_document()
    start = TEXT.index("It has two")
    end = TEXT.index("on Monday")
    out = document_html(document, [(start, end)])
    assert out.count("<mark") == 2


def test_a_low_support_answer_says_so_in_words() -> None:
    document = make_document()
    answer = make_answer(document, ["The envoy went to Geneva on Monday."])
    documents = {document.id: document}
    plain = answer_html(answer, documents, "a1")
    weak = answer_html(dataclasses.replace(answer, low_support=True), documents, "a2")
    assert "Weak support" not in plain and WEAK_SUPPORT in weak
