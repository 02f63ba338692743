"""The OCR mark in the web chat, in a real Chromium: a PNG is uploaded, read by the real Tesseract, asked about,
and its source card carries the "OCR" mark whose tooltip explains it (through Gradio's own sanitizer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_ocr import PHOTO_LINES, image_bytes, tesseract  # noqa: F401 (a fixture)
from tests.web_fixtures import CHROMIUM, RunningApp, chat_page, chromium, running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 60_000
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with running_app(tmp_path_factory.mktemp("web-ocr")) as app:
        yield app


def test_an_uploaded_image_is_quoted_with_the_ocr_mark(server: RunningApp, tmp_path: Path, tesseract) -> None:  # noqa: F811
    photo = tmp_path / "bakery-sign.png"
    photo.write_bytes(image_bytes(PHOTO_LINES, "PNG"))
    with chromium() as browser, chat_page(browser, server.url, WAIT_MS) as page:
        page.locator("#rag-upload input[type=file]").set_input_files(str(photo))
        status = "(document.querySelector('#rag-upload-status .rag-notice') || {}).innerText || ''"
        page.wait_for_function(f"() => ({status}).includes('Added')", timeout=WAIT_MS)
        box = page.locator("#rag-question textarea")
        box.fill("On which days does the bakery on the corner sell rye bread?")
        box.press("Enter")
        page.wait_for_selector("#rag-chat .rag-answer", timeout=WAIT_MS)
        answer = page.locator("#rag-chat .rag-answer").last
        card = answer.locator(".rag-source").filter(has=page.locator(".rag-ocr")).first
        assert "rye bread" in card.locator("mark.rag-quote").inner_text()
        mark = card.locator(".rag-ocr")
        assert mark.inner_text() == "OCR"
        assert "may contain recognition errors" in (mark.get_attribute("title") or "")
        page.wait_for_timeout(300)  # let the chat finish scrolling
        page.screenshot(path=str(SCREENSHOTS / "ocr-citation.png"), full_page=True)
