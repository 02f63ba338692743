"""The web chat's collections and document management: the picker, a new collection from an upload,
and the Documents view's table with delete and rename.

    shelf = Shelf(index_root, "default", engine)     # engines per collection, opened on first use (ui/shelf.py)
    events = CollectionEvents(shelf, handlers)       # what the page calls; ui/web.py wires it
    respond = events.scoped(handlers.respond)        # any Handlers method, for the session's collection

Each browser session picks a collection in the picker; every question, upload
and document view of that session goes to that collection's engine. An engine
is opened the first time any session picks its collection and then kept, so
switching back is instant. Picking another collection starts a new conversation:
answers cite one collection's documents. Uploading with a name in "into a new
collection" makes that collection, indexes the files into it and switches to it.
Reopening a saved conversation (or restoring it on page load) switches the
session to the collection it was held in (`reopen`), without starting a new one.
"""

from __future__ import annotations

import copy
import inspect
import logging
import threading
import typing
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from index.collections import DEFAULT_COLLECTION, collection_dir, create_collection, delete_collection, validate_name
from index.errors import RagError, UsageError
from ui.documents import delete_upload, document_rows, documents_table, rename_upload
from ui.render import notice_html
from ui.shelf import Shelf
from ui.uploads import add_uploads
from ui.web_handlers import EMPTY_DOC, Handlers, upload_notice

__all__ = [
    "CollectionControls",
    "CollectionEvents",
    "collection_picker",
    "document_actions",
    "documents_table_box",
    "new_collection_box",
    "reopen_outputs",
    "wire",
]

log = logging.getLogger(__name__)


# -- the events ----------------------------------------------------------------


MAX_SESSIONS = 10_000  # sessions whose picked collection is remembered (a forgotten one asks the first collection)


class CollectionEvents:
    """The picker's, the new-collection upload's and the document actions' handlers.

    Which collection a browser session picked is kept here by its session hash (set when
    the user picks, an upload or a reopened conversation moves it), so the chat's events need no extra input:
    `session_handlers()` gives them `Handlers` whose methods look it up.
    """

    def __init__(self, shelf: Shelf, handlers: Handlers) -> None:
        self.shelf = shelf
        self.base = handlers
        self._handlers: dict[str, Handlers] = {shelf.first: handlers}
        # session hash -> collection, for sessions that switched; the oldest are forgotten past MAX_SESSIONS
        self._picked: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def handlers(self, collection: str | None) -> Handlers:
        """The page's handlers over `collection`'s engine (the same feedback log and model for all)."""
        name = collection or self.shelf.first
        try:
            engine = self.shelf.engine(name)
        except RagError as error:
            raise gr.Error(str(error)) from error
        handlers = self._handlers.get(name)
        if handlers is None or handlers.engine is not engine:  # new, or the collection was opened again
            handlers = copy.copy(self.base)
            handlers.engine = engine
            with self._lock:
                self._handlers[name] = handlers
        return handlers

    def collection_of(self, request: gr.Request | None) -> str:
        """The collection this request's session picked (the first one until it switches)."""
        session = getattr(request, "session_hash", None)
        return self._picked.get(session or "", self.shelf.first)

    def _pick(self, request: gr.Request | None, collection: str) -> None:
        session = getattr(request, "session_hash", None)
        if session:
            with self._lock:
                self._picked[session] = collection
                self._picked.move_to_end(session)
                while len(self._picked) > MAX_SESSIONS:
                    self._picked.popitem(last=False)

    def session_handlers(self) -> _SessionHandlers:
        """Stands in for `Handlers` where ui/web.py wires the chat: the same methods, each answered over
        the collection of the session that sent the event."""
        return _SessionHandlers(self)

    def scoped(self, method: Callable) -> Callable:
        """`method` (a `Handlers` method) run over the collection of the session that sent the event.

        The wrapper has the method's parameters and type hints plus a last `request: gr.Request`, which
        gradio fills in; so gradio still passes event data (gr.SelectData) and still streams a
        generator's results.
        """
        name = method.__name__

        def target(request: gr.Request | None) -> Callable:
            return getattr(self.handlers(self.collection_of(request)), name)

        if inspect.isgeneratorfunction(method):

            def run(*args):
                *inputs, request = args  # gradio passes the request last, where the signature has it
                yield from target(request)(*inputs)

        else:

            def run(*args):
                *inputs, request = args
                return target(request)(*inputs)

        signature = inspect.signature(method)
        extra = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
        run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])
        run.__annotations__ = {**typing.get_type_hints(method), "request": gr.Request}
        run.__name__ = run.__qualname__ = name
        return run

    # -- the picker --

    def picker_update(self, value: str | None = None) -> dict:
        return gr.update(choices=self.shelf.names(), **({"value": value} if value else {}))

    def table(self, collection: str) -> str:
        return documents_table(document_rows(self.handlers(collection).engine), collection)

    def reopen(self, collection: str | None, request: gr.Request) -> tuple:
        """A saved conversation shown (reopened, or restored on page load): the session moves to `collection`,
        the one it was held in, if that can still answer; else it stays where it is, and says so. None (no
        conversation, or one saved before collections) stays too.
        (picker, filter, document list, header, document view, table)"""
        target = self.collection_of(request)
        if collection and collection != target:
            if collection in self.shelf.names():
                target = collection
            else:
                gr.Warning(
                    f"This conversation was held in the collection “{collection}”, which is gone: "
                    f"follow-up questions ask “{target}”."
                )
        self._pick(request, target)
        return (self.picker_update(target), *self.handlers(target).catalog(), EMPTY_DOC, self.table(target))

    def switch(self, collection: str, request: gr.Request) -> tuple:
        """Another collection picked: a new conversation over its documents.
        (chat, session, filter, document list, header, document view, table, status)"""
        handlers = self.handlers(collection)
        self._pick(request, collection)
        doc_filter, doc_list, header = handlers.catalog()
        return [], [], doc_filter, doc_list, header, EMPTY_DOC, self.table(collection), ""

    # -- uploads --

    def upload(self, collection: str, new_name: str | None, paths: Sequence[str] | None, request: gr.Request) -> tuple:
        """Index uploaded files into the picked collection, or into a new one when a name is typed.
        (status, upload box, filter, document list, header, picker, new-name box, table, document view)"""
        files = [(Path(p), Path(p).name) for p in paths or []]
        if not files:
            return (gr.skip(),) * 9
        target = (new_name or "").strip() or collection
        made = False
        try:
            if target != DEFAULT_COLLECTION and not collection_dir(self.shelf.root, validate_name(target)).is_dir():
                create_collection(self.shelf.root, target)
                made = True
            if target in self.shelf.names():
                result = add_uploads(self.handlers(target).engine, files)
            else:
                fresh = self.shelf.new_collection(target)
                result = add_uploads(fresh, files)  # type: ignore[arg-type]  # an engine until it has an index
                if fresh.engine is not None:
                    self.shelf.add(target, fresh.engine)
        except UsageError as error:
            status = notice_html("error", "Nothing was added.", [str(error)])
            return status, *(gr.skip(),) * 8
        except Exception:  # add_uploads reports bad files itself; this is a bug or a full disk
            log.exception("adding uploads failed")
            if made:
                delete_collection(self.shelf.root, target)  # nothing went in: no empty collection is left behind
            status = notice_html("error", "The files could not be indexed. The app is still running: try again.")
            return status, *(gr.skip(),) * 8
        if made and not result.added:
            delete_collection(self.shelf.root, target)  # nothing went in: no empty collection is left behind
        status = upload_notice(result)
        if not result.added:
            return status, None, *(gr.skip(),) * 7
        if made:
            status = notice_html("ok", f"Made the collection “{target}”.") + status
        # The session moves to `target`; ui/web.py then starts a new conversation there if it moved.
        moved = target != self.collection_of(request)
        self._pick(request, target)
        picked = (self.picker_update(target), "", self.table(target), EMPTY_DOC if moved else gr.skip())
        return (status, None, *self.handlers(target).catalog(), *picked)

    # -- deleting and renaming documents --

    def _after_change(self, collection: str, message: str, selected: str | None, kind: str = "ok") -> tuple:
        """(status, filter, document list, header, table, document view) after the documents changed."""
        handlers = self.handlers(collection)
        doc_filter, _, header = handlers.catalog()
        choices = handlers.choices()
        count = len(choices)
        doc_list = gr.update(choices=choices, value=selected, label=f"{count} document{'s' if count != 1 else ''}")
        return notice_html(kind, message), doc_filter, doc_list, header, self.table(collection), EMPTY_DOC

    def delete(self, collection: str, doc_id: str | None) -> tuple:
        """Delete the chosen uploaded document; the index follows at once."""
        try:
            document = delete_upload(self.handlers(collection).engine, _chosen(doc_id))
        except RagError as error:
            return notice_html("error", str(error)), *(gr.skip(),) * 5
        return self._after_change(collection, f"Deleted “{document.title}” ({document.id}).", None)

    def rename(self, collection: str, doc_id: str | None, new_name: str | None) -> tuple:
        """Rename the chosen uploaded document's file (its id follows); then the new-name box is emptied."""
        try:
            document = rename_upload(self.handlers(collection).engine, _chosen(doc_id), new_name or "")
        except RagError as error:
            return notice_html("error", str(error)), *(gr.skip(),) * 5, gr.skip()
        message = f"Renamed {doc_id} to {document.id}: answers cite it as {document.id} now."
        return (*self._after_change(collection, message, document.id), "")


class _SessionHandlers:
    """`Handlers` for ui/web.py's chat wiring: the methods that read the engine run over the session's
    collection (`CollectionEvents.scoped`); every other attribute is the page's own `Handlers`'."""

    SCOPED = frozenset(
        {"respond", "respond_example", "respond_generated", "respond_generated_example", "show_document", "catalog"}
    )

    def __init__(self, events: CollectionEvents) -> None:
        self._events = events

    def __getattr__(self, name: str):
        attribute = getattr(self._events.base, name)
        return self._events.scoped(attribute) if name in self.SCOPED else attribute


def _chosen(doc_id: str | None) -> str:
    if not doc_id:
        raise UsageError("choose a document in the list first")
    return doc_id


# -- the components and their wiring (called from ui/web.py) -------------------

_PRIVATE = {"api_visibility": "private"}
_ONE_INDEXING_RUN = {"concurrency_limit": 1, "concurrency_id": "index"}  # the uploads' queue: one build at a time


@dataclass(frozen=True)
class CollectionControls:
    """The components this module adds to the page."""

    picker: gr.Dropdown
    new_name: gr.Textbox
    table: gr.HTML
    rename_box: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    status: gr.HTML


def collection_picker(events: CollectionEvents) -> gr.Dropdown:
    """The collection this session asks (top of the side panel)."""
    return gr.Dropdown(
        choices=events.shelf.names(),
        value=events.shelf.first,
        label="Collection",
        info="Each collection is its own set of documents; switching starts a new conversation.",
        elem_id="rag-collection",
    )


def new_collection_box() -> gr.Textbox:
    """Under the upload box: a name here sends the next upload into a new collection of that name."""
    return gr.Textbox(
        label="Upload into a new collection (optional)",
        placeholder="Type a name, then upload: the collection is made",
        max_lines=1,
        elem_id="rag-new-collection",
    )


def documents_table_box() -> gr.HTML:
    """The Documents tab's table (file name, format, size, chunks, indexed-at), filled when the page loads."""
    return gr.HTML(elem_id="rag-doc-table")


def document_actions() -> tuple[gr.Textbox, gr.Button, gr.Button, gr.HTML]:
    """Rename and delete for the document chosen in the Documents tab's list (uploads only)."""
    gr.Markdown("#### Change the chosen document", elem_id="rag-doc-actions-help")
    rename_box = gr.Textbox(
        label="New name",
        placeholder="e.g. budget 2026",
        info="Uploaded documents only: the file is renamed and the document id follows.",
        max_lines=1,
        elem_id="rag-doc-rename",
    )
    with gr.Row():
        rename = gr.Button("Rename", size="sm", elem_id="rag-doc-rename-button")
        delete = gr.Button("Delete", size="sm", variant="stop", elem_id="rag-doc-delete-button")
    return rename_box, rename, delete, gr.HTML(elem_id="rag-doc-status")


def reopen_outputs(controls: CollectionControls, page) -> list:
    """What `CollectionEvents.reopen` redraws, in its order; ui/web.py wires it after a conversation is shown."""
    return [controls.picker, page.doc_filter, page.doc_list, page.header, page.doc_view, controls.table]


def wire(events: CollectionEvents, controls: CollectionControls, page) -> tuple:
    """Connect the picker, uploads and document actions. `page` is ui/web.py's `_Page` (its chat, session,
    filter, document list and view, header, upload box and status). Returns the picker's and the uploads'
    events, for what else a new conversation must reset (`.then(...)`).

    The picker's `.input` fires only when the user picks (its `.change` fires on updates from the server
    too): an upload or a reopened conversation moves the picker without starting a new conversation."""
    c = controls
    catalog = [page.doc_filter, page.doc_list, page.header]
    switched = [page.chatbot, page.session, *catalog, page.doc_view, c.table, c.status]
    picked = c.picker.input(events.switch, [c.picker], switched, **_PRIVATE)
    uploaded = page.files.upload(
        events.upload,
        [c.picker, c.new_name, page.files],
        [page.upload_status, page.files, *catalog, c.picker, c.new_name, c.table, page.doc_view],
        **_ONE_INDEXING_RUN,
        **_PRIVATE,
    )
    changed = [c.status, *catalog, c.table, page.doc_view]
    c.delete.click(events.delete, [c.picker, page.doc_list], changed, **_ONE_INDEXING_RUN, **_PRIVATE)
    renamed = {"inputs": [c.picker, page.doc_list, c.rename_box], "outputs": [*changed, c.rename_box]}
    c.rename.click(events.rename, **renamed, **_ONE_INDEXING_RUN, **_PRIVATE)
    c.rename_box.submit(events.rename, **renamed, **_ONE_INDEXING_RUN, **_PRIVATE)
    return picked, uploaded
