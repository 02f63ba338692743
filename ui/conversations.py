"""Saved conversations: one SQLite file under the index root, one row per exchange.

    store = ConversationStore(index_dir / "conversations.sqlite3")
    summary = store.create("local", "Who went to Geneva?")
    store.append("local", summary.id, StoredExchange("a1b2", "Who went to Geneva?", answer))
    store.conversations("local")          # newest first
    store.load("local", summary.id)       # the exchanges, each with its Answer rebuilt from JSON

What is stored for an answer is its JSON (`Answer.to_json()`, the `rag ask --json`
contract): the citations with their offsets, page and score, so a reopened
conversation shows its quotes and an export can re-check them against the
index. Each exchange is written in its own transaction once its answer is
complete, so a process killed mid-conversation leaves every full answer before
it. The file uses WAL, so the chat can read while it writes.

Every call takes the user: a conversation is only ever read, renamed or deleted
by the user who made it (`LOCAL_USER` when the chat has no login). A
conversation can name the collection it was asked in (nullable: None is the
index itself).

The schema has a version (the `schema_version` table) and `MIGRATIONS`, a list
applied in order: version n is reached by running `MIGRATIONS[n - 1]`. To change
the schema, append a migration; never edit one that has shipped.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from index.errors import RagError
from rag.types import Answer, answer_from_json

__all__ = [
    "DATABASE_NAME",
    "LOCAL_USER",
    "MIGRATIONS",
    "TITLE_CHARS",
    "Conversation",
    "ConversationStore",
    "ConversationSummary",
    "StoredExchange",
    "answer_from_json",
    "title_from",
]

DATABASE_NAME = "conversations.sqlite3"  # under the index root
LOCAL_USER = "local"  # whose conversations they are when the chat has no login
TITLE_CHARS = 80  # a title made from a long first question is cut here

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: conversations and their exchanges
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            user TEXT NOT NULL,
            title TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL)""",
        """CREATE TABLE exchanges (
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            id TEXT NOT NULL,
            question TEXT NOT NULL,
            answer TEXT,
            error TEXT,
            created TEXT NOT NULL,
            PRIMARY KEY (conversation_id, position))""",
    ),
    (  # 2: the collection a conversation was asked in, the document filter of each question, a list index
        "ALTER TABLE conversations ADD COLUMN collection TEXT",
        "ALTER TABLE exchanges ADD COLUMN doc_ids TEXT",
        "CREATE INDEX conversations_by_user ON conversations (user, updated)",
    ),
)


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as the sidebar lists it. Dates are ISO 8601 in UTC."""

    id: str
    title: str
    created: str
    updated: str
    collection: str | None = None


@dataclass(frozen=True)
class StoredExchange:
    """One question and its outcome: the answer, or the error message shown instead."""

    id: str
    question: str
    answer: Answer | None = None
    error: str | None = None
    doc_ids: tuple[str, ...] | None = None  # the document filter it was asked with (None: all documents)


@dataclass(frozen=True)
class Conversation:
    summary: ConversationSummary
    exchanges: tuple[StoredExchange, ...]


def title_from(question: str) -> str:
    """A conversation's title from its first question: one line, at most TITLE_CHARS characters."""
    line = " ".join(question.split()) or "Untitled conversation"
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class ConversationStore:
    """The conversations of every user of one chat, in one SQLite file; safe to use from several threads.

    A connection is opened per call (SQLite connections are cheap and not meant
    to be shared between threads); the schema is brought up to date on creation.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # -- the file --------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        except sqlite3.Error as error:
            raise RagError(f"cannot open the conversation database {self.path}: {error}. Check the folder.") from error
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA synchronous = FULL")
            yield connection
        except sqlite3.DatabaseError as error:
            raise RagError(
                f"the conversation database {self.path} cannot be used ({error}). Move the file away to start "
                "afresh; the index itself is not affected."
            ) from error
        finally:
            connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is stored, or none of it."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def schema_version(self) -> int:
        with self._connect() as connection:
            return _version(connection)

    def _migrate(self) -> None:
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode = WAL")
        with self._transaction() as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = _version(connection)
            if version > len(MIGRATIONS):
                raise RagError(
                    f"{self.path} has conversation schema version {version}, newer than this program "
                    f"({len(MIGRATIONS)}): upgrade grounded-rag, or use another index folder."
                )
            for number in range(version + 1, len(MIGRATIONS) + 1):
                for statement in MIGRATIONS[number - 1]:
                    connection.execute(statement)
            connection.execute("DELETE FROM schema_version")
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),))

    # -- conversations -----------------------------------------------------------

    def create(self, user: str, title: str, collection: str | None = None) -> ConversationSummary:
        """A new, empty conversation of `user`."""
        now = _now()
        summary = ConversationSummary(uuid.uuid4().hex[:16], title_from(title), now, now, collection)
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO conversations (id, user, title, created, updated, collection) VALUES (?, ?, ?, ?, ?, ?)",
                (summary.id, user, summary.title, now, now, collection),
            )
        return summary

    def conversations(self, user: str) -> list[ConversationSummary]:
        """`user`'s conversations, the most recently updated first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, title, created, updated, collection FROM conversations WHERE user = ? "
                "ORDER BY updated DESC, created DESC",
                (user,),
            ).fetchall()
        return [ConversationSummary(*row) for row in rows]

    def load(self, user: str, conversation_id: str) -> Conversation | None:
        """The conversation with its exchanges in order; None when `user` has no conversation with that id."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT id, title, created, updated, collection FROM conversations WHERE id = ? AND user = ?",
                (conversation_id, user),
            ).fetchone()
            if row is None:
                return None
            rows = connection.execute(
                "SELECT id, question, answer, error, doc_ids FROM exchanges WHERE conversation_id = ? "
                "ORDER BY position",
                (conversation_id,),
            ).fetchall()
        return Conversation(ConversationSummary(*row), tuple(_exchange(*r) for r in rows))

    def rename(self, user: str, conversation_id: str, title: str) -> bool:
        """Give the conversation a new title; False when `user` has no such conversation or the title is blank."""
        if not title.strip():
            return False
        with self._transaction() as connection:
            cursor = connection.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND user = ?",
                (title_from(title), conversation_id, user),
            )
        return cursor.rowcount == 1

    def delete(self, user: str, conversation_id: str) -> bool:
        """Delete the conversation and its exchanges; False when `user` has no such conversation."""
        with self._transaction() as connection:
            cursor = connection.execute("DELETE FROM conversations WHERE id = ? AND user = ?", (conversation_id, user))
        return cursor.rowcount == 1

    # -- exchanges ---------------------------------------------------------------

    def append(self, user: str, conversation_id: str, exchange: StoredExchange) -> bool:
        """Add one exchange at the end, in its own transaction; False when `user` has no such conversation.

        An exchange already stored (same id) is not stored twice, so saving a
        whole session again after each answer only adds what is new.
        """
        answer = json.dumps(exchange.answer.to_json(), ensure_ascii=False) if exchange.answer is not None else None
        doc_ids = json.dumps(list(exchange.doc_ids)) if exchange.doc_ids is not None else None
        with self._transaction() as connection:
            owned = connection.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND user = ?", (conversation_id, user)
            ).fetchone()
            if owned is None:
                return False
            known = connection.execute(
                "SELECT 1 FROM exchanges WHERE conversation_id = ? AND id = ?", (conversation_id, exchange.id)
            ).fetchone()
            if known is not None:
                return True
            (position,) = connection.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM exchanges WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            connection.execute(
                "INSERT INTO exchanges (conversation_id, position, id, question, answer, error, created, doc_ids) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, position, exchange.id, exchange.question, answer, exchange.error, _now(), doc_ids),
            )
            connection.execute("UPDATE conversations SET updated = ? WHERE id = ?", (_now(), conversation_id))
        return True

    def save(
        self,
        user: str,
        conversation_id: str | None,
        exchanges: Sequence[StoredExchange],
        collection: str | None = None,
    ) -> str | None:
        """Store what is new in a session: creates the conversation on its first exchange; returns its id.

        Returns None when there is nothing to store yet, and a new conversation's
        id when `conversation_id` is None or not `user`'s (deleted meanwhile, say).
        """
        if not exchanges:
            return conversation_id
        if conversation_id is None or self.load(user, conversation_id) is None:
            conversation_id = self.create(user, exchanges[0].question, collection).id
        for exchange in exchanges:
            self.append(user, conversation_id, exchange)
        return conversation_id


def _version(connection: sqlite3.Connection) -> int:
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _exchange(
    exchange_id: str, question: str, answer: str | None, error: str | None, doc_ids: str | None
) -> StoredExchange:
    return StoredExchange(
        exchange_id,
        question,
        answer_from_json(json.loads(answer)) if answer is not None else None,
        error,
        tuple(json.loads(doc_ids)) if doc_ids is not None else None,
    )
