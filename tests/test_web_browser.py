"""The web chat in a real Chromium, over a real index of the default corpus with the real model.

Each test opens a fresh page (a fresh chat session) on one shared server, and
saves a full-page screenshot to docs/screenshots/ for the README.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.loaders import MAX_FILE_BYTES
from tests.web_fixtures import CHROMIUM, RunningApp, chat_page, chromium, normalized, running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
ANSWERS = "#rag-chat .rag-answer"
WAIT_MS = 30_000

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with running_app(tmp_path_factory.mktemp("web")) as app:
        yield app


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, server: RunningApp) -> Iterator[object]:
    with chat_page(browser, server.url, WAIT_MS) as page:
        yield page


def ask(page, question: str):
    """Type a question, press Enter, and return the new answer's locator once it is shown."""
    before = page.locator(ANSWERS).count()
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#rag-chat .rag-answer').length > n", arg=before, timeout=WAIT_MS
    )
    return page.locator(ANSWERS).last


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the chat finish scrolling
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def upload(page, path: Path) -> str:
    """Upload one file in the side panel and return the (new) status message text."""
    status = "() => (document.querySelector('#rag-upload-status .rag-notice') || {}).innerText || ''"
    before = page.evaluate(status)
    page.locator("#rag-upload input[type=file]").set_input_files(str(path))
    page.wait_for_function(f"old => ({status})() !== old", arg=before, timeout=60_000)
    return page.evaluate(status)


def card_title_to_doc_id(server: RunningApp) -> dict[str, str]:
    return {d.title: d.id for d in server.engine.data.documents.values()}


def open_document(page, title: str) -> object:
    page.get_by_role("tab", name="Documents").click()
    page.locator("#rag-doc-list label").filter(has_text=title).first.click()
    view = page.locator("#rag-doc-view .rag-document")
    page.wait_for_function(
        "t => (document.querySelector('#rag-doc-view .rag-doc-title') || {}).textContent === t",
        arg=title,
        timeout=WAIT_MS,
    )
    return view


# -- tests -------------------------------------------------------------------


def test_page_loads_with_title_explanation_and_examples(page) -> None:
    assert page.title() == "Grounded Q&A"
    header = page.locator("#rag-header").inner_text()
    assert "Grounded Q&A" in header and "verbatim quote" in header
    assert re.search(r"Ask about \d+ documents", header)
    examples = page.locator("#rag-chat button.example")
    assert examples.count() == 3
    assert "Geneva" in examples.first.inner_text()
    assert page.get_by_role("tab", name="Documents").is_visible()
    screenshot(page, "home")


def test_answer_links_markers_to_source_cards_with_verbatim_quotes(page, server: RunningApp) -> None:
    page.locator("#rag-chat button.example").filter(has_text="tired of the war").click()
    page.wait_for_selector(ANSWERS, timeout=WAIT_MS)
    answer = page.locator(ANSWERS).last
    marker = answer.locator("a.cite-marker").first
    assert marker.inner_text() == "[1]"
    target = marker.get_attribute("href")
    assert target and re.fullmatch(r"#cite-[0-9a-f]+-1", target)
    card = answer.locator(target)  # the id survived gradio's sanitizer
    assert card.count() == 1
    quote = card.locator("mark.rag-quote").inner_text()
    title = card.locator(".rag-source-title").inner_text()
    document = server.engine.data.documents[card_title_to_doc_id(server)[title]]
    assert normalized(quote) in normalized(document.text)
    assert "57 percent" in quote
    assert "Liza Smirnova" in card.locator(".rag-source-meta").inner_text()
    assert "answered in" in answer.locator(".rag-timings").inner_text()
    # no raw markup on screen
    assert "<" not in answer.inner_text() and "class=" not in answer.inner_text()

    plain = card.evaluate("el => getComputedStyle(el).boxShadow")
    marker.hover()
    page.wait_for_timeout(400)
    assert card.evaluate("el => getComputedStyle(el).boxShadow") != plain, "hovering [1] should highlight its card"
    screenshot(page, "answer")
    marker.click()
    page.wait_for_timeout(300)
    assert page.evaluate("location.hash") == target
    assert page.evaluate("document.querySelector(':target').id") == target[1:]


def test_thumbs_append_feedback_lines(page, server: RunningApp) -> None:
    before = server.feedback_log.read_text().splitlines() if server.feedback_log.exists() else []
    ask(page, "Who was sent to Geneva to negotiate?")
    page.locator("#rag-chat button[aria-label='Like']").last.click()
    for _ in range(50):
        lines = server.feedback_log.read_text().splitlines() if server.feedback_log.exists() else []
        if len(lines) > len(before):
            break
        page.wait_for_timeout(100)
    entry = json.loads(lines[-1])
    assert entry["question"] == "Who was sent to Geneva to negotiate?"
    assert entry["vote"] == "up"
    assert "Rubio" in entry["answer"] and entry["citations"][0]["doc_id"] == "stockton-russian-us-talks"
    assert entry["timestamp"]


def test_follow_up_uses_the_earlier_turn(page, server: RunningApp) -> None:
    follow_up = "Who did he meet there?"
    # On its own the follow-up has nothing to search with ...
    assert server.engine.ask(follow_up).refused
    page.set_viewport_size({"width": 1280, "height": 1250})  # room for both turns in the screenshot
    first = ask(page, "Who was dispatched to Geneva?")
    assert "Rubio" in first.locator(".rag-answer-text").inner_text()
    # ... in the chat it is answered from the earlier turn's article.
    second = ask(page, follow_up)
    assert second.locator(".rag-refusal").count() == 0
    title = second.locator(".rag-source-title").first.inner_text()
    assert card_title_to_doc_id(server)[title] == "stockton-russian-us-talks"
    assert "Zelensky" in second.locator(".rag-answer-text").inner_text()
    screenshot(page, "follow-up")


def test_document_filter_and_k_setting_are_used(page, server: RunningApp) -> None:
    question = "Who was sent to Geneva to negotiate?"  # answered from Stockton's article when unfiltered
    page.locator("#rag-doc-filter input").click()
    page.get_by_role("option", name="Trump's 28-Point Plan").click()
    page.keyboard.press("Escape")
    k = page.locator("input[type=number]").first
    k.fill("1")
    k.press("Enter")
    answer = ask(page, question)
    assert answer.locator(".rag-refusal").count() == 1
    assert answer.locator(".rag-passage").count() == 1  # k=1 passage, from the chosen document only
    assert answer.locator(".rag-passage-title").inner_text().startswith("Trump's 28-Point Plan")


def test_unanswerable_question_is_refused_with_related_passages(page) -> None:
    answer = ask(page, "What is a good recipe for banana bread?")
    assert answer.locator(".rag-refusal").inner_text() == "The documents don't answer this question."
    assert answer.locator(".rag-related-heading").inner_text().lower() == "related passages (not an answer)"
    assert answer.locator(".rag-passage").count() >= 1
    assert answer.locator(".rag-source").count() == 0 and answer.locator("a.cite-marker").count() == 0
    screenshot(page, "refusal")


def test_uploaded_file_can_be_asked_about_at_once(page, server: RunningApp, tmp_path: Path) -> None:
    note = tmp_path / "zorbulon-institute.txt"
    note.write_text(
        "The Zorbulon Institute\n\n"
        "The Zorbulon Institute was founded in 1873 by the botanist Ada Quill in the town of Merriwether.\n\n"
        "Its library holds forty-one thousand pressed ferns from the northern valleys.\n",
        encoding="utf-8",
    )
    status = upload(page, note)
    assert "Added “The Zorbulon Institute”" in status and "ask about it now" in status
    assert "zorbulon-institute" in server.engine.data.documents
    assert (server.engine.index_dir / "uploads" / "zorbulon-institute.txt").is_file()
    answer = ask(page, "Who founded the Zorbulon Institute?")
    assert "Ada Quill" in answer.locator("mark.rag-quote").first.inner_text()
    assert answer.locator(".rag-source-title").first.inner_text() == "The Zorbulon Institute"
    assert f"{len(server.engine.data.documents)} documents" in page.locator("#rag-header").inner_text()
    screenshot(page, "upload")


def test_unsupported_upload_gets_a_clear_message(page, tmp_path: Path) -> None:
    sheet = tmp_path / "numbers.xls"  # old binary Excel: not read
    sheet.write_text("a,b\n1,2\n", encoding="utf-8")
    status = upload(page, sheet)
    assert "Nothing was added" in status
    assert "numbers.xls: unsupported file type .xls" in status
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n\n  ", encoding="utf-8")
    status = upload(page, empty)
    assert "empty.txt: no text in file" in status  # the loader's own reason
    wordy = tmp_path / "wordy.txt"
    wordy.write_text("Wordy notes\n\n" + "The heron waded. " * 60_000, encoding="utf-8")  # 1,020,013 characters
    status = upload(page, wordy)
    assert "Nothing was added" in status
    assert "wordy.txt: its text is 1,020,013 characters; an upload may hold at most 1,000,000" in status
    assert "index large files from the command line: rag index PATH" in status
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:  # sparse: nothing near 50 MB is written
        os.truncate(handle.fileno(), MAX_FILE_BYTES + 1)
    page.locator("#rag-upload input[type=file]").set_input_files(str(big))
    page.get_by_text("exceed the maximum allowed size of 50.0 Mb").wait_for(timeout=WAIT_MS)
    screenshot(page, "upload-rejected")


def test_documents_view_highlights_quoted_spans(page, server: RunningApp) -> None:
    answer = ask(page, "How large an army would Ukraine be allowed under the plan?")
    quote = normalized(answer.locator("mark.rag-quote").first.inner_text())
    title = answer.locator(".rag-source-title").first.inner_text()
    view = open_document(page, title)
    marks = [normalized(m) for m in view.locator("mark.rag-quoted").all_inner_texts()]
    assert quote in marks
    assert "highlighted" in view.locator(".rag-doc-quoted").inner_text()
    assert view.locator("p.rag-doc-p").count() > 5  # paragraphs kept
    document = server.engine.data.documents[card_title_to_doc_id(server)[title]]
    assert normalized(view.locator(".rag-doc-body").inner_text()) == normalized(document.text)
    view.locator(".rag-doc-quoted a").click()  # "Go to the first": the highlight comes into view
    first = view.locator("mark.rag-quoted").first
    page.wait_for_function(
        "() => { const r = document.getElementById('rag-first-quote').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }",
        timeout=10_000,
    )
    assert first.get_attribute("id") == "rag-first-quote"
    screenshot(page, "documents")


def test_hostile_document_is_shown_as_text_and_never_runs(page, server: RunningApp, tmp_path: Path) -> None:
    script = "<script>window.__pwned=1</script>"
    image = '<img src=x onerror="window.__pwned=2">'
    hostile = tmp_path / "hostile-heron.txt"
    hostile.write_text(
        f"Heron notes {script}\n\n"
        f"The sapphire heron nests only on Lake Vostrik {script} during the autumn rains.\n\n"
        f"The keeper of Lake Vostrik is Ilse Brandt {image} and she counts the herons every spring.\n",
        encoding="utf-8",
    )
    assert "Added" in upload(page, hostile)
    answer = ask(page, "Where does the sapphire heron nest?")
    assert script in answer.locator("mark.rag-quote").first.inner_text()
    keeper = ask(page, "Who is the keeper of Lake Vostrik?")
    assert image in keeper.inner_text()
    view = open_document(page, f"Heron notes {script}")
    text = view.inner_text()
    assert script in text and image in text
    assert view.locator("mark.rag-quoted").count() == 2
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img[src=x]").count() == 0
    assert not page.evaluate("[...document.scripts].some(s => s.textContent.includes('__pwned'))")
    screenshot(page, "hostile-document")


def test_huge_question_shows_an_error_and_the_app_keeps_working(page) -> None:
    huge = "Why " + "x" * 100_000 + "?"
    error = ask(page, huge)
    assert "rag-error" in (error.get_attribute("class") or "")
    assert "100,005 characters" in error.inner_text() and "at most 2,000" in error.inner_text()
    box = page.locator("#rag-question textarea")
    assert box.input_value() == huge, "the question stays in the box, to be shortened rather than typed again"
    assert "Traceback" not in page.content()
    votes = "[...document.querySelectorAll('#rag-chat button[aria-label=Like]')].filter(b => b.offsetParent)"
    assert page.evaluate(f"() => {votes}.length") == 0, "an error is no answer to vote on"
    screenshot(page, "error")
    answer = ask(page, "Who was sent to Geneva to negotiate?")
    assert answer.locator(".rag-source").count() >= 1


def test_lone_surrogates_and_control_characters_never_break_the_chat(page) -> None:
    # The browser itself sends the lone surrogate as U+FFFD (tests/test_web_dirty_text.py posts the raw
    # escape); the bell and escape characters reach the server and must not reach the page.
    dirty = "Who was sent \ud800to Geneva\x07 to negotiate?\x1b"
    answer = ask(page, dirty)
    assert "Rubio" in answer.locator(".rag-answer-text").inner_text()
    shown = page.locator("#rag-chat .rag-question").last.inner_text()
    assert shown == "Who was sent \ufffdto Geneva to negotiate?"
    follow_up = ask(page, "Who did he meet there?")  # the cleaned turn is the history now
    assert "Zelensky" in follow_up.locator(".rag-answer-text").inner_text()
    assert page.locator("#rag-chat .rag-error").count() == 0
    assert "Traceback" not in page.content() and "Error" not in page.locator(".toast-wrap").all_inner_texts()
