"""The web chat: a gradio page over an Engine, and the `rag chat` server.

    app = build_app(engine)                      # gr.Blocks, not started
    serve(engine, host="127.0.0.1", port=7860)   # what `rag chat` runs
    serve(engine, generator=LlamaCppGenerator("model.gguf"))  # `rag chat --generator local`

The page has a chat (answers with linked [n] markers and source cards, thumbs
up/down, example questions, k and a document filter), a Documents tab (full
text with this conversation's quotes highlighted) and an upload box that
indexes files at once. `/ask` is an API endpoint for gradio_client that
returns the answer JSON of `rag ask --json` (always extractive, see `api_ask`).

With a generator (a language model, `rag.generators`), a radio switches the
chat between quotes-only answers and model-written ones. A model's draft
streams into its bubble, marked as a draft, and is then replaced by the
verified answer, drawn like any other (ui/chat.py `stream_generated`).

gradio lives behind this module (and ui/style.py). Every string put on the
page comes from ui/render.py or ui/chat.py, which escape document text; the
chatbot's own sanitizer stays on as a second fence.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import gradio as gr

from index.errors import RagError
from index.loaders import MAX_FILE_BYTES
from rag.engine import Engine
from rag.entailment import EntailmentJudge
from rag.generators import Generator
from ui import chat
from ui.feedback import FeedbackLog
from ui.render import document_html, document_label, notice_html
from ui.style import CSS, theme
from ui.uploads import UPLOAD_SUFFIXES, UploadResult, add_uploads

__all__ = ["EXAMPLE_QUESTIONS", "build_app", "launch", "serve"]

log = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = [
    "Who was sent to Geneva to negotiate?",
    "How large an army would Ukraine be allowed under the plan?",
    "What share of Russians say they are tired of the war?",
]
ASK_CONCURRENCY = 4  # the engine is thread-safe; embedding itself runs one at a time
EXTRACTIVE, GENERATED = "extractive", "generated"  # the answer modes of the radio
ANSWER_MODES = [("Quotes only (extractive)", EXTRACTIVE), ("Language model (verified)", GENERATED)]
_EMPTY_DOC = '<div class="rag-empty">Choose a document on the left to read it in full.</div>'


def _header(engine: Engine, generator: Generator | None = None) -> str:
    count = len(engine.data.documents)
    documents = f"{count} document{'s' if count != 1 else ''}"
    if generator is None:
        return (
            "<h1>Grounded Q&amp;A</h1>"
            f"<p>Ask about {documents}: every sentence of an answer is a verbatim "
            "quote, shown in its paragraph so you can check it, and when the documents don't say, it tells you.</p>"
        )
    return (
        "<h1>Grounded Q&amp;A</h1>"
        f"<p>Ask about {documents}. A language model (<code>{html.escape(generator.name)}</code>) can write the "
        "answer: every sentence it writes is checked against the documents and kept only with the verbatim quote "
        "that supports it. Switch to quotes only on the right to compare.</p>"
    )


def _choices(engine: Engine) -> list[tuple[str, str]]:
    documents = sorted(engine.data.documents.values(), key=lambda d: d.title.lower())
    return [(document_label(d), d.id) for d in documents]


_PLACEHOLDER = (
    "<div class='rag-empty' style='padding:8px'><strong>Ask a question about the documents.</strong><br>"
    "Answers quote them word for word; hover or click a [1] marker to see the quote in its paragraph.</div>"
)


def _box_after(exchange: chat.Exchange, question: str) -> str:
    """What the question box holds after an answer: empty, or the question again when it could not be
    answered (too long, say), so it can be corrected rather than typed again."""
    return question if exchange.get("error") else ""


def _upload_notice(result: UploadResult) -> str:
    problems = [f"{name}: {reason}" for name, reason in result.problems]
    if not result.added:
        return notice_html("error", "Nothing was added.", problems)
    titles = ", ".join(f"“{d.title}”" for d in result.added)
    them = "it" if len(result.added) == 1 else "them"
    message = f"Added {titles} in {result.seconds:.1f} s. You can ask about {them} now."
    notes = [
        f"{name} was saved as {saved_as}: another document already had that name" for name, saved_as in result.renamed
    ]
    return notice_html("warn" if problems else "ok", message, [*notes, *problems])


def build_app(
    engine: Engine,
    feedback_log: Path | None = None,
    *,
    generator: Generator | None = None,
    entailment: EntailmentJudge | None = None,
) -> gr.Blocks:
    """The chat page over `engine`; thumbs up/down go to `feedback_log` (default INDEX_DIR/feedback.jsonl).

    Without `generator` the page is the extractive chat. With one, the chat
    answers through it by default (streaming a draft, then the verified
    answer), and a radio switches back to quotes-only answers.
    """
    feedback = FeedbackLog(feedback_log or engine.index_dir / "feedback.jsonl")

    def respond(question: str, exchanges: list[chat.Exchange], k: float, doc_ids: list[str] | None):
        if not question or not question.strip():
            return gr.skip(), gr.skip(), gr.skip()
        exchange = chat.ask(engine, question, exchanges, int(k), doc_ids)
        exchanges = [*exchanges, exchange]
        return chat.messages(exchanges), _box_after(exchange, question), exchanges

    def respond_example(exchanges: list[chat.Exchange], k: float, doc_ids: list[str] | None, event: gr.SelectData):
        value = event.value if isinstance(event.value, dict) else {}
        return respond(str(value.get("text", "")), exchanges, k, doc_ids)

    def respond_generated(
        question: str, exchanges: list[chat.Exchange], k: float, doc_ids: list[str] | None, mode: str
    ) -> Iterator[tuple]:
        """Drafts into the chat as the model writes, then the verified answer; the session keeps only that."""
        if generator is None or mode != GENERATED or not question or not question.strip():
            yield respond(question, exchanges, k, doc_ids)
            return
        for exchange in chat.stream_generated(
            engine, question, exchanges, generator, int(k), doc_ids, entailment=entailment
        ):
            if exchange.get("draft"):
                yield chat.messages([*exchanges, exchange]), "", gr.skip()
            else:
                exchanges = [*exchanges, exchange]
                yield chat.messages(exchanges), _box_after(exchange, question), exchanges

    def respond_generated_example(
        exchanges: list[chat.Exchange], k: float, doc_ids: list[str] | None, mode: str, event: gr.SelectData
    ) -> Iterator[tuple]:
        value = event.value if isinstance(event.value, dict) else {}
        yield from respond_generated(str(value.get("text", "")), exchanges, k, doc_ids, mode)

    def vote(exchanges: list[chat.Exchange], event: gr.LikeData) -> None:
        index = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        if event.liked not in (True, False) or not isinstance(index, int) or not 0 <= index // 2 < len(exchanges):
            return  # a vote taken back, or on something that is not an answer
        exchange = exchanges[index // 2]
        if isinstance(exchange.get("answer"), dict):
            feedback.record(str(exchange["question"]), exchange["answer"], "up" if event.liked else "down")

    def catalog() -> tuple[dict, dict, str]:
        """The document filter, the document list and the header, for the documents indexed now."""
        choices = _choices(engine)
        count = len(choices)
        return (
            gr.update(choices=choices),
            gr.update(choices=choices, label=f"{count} document{'s' if count != 1 else ''}"),
            _header(engine, generator),
        )

    def upload(paths: Sequence[str] | None):
        files = [(Path(p), Path(p).name) for p in paths or []]
        if not files:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            status = _upload_notice(add_uploads(engine, files))
        except Exception:
            log.exception("adding uploads failed")
            status = notice_html("error", "The files could not be indexed. The app is still running: try again.")
        return (status, None, *catalog())

    def show_document(doc_id: str | None, exchanges: list[chat.Exchange]) -> str:
        document = engine.data.documents.get(doc_id or "")
        if document is None:
            return _EMPTY_DOC
        return document_html(document, chat.quoted_spans(exchanges, document.id))

    def api_ask(question: str) -> dict:
        """Answer one question about the documents; returns the answer JSON of `rag ask --json`.

        Always the extractive answer, also when the chat has a language model: this
        endpoint is for programs, which get one JSON object back rather than a stream,
        and a CPU model's 10-70 s per question, one question at a time, would leave
        concurrent callers waiting in line. `rag ask --generator ... --json` gives a
        model's verified answer as JSON.
        """
        try:
            return engine.ask(question).to_json()
        except RagError as error:
            raise gr.Error(str(error)) from error

    choices = _choices(engine)
    with gr.Blocks(title="Grounded Q&A", analytics_enabled=False) as app:
        exchanges = gr.State([])
        header = gr.HTML(_header(engine, generator), elem_id="rag-header")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
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
                with gr.Column(scale=1, min_width=260):
                    mode = None
                    if generator is not None:
                        mode = gr.Radio(
                            choices=ANSWER_MODES,
                            value=GENERATED,
                            label="Answer with",
                            info=f"Model: {generator.name}",
                            elem_id="rag-answer-mode",
                        )
                    gr.Markdown("#### Search settings")
                    k = gr.Slider(1, 20, value=5, step=1, label="Passages to search (k)")
                    doc_filter = gr.Dropdown(
                        choices=choices,
                        value=[],
                        multiselect=True,
                        label="Only these documents",
                        info="Leave empty to search all of them.",
                        elem_id="rag-doc-filter",
                    )
                    gr.Markdown(
                        "#### Add documents\n"
                        f"{', '.join(UPLOAD_SUFFIXES)} files up to {MAX_FILE_BYTES // (1024 * 1024)} MB, "
                        "searchable as soon as they are indexed.",
                        elem_id="rag-upload-help",
                    )
                    files = gr.File(
                        label="Upload",
                        file_count="multiple",
                        type="filepath",
                        elem_id="rag-upload",
                        height=120,
                    )
                    upload_status = gr.HTML(elem_id="rag-upload-status")
            with gr.Tab("Documents", id="documents") as documents_tab, gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=260):
                    doc_list = gr.Radio(
                        choices=choices,
                        label=f"{len(choices)} documents",
                        elem_id="rag-doc-list",
                    )
                with gr.Column(scale=2, min_width=420):
                    doc_view = gr.HTML(_EMPTY_DOC, elem_id="rag-doc-view")

        private = {"api_visibility": "private"}
        ask_inputs = [question, exchanges, k, doc_filter]
        ask_outputs = [chatbot, question, exchanges]
        if mode is None:
            question.submit(respond, ask_inputs, ask_outputs, concurrency_limit=ASK_CONCURRENCY, **private)
            chatbot.example_select(
                respond_example, [exchanges, k, doc_filter], ask_outputs, concurrency_limit=ASK_CONCURRENCY, **private
            )
        else:
            question.submit(
                respond_generated, [*ask_inputs, mode], ask_outputs, concurrency_limit=ASK_CONCURRENCY, **private
            )
            chatbot.example_select(
                respond_generated_example,
                [exchanges, k, doc_filter, mode],
                ask_outputs,
                concurrency_limit=ASK_CONCURRENCY,
                **private,
            )
        chatbot.like(vote, [exchanges], None, **private)
        chatbot.clear(lambda: [], None, exchanges, **private)
        files.upload(
            upload,
            [files],
            [upload_status, files, doc_filter, doc_list, header],
            concurrency_limit=1,
            concurrency_id="index",
            **private,
        )
        doc_list.change(show_document, [doc_list, exchanges], doc_view, **private)
        documents_tab.select(show_document, [doc_list, exchanges], doc_view, **private)
        app.load(catalog, None, [doc_filter, doc_list, header], **private)  # uploads since the app was built
        gr.api(api_ask, api_name="ask", concurrency_limit=ASK_CONCURRENCY)
    return app


def launch(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
    share: bool = False,
    block: bool = True,
) -> str:
    """Start the server (with the house theme and CSS) and return its local address."""
    credentials = None
    if auth:
        user, sep, password = auth.partition(":")
        if not sep or not user:
            raise RagError("auth must look like user:password")
        credentials = (user, password)
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
    )
    address = local_url or f"http://{host}:{port}/"
    print(f"Grounded Q&A chat running at {address}" + (f" (public link: {share_url})" if share_url else ""), flush=True)
    if block:
        app.block_thread()
    return address


def serve(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
    share: bool = False,
    feedback_log: Path | None = None,
    generator: Generator | None = None,
    entailment: EntailmentJudge | None = None,
) -> None:
    """Run the web chat until interrupted (what `rag chat` does); `generator` adds model-written answers."""
    app = build_app(engine, feedback_log, generator=generator, entailment=entailment)
    launch(app, host=host, port=port, auth=auth, share=share)
