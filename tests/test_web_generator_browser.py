"""The web chat with a language model, in a real Chromium over the real corpus and embedding model.

The model is a scripted generator that writes slowly (a fake object, so the
test needs no GGUF): the page must show its draft while it is being written,
marked as a draft, and then replace it with the verified answer, whose quotes
are verbatim and whose unsupported, hostile sentence is listed as removed and
shown as inert text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.web_fixtures import CHROMIUM, chat_page, chromium, free_port, normalized

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 60_000
GENEVA = "Who was sent to Geneva to negotiate?"
SUPPORTED = "Secretary of State Marco Rubio has been dispatched to Geneva to negotiate with President Zelensky [1]."
HOSTILE = '<img src=x onerror="window.pwned=1"> The moon is made of cheese [2].'

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("playwright.sync_api")


class SlowScriptedGenerator:
    """Writes a fixed reply a few characters at a time, `delay` seconds apart, and counts its calls."""

    def __init__(self, reply: str, delay: float) -> None:
        self.name = "scripted-slow"
        self.reply = reply
        self.delay = delay
        self.calls = 0

    def stream(self, messages) -> Iterator[str]:
        self.calls += 1
        for i in range(0, len(self.reply), 4):
            time.sleep(self.delay)
            yield self.reply[i : i + 4]


@pytest.fixture(scope="module")
def generator() -> SlowScriptedGenerator:
    return SlowScriptedGenerator(f"{SUPPORTED} {HOSTILE}", delay=0.12)  # about 5 s of drafting


@pytest.fixture(scope="module")
def url(engine, generator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from ui.web import build_app, launch

    engine.ask(GENEVA)  # load the embedding model before the clock starts
    app = build_app(engine, tmp_path_factory.mktemp("feedback") / "feedback.jsonl", generator=generator)
    address = launch(app, host="127.0.0.1", port=free_port(), block=False)
    try:
        yield address
    finally:
        app.close()
        time.sleep(0.2)


@pytest.fixture
def page(url: str) -> Iterator[object]:
    with chromium() as browser, chat_page(browser, url, WAIT_MS) as page:
        yield page


# Like/Dislike buttons a person can see in the chat.
VISIBLE_VOTES = (
    "[...document.querySelectorAll('#rag-chat button[aria-label=Like], #rag-chat button[aria-label=Dislike]')]"
    ".filter(b => b.offsetParent !== null).length"
)


def _vote_buttons_visible(page) -> int:
    return page.evaluate(f"() => {VISIBLE_VOTES}")


def ask(page, question: str) -> None:
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")


def test_the_draft_streams_then_the_verified_answer_replaces_it(page, engine) -> None:
    header = page.locator("#rag-header").inner_text()
    assert "scripted-slow" in header and "checked against the documents" in header
    ask(page, GENEVA)

    draft = page.locator("#rag-chat .rag-draft-text").last
    draft.wait_for(timeout=WAIT_MS)
    page.wait_for_function(
        "() => (document.querySelector('#rag-chat .rag-draft-text') || {}).textContent?.length > 20",
        timeout=WAIT_MS,
    )
    early = draft.inner_text()
    assert SUPPORTED.startswith(early) and len(early) < len(SUPPORTED), f"not a partial draft: {early!r}"
    note = page.locator("#rag-chat .rag-draft-note").last.inner_text()
    assert "being verified against the documents" in note
    assert page.locator("#rag-chat .rag-answer").count() == 0, "the answer came before the draft was shown"
    assert _vote_buttons_visible(page) == 0, "a draft is no answer to vote on"

    page.wait_for_selector("#rag-chat .rag-answer", timeout=WAIT_MS)
    answer = page.locator("#rag-chat .rag-answer").last
    assert page.locator("#rag-chat .rag-draft").count() == 0, "the draft should be replaced, not kept"
    text = answer.locator(".rag-answer-text").inner_text()
    assert "Marco Rubio" in text and "cheese" not in text
    marker = answer.locator("a.cite-marker").first
    card = answer.locator(marker.get_attribute("href") or "#none")
    assert card.count() == 1
    quote = normalized(card.locator("mark.rag-quote").inner_text())
    assert "Marco Rubio has been dispatched to Geneva" in quote
    assert quote in normalized(engine.data.documents["stockton-russian-us-talks"].text)

    removed = answer.locator(".rag-removed").inner_text()
    assert "Removed: not supported by the documents" in removed
    assert '<img src=x onerror="window.pwned=1"> The moon is made of cheese.' in removed  # shown as text
    assert page.evaluate("window.pwned") is None
    assert answer.locator("img").count() == 0
    assert "Written by scripted-slow" in answer.locator(".rag-generation").inner_text()
    page.wait_for_function(f"() => ({VISIBLE_VOTES}) === 2", timeout=WAIT_MS)  # the answer takes votes


def test_quotes_only_mode_answers_without_the_model(page, generator: SlowScriptedGenerator) -> None:
    calls = generator.calls
    page.locator("#rag-answer-mode label").filter(has_text="Quotes only").click()
    ask(page, GENEVA)
    page.wait_for_selector("#rag-chat .rag-answer", timeout=WAIT_MS)
    answer = page.locator("#rag-chat .rag-answer").last
    assert "Rubio" in answer.locator(".rag-answer-text").inner_text()
    assert answer.locator(".rag-generation").count() == 0
    assert page.locator("#rag-chat .rag-draft").count() == 0
    assert generator.calls == calls
