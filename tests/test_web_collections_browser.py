"""Collections and document management in a real Chromium, over small real indexes with the real model.

The server's default collection holds two short documents; each test makes its own collection from
an upload, so the tests do not depend on each other's order. Screenshots of the collection picker
and of the Documents view are saved to docs/screenshots/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import PEACE, TALKS
from tests.web_fixtures import CHROMIUM, chat_page, chromium, free_port, normalized

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
ANSWERS = "#rag-chat .rag-answer"
WAIT_MS = 60_000
HARVEST = (
    "Harvest report\n\nThe apple harvest in Normandy was late this year because of a cold and wet spring. "
    "Growers said the cider presses started three weeks after the usual date."
)
BEES = (
    "Beekeeping notes\n\nThe beekeepers of the valley moved their hives to the lavender fields in July. "
    "Honey yields doubled compared with the previous summer."
)

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("playwright.sync_api")


@dataclass
class Server:
    url: str
    root: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from index.builder import build_index
    from index.embedder import SentenceTransformerEmbedder
    from rag.engine import Engine
    from ui.web import build_app, launch

    folder = tmp_path_factory.mktemp("collections-web")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "talks.txt").write_text(TALKS, encoding="utf-8")
    (corpus / "peace.txt").write_text(PEACE, encoding="utf-8")
    root = folder / "index"
    embedder = SentenceTransformerEmbedder()
    build_index([corpus], root, embedder)  # the default collection, in the layout of earlier versions
    engine = Engine.open(root, embedder=embedder, build_if_missing=False)
    app = build_app(engine, folder / "feedback.jsonl", index_root=root)
    url = launch(app, host="127.0.0.1", port=free_port(), block=False)
    try:
        yield Server(url, root)
    finally:
        app.close()
        time.sleep(0.2)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, server: Server) -> Iterator[object]:
    with chat_page(browser, server.url, WAIT_MS, viewport={"width": 1280, "height": 1000}) as page:
        page.wait_for_selector("#rag-collection input", timeout=WAIT_MS)
        yield page


def picked(page) -> str:
    return page.locator("#rag-collection input").input_value()


def upload_into_new_collection(page, name: str, files: list[Path]) -> str:
    """Type a collection name, upload `files`, and return the status once the picker shows the new collection."""
    page.locator("#rag-new-collection input, #rag-new-collection textarea").first.fill(name)
    page.locator("#rag-upload input[type=file]").set_input_files([str(f) for f in files])
    page.wait_for_function(
        "n => (document.querySelector('#rag-collection input') || {}).value === n", arg=name, timeout=WAIT_MS
    )
    page.wait_for_function(
        "() => ((document.querySelector('#rag-upload-status') || {}).innerText || '').includes('Added')",
        timeout=WAIT_MS,
    )
    return page.locator("#rag-upload-status").inner_text()


def ask(page, question: str):
    before = page.locator(ANSWERS).count()
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#rag-chat .rag-answer').length > n", arg=before, timeout=WAIT_MS
    )
    return page.locator(ANSWERS).last


def card_titles(answer) -> list[str]:
    return [normalized(t) for t in answer.locator(".rag-source-title").all_inner_texts()]


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def pick(page, name: str) -> None:
    page.locator("#rag-collection input").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_function(
        "n => (document.querySelector('#rag-collection input') || {}).value === n", arg=name, timeout=WAIT_MS
    )


def screenshot(page, name: str, selector: str | None = None) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    target = page.locator(selector) if selector else page
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_a_collection_made_from_an_upload_answers_from_it_and_the_picker_switches_back(
    page, server: Server, tmp_path: Path
) -> None:
    assert picked(page) == "default"
    status = upload_into_new_collection(page, "Farming", [write(tmp_path, "harvest.txt", HARVEST)])
    assert "Made the collection “Farming”" in status
    assert (server.root / "collections" / "Farming" / "uploads" / "harvest.txt").is_file()
    assert "1 document" in page.locator("#rag-header").inner_text()

    answer = ask(page, "Why was the apple harvest in Normandy late?")
    assert card_titles(answer) and set(card_titles(answer)) == {"Harvest report"}
    quote = normalized(answer.locator("mark.rag-quote").first.inner_text())
    assert quote in normalized(HARVEST)
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "collection-picker")

    pick(page, "default")  # a new conversation over the default collection's two documents
    page.wait_for_function("() => document.querySelectorAll('#rag-chat .rag-answer').length === 0", timeout=WAIT_MS)
    assert "2 documents" in page.locator("#rag-header").inner_text()
    other = ask(page, "Why was the apple harvest in Normandy late?")
    assert "Harvest report" not in card_titles(other)
    geneva = ask(page, "Who was dispatched to Geneva?")
    assert "Russian-US talks over Ukraine" in card_titles(geneva)


def test_the_documents_view_lists_renames_and_deletes_uploads(page, server: Server, tmp_path: Path) -> None:
    files = [write(tmp_path, "harvest-notes.txt", HARVEST), write(tmp_path, "bees.txt", BEES)]
    upload_into_new_collection(page, "Orchard", files)
    page.get_by_role("tab", name="Documents").click()
    table = page.locator("#rag-doc-table table")
    table.wait_for(timeout=WAIT_MS)
    row = table.locator("tr", has_text="harvest-notes.txt")
    cells = [normalized(c) for c in row.locator("td").all_inner_texts()]
    assert cells[0].startswith("Harvest report") and "id harvest-notes" in cells[0]
    assert cells[1:3] == ["harvest-notes.txt", "txt"]
    assert cells[3] == f"{len(HARVEST.encode())} B" and int(cells[4]) >= 1 and cells[5].endswith("UTC")
    assert "2 documents in “Orchard”" in table.locator("caption").inner_text()
    screenshot(page, "documents")

    # Rename: the file and the document id follow.
    page.locator("#rag-doc-list label").filter(has_text="Harvest report").first.click()
    page.locator("#rag-doc-rename input, #rag-doc-rename textarea").first.fill("normandy apples")
    page.locator("#rag-doc-rename-button").click()
    page.wait_for_function(
        "() => ((document.querySelector('#rag-doc-status') || {}).innerText || '').includes('Renamed')",
        timeout=WAIT_MS,
    )
    assert table.locator("tr", has_text="normandy apples.txt").count() == 1
    assert table.locator("tr", has_text="harvest-notes.txt").count() == 0
    uploads = server.root / "collections" / "Orchard" / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["bees.txt", "normandy apples.txt"]

    # Delete: gone from the table, the folder and the answers.
    page.locator("#rag-doc-list label").filter(has_text="Beekeeping notes").first.click()
    page.locator("#rag-doc-delete-button").click()
    page.wait_for_function(
        "() => ((document.querySelector('#rag-doc-status') || {}).innerText || '').includes('Deleted')",
        timeout=WAIT_MS,
    )
    assert table.locator("tr", has_text="bees.txt").count() == 0
    assert "1 document in “Orchard”" in table.locator("caption").inner_text()
    assert sorted(p.name for p in uploads.iterdir()) == ["normandy apples.txt"]
    page.get_by_role("tab", name="Ask").click()
    answer = ask(page, "Where did the beekeepers move their hives in July?")
    assert "Beekeeping notes" not in card_titles(answer)
    still = ask(page, "Why was the apple harvest in Normandy late?")
    assert "Harvest report" in card_titles(still)


def test_a_corpus_document_cannot_be_deleted_from_the_page(page, server: Server) -> None:
    page.get_by_role("tab", name="Documents").click()
    page.locator("#rag-doc-list label").filter(has_text="For a peace from below").first.click()
    page.locator("#rag-doc-delete-button").click()
    page.wait_for_function(
        "() => ((document.querySelector('#rag-doc-status') || {}).innerText || '').includes('not uploaded')",
        timeout=WAIT_MS,
    )
    assert page.locator("#rag-doc-table tr", has_text="peace.txt").count() == 1


def test_reopening_a_conversation_switches_to_its_collection_and_a_reload_keeps_it(
    page, server: Server, tmp_path: Path
) -> None:
    from ui.conversations import DATABASE_NAME, LOCAL_USER, ConversationStore

    upload_into_new_collection(page, "Reopened", [write(tmp_path, "harvest.txt", HARVEST)])
    question = "Why did the apple harvest in Normandy come late?"
    first = ask(page, question)
    assert set(card_titles(first)) == {"Harvest report"}
    saved = page.locator("#rag-conversations label").filter(has_text=question).first
    saved.wait_for(timeout=WAIT_MS)

    pick(page, "default")  # the user picks: a new conversation there
    page.wait_for_function("() => document.querySelectorAll('#rag-chat .rag-answer').length === 0", timeout=WAIT_MS)
    saved.click()  # reopened from the panel: the picker follows it, and the conversation stays shown
    page.wait_for_function(
        "() => (document.querySelector('#rag-collection input') || {}).value === 'Reopened'", timeout=WAIT_MS
    )
    page.wait_for_function(
        "() => (document.querySelector('#rag-header') || {}).innerText.includes('1 document')", timeout=WAIT_MS
    )
    assert page.locator(ANSWERS).count() == 1
    follow_up = ask(page, "When did the cider presses start?")
    assert set(card_titles(follow_up)) == {"Harvest report"}
    assert page.locator(ANSWERS).count() == 2
    store = ConversationStore(server.root / DATABASE_NAME)
    reopened = next(s for s in store.conversations(LOCAL_USER) if s.title == question)
    assert reopened.collection == "Reopened"

    page.reload()  # the restored conversation brings its collection back with it
    page.wait_for_selector(ANSWERS, timeout=WAIT_MS)
    page.wait_for_function(
        "() => (document.querySelector('#rag-collection input') || {}).value === 'Reopened'", timeout=WAIT_MS
    )
    page.wait_for_function("() => document.querySelectorAll('#rag-chat .rag-answer').length === 2", timeout=WAIT_MS)
    assert "1 document" in page.locator("#rag-header").inner_text()
