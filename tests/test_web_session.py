"""Unit tests for the web chat's plumbing without a browser or the real model:
ui/chat.py (a session's exchanges), ui/uploads.py (checks and incremental
indexing, on a real index built with the fake embedder) and ui/feedback.py.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from index.builder import build_index
from index.errors import InvalidQuestionError, RagError
from index.loaders import MAX_FILE_BYTES
from index.types import Document
from rag.engine import Engine
from rag.types import Answer, Citation, Turn
from tests.fakes import CountingEmbedder
from ui import chat
from ui.feedback import FeedbackLog
from ui.uploads import add_uploads, check_upload, safe_name

TEXT = "Notes\n\nThe envoy went to Geneva on Monday. He met the <b>delegates</b> there."


class ScriptedEngine:
    """Stands in for rag.Engine: answers from a script and records what it was asked."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, list[Turn], int, object]] = []
        document = Document("notes", TEXT, "Notes", "/x/notes.txt", "txt", "0")
        self.data = type("Data", (), {"documents": {"notes": document}})()

    def ask(self, question: str, history: list[Turn], *, k: int = 5, doc_ids: object = None) -> Answer:
        self.calls.append((question, list(history), k, doc_ids))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def grounded_answer(question: str = "Who went to Geneva?") -> Answer:
    quote = "The envoy went to Geneva on Monday."
    start = TEXT.index(quote)
    citation = Citation(1, "notes", "Notes", quote, start, start + len(quote), None, 0.9)
    return Answer(question, f"{quote} [1]", False, [citation], [], {"total": 3.0})


# -- chat --------------------------------------------------------------------


def test_ask_keeps_the_answer_json_and_its_html() -> None:
    engine = ScriptedEngine(grounded_answer())
    exchange = chat.ask(engine, "Who went to Geneva?", [], k=7, doc_ids=["notes"])  # type: ignore[arg-type]
    assert exchange["error"] is None
    assert exchange["answer"]["citations"][0]["quote"] == "The envoy went to Geneva on Monday."
    assert f'id="cite-{exchange["id"]}-1"' in exchange["html"]
    assert engine.calls == [("Who went to Geneva?", [], 7, ["notes"])]


def test_a_refusal_under_a_filter_reminds_of_the_filter() -> None:
    refusal = Answer("Who went to Geneva?", "The documents don't answer this question.", True, [], [], {"total": 1.0})
    engine = ScriptedEngine(refusal)
    engine.data.documents["other"] = Document("other", "Other text.", "Other", "/x/other.txt", "txt", "1")
    filtered = chat.ask(engine, "Who went to Geneva?", [], doc_ids=["notes"])  # type: ignore[arg-type]
    assert "Only “Notes” was searched. Clear the document filter to search all 2 documents." in filtered["html"]
    unfiltered = chat.ask(engine, "Who went to Geneva?", [])  # type: ignore[arg-type]
    assert "rag-filter-note" not in unfiltered["html"]


def test_follow_up_history_is_plain_text_and_skips_errors() -> None:
    engine = ScriptedEngine(grounded_answer())
    first = chat.ask(engine, "Who went to Geneva?", [])  # type: ignore[arg-type]
    failed = {"id": "x", "question": "?", "answer": None, "error": "bad", "html": "<div>bad</div>"}
    chat.ask(engine, "Who did he meet there?", [first, failed])  # type: ignore[arg-type]
    history = engine.calls[-1][1]
    assert history == [
        Turn("user", "Who went to Geneva?"),
        Turn("assistant", "The envoy went to Geneva on Monday. [1]"),
    ]


@pytest.mark.parametrize(
    ("problem", "shown"),
    [
        (InvalidQuestionError("the question is empty"), "That question can't be asked: the question is empty."),
        (RagError("the index is damaged"), "The index could not answer: the index is damaged."),
        (RuntimeError("boom at line 3"), "Something went wrong while answering."),
    ],
)
def test_problems_become_a_chat_message_not_an_exception(problem: Exception, shown: str) -> None:
    exchange = chat.ask(ScriptedEngine(problem), "q", [])  # type: ignore[arg-type]
    assert exchange["answer"] is None
    assert str(exchange["error"]).startswith(shown)
    assert "rag-error" in exchange["html"]
    assert "boom" not in exchange["html"] and "Traceback" not in exchange["html"]


def test_messages_alternate_and_escape_the_question() -> None:
    exchange = chat.ask(ScriptedEngine(grounded_answer()), "<img src=x onerror=alert(1)>?", [])  # type: ignore[arg-type]
    messages = chat.messages([exchange])
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "<img" not in messages[0]["content"] and "&lt;img" in messages[0]["content"]


def test_a_very_long_question_is_shortened_on_screen() -> None:
    shown = chat.question_html("x" * 100_000)
    assert len(shown) < 1000 and "(100,000 characters)" in shown


def test_quoted_spans_collects_this_sessions_citations_for_one_document() -> None:
    exchange = chat.ask(ScriptedEngine(grounded_answer()), "q", [])  # type: ignore[arg-type]
    start = TEXT.index("The envoy")
    assert chat.quoted_spans([exchange], "notes") == [(start, start + len("The envoy went to Geneva on Monday."))]
    assert chat.quoted_spans([exchange], "other") == []


# -- uploads -----------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "geneva.md").write_text("---\ntitle: Geneva\n---\n\nThe envoy went to Geneva on Monday.\n")
    embedder = CountingEmbedder()
    build_index([corpus], tmp_path / "index", embedder)
    return Engine.open(tmp_path / "index", embedder=embedder, build_if_missing=False)


def test_safe_name_drops_folders_odd_characters_and_dots() -> None:
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name("C:\\Users\\me\\Notes <1>.MD") == "Notes _1_.md"
    assert safe_name(".hidden.txt") == "hidden.txt"
    assert safe_name("....txt") == "upload.txt"


def test_check_upload_rejects_unsupported_empty_and_too_large(tmp_path: Path) -> None:
    sheet = tmp_path / "a.csv"
    sheet.write_text("a,b")
    assert "unsupported file type .csv" in str(check_upload(sheet, "a.csv"))
    empty = tmp_path / "e.txt"
    empty.write_bytes(b"")
    assert check_upload(empty, "e.txt") == "the file is empty"
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:  # sparse: no 50 MB actually written
        os.truncate(handle.fileno(), MAX_FILE_BYTES + 1)
    assert "the limit is 50 MB" in str(check_upload(big, "big.txt"))
    fine = tmp_path / "fine.txt"
    fine.write_text("hello")
    assert check_upload(fine, "fine.txt") is None


def test_add_uploads_indexes_good_files_and_reports_the_rest(engine: Engine, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good = incoming / "ferns.txt"
    good.write_text("Fern notes\n\nThe library holds forty-one thousand pressed ferns.\n")
    blank = incoming / "blank.txt"
    blank.write_text("  \n\n ")
    sheet = incoming / "data.csv"
    sheet.write_text("a,b")
    result = add_uploads(engine, [(good, "ferns.txt"), (blank, "blank.txt"), (sheet, "data.csv")])
    assert [d.title for d in result.added] == ["Fern notes"]
    assert "ferns" in engine.data.documents and "geneva" in engine.data.documents
    problems = dict(result.problems)
    assert problems["data.csv"].startswith("unsupported file type .csv")
    assert problems["blank.txt"].startswith("no text in file")
    uploads = engine.index_dir / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["ferns.txt"]  # the failed file does not linger


def test_an_upload_named_like_an_indexed_document_is_saved_beside_it(engine: Engine, tmp_path: Path) -> None:
    geneva = engine.data.documents["geneva"].text
    clash = tmp_path / "geneva.txt"
    clash.write_text("Another Geneva\n\nSomething else entirely.\n")
    result = add_uploads(engine, [(clash, "geneva.txt")])
    assert [d.id for d in result.added] == ["geneva-2"] and result.problems == []
    assert result.renamed == [("geneva.txt", "geneva-2.txt")]
    assert engine.data.documents["geneva"].text == geneva  # the indexed document is untouched


def test_a_second_upload_with_the_same_name_keeps_the_first(engine: Engine, tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("Harbour notes\n\nThe harbour has nine cranes.\n")
    second.write_text("Kayak notes\n\nThe club rents out twelve kayaks.\n")
    assert [d.id for d in add_uploads(engine, [(first, "notes.txt")]).added] == ["notes"]
    result = add_uploads(engine, [(second, "notes.txt")])
    assert [d.id for d in result.added] == ["notes-2"] and result.renamed == [("notes.txt", "notes-2.txt")]
    assert "nine cranes" in engine.data.documents["notes"].text
    assert "twelve kayaks" in engine.data.documents["notes-2"].text

    again = add_uploads(engine, [(first, "notes.txt")])  # the very same file again: nothing new
    assert [d.id for d in again.added] == ["notes"] and again.renamed == []
    assert sorted(p.name for p in (engine.index_dir / "uploads").iterdir()) == ["notes-2.txt", "notes.txt"]


# -- feedback ----------------------------------------------------------------


def test_feedback_lines_are_whole_json_even_from_many_threads(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "deep" / "feedback.jsonl")
    answer = grounded_answer().to_json()
    threads = [
        threading.Thread(target=log.record, args=(f"q{i}", answer, "up" if i % 2 else "down")) for i in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = [json.loads(line) for line in (tmp_path / "deep" / "feedback.jsonl").read_text().splitlines()]
    assert len(entries) == 40
    assert {e["vote"] for e in entries} == {"up", "down"}
    first = entries[0]
    assert set(first) == {"question", "answer", "refused", "citations", "vote", "timestamp"}
    assert first["citations"][0]["quote"] == "The envoy went to Geneva on Monday."
    with pytest.raises(ValueError):
        log.record("q", answer, "meh")
