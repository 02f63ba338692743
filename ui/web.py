"""The web chat: a gradio page over an Engine, and the `rag chat` server.

    app = build_app(engine)                      # gr.Blocks, not started
    serve(engine, host="127.0.0.1", port=7860)   # what `rag chat` runs
    serve(engine, generator=LlamaCppGenerator("model.gguf"))  # `rag chat --generator local`

The page has a chat (answers with linked [n] markers and source cards, thumbs
up/down, example questions, k and a document filter), a Documents tab (full
text with this conversation's quotes highlighted) and an upload box that
indexes files at once. `/ask` is an API endpoint for gradio_client that
returns the answer JSON of `rag ask --json` (always extractive, see `api_ask`).

Conversations are saved as they go (SQLite under the index root, see
ui/conversations.py): a side panel lists them, reopens, renames and deletes
them, and the tab's conversation comes back after a reload or a restart
(ui/web_conversations.py). An answer or the whole conversation can be copied
as Markdown or exported to Markdown or one self-contained HTML file in which
every quote is checked again (ui/export.py). A settings panel shows the answer
mode, the evidence scorer and k; a vote is logged with them.

With a generator (a language model, `rag.generators`), a radio switches the
chat between quotes-only answers and model-written ones. A model's draft
streams into its bubble, marked as a draft, and is then replaced by the
verified answer, drawn like any other (ui/chat.py `stream_generated`).

This module lays the page out and wires its events to the handlers in
ui/web_handlers.py; `rag chat --auth` logins are checked by ui/web_auth.py.
gradio lives behind these modules (and ui/style.py). Every string put on the
page comes from ui/render.py, ui/chat.py or the handlers, which escape document
and user text; the chatbot's own sanitizer stays on as a second fence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from index.collections import DEFAULT_COLLECTION
from index.loaders import MAX_FILE_BYTES
from rag.engine import Engine
from rag.entailment import EntailmentJudge
from rag.generators import Generator
from ui import web_collections
from ui.conversations import DATABASE_NAME, ConversationStore
from ui.feedback import FeedbackLog
from ui.shelf import Shelf
from ui.style import CSS, SCRIPT, theme
from ui.uploads import MAX_UPLOAD_CHARS, UPLOAD_SUFFIXES
from ui.web_auth import LoginGuard
from ui.web_collections import CollectionControls, CollectionEvents
from ui.web_conversations import EXPORT_SCOPES, ConversationHandlers
from ui.web_handlers import DEFAULT_K, EMPTY_DOC, EXTRACTIVE, GENERATED, Handlers

__all__ = ["EXAMPLE_QUESTIONS", "build_app", "launch", "serve"]

EXAMPLE_QUESTIONS = [
    "Who was sent to Geneva to negotiate?",
    "How large an army would Ukraine be allowed under the plan?",
    "What share of Russians say they are tired of the war?",
]
ASK_CONCURRENCY = 4  # the engine is thread-safe; embedding itself runs one at a time
ANSWER_MODES = [("Quotes only (extractive)", EXTRACTIVE), ("Language model (verified)", GENERATED)]
_PLACEHOLDER = (
    "<div class='rag-empty' style='padding:8px'><strong>Ask a question about the documents.</strong><br>"
    "Answers quote them word for word; hover or click a [1] marker to see the quote in its paragraph.</div>"
)
_PRIVATE = {"api_visibility": "private"}  # page events are not part of the client API; `/ask` is
# The conversation id a tab shows, kept in the browser's localStorage. It is not a secret (the server only
# opens a conversation for the user who owns it), so a fixed key lets it survive a server restart.
_BROWSER_KEY = "rag-conversation"
_BROWSER_SECRET = "grounded-rag-conversation-id"
_COPY_JS = """(text) => {
  if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text || ''); return; }
  const box = document.createElement('textarea');  // plain http on another host: the old way
  box.value = text || ''; document.body.appendChild(box); box.select(); document.execCommand('copy'); box.remove();
}"""


@dataclass(frozen=True)
class _Conversations:
    """The saved-conversations panel, the export box and the copy button."""

    conversation_id: gr.BrowserState
    listing: gr.Radio
    new: gr.Button
    title: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    copy: gr.Button
    copy_text: gr.Textbox
    scope: gr.Radio
    markdown: gr.Button
    html: gr.Button
    exported: gr.File


@dataclass(frozen=True)
class _Page:
    """The components the events are wired to."""

    session: gr.State
    header: gr.HTML
    chatbot: gr.Chatbot
    question: gr.Textbox
    mode: gr.Radio | None  # only with a language model
    k: gr.Slider
    doc_filter: gr.Dropdown
    files: gr.File
    upload_status: gr.HTML
    documents_tab: gr.Tab
    doc_list: gr.Radio
    doc_view: gr.HTML
    conversations: _Conversations
    settings: gr.HTML
    collections: CollectionControls  # the collection picker, the new-collection box, the documents table


def build_app(
    engine: Engine,
    feedback_log: Path | None = None,
    *,
    generator: Generator | None = None,
    entailment: EntailmentJudge | None = None,
    conversations_db: Path | None = None,
    index_root: Path | None = None,
    collection: str = DEFAULT_COLLECTION,
) -> gr.Blocks:
    """The chat page over `engine`; thumbs up/down go to `feedback_log` (default INDEX_DIR/feedback.jsonl).

    Conversations are saved in `conversations_db` (default: conversations.sqlite3 in the index root).

    `engine` answers `collection` under `index_root` (default: engine.index_dir, the default collection);
    the page's picker opens the root's other collections on demand (ui/web_collections.py).

    Without `generator` the page is the extractive chat. With one, the chat
    answers through it by default (streaming a draft, then the verified
    answer), and a radio switches back to quotes-only answers.
    """
    feedback = FeedbackLog(feedback_log or engine.index_dir / "feedback.jsonl")
    handlers = Handlers(engine, feedback, generator, entailment)
    events = CollectionEvents(Shelf(index_root or engine.index_dir, collection, engine), handlers)
    saved = ConversationHandlers(
        engine,
        ConversationStore(conversations_db or (index_root or engine.index_dir) / DATABASE_NAME),
        collection_of=events.collection_of,
        engine_of=lambda name: events.handlers(name).engine,
    )
    per_session = events.session_handlers()  # each event over the collection its session picked
    with gr.Blocks(title="Grounded Q&A", analytics_enabled=False) as app:
        page = _layout(handlers, events)
        answered = _wire_chat(page, per_session)
        _wire_documents(page, per_session)
        picked, uploaded = web_collections.wire(events, page.collections, page)
        opened = _wire_conversations(page, saved, answered)
        picked.then(saved.new, None, _view(page), **_PRIVATE)  # another collection: a new saved conversation
        uploaded.then(saved.restart_if_moved, [page.conversations.conversation_id], _view(page), **_PRIVATE)
        restored = app.load(saved.restore, [page.conversations.conversation_id], _view(page), **_PRIVATE)
        # A conversation shown moves the session to its collection; on load this also lists later uploads.
        follow, reopened = _follow(events, saved), web_collections.reopen_outputs(page.collections, page)
        for shown in (opened, restored):
            shown.then(follow, [page.conversations.conversation_id], reopened, **_PRIVATE)
        gr.api(handlers.api_ask, api_name="ask", concurrency_limit=ASK_CONCURRENCY)
    return app


def _layout(handlers: Handlers, events: CollectionEvents) -> _Page:
    """Place the components: a header, then an Ask tab (chat and side panel) and a Documents tab."""
    choices = handlers.choices()
    session = gr.State([])
    header = gr.HTML(handlers.header(), elem_id="rag-header")
    with gr.Tabs():
        with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot, question = _chat_column()
                copy, copy_text, scope, markdown, html_button, exported = _export_box()
            with gr.Column(scale=1, min_width=260):
                picker = web_collections.collection_picker(events)
                conversation_id, listing, new, title, rename, delete = _conversation_panel()
                with gr.Accordion("Answer settings", open=True, elem_id="rag-settings"):
                    settings = gr.HTML(
                        handlers.settings_html(DEFAULT_K, GENERATED if handlers.generator else EXTRACTIVE),
                        elem_id="rag-settings-panel",
                    )
                    mode = _mode_radio(handlers.generator)
                    k = gr.Slider(1, 20, value=DEFAULT_K, step=1, label="Passages to search (k)")
                    doc_filter = gr.Dropdown(
                        choices=choices,
                        value=[],
                        multiselect=True,
                        label="Only these documents",
                        info="Leave empty to search all of them.",
                        elem_id="rag-doc-filter",
                    )
                files, upload_status = _upload_box()
                new_collection = web_collections.new_collection_box()
        with gr.Tab("Documents", id="documents") as documents_tab, gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                doc_list = gr.Radio(choices=choices, label=f"{len(choices)} documents", elem_id="rag-doc-list")
                rename_box, rename_doc, delete_doc, doc_status = web_collections.document_actions()
            with gr.Column(scale=2, min_width=420):
                doc_table = web_collections.documents_table_box()
                doc_view = gr.HTML(EMPTY_DOC, elem_id="rag-doc-view")
    gr.HTML(handlers.footer(), elem_id="rag-footer")
    conversations = _Conversations(
        conversation_id, listing, new, title, rename, delete, copy, copy_text, scope, markdown, html_button, exported
    )
    return _Page(
        session,
        header,
        chatbot,
        question,
        mode,
        k,
        doc_filter,
        files,
        upload_status,
        documents_tab,
        doc_list,
        doc_view,
        conversations,
        settings,
        collections=CollectionControls(
            picker, new_collection, doc_table, rename_box, rename_doc, delete_doc, doc_status
        ),
    )


def _conversation_panel() -> tuple:
    """The saved conversations: the list (newest first), New, and the shown one's title, Rename and Delete."""
    conversation_id = gr.BrowserState(None, storage_key=_BROWSER_KEY, secret=_BROWSER_SECRET)
    gr.Markdown("#### Conversations")
    new = gr.Button("New conversation", size="sm", elem_id="rag-new-conversation")
    listing = gr.Radio(choices=[], label="Saved conversations", elem_id="rag-conversations")
    with gr.Row(equal_height=True):
        title = gr.Textbox(
            label="This conversation's title", placeholder="(saved with the first answer)", elem_id="rag-title", scale=3
        )
    with gr.Row():
        rename = gr.Button("Rename", size="sm", min_width=80, elem_id="rag-rename-conversation")
        delete = gr.Button("Delete", size="sm", min_width=80, elem_id="rag-delete-conversation")
    return conversation_id, listing, new, title, rename, delete


def _export_box() -> tuple:
    """Copy the last answer with its quotes; export it or the whole conversation to Markdown or HTML."""
    with gr.Accordion("Copy or export", open=False, elem_id="rag-export"):
        with gr.Row():
            copy = gr.Button("Copy the last answer (Markdown)", size="sm", elem_id="rag-copy")
            markdown = gr.Button("Export Markdown", size="sm", elem_id="rag-export-markdown")
            html_button = gr.Button("Export HTML", size="sm", elem_id="rag-export-html")
        scope = gr.Radio(EXPORT_SCOPES, value="conversation", label="Export", elem_id="rag-export-scope")
        exported = gr.File(label="Exported file", interactive=False, visible=False, elem_id="rag-exported")
    copy_text = gr.Textbox(visible=False, elem_id="rag-copy-text")
    return copy, copy_text, scope, markdown, html_button, exported


def _chat_column() -> tuple[gr.Chatbot, gr.Textbox]:
    """The chat and the question box under it."""
    chatbot = gr.Chatbot(
        elem_id="rag-chat",
        show_label=False,
        height="max(460px, calc(100vh - 280px))",
        render_markdown=False,  # messages are finished HTML from ui/render.py
        sanitize_html=True,
        latex_delimiters=[],  # "$100 billion ... $50" is money, not maths
        buttons=[],  # copying would copy the HTML
        feedback_options=("Like", "Dislike"),
        placeholder=_PLACEHOLDER,
        examples=[{"text": q} for q in EXAMPLE_QUESTIONS],
        layout="panel",
        autoscroll=False,  # a new answer opens at its top (ui/style.py SCRIPT), not at its end
    )
    question = gr.Textbox(
        elem_id="rag-question",
        show_label=False,
        placeholder="Ask a question about the documents…",
        submit_btn="Ask",
        lines=1,
        max_lines=6,
        autofocus=True,
    )
    return chatbot, question


def _mode_radio(generator: Generator | None) -> gr.Radio | None:
    """The quotes-only / language-model switch, when there is a model."""
    if generator is None:
        return None
    return gr.Radio(
        choices=ANSWER_MODES,
        value=GENERATED,
        label="Answer with",
        info=f"Model: {generator.name}",
        elem_id="rag-answer-mode",
    )


def _upload_box() -> tuple[gr.File, gr.HTML]:
    """The upload box with its limits, and the status line under it."""
    gr.Markdown(
        "#### Add documents\n"
        f"{', '.join(UPLOAD_SUFFIXES)} files up to {MAX_FILE_BYTES // (1024 * 1024)} MB "
        f"and {MAX_UPLOAD_CHARS:,} characters of text, searchable as soon as they are indexed.",
        elem_id="rag-upload-help",
    )
    files = gr.File(label="Upload", file_count="multiple", type="filepath", elem_id="rag-upload", height=120)
    return files, gr.HTML(elem_id="rag-upload-status")


def _wire_chat(page: _Page, handlers: Handlers) -> list:
    """Questions (typed or example chips), votes, the bin button and the settings panel; returns the asking
    events (an answer is saved when one of them is done)."""
    asking = {"concurrency_limit": ASK_CONCURRENCY, **_PRIVATE}
    settings = [page.k, page.doc_filter]
    outputs = [page.chatbot, page.question, page.session]
    mode = [] if page.mode is None else [page.mode]
    if page.mode is None:
        typed = page.question.submit(handlers.respond, [page.question, page.session, *settings], outputs, **asking)
        example = page.chatbot.example_select(handlers.respond_example, [page.session, *settings], outputs, **asking)
    else:
        typed = page.question.submit(
            handlers.respond_generated, [page.question, page.session, *settings, page.mode], outputs, **asking
        )
        example = page.chatbot.example_select(
            handlers.respond_generated_example, [page.session, *settings, page.mode], outputs, **asking
        )
    page.chatbot.like(handlers.vote, [page.session, page.k, *mode], None, **_PRIVATE)
    page.chatbot.clear(handlers.clear, None, page.session, **_PRIVATE)
    for control in [page.k, *mode]:
        control.change(handlers.settings_html, [page.k, *mode], page.settings, **_PRIVATE)
    return [typed, example]


def _view(page: _Page) -> list:
    """What switching conversations redraws, in the order of ui.web_conversations.VIEW_OUTPUTS."""
    c = page.conversations
    return [page.chatbot, page.session, c.conversation_id, c.listing, c.title, c.copy_text]


def _follow(events: CollectionEvents, saved: ConversationHandlers) -> Callable:
    """The event run after a saved conversation is shown: the session moves to the collection it was held in."""

    def follow(conversation_id: str | None, request: gr.Request) -> tuple:
        return events.reopen(saved.held_in(conversation_id, request), request)

    return follow


def _wire_conversations(page: _Page, saved: ConversationHandlers, answered: list):
    """Save each answer when it is complete; the sidebar's events; copy and export. Returns the event that
    reopens a conversation picked in the sidebar."""
    c = page.conversations
    for event in answered:
        event.then(
            saved.save,
            [page.session, c.conversation_id, page.doc_filter],
            [c.conversation_id, c.listing, c.title, c.copy_text],
            **_PRIVATE,
        )
    page.chatbot.clear(saved.new, None, _view(page), **_PRIVATE)
    c.new.click(saved.new, None, _view(page), **_PRIVATE)
    opened = c.listing.input(saved.open, [c.listing], _view(page), **_PRIVATE)
    c.rename.click(saved.rename, [c.conversation_id, c.title], [c.listing, c.title], **_PRIVATE)
    c.title.submit(saved.rename, [c.conversation_id, c.title], [c.listing, c.title], **_PRIVATE)
    c.delete.click(saved.delete, [c.conversation_id], _view(page), **_PRIVATE)
    c.copy.click(None, [c.copy_text], None, js=_COPY_JS, **_PRIVATE)
    exporting = [page.session, c.conversation_id, c.scope]
    c.markdown.click(saved.export_markdown, exporting, c.exported, **_PRIVATE)
    c.html.click(saved.export_html, exporting, c.exported, **_PRIVATE)
    return opened


def _wire_documents(page: _Page, handlers: Handlers) -> None:
    """The Documents tab (uploads are wired by ui/web_collections.py, which can send them to a new collection)."""
    page.doc_list.change(handlers.show_document, [page.doc_list, page.session], page.doc_view, **_PRIVATE)
    page.documents_tab.select(handlers.show_document, [page.doc_list, page.session], page.doc_view, **_PRIVATE)
    # The list as it is now: `rag chat --watch` and other sessions' uploads change it after the page loaded.
    page.documents_tab.select(handlers.catalog, None, [page.doc_filter, page.doc_list, page.header], **_PRIVATE)


def launch(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | Callable[[str, str], bool] | None = None,
    share: bool = False,
    block: bool = True,
) -> str:
    """Start the server (with the house theme and CSS) and return its local address.

    `auth` is "user:password", checked by a `LoginGuard` (constant-time, and it
    locks a name out after repeated wrong passwords), or any callable(username,
    password) -> bool. `--auth` is only as strong as its password: use a long
    random one, and beyond localhost put the chat behind a reverse proxy with
    TLS (gradio serves plain HTTP, so the password would otherwise cross the
    network readable).
    """
    credentials = _login_check(auth)
    app.queue(default_concurrency_limit=ASK_CONCURRENCY)
    _, local_url, share_url = app.launch(
        server_name=host,
        server_port=port,
        auth=credentials,
        share=share,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        max_file_size=MAX_FILE_BYTES,
        ssr_mode=False,
        footer_links=[],
        theme=theme(),
        css=CSS,
        js=SCRIPT,
    )
    address = local_url or f"http://{host}:{port}/"
    print(f"Grounded Q&A chat running at {address}" + (f" (public link: {share_url})" if share_url else ""), flush=True)
    if block:
        app.block_thread()
    return address


def _login_check(auth: str | Callable[[str, str], bool] | None) -> Callable[[str, str], bool] | None:
    """What gradio calls to check a login: a `LoginGuard` for "user:password"; None (no login) for "" or None."""
    if not auth:
        return None
    return LoginGuard.parse(auth) if isinstance(auth, str) else auth


def serve(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
    share: bool = False,
    feedback_log: Path | None = None,
    generator: Generator | None = None,
    entailment: EntailmentJudge | None = None,
    index_root: Path | None = None,
    collection: str = DEFAULT_COLLECTION,
) -> None:
    """Run the web chat until interrupted (what `rag chat` does); `generator` adds model-written answers.
    `engine` answers `collection` under `index_root`; the page's picker switches to the root's others."""
    app = build_app(
        engine, feedback_log, generator=generator, entailment=entailment, index_root=index_root, collection=collection
    )
    launch(app, host=host, port=port, auth=auth, share=share)
