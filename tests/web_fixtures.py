"""Helpers shared by the web tests: a real index of the default corpus and a running app.

Not a conftest: each test module builds its own app from these, so the fast
unit tests never pay for the model.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class RunningApp:
    engine: object  # rag.Engine
    url: str
    feedback_log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_app(folder: Path) -> Iterator[RunningApp]:
    """Index the real default corpus into `folder` with the real model and serve the chat on 127.0.0.1."""
    from index.builder import build_index
    from index.embedder import SentenceTransformerEmbedder
    from rag.engine import Engine
    from ui.web import build_app, launch

    index_dir = folder / "index"
    embedder = SentenceTransformerEmbedder()
    build_index([CORPUS], index_dir, embedder)
    engine = Engine.open(index_dir, embedder=embedder, build_if_missing=False)
    engine.ask("Who was sent to Geneva to negotiate?")  # load the model before the clock starts
    feedback_log = folder / "feedback.jsonl"
    app = build_app(engine, feedback_log)
    url = launch(app, host="127.0.0.1", port=free_port(), block=False)
    try:
        yield RunningApp(engine, url, feedback_log)
    finally:
        app.close()
        time.sleep(0.2)


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (`playwright install` cannot download browsers here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_chat(context, url: str, wait_ms: int = 30_000) -> object:
    """A new page of `context` on the chat at `url`, once the chat is shown. JavaScript errors the page
    raises are collected in its `errors` list (`no_page_errors` fails a test on them)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    page.goto(url)
    page.wait_for_selector("#rag-chat", timeout=wait_ms)
    return page


@contextlib.contextmanager
def chat_page(browser, url: str, wait_ms: int = 30_000, **context_options: object) -> Iterator[object]:
    """The chat at `url` in a fresh browser context (its own storage; 1280x900 unless `context_options` say
    otherwise); the test fails if the page raised a JavaScript error."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
    try:
        page = open_chat(context, url, wait_ms)
        yield page
    finally:
        context.close()
    no_page_errors(page)


def no_page_errors(page) -> None:
    assert not page.errors, f"JavaScript errors on the page: {page.errors}"


def normalized(text: str) -> str:
    """Text with every run of whitespace (no-break spaces too) as one space: how a browser shows it."""
    return " ".join(text.split())
