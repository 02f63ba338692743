"""ui/export.py: every quote verbatim with its title, offsets, page and check mark, in Markdown and HTML;
hostile text escaped; a quote that no longer matches its document marked, not hidden."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from html.parser import HTMLParser

from index.types import Document
from rag.types import Answer, Citation
from ui.export import (
    UNVERIFIED,
    VERIFIED,
    answer_markdown,
    check_quotes,
    conversation_html,
    conversation_markdown,
    export_item,
)

TEXT = "Notes\n\nThe envoy went to Geneva on Monday. He met <script>alert(1)</script> & “delegates” there."
HOSTILE = "He met <script>alert(1)</script> & “delegates” there."
WHEN = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def documents() -> dict[str, Document]:
    return {"notes": Document("notes", TEXT, "Notes <img src=x onerror=alert(2)>", "/x/notes.txt", "txt", "0")}


def citation(n: int, quote: str, page: int | None = None) -> Citation:
    start = TEXT.index(quote)
    return Citation(n, "notes", "Notes <img src=x onerror=alert(2)>", quote, start, start + len(quote), page, 0.9)


def answer() -> Answer:
    cites = [citation(1, "The envoy went to Geneva on Monday.", page=2), citation(2, HOSTILE)]
    return Answer(
        "Who went to Geneva?", "The envoy went to Geneva on Monday. [1] He met them. [2]", False, cites, [], {}
    )


class Text(HTMLParser):
    """The text a browser would show, and every tag and attribute, to look for anything active."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_every_quote_is_in_the_markdown_with_title_offsets_page_and_check() -> None:
    item = export_item("Who went to Geneva?", answer(), None, documents())
    markdown = conversation_markdown("Geneva", [item], WHEN)
    for c in answer().citations:
        assert f"   > {c.quote}" in markdown
        assert f"{c.n}. {VERIFIED} · *{c.title}* · characters {c.start}–{c.end}" in markdown
    assert "characters 7–42, page 2" in markdown
    assert "The envoy went to Geneva on Monday. [1] He met them. [2]" in markdown
    assert UNVERIFIED + " (" not in markdown
    assert "2026-12-02 12:00 UTC" in markdown


def test_every_quote_is_in_the_html_verbatim_with_its_check_and_nothing_runs() -> None:
    page = conversation_html("Geneva <script>", [export_item("Who <b>went</b>?", answer(), None, documents())], WHEN)
    parser = Text()
    parser.feed(page)
    shown = "".join(parser.text)
    for c in answer().citations:
        assert f"{VERIFIED} · {c.title} · characters {c.start}–{c.end}" in shown
        assert c.quote in shown  # verbatim, as a browser shows it
    assert "Who <b>went</b>?" in shown and "Geneva <script>" in shown
    tags = {tag for tag, _ in parser.tags}
    assert tags <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "p",
        "section",
        "h2",
        "ol",
        "li",
        "span",
        "blockquote",
    }
    assert not any(name.startswith("on") for _, attrs in parser.tags for name, _ in attrs)
    assert not any(name in ("src", "href") for _, attrs in parser.tags for name, _ in attrs)  # nothing to fetch
    assert not re.search(r"(?i)url\(|@import", page)
    assert "default-src 'none'" in page


def test_a_quote_that_no_longer_verifies_is_marked_not_hidden() -> None:
    changed = {"notes": Document("notes", TEXT.replace("Monday", "Friday"), "Notes", "/x/notes.txt", "txt", "1")}
    checks = check_quotes(answer(), changed)
    assert [c.verified for c in checks] == [False, True]
    assert "changed" in checks[0].reason
    item = export_item("Who went to Geneva?", answer(), None, changed)
    markdown = answer_markdown(item)
    assert f"1. {UNVERIFIED} (the document's text at these offsets has changed)" in markdown
    assert "   > The envoy went to Geneva on Monday." in markdown  # the stored quote, still shown
    page = conversation_html("Geneva", [item], WHEN)
    assert page.count('class="check unverified"') == 1 and page.count('class="check verified"') == 1
    gone = check_quotes(answer(), {})
    assert not any(c.verified for c in gone) and "no longer in the index" in gone[0].reason


def test_refusals_and_errors_export_in_words() -> None:
    refused = Answer("Banana bread?", "The documents don't answer this question.", True, [], [], {})
    items = [export_item("Banana bread?", refused, None, {}), export_item("???", None, "The index is busy.", {})]
    markdown = conversation_markdown("Odd ones", items, WHEN)
    assert "The documents don't answer this question." in markdown
    assert "Could not answer: The index is busy." in markdown and "Sources" not in markdown
    page = conversation_html("Odd ones", items, WHEN)
    assert html.escape("The documents don't answer this question.") in page
    assert '<p class="error">Could not answer: The index is busy.</p>' in page
