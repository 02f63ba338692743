"""ui/conversations.py on real SQLite files: migrations, per-user isolation, rename and delete,
answers coming back intact, and a writer killed with SIGKILL losing nothing it had committed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from index.errors import RagError
from rag.types import Answer, Citation, Generation, Passage, RemovedSentence
from ui.conversations import (
    MIGRATIONS,
    TITLE_CHARS,
    ConversationStore,
    StoredExchange,
    answer_from_json,
    title_from,
)

ROOT = Path(__file__).resolve().parents[1]


def an_answer(question: str = "Who went to Geneva?", page: int | None = 4) -> Answer:
    quote = "The envoy went to Geneva on Monday."
    citation = Citation(1, "notes", "Notes <b>", quote, 7, 7 + len(quote), page, 0.91)
    passage = Passage("notes", "notes:0", "Notes <b>", "Notes. " + quote, 0, 42, 0.7, 0.5, 0.4)
    generation = Generation("qwen", "He went. [1]", (RemovedSentence("He flew.", "unsupported: no quote", 0.1),), 1, 3)
    return Answer(
        question, f"{quote} [1]", False, [citation], [passage], {"total": 3.5}, support=0.8,
        search_query=question, generation=generation, low_support=True, scorer="minilm",
    )  # fmt: skip


def test_a_new_file_gets_every_migration(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    assert store.schema_version() == len(MIGRATIONS) == 2
    with sqlite3.connect(tmp_path / "c.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = {row[1] for row in db.execute("PRAGMA table_info(conversations)")}
    assert {"id", "user", "title", "created", "updated", "collection"} <= columns
    ConversationStore(tmp_path / "c.sqlite3")  # opening again changes nothing
    assert store.schema_version() == 2


def test_a_version_1_file_is_migrated_and_keeps_its_conversations(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO conversations VALUES ('c1', 'local', 'Old one', '2025-01-01', '2025-01-01')")
        stored = json.dumps(an_answer().to_json())
        db.execute(
            "INSERT INTO exchanges VALUES ('c1', 0, 'e1', 'Who went to Geneva?', ?, NULL, '2025-01-01')", (stored,)
        )
    store = ConversationStore(path)
    assert store.schema_version() == 2
    [summary] = store.conversations("local")
    assert (summary.id, summary.title, summary.collection) == ("c1", "Old one", None)
    conversation = store.load("local", "c1")
    assert conversation is not None
    [exchange] = conversation.exchanges
    assert exchange.answer == answer_from_json(an_answer().to_json()) and exchange.doc_ids is None


def test_a_newer_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(RagError, match="upgrade grounded-rag"):
        ConversationStore(path)


def test_a_file_that_is_not_a_database_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RagError, match="Move the file away"):
        ConversationStore(path)


def test_answers_come_back_as_they_were_stored(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    answer = an_answer()
    conversation_id = store.save("local", None, [StoredExchange("e1", answer.question, answer, doc_ids=("notes",))])
    assert conversation_id is not None
    loaded = store.load("local", conversation_id)
    assert loaded is not None
    [exchange] = loaded.exchanges
    assert exchange.answer is not None and exchange.doc_ids == ("notes",)
    assert exchange.answer.to_json() == answer.to_json()  # citations with offsets and page, generation, flags
    assert exchange.answer.citations == answer.citations


def test_conversations_belong_to_their_user(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    alice = store.save("alice", None, [StoredExchange("e1", "Alice asks", error="no index")])
    bob = store.save("bob", None, [StoredExchange("e2", "Bob asks", an_answer())])
    assert alice and bob
    assert [c.title for c in store.conversations("alice")] == ["Alice asks"]
    assert [c.title for c in store.conversations("bob")] == ["Bob asks"]
    assert store.load("bob", alice) is None
    assert not store.rename("bob", alice, "Mine now") and not store.delete("bob", alice)
    assert not store.append("bob", alice, StoredExchange("e3", "sneaked in"))
    # saving into someone else's conversation starts a new one for the saver instead
    moved = store.save("bob", alice, [StoredExchange("e4", "Bob again")])
    assert moved not in (alice, None)
    alice_copy = store.load("alice", alice)
    assert alice_copy is not None and [e.question for e in alice_copy.exchanges] == ["Alice asks"]


def test_rename_delete_and_newest_first(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    first = store.save("local", None, [StoredExchange("a", "First question")])
    second = store.save("local", None, [StoredExchange("b", "Second question")], collection="papers")
    assert first and second
    assert [c.id for c in store.conversations("local")] == [second, first]
    store.append("local", first, StoredExchange("c", "A follow-up"))  # an answer makes it the newest
    assert [c.id for c in store.conversations("local")] == [first, second]
    assert store.conversations("local")[1].collection == "papers"
    assert store.rename("local", first, "  Geneva   talks ")
    assert not store.rename("local", first, "   ")
    assert store.conversations("local")[0].title == "Geneva talks"
    assert store.delete("local", second)
    assert store.load("local", second) is None
    assert [c.id for c in store.conversations("local")] == [first]
    with sqlite3.connect(tmp_path / "c.sqlite3") as db:  # its exchanges went with it
        assert db.execute("SELECT COUNT(*) FROM exchanges WHERE conversation_id = ?", (second,)).fetchone() == (0,)


def test_saving_a_session_again_adds_only_what_is_new(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    session = [StoredExchange("a", "One"), StoredExchange("b", "Two", an_answer())]
    conversation_id = store.save("local", None, session[:1])
    assert store.save("local", conversation_id, session) == conversation_id
    assert store.save("local", conversation_id, session) == conversation_id
    loaded = store.load("local", conversation_id or "")
    assert loaded is not None and [e.id for e in loaded.exchanges] == ["a", "b"]
    assert store.save("local", None, []) is None


def test_titles_are_one_short_line() -> None:
    assert title_from("  Who went\n to Geneva?  ") == "Who went to Geneva?"
    long = title_from("word " * 100)
    assert len(long) == TITLE_CHARS and long.endswith("…")
    assert title_from("   ") == "Untitled conversation"


WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.test_conversations import an_answer
from ui.conversations import ConversationStore, StoredExchange
store = ConversationStore(Path({path!r}))
conversation = store.create("local", "Killed mid-conversation")
print(conversation.id, flush=True)
n = 0
while True:
    store.append("local", conversation.id, StoredExchange(f"e{{n}}", f"Question {{n}}", an_answer(f"Question {{n}}")))
    print(n, flush=True)
    n += 1
"""


def test_a_writer_killed_with_sigkill_leaves_every_complete_exchange(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    script = WRITER.format(root=str(ROOT), path=str(path))
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert writer.stdout is not None
    conversation_id = writer.stdout.readline().strip()
    committed = -1
    while committed < 30:  # let it commit a few, then kill it wherever it is
        committed = int(writer.stdout.readline())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    conversation = ConversationStore(path).load("local", conversation_id)
    assert conversation is not None
    questions = [e.question for e in conversation.exchanges]
    assert len(questions) >= committed + 1  # everything it said it had stored is there ...
    assert questions == [f"Question {n}" for n in range(len(questions))]  # ... in order, with no gap
    for exchange in conversation.exchanges:  # ... and every stored answer is whole
        assert exchange.answer is not None and exchange.answer.to_json() == an_answer(exchange.question).to_json()
