"""The web chat's saved conversations without a browser: ui/web_conversations.py's events called directly
over a real SQLite store and a scripted engine, and the settings sent with a vote (ui/feedback.py)."""

from __future__ import annotations

import json
from pathlib import Path

from index.types import Document
from rag.types import Answer, Citation, Turn
from ui.conversations import LOCAL_USER, ConversationStore
from ui.export import VERIFIED
from ui.feedback import FeedbackLog
from ui.web_conversations import ConversationHandlers
from ui.web_handlers import Handlers

TEXT = "Notes\n\nThe envoy went to Geneva on Monday. He met the <b>delegates</b> there."
QUOTE = "The envoy went to Geneva on Monday."


class ScriptedEngine:
    """Stands in for rag.Engine: one document, one grounded answer, and a record of the history it got."""

    scorer_name = "fake-scorer"

    def __init__(self) -> None:
        self.histories: list[list[Turn]] = []
        self.data = type("Data", (), {"documents": {"notes": Document("notes", TEXT, "Notes", "/n.txt", "txt", "0")}})()

    def ask(self, question: str, history: list[Turn], *, k: int = 5, doc_ids: object = None) -> Answer:
        self.histories.append(list(history))
        start = TEXT.index(QUOTE)
        citation = Citation(1, "notes", "Notes", QUOTE, start, start + len(QUOTE), 3, 0.9)
        return Answer(question, f"{QUOTE} [1]", False, [citation], [], {"total": 2.0})


class Request:
    def __init__(self, username: str | None) -> None:
        self.username = username


def setup(tmp_path: Path) -> tuple[ScriptedEngine, Handlers, ConversationHandlers]:
    engine = ScriptedEngine()
    handlers = Handlers(engine, FeedbackLog(tmp_path / "feedback.jsonl"))  # type: ignore[arg-type]
    saved = ConversationHandlers(engine, ConversationStore(tmp_path / "c.sqlite3"))  # type: ignore[arg-type]
    return engine, handlers, saved


def test_a_saved_conversation_reopens_with_its_citations_and_follow_ups_use_it(tmp_path: Path) -> None:
    engine, handlers, saved = setup(tmp_path)
    me = Request(None)  # no login: the one local user
    messages, _, session = handlers.respond("Who went to Geneva?", [], 5, ["notes"])
    conversation_id, listing, title, copied = saved.save(session, None, ["notes"], me)
    assert conversation_id and title == "Who went to Geneva?"
    assert [value for _, value in listing["choices"]] == [conversation_id]
    assert f"   > {QUOTE}" in copied and VERIFIED in copied  # the copy button's Markdown

    # a reload, or another process after a restart: the same file, a new handler
    fresh = ConversationHandlers(engine, ConversationStore(tmp_path / "c.sqlite3"))  # type: ignore[arg-type]
    shown, restored, restored_id, _, restored_title, _ = fresh.restore(conversation_id, me)
    assert restored_id == conversation_id and restored_title == "Who went to Geneva?"
    assert shown == messages  # drawn as before: same ids, so [1] links to its card
    assert f'href="#cite-{session[0].id}-1"' in shown[1]["content"]
    assert restored[0].answer is not None and restored[0].answer.citations == session[0].answer.citations

    _, _, followed = handlers.respond("And who did he meet?", restored, 5, None)
    assert engine.histories[-1] == [Turn("user", "Who went to Geneva?"), Turn("assistant", f"{QUOTE} [1]")]
    saved.save(followed, conversation_id, None, me)
    reopened = fresh.open(conversation_id, me)
    assert [e.question for e in reopened[1]] == ["Who went to Geneva?", "And who did he meet?"]


def test_other_users_neither_see_nor_open_nor_delete_it(tmp_path: Path) -> None:
    _, handlers, saved = setup(tmp_path)
    _, _, session = handlers.respond("Who went to Geneva?", [], 5, None)
    alice, bob = Request("alice"), Request("bob")
    conversation_id = saved.save(session, None, None, alice)[0]
    assert saved.restore(conversation_id, bob)[:3] == ([], [], None)
    assert saved.open(conversation_id, bob)[2] is None
    assert saved.held_in(conversation_id, bob) is None  # nor learn which collection it was held in
    saved.delete(conversation_id, bob)
    assert saved.restore(conversation_id, alice)[2] == conversation_id
    assert saved.restore("no-such-id", alice)[2] is None and saved.restore(None, alice)[2] is None


def test_rename_and_delete(tmp_path: Path) -> None:
    _, handlers, saved = setup(tmp_path)
    me = Request(None)
    _, _, session = handlers.respond("Who went to Geneva?", [], 5, None)
    conversation_id = saved.save(session, None, None, me)[0]
    listing, title = saved.rename(conversation_id, "  Geneva  talks ", me)
    assert title == "Geneva talks" and listing["choices"][0][0].startswith("Geneva talks · ")
    view = saved.delete(conversation_id, me)
    assert view[:3] == ([], [], None) and view[3]["choices"] == []


def test_export_files_hold_every_quote_checked(tmp_path: Path) -> None:
    _, handlers, saved = setup(tmp_path)
    me = Request(None)
    _, _, session = handlers.respond("Who went to Geneva?", [], 5, None)
    _, _, session = handlers.respond("Where was that?", session, 5, None)
    conversation_id = saved.save(session, None, None, me)[0]
    markdown = Path(saved.export(session, conversation_id, "conversation", "markdown", "local") or "")
    assert markdown.suffix == ".md" and markdown.read_text().count(f"   > {QUOTE}") == 2
    page = Path(saved.export(session, conversation_id, "last", "html", "local") or "")
    text = page.read_text()
    assert page.suffix == ".html" and text.count(f'<blockquote class="quote">{QUOTE}<') == 1
    assert "Where was that?" in text and "Who went to Geneva?" not in text
    assert "characters 7–42, page 3" in text and 'class="check verified"' in text
    assert saved.export([], None, "conversation", "html", "local") is None


def test_a_vote_carries_the_settings(tmp_path: Path) -> None:
    _, handlers, _ = setup(tmp_path)
    _, _, session = handlers.respond("Who went to Geneva?", [], 7, None)
    like = type("Like", (), {"index": [1, 1], "liked": False})()
    handlers.vote(session, like, 7)  # type: ignore[arg-type]
    entry = json.loads((tmp_path / "feedback.jsonl").read_text())
    assert (entry["answer_mode"], entry["generator"], entry["scorer"], entry["k"]) == (
        "extractive",
        None,
        "fake-scorer",
        7,
    )
    assert entry["vote"] == "down"
    summary = handlers.settings_html(7)
    assert "quotes only (extractive)" in summary and "fake-scorer" in summary and ">7<" in summary


class NamedModel:
    name = "tiny-llm.gguf"


def test_with_a_language_model_the_panel_and_the_vote_name_it(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    handlers = Handlers(engine, FeedbackLog(tmp_path / "feedback.jsonl"), NamedModel())  # type: ignore[arg-type]
    assert "language model <code>tiny-llm.gguf</code>" in handlers.settings_html(5, "generated")
    assert "quotes only (extractive)" in handlers.settings_html(5, "extractive")  # the radio switched back
    _, _, session = handlers.respond("Who went to Geneva?", [], 4, None)
    like = type("Like", (), {"index": [1, 1], "liked": True})()
    handlers.vote(session, like, 4, "generated")  # type: ignore[arg-type]
    entry = json.loads((tmp_path / "feedback.jsonl").read_text())
    assert (entry["answer_mode"], entry["generator"], entry["scorer"], entry["k"]) == (
        "generated",
        "tiny-llm.gguf",
        "fake-scorer",
        4,
    )


def test_a_conversation_keeps_its_collection_and_is_checked_against_it(tmp_path: Path) -> None:
    engine, handlers, _ = setup(tmp_path)
    other = ScriptedEngine()
    other.data.documents["notes"] = Document("notes", TEXT.replace("Monday", "Friday"), "Notes", "/n.txt", "txt", "1")
    saved = ConversationHandlers(
        engine,  # type: ignore[arg-type]
        ConversationStore(tmp_path / "c.sqlite3"),
        collection_of=lambda request: "papers",
        engine_of=lambda name: other if name == "papers" else engine,  # type: ignore[arg-type,return-value]
    )
    me = Request(None)
    _, _, session = handlers.respond("Who went to Geneva?", [], 5, None)
    conversation_id = saved.save(session, None, None, me)[0]
    assert [c.collection for c in saved.store.conversations(LOCAL_USER)] == ["papers"]
    # the papers collection's copy of the document has changed since: its quote no longer verifies there
    exported = Path(saved.export(session, conversation_id, "conversation", "markdown", LOCAL_USER) or "")
    assert "1. ✗ not verified (the document's text at these offsets has changed)" in exported.read_text()
