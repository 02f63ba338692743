"""Saved conversations, export and reading comfort in a real Chromium, over a real index of the default corpus
with the real model: reload and reopen a conversation and follow it up; export to HTML and open the file; a
server killed with SIGKILL mid-conversation; a long answer on a 390×844 phone screen opens at its top.

Screenshots go to docs/screenshots/ (conversations.png, phone-answer.png).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web_fixtures import CHROMIUM, CORPUS, RunningApp, chromium, free_port, normalized, open_chat, running_app
from ui.conversations import DATABASE_NAME, LOCAL_USER, ConversationStore
from ui.export import VERIFIED
from ui.web import build_app, launch

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
ANSWERS = "#rag-chat .rag-answer"
WAIT_MS = 30_000
PHONE = {"width": 390, "height": 844}

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with running_app(tmp_path_factory.mktemp("conversations")) as app:
        yield app


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def context(browser) -> Iterator[object]:
    """A fresh browser profile (its own localStorage: its own open conversation)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield context
    context.close()


def open_page(context, url: str) -> object:
    return open_chat(context, url, WAIT_MS)


def ask(page, question: str) -> object:
    """Type a question, press Enter, and return the new answer once it is shown and saved."""
    before = page.locator(ANSWERS).count()
    saved = conversation_count(page)
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#rag-chat .rag-answer').length > n", arg=before, timeout=WAIT_MS
    )
    if before == 0:  # the first answer creates the conversation in the sidebar
        page.wait_for_function(
            "n => document.querySelectorAll('#rag-conversations label').length > n", arg=saved, timeout=WAIT_MS
        )
    return page.locator(ANSWERS).last


def conversation_count(page) -> int:
    return page.locator("#rag-conversations label").count()


def stored(server_dir: Path) -> ConversationStore:
    return ConversationStore(server_dir / DATABASE_NAME)


def saved_questions(index_dir: Path, at_least: int) -> list[str]:
    """The questions of the newest saved conversation, once it holds `at_least` (saving follows the answer)."""
    questions: list[str] = []
    for _ in range(100):
        summaries = stored(index_dir).conversations(LOCAL_USER)
        conversation = stored(index_dir).load(LOCAL_USER, summaries[0].id) if summaries else None
        questions = [e.question for e in conversation.exchanges] if conversation else []
        if len(questions) >= at_least:
            break
        time.sleep(0.1)
    return questions


def test_reload_reopen_and_follow_up(context, server: RunningApp) -> None:
    page = open_page(context, server.url)
    first = ask(page, "Who was dispatched to Geneva?")
    first_doc = first.locator(".rag-source-title").first.inner_text()
    label = page.locator("#rag-conversations label").first
    assert label.inner_text().startswith("Who was dispatched to Geneva?")

    page.reload()  # the conversation comes back with the page: chat, sidebar and title
    page.wait_for_selector(ANSWERS, timeout=WAIT_MS)
    assert page.locator(ANSWERS).count() == 1
    assert page.locator("#rag-title textarea, #rag-title input").first.input_value() == "Who was dispatched to Geneva?"
    assert "Who was dispatched to Geneva?" in page.locator("#rag-conversations").inner_text()

    page.locator("#rag-new-conversation").click()  # an empty chat; the saved one stays listed
    page.wait_for_function("() => !document.querySelector('#rag-chat .rag-answer')", timeout=WAIT_MS)
    page.locator("#rag-conversations label").filter(has_text="Who was dispatched to Geneva?").first.click()
    reopened = page.locator(ANSWERS).first
    reopened.wait_for(timeout=WAIT_MS)
    marker = reopened.locator("a.cite-marker").first  # citations intact and clickable
    target = marker.get_attribute("href")
    marker.click()
    page.wait_for_timeout(300)
    assert page.evaluate("document.querySelector(':target') && document.querySelector(':target').id") == target[1:]
    quote = reopened.locator(f"{target} mark.rag-quote").inner_text()
    document = next(d for d in server.engine.data.documents.values() if d.title == first_doc)
    assert normalized(quote) in normalized(document.text)

    follow_up = "Who did he meet there?"
    assert server.engine.ask(follow_up).refused  # on its own it has nothing to search with
    second = ask(page, follow_up)
    assert second.locator(".rag-refusal").count() == 0  # answered from the reopened conversation's history
    assert second.locator(".rag-source-title").first.inner_text() == first_doc
    questions = saved_questions(server.engine.index_dir, 2)
    assert questions == ["Who was dispatched to Geneva?", follow_up]

    page.locator("#rag-title textarea, #rag-title input").first.fill("Geneva talks")
    page.locator("#rag-rename-conversation").click()
    page.wait_for_function(
        "() => document.querySelector('#rag-conversations').innerText.includes('Geneva talks')", timeout=WAIT_MS
    )
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "conversations.png"), full_page=True)
    assert not page.errors


def test_export_html_holds_every_quote_verified_and_copy_puts_them_on_the_clipboard(
    context, server: RunningApp, tmp_path: Path
) -> None:
    page = open_page(context, server.url)
    page.locator("#rag-new-conversation").click()
    answer = ask(page, "What share of Russians say they are tired of the war?")
    quotes = [normalized(q) for q in answer.locator("mark.rag-quote").all_inner_texts()]
    assert quotes
    page.locator("#rag-export").get_by_text("Copy or export").click()
    page.locator("#rag-export-html").click()
    link = page.locator("#rag-exported a").first
    link.wait_for(timeout=WAIT_MS)
    with page.expect_download() as download:
        link.click()
    exported = tmp_path / "conversation.html"
    download.value.save_as(exported)

    reader = context.new_page()
    reader.goto(exported.as_uri())
    sources = reader.locator("li.source")
    assert sources.count() == len(quotes)
    for n, quote in enumerate(quotes):
        source = sources.nth(n)
        assert normalized(source.locator("blockquote.quote").inner_text()) == quote  # verbatim
        assert source.locator(".check").inner_text() == VERIFIED
        assert "characters " in source.inner_text()
    assert reader.evaluate("performance.getEntriesByType('resource').length") == 0  # nothing fetched

    page.locator("#rag-copy").click()
    page.wait_for_timeout(300)
    clipboard = normalized(page.evaluate("navigator.clipboard.readText()"))
    assert all(quote in clipboard for quote in quotes) and VERIFIED in clipboard
    assert not page.errors


def log_in(context, url: str, user: str, password: str) -> object:
    page = context.new_page()
    page.goto(url)
    page.locator("input[type=password]").wait_for(timeout=WAIT_MS)
    page.locator("input[type=text], input:not([type])").first.fill(user)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#rag-chat", timeout=WAIT_MS)
    page.errors = []
    return page


def test_with_logins_each_user_sees_only_their_own_conversations(browser, server: RunningApp, tmp_path: Path) -> None:
    accounts = {"alice": "alice-long-password", "bob": "bob-long-password"}
    app = build_app(server.engine, tmp_path / "feedback.jsonl", conversations_db=tmp_path / DATABASE_NAME)
    url = launch(app, port=free_port(), auth=lambda user, password: accounts.get(user) == password, block=False)
    alice_browser = browser.new_context(viewport={"width": 1280, "height": 900})
    bob_browser = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        alice = log_in(alice_browser, url, "alice", accounts["alice"])
        ask(alice, "Who was dispatched to Geneva?")
        bob = log_in(bob_browser, url, "bob", accounts["bob"])
        page_loaded = "() => document.querySelector('#rag-conversations') !== null"
        bob.wait_for_function(page_loaded, timeout=WAIT_MS)
        bob.wait_for_timeout(1000)  # the saved list arrives with the page load
        assert conversation_count(bob) == 0 and bob.locator(ANSWERS).count() == 0
        ask(bob, "What share of Russians say they are tired of the war?")
        assert "Geneva" not in bob.locator("#rag-conversations").inner_text()
        alice.reload()
        alice.wait_for_selector(ANSWERS, timeout=WAIT_MS)
        listed = alice.locator("#rag-conversations").inner_text()
        assert "Geneva" in listed and "tired of the war" not in listed
        store = ConversationStore(tmp_path / DATABASE_NAME)
        assert [c.title for c in store.conversations("alice")] == ["Who was dispatched to Geneva?"]
        assert [c.title for c in store.conversations("bob")] == [
            "What share of Russians say they are tired of the war?"
        ]
        assert store.conversations(LOCAL_USER) == []
    finally:
        alice_browser.close()
        bob_browser.close()
        app.close()


def start_server(index_dir: Path, port: int, attempts: int = 3) -> subprocess.Popen:
    """`rag chat` in its own process, as a person would run it. Started again (up to `attempts` times) when it
    exits before serving: right after a SIGKILL the port can still be held for a moment on a busy machine."""
    output: list[str] = []
    for _ in range(attempts):
        process = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "chat", "--index-dir", str(index_dir), "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        output = []
        for line in process.stdout:
            output.append(line)
            if "running at" in line:
                return process
            if time.monotonic() > deadline:
                break
        process.kill()
        process.wait(timeout=30)
        time.sleep(2)
    raise AssertionError("rag chat did not start:\n" + "".join(output[-20:]))


def test_a_server_killed_mid_conversation_keeps_it_up_to_the_last_full_answer(browser, tmp_path: Path) -> None:
    from index.builder import build_index
    from index.embedder import SentenceTransformerEmbedder

    index_dir = tmp_path / "index"
    build_index([CORPUS], index_dir, SentenceTransformerEmbedder())
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = start_server(index_dir, port)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = open_page(context, url)
        first = ask(page, "Who was dispatched to Geneva?")
        first_quotes = first.locator("mark.rag-quote").all_inner_texts()
        box = page.locator("#rag-question textarea")
        box.fill("How large an army would Ukraine be allowed under the plan?")
        box.press("Enter")
        os.kill(server.pid, signal.SIGKILL)  # mid-conversation: the second question is on its way
        server.wait(timeout=30)

        server = start_server(index_dir, port)
        page = open_page(context, url)  # the same browser: it remembers which conversation it had open
        page.wait_for_selector(ANSWERS, timeout=WAIT_MS)
        answers = page.locator(ANSWERS)
        assert answers.first.locator("mark.rag-quote").all_inner_texts() == first_quotes
        summaries = stored(index_dir).conversations(LOCAL_USER)
        assert [s.title for s in summaries] == ["Who was dispatched to Geneva?"]
        conversation = stored(index_dir).load(LOCAL_USER, summaries[0].id)
        assert conversation is not None and 1 <= len(conversation.exchanges) <= 2
        assert all(e.answer is not None and e.answer.citations for e in conversation.exchanges)  # only whole ones
        assert answers.count() == len(conversation.exchanges)
    finally:
        context.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_on_a_phone_a_long_answer_opens_at_its_first_line(browser, server: RunningApp) -> None:
    question = "What are the main points of Heinonen's article?"
    expected = server.engine.ask(question)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        page = open_page(context, server.url)
        page.locator("#rag-new-conversation").click()
        answer = ask(page, question)
        page.wait_for_timeout(500)  # let the page settle where it scrolled to
        page.screenshot(path=str(SCREENSHOTS / "phone-answer.png"))  # what a person sees: look at it
        box = answer.bounding_box()
        assert box is not None and box["height"] > PHONE["height"] / 2  # a long answer: it could be missed
        first_line = answer.locator(".rag-answer-text").bounding_box()
        assert first_line is not None and 0 <= first_line["y"] < PHONE["height"] - 40, first_line
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing off the side
        weak = answer.locator(".rag-weak-support")
        assert weak.count() == (1 if expected.low_support else 0)
        if expected.low_support:
            assert weak.inner_text().startswith("Weak support:")

        marker = answer.locator("a.cite-marker").first  # the source panel works on the small screen
        target = marker.get_attribute("href")
        marker.click()
        page.wait_for_timeout(400)
        card = answer.locator(target).bounding_box()
        assert card is not None and 0 <= card["y"] < PHONE["height"]
        assert card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"] + 1
        assert not page.errors
    finally:
        context.close()
