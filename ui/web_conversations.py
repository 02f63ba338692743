"""The web chat's saved conversations: the sidebar's events, saving after each answer, and export.

`ui/web.py` wires these methods to the page; like ui/web_handlers.py they hold
no gradio components, so tests can call them directly. The conversations live
in a `ui.conversations.ConversationStore`; which one a browser tab shows is kept
in the browser (a `gr.BrowserState`), so a reload or a server restart reopens
it. Whose conversations are listed comes from the login (`rag chat --auth`),
or is `LOCAL_USER` without one.

With collections (ui/web_collections.py), `collection_of` says which
collection a request's session is on: a new conversation is stored with it,
and a conversation's answers are drawn and its quotes re-checked against its
own collection's documents (`engine_of`). `held_in` says which collection a
saved conversation was held in, so that reopening it can switch the session there.

Every event that changes which conversation is shown returns a `View`'s
values, in the order of `VIEW_OUTPUTS`: the chat messages, the session, the
conversation id, the sidebar list, the title box and the copy button's text.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import gradio as gr

from index.errors import RagError
from index.types import Document
from rag.engine import Engine
from ui import chat
from ui.conversations import LOCAL_USER, Conversation, ConversationStore, ConversationSummary, StoredExchange
from ui.export import answer_markdown, conversation_html, conversation_markdown, export_item
from ui.render import answer_html, error_html

__all__ = ["EXPORT_SCOPES", "VIEW_OUTPUTS", "ConversationHandlers", "conversation_label"]

log = logging.getLogger(__name__)
EXPORT_KEEP_SECONDS = 3600

VIEW_OUTPUTS = ("chatbot", "session", "conversation_id", "conversation_list", "title", "copy_text")
EXPORT_SCOPES = [("The whole conversation", "conversation"), ("The last answer", "last")]
_SAFE_ID = re.compile(r"[A-Za-z0-9-]+")

Session = list[chat.Exchange]


def conversation_label(summary: ConversationSummary) -> str:
    """How the sidebar names a conversation: its title and when it was last added to (UTC)."""
    when = datetime.fromisoformat(summary.updated).strftime("%d %b %H:%M")
    return f"{summary.title} · {when}"


def _user(request: gr.Request | None) -> str:
    """Who is asking: the login name with `--auth`, else the one local user."""
    name = getattr(request, "username", None) if request is not None else None
    return name or LOCAL_USER


def _file_name(title: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:60]
    return stem or "conversation"


class ConversationHandlers:
    """The sidebar and export events over one engine and one conversation store."""

    def __init__(
        self,
        engine: Engine,
        store: ConversationStore,
        *,
        collection_of: Callable[[gr.Request | None], str | None] | None = None,
        engine_of: Callable[[str], Engine] | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.collection_of = collection_of or (lambda request: None)
        self.engine_of = engine_of
        self._exports = Path(tempfile.mkdtemp(prefix="rag-exports-"))  # one folder for this server's exports

    def _export_folder(self) -> Path:
        """A fresh folder for one export; exports older than EXPORT_KEEP_SECONDS (downloaded long since:
        gradio copies a file it serves) are removed, so a long-running chat does not fill the disk."""
        now = time.time()
        for old in self._exports.iterdir():
            try:
                if now - old.stat().st_mtime > EXPORT_KEEP_SECONDS:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass  # removed by a concurrent export
        return Path(tempfile.mkdtemp(dir=self._exports))

    def _documents(self, collection: str | None) -> Mapping[str, Document]:
        """The documents a conversation's quotes come from: its collection's, or the engine's."""
        if collection is not None and self.engine_of is not None:
            try:
                return self.engine_of(collection).data.documents
            except Exception:  # a collection deleted since: its quotes show, marked unverifiable on export
                log.warning("collection %r of a saved conversation cannot be opened", collection)
                return {}
        return self.engine.data.documents

    # -- what the page shows -----------------------------------------------------

    def _listing(self, user: str, selected: str | None) -> dict:
        summaries = self.store.conversations(user)
        choices = [(conversation_label(s), s.id) for s in summaries]
        label = f"{len(summaries)} saved conversation{'s' if len(summaries) != 1 else ''}"
        value = selected if any(s.id == selected for s in summaries) else None
        return gr.update(choices=choices, value=value, label=label)

    def _exchanges(self, conversation: Conversation) -> Session:
        """The stored exchanges drawn again, against the documents indexed now (citations stay clickable)."""
        exchanges: Session = []
        for stored in conversation.exchanges:
            answer_id = stored.id if _SAFE_ID.fullmatch(stored.id) else f"saved-{len(exchanges)}"
            if stored.answer is not None:
                documents = self._documents(conversation.summary.collection)
                shown = answer_html(stored.answer, documents, answer_id, searched=stored.doc_ids)
            else:
                shown = error_html(stored.error or "This question was not answered.")
            exchanges.append(chat.Exchange(answer_id, stored.question, shown, stored.answer, stored.error))
        return exchanges

    def _view(self, user: str, conversation: Conversation | None) -> tuple:
        """Everything a switch of conversation changes, in the order of VIEW_OUTPUTS."""
        if conversation is None:
            return [], [], None, self._listing(user, None), "", ""
        exchanges = self._exchanges(conversation)
        summary = conversation.summary
        return (
            chat.messages(exchanges),
            exchanges,
            summary.id,
            self._listing(user, summary.id),
            summary.title,
            self.copy_text(exchanges, summary.collection),
        )

    def copy_text(self, exchanges: Sequence[chat.Exchange], collection: str | None = None) -> str:
        """What the copy button puts on the clipboard: the last answer with its quotes, as Markdown."""
        for exchange in reversed(exchanges):
            if exchange.answer is not None:
                item = export_item(exchange.question, exchange.answer, None, self._documents(collection))
                return answer_markdown(item)
        return ""

    # -- events --------------------------------------------------------------------

    def restore(self, conversation_id: str | None, request: gr.Request) -> tuple:
        """On page load: the conversation this browser had open, if it still exists and is this user's."""
        user = _user(request)
        try:
            conversation = self.store.load(user, conversation_id) if isinstance(conversation_id, str) else None
            return self._view(user, conversation)
        except RagError as error:
            log.warning("conversations unavailable: %s", error)
            return [], [], None, gr.update(choices=[], value=None, label=str(error)), "", ""

    def save(self, exchanges: Session, conversation_id: str | None, doc_ids: list[str] | None, request: gr.Request):
        """After an answer: store the new exchange (its own transaction); (id, sidebar, title, copy text)."""
        user = _user(request)
        stored = [
            StoredExchange(e.id, e.question, e.answer, e.error, tuple(doc_ids) if doc_ids else None)
            for e in exchanges
            if not e.draft
        ]
        collection = self.collection_of(request)
        try:
            saved = self.store.save(user, conversation_id, stored, collection)
        except RagError as error:
            log.warning("could not save the conversation: %s", error)
            gr.Warning(f"This conversation could not be saved: {error}")
            return gr.skip(), gr.skip(), gr.skip(), self.copy_text(exchanges, collection)
        summary = next((s for s in self.store.conversations(user) if s.id == saved), None)
        title = summary.title if summary is not None else ""
        return saved, self._listing(user, saved), title, self.copy_text(exchanges, collection)

    def new(self, request: gr.Request) -> tuple:
        """The "New conversation" button (and the chat's bin): an empty chat; the old one stays listed."""
        return self._view(_user(request), None)

    def held_in(self, conversation_id: str | None, request: gr.Request | None) -> str | None:
        """The collection this user's conversation was held in (None: no such conversation, or one saved
        before collections)."""
        if not isinstance(conversation_id, str):
            return None
        try:
            conversation = self.store.load(_user(request), conversation_id)
        except RagError:
            return None
        return conversation.summary.collection if conversation is not None else None

    def restart_if_moved(self, conversation_id: str | None, request: gr.Request) -> tuple:
        """After an upload: if it moved the session into another collection than the one the conversation
        shown is held in, a new conversation there (answers cite one collection's documents); else no change."""
        held = self.held_in(conversation_id, request)
        if held is None or held == self.collection_of(request):
            return (gr.skip(),) * len(VIEW_OUTPUTS)
        return self.new(request)

    def open(self, conversation_id: str | None, request: gr.Request) -> tuple:
        """A conversation picked in the sidebar, with its answers and citations as they were."""
        user = _user(request)
        conversation = self.store.load(user, conversation_id) if conversation_id else None
        return self._view(user, conversation)

    def rename(self, conversation_id: str | None, title: str, request: gr.Request) -> tuple:
        """The title box's Rename: (sidebar, title box)."""
        user = _user(request)
        if not conversation_id or not self.store.rename(user, conversation_id, title or ""):
            gr.Warning("Ask a question first, then give the conversation a title that is not blank.")
            return gr.skip(), gr.skip()
        conversation = self.store.load(user, conversation_id)
        return self._listing(user, conversation_id), conversation.summary.title if conversation else ""

    def delete(self, conversation_id: str | None, request: gr.Request) -> tuple:
        """Delete the conversation shown, and show an empty chat."""
        user = _user(request)
        if conversation_id:
            self.store.delete(user, conversation_id)
        return self._view(user, None)

    def export_markdown(self, exchanges: Session, conversation_id: str | None, scope: str, request: gr.Request):
        """The Export Markdown button: the file, shown for download."""
        path = self.export(exchanges, conversation_id, scope, "markdown", _user(request))
        return gr.update(value=path, visible=True) if path else gr.skip()

    def export_html(self, exchanges: Session, conversation_id: str | None, scope: str, request: gr.Request):
        """The Export HTML button: the file, shown for download."""
        path = self.export(exchanges, conversation_id, scope, "html", _user(request))
        return gr.update(value=path, visible=True) if path else gr.skip()

    def export(
        self, exchanges: Sequence[chat.Exchange], conversation_id: str | None, scope: str, kind: str, user: str
    ) -> str | None:
        """Write the conversation (or its last answer) as "markdown" or "html" to a new file; returns its path.

        Every quote is checked against the documents as they are now (ui/export.py).
        """
        answered = [e for e in exchanges if not e.draft]
        if scope == "last":
            answered = [e for e in answered if e.answer is not None][-1:]
        if not answered:
            gr.Warning("There is nothing to export yet: ask a question first.")
            return None
        summary = None
        if conversation_id:
            conversation = self.store.load(user, conversation_id)
            summary = conversation.summary if conversation else None
        title = summary.title if summary is not None else answered[0].question
        if scope == "last":
            title = answered[0].question
        documents = self._documents(summary.collection if summary is not None else None)
        items = [export_item(e.question, e.answer, e.error, documents) for e in answered]
        folder = self._export_folder()
        if kind == "html":
            path = folder / f"{_file_name(title)}.html"
            path.write_text(conversation_html(title, items), encoding="utf-8")
        else:
            path = folder / f"{_file_name(title)}.md"
            path.write_text(conversation_markdown(title, items), encoding="utf-8")
        return str(path)
