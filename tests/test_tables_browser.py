"""In a real Chromium: an answer citing a spreadsheet row shows the table around it in the source card,
and a slide is called a slide."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.format_files import make_pptx, make_xlsx
from tests.web_fixtures import chat_page, chromium, free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]
pytest.importorskip("playwright.sync_api")

WAIT_MS = 60_000
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
STATIONS = [["Station", "River", "Depth (m)"]] + [
    [name, river, depth]
    for name, river, depth in [
        ("Lviv North", "Poltva", "4"),
        ("Ternopil", "Seret", "6"),
        ("Rivne", "Ustia", "3"),
        ("Lutsk", "Styr", "7"),
        ("Zhytomyr", "Teteriv", "5"),
        ("Vinnytsia", "Southern Buh", "9"),
        ("Uman", "Umanka", "2"),
        ("Kropyvnytskyi", "Inhul", "8"),
        ("Poltava", "Vorskla", "11"),
    ]
]


@pytest.fixture(scope="module")
def url(tmp_path_factory, embedder) -> Iterator[str]:
    from index.builder import build_index
    from rag.engine import Engine
    from ui.web import build_app, launch

    root = tmp_path_factory.mktemp("tables-web")
    docs = root / "docs"
    docs.mkdir()
    make_xlsx(docs / "gauges.xlsx", {"Gauges": STATIONS}, title="River gauging stations")
    make_pptx(
        docs / "briefing.pptx",
        [("Intro", "The network was set up in 1950.", "Welcome."), ("Funding", "The gauges cost 2 million.", "")],
    )
    build_index([docs], root / "index", embedder)
    engine = Engine.open(root / "index", embedder=embedder, build_if_missing=False)
    app = build_app(engine, root / "feedback.jsonl")
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


def ask(page, question: str):
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_selector("#rag-chat .rag-answer", timeout=WAIT_MS)
    return page.locator("#rag-chat .rag-answer").last


def test_a_cited_row_shows_its_table_with_the_row_marked(page) -> None:
    answer = ask(page, "How deep is the Vinnytsia station on the Southern Buh?")
    card = answer.locator(".rag-source").first
    assert "Station: Vinnytsia | River: Southern Buh | Depth (m): 9" in card.locator("mark.rag-quote").inner_text()
    table = card.locator("table.rag-table")
    assert table.locator("th").all_inner_texts() == ["Station", "River", "Depth (m)"]
    assert table.locator("tr.rag-table-cited td").all_inner_texts() == ["Vinnytsia", "Southern Buh", "9"]
    shown = table.locator("tbody tr td:first-child").all_inner_texts()
    assert shown == ["Rivne", "Lutsk", "Zhytomyr", "Vinnytsia", "Uman", "Kropyvnytskyi", "Poltava"]  # 3 each side
    assert "2 more rows in this table" in card.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the chat finish scrolling
    card.screenshot(path=str(SCREENSHOTS / "table-row.png"))  # shown in docs/formats.md


def test_a_slide_is_called_a_slide(page) -> None:
    answer = ask(page, "How much did the gauges cost?")
    card = answer.locator(".rag-source").first
    assert "2 million" in card.locator("mark.rag-quote").inner_text()
    assert "slide 2" in card.locator(".rag-source-meta").inner_text()
