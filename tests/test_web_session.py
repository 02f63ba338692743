"""Unit tests for the web chat's plumbing without a browser or the real model:
ui/chat.py (a session's exchanges), ui/web_handlers.py (the page's events,
called directly), ui/uploads.py (checks and incremental indexing, on a real
index built with the fake embedder) and ui/feedback.py.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import orjson
import pytest

from index.builder import build_index
from index.errors import DocumentLoadError, InvalidQuestionError, RagError
from index.loaders import MAX_FILE_BYTES, load_file
from index.types import Document
from rag.engine import Engine
from rag.types import Answer, Citation, Turn
from tests.fakes import CountingEmbedder
from ui import chat
from ui.feedback import FeedbackLog
from ui.uploads import MAX_UPLOAD_CHARS, add_uploads, check_upload, safe_name, text_limit_problem
from ui.web_handlers import Handlers

TEXT = "Notes\n\nThe envoy went to Geneva on Monday. He met the <b>delegates</b> there."


class ScriptedEngine:
    """Stands in for rag.Engine: answers from a script and records what it was asked."""

    scorer_name = "fake-scorer"  # what the settings panel and a vote's log line name

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
    assert exchange.error is None and exchange.answer is not None
    assert exchange.answer.citations[0].quote == "The envoy went to Geneva on Monday."
    assert f'id="cite-{exchange.id}-1"' in exchange.html
    assert engine.calls == [("Who went to Geneva?", [], 7, ["notes"])]


def test_a_refusal_under_a_filter_reminds_of_the_filter() -> None:
    refusal = Answer("Who went to Geneva?", "The documents don't answer this question.", True, [], [], {"total": 1.0})
    engine = ScriptedEngine(refusal)
    engine.data.documents["other"] = Document("other", "Other text.", "Other", "/x/other.txt", "txt", "1")
    filtered = chat.ask(engine, "Who went to Geneva?", [], doc_ids=["notes"])  # type: ignore[arg-type]
    assert "Only “Notes” was searched. Clear the document filter to search all 2 documents." in filtered.html
    unfiltered = chat.ask(engine, "Who went to Geneva?", [])  # type: ignore[arg-type]
    assert "rag-filter-note" not in unfiltered.html


def test_follow_up_history_is_plain_text_and_skips_errors() -> None:
    engine = ScriptedEngine(grounded_answer())
    first = chat.ask(engine, "Who went to Geneva?", [])  # type: ignore[arg-type]
    failed = chat.Exchange("x", "?", "<div>bad</div>", error="bad")
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
    assert exchange.answer is None
    assert str(exchange.error).startswith(shown)
    assert "rag-error" in exchange.html
    assert "boom" not in exchange.html and "Traceback" not in exchange.html


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


DIRTY = "Who went \ud800 to Geneva?\x00\x1b[31m\x85"  # a lone surrogate, NUL, an escape sequence, C1 NEL


def test_clean_text_replaces_lone_surrogates_and_drops_control_characters() -> None:
    assert chat.clean_text(DIRTY) == "Who went \ufffd to Geneva?[31m"
    assert chat.clean_text("Tabs\tand\nlines stay; so do é, 中 and 🙂.") == "Tabs\tand\nlines stay; so do é, 中 and 🙂."


def test_a_dirty_question_and_history_reach_neither_the_engine_nor_the_page(tmp_path: Path) -> None:
    engine = ScriptedEngine(grounded_answer())
    # A session kept from before questions were cleaned: its turns are cleaned on the way to the engine.
    earlier = chat.Exchange("e1", DIRTY, "<div>answer</div>", answer=grounded_answer(DIRTY))
    handlers = Handlers(engine, FeedbackLog(tmp_path / "feedback.jsonl"))  # type: ignore[arg-type]
    messages, box, session = handlers.respond(DIRTY, [earlier], 5, None)
    assert box == "" and session[-1].error is None
    question, turns = engine.calls[-1][0], engine.calls[-1][1]
    assert question == "Who went \ufffd to Geneva?[31m"
    assert turns[0] == Turn("user", "Who went \ufffd to Geneva?[31m")
    payload = orjson.dumps(messages)  # what gradio does with the reply; a lone surrogate makes it raise
    assert b"\\ud800" not in payload and b"\\u0000" not in payload
    assert "Traceback" not in payload.decode()
    like = type("Like", (), {"index": [3, 1], "liked": True})()  # a thumbs up on the new answer
    handlers.vote(session, like)  # type: ignore[arg-type]
    assert "\ufffd to Geneva" in (tmp_path / "feedback.jsonl").read_text(encoding="utf-8")


def test_a_dirty_question_that_cannot_be_answered_goes_back_to_the_box_cleaned(tmp_path: Path) -> None:
    engine = ScriptedEngine(InvalidQuestionError("the question is 3,000 characters long; ask in at most 2,000"))
    handlers = Handlers(engine, FeedbackLog(tmp_path / "feedback.jsonl"))  # type: ignore[arg-type]
    messages, box, session = handlers.respond(DIRTY, [], 5, None)
    assert box == "Who went \ufffd to Geneva?[31m" and session[-1].error
    orjson.dumps([messages, box])


def test_a_dirty_question_to_the_api_comes_back_as_json(tmp_path: Path) -> None:
    class EchoEngine(ScriptedEngine):
        def ask(self, question: str, history=(), **options: object) -> Answer:
            return Answer(question, "The documents don't answer this question.", True, [], [], {"total": 1.0})

    handlers = Handlers(EchoEngine(None), FeedbackLog(tmp_path / "f.jsonl"))  # type: ignore[arg-type]
    reply = handlers.api_ask(DIRTY)
    assert reply["question"] == "Who went \ufffd to Geneva?[31m"
    orjson.dumps(reply)


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
    sheet = tmp_path / "a.xls"
    sheet.write_text("a,b")
    assert "unsupported file type .xls" in str(check_upload(sheet, "a.xls"))
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
    sheet = incoming / "data.xls"
    sheet.write_text("a,b")
    result = add_uploads(engine, [(good, "ferns.txt"), (blank, "blank.txt"), (sheet, "data.xls")])
    assert [d.title for d in result.added] == ["Fern notes"]
    assert "ferns" in engine.data.documents and "geneva" in engine.data.documents
    problems = dict(result.problems)
    assert problems["data.xls"].startswith("unsupported file type .xls")
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


class FailingLoader:
    """Loads files like the real loader, except that the file named `bad` raises `error`."""

    def __init__(self, bad: str, error: BaseException) -> None:
        self.bad = bad
        self.error = error
        self.loaded: list[str] = []

    def __call__(self, path: Path, doc_id: str) -> Document:
        self.loaded.append(path.name)
        if path.name == self.bad:
            raise self.error
        return load_file(path, doc_id)


def write_note(folder: Path, name: str, sentence: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"{name} notes\n\n{sentence}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ImportError("No module named 'pypdf'"), "could not be read: ImportError: No module named 'pypdf'"),
        (MemoryError(), "could not be read: not enough memory to read it here"),
        (RecursionError("maximum recursion depth exceeded"), "could not be read: RecursionError: maximum recursion"),
        (DocumentLoadError("not UTF-8 text"), "not UTF-8 text"),
    ],
)
def test_one_file_that_fails_to_load_is_skipped_and_the_others_are_indexed(
    engine: Engine, tmp_path: Path, error: BaseException, reason: str
) -> None:
    incoming = tmp_path / "incoming"
    earlier = add_uploads(
        engine, [(write_note(incoming, "harbour.txt", "The harbour has nine cranes."), "harbour.txt")]
    )
    assert [d.id for d in earlier.added] == ["harbour"]
    files = [
        (write_note(incoming, "ferns.txt", "The library holds forty-one thousand pressed ferns."), "ferns.txt"),
        (write_note(incoming, "broken.txt", "This file will not load."), "broken.txt"),
        (write_note(incoming, "kayaks.txt", "The club rents out twelve kayaks."), "kayaks.txt"),
    ]
    loader = FailingLoader("broken.txt", error)
    result = add_uploads(engine, files, load=loader)
    assert loader.loaded == ["ferns.txt", "broken.txt", "kayaks.txt"]
    assert sorted(d.id for d in result.added) == ["ferns", "kayaks"]
    assert [name for name, _ in result.problems] == ["broken.txt"]
    assert result.problems[0][1].startswith(reason)
    assert {"ferns", "kayaks", "harbour", "geneva"} <= set(engine.data.documents)
    assert "broken" not in engine.data.documents
    kept = sorted(p.name for p in (engine.index_dir / "uploads").iterdir())
    assert kept == ["ferns.txt", "harbour.txt", "kayaks.txt"]  # the broken file is gone, the earlier upload stays


def test_an_upload_over_the_text_limit_is_refused_before_anything_is_embedded(engine: Engine, tmp_path: Path) -> None:
    embedder = engine.embedder
    assert isinstance(embedder, CountingEmbedder)
    incoming = tmp_path / "incoming"
    small = write_note(incoming, "ferns.txt", "The library holds forty-one thousand pressed ferns.")
    huge = write_note(incoming, "huge.txt", "A short file whose loader says it holds a great deal of text.")

    def load(path: Path, doc_id: str) -> Document:  # a small file standing in for a PDF with much text
        document = load_file(path, doc_id)
        if path.name != "huge.txt":
            return document
        return Document(doc_id, document.text + " Zebra." * (MAX_UPLOAD_CHARS // 7), "Huge", str(path), "txt", "h")

    embedded_before = len(embedder.embedded)
    result = add_uploads(engine, [(huge, "huge.txt"), (small, "ferns.txt")], load=load)
    assert [d.id for d in result.added] == ["ferns"]
    (name, reason), *_ = result.problems
    assert name == "huge.txt" and "an upload may hold at most 1,000,000" in reason
    assert "(indexing this one here would take about 68 s and hold up every other upload)" in reason
    assert reason.endswith(
        "index large files from the command line: rag index PATH (naming the index's other sources too)"
    )
    assert not any("Zebra" in text for text in embedder.embedded[embedded_before:])
    assert "huge" not in engine.data.documents
    assert sorted(p.name for p in (engine.index_dir / "uploads").iterdir()) == ["ferns.txt"]


def test_the_text_limit_counts_the_whole_upload_and_estimates_the_time() -> None:
    assert text_limit_problem(600_000, MAX_UPLOAD_CHARS) is None
    over = text_limit_problem(600_000, MAX_UPLOAD_CHARS - 600_000)
    assert over is not None and over.startswith("its text (600,000 characters) would take this upload over 1,000,000")
    assert "upload it on its own" in over
    fifty_megabytes = text_limit_problem(50_000_000, MAX_UPLOAD_CHARS)
    assert fifty_megabytes is not None and "about 57 min" in fifty_megabytes
    assert "index large files from the command line: rag index PATH" in fifty_megabytes


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
    settings = {"answer_mode", "generator", "scorer", "k"}  # null here: no settings were given
    assert set(first) == {"question", "answer", "refused", "citations", "vote", "timestamp"} | settings
    assert first["citations"][0]["quote"] == "The envoy went to Geneva on Monday."
    with pytest.raises(ValueError):
        log.record("q", answer, "meh")
