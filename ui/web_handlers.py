"""What the web chat does when something happens on the page: one method per event.

`ui/web.py` lays the page out and wires each event to a method of `Handlers`;
the methods hold no gradio components, so they can be called directly in tests.
A session's state is the list of `ui.chat.Exchange` records gradio keeps per
browser tab: handlers take it and return the new list, never change it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import gradio as gr

from index.errors import RagError
from rag.engine import Engine
from rag.entailment import EntailmentJudge
from rag.generators import Generator
from ui import chat
from ui.feedback import FeedbackLog, Settings
from ui.render import document_html, document_label, notice_html
from ui.uploads import UploadResult, add_uploads

__all__ = ["DEFAULT_K", "EMPTY_DOC", "EXTRACTIVE", "GENERATED", "Handlers", "upload_notice"]

log = logging.getLogger(__name__)

EXTRACTIVE, GENERATED = "extractive", "generated"  # the answer modes of the radio
DEFAULT_K = 5  # passages searched, until the slider is moved
EMPTY_DOC = '<div class="rag-empty">Choose a document on the left to read it in full.</div>'

Session = list[chat.Exchange]


def _box_after(exchange: chat.Exchange) -> str:
    """What the question box holds after an answer: empty, or the (cleaned) question again when it could
    not be answered (too long, say), so it can be corrected rather than typed again."""
    return exchange.question if exchange.error else ""


def _example_text(event: gr.SelectData) -> str:
    """The question of the example chip that was clicked."""
    value = event.value if isinstance(event.value, dict) else {}
    return str(value.get("text", ""))


def upload_notice(result: UploadResult) -> str:
    """The status box after an upload: what was added, renamed or refused, and why."""
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


class Handlers:
    """The page's event handlers over one engine (and optionally a language model)."""

    def __init__(
        self,
        engine: Engine,
        feedback: FeedbackLog,
        generator: Generator | None = None,
        entailment: EntailmentJudge | None = None,
    ) -> None:
        self.engine = engine
        self.feedback = feedback
        self.generator = generator
        self.entailment = entailment

    # -- the page's text -----------------------------------------------------

    def footer(self) -> str:
        """Which models search and score: the page says so, as `rag ask --json` does (`scorer`)."""
        retrieval, scorer = html.escape(self.engine.embedder.name), html.escape(self.engine.scorer_name)
        return (
            f'<p class="rag-footer">Search: <code>{retrieval}</code> with BM25 · evidence scored by '
            f"<code>{scorer}</code></p>"
        )

    def header(self) -> str:
        """The heading and the one-paragraph explanation above the tabs."""
        count = len(self.engine.data.documents)
        documents = f"{count} document{'s' if count != 1 else ''}"
        if self.generator is None:
            return (
                "<h1>Grounded Q&amp;A</h1>"
                f"<p>Ask about {documents}: every sentence of an answer is a verbatim quote, shown in its "
                "paragraph so you can check it, and when the documents don't say, it tells you.</p>"
            )
        return (
            "<h1>Grounded Q&amp;A</h1>"
            f"<p>Ask about {documents}. A language model (<code>{html.escape(self.generator.name)}</code>) can write "
            "the answer: every sentence it writes is checked against the documents and kept only with the verbatim "
            "quote that supports it. Switch to quotes only on the right to compare.</p>"
        )

    def choices(self) -> list[tuple[str, str]]:
        """(label, document id) for every indexed document, by title."""
        documents = sorted(self.engine.data.documents.values(), key=lambda d: d.title.lower())
        return [(document_label(d), d.id) for d in documents]

    # -- asking --------------------------------------------------------------

    def respond(self, question: str, exchanges: Session, k: float, doc_ids: list[str] | None) -> tuple:
        """Answer a typed question: (chat messages, question box, session); a blank question changes nothing."""
        if not question or not question.strip():
            return gr.skip(), gr.skip(), gr.skip()
        exchange = chat.ask(self.engine, question, exchanges, int(k), doc_ids)
        exchanges = [*exchanges, exchange]
        return chat.messages(exchanges), _box_after(exchange), exchanges

    def respond_example(self, exchanges: Session, k: float, doc_ids: list[str] | None, event: gr.SelectData) -> tuple:
        """Answer the example question that was clicked, like a typed one."""
        return self.respond(_example_text(event), exchanges, k, doc_ids)

    def respond_generated(
        self, question: str, exchanges: Session, k: float, doc_ids: list[str] | None, mode: str
    ) -> Iterator[tuple]:
        """Drafts into the chat as the model writes, then the verified answer; the session keeps only that.

        In quotes-only mode (or without a model) this is `respond`.
        """
        if self.generator is None or mode != GENERATED or not question or not question.strip():
            yield self.respond(question, exchanges, k, doc_ids)
            return
        states = chat.stream_generated(
            self.engine, question, exchanges, self.generator, int(k), doc_ids, entailment=self.entailment
        )
        for exchange in states:
            if exchange.draft:
                yield chat.messages([*exchanges, exchange]), "", gr.skip()
            else:
                exchanges = [*exchanges, exchange]
                yield chat.messages(exchanges), _box_after(exchange), exchanges

    def respond_generated_example(
        self, exchanges: Session, k: float, doc_ids: list[str] | None, mode: str, event: gr.SelectData
    ) -> Iterator[tuple]:
        """Answer the example question that was clicked in the chosen mode."""
        yield from self.respond_generated(_example_text(event), exchanges, k, doc_ids, mode)

    def vote(self, exchanges: Session, event: gr.LikeData, k: float | None = None, mode: str | None = None) -> None:
        """Log a thumbs up or down on an answer (not on an error, nor a vote taken back), with the settings."""
        index = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        if event.liked not in (True, False) or not isinstance(index, int) or not 0 <= index // 2 < len(exchanges):
            return
        exchange = exchanges[index // 2]  # two chat messages (question, answer) per exchange
        if exchange.answer is not None:
            vote = "up" if event.liked else "down"
            self.feedback.record(exchange.question, exchange.answer.to_json(), vote, self.settings(k, mode))

    def settings(self, k: float | None, mode: str | None = None) -> Settings:
        """The answer mode, model, evidence scorer and k the page is set to (what the settings panel shows)."""
        generated = self.generator is not None and mode == GENERATED
        return Settings(
            answer_mode=GENERATED if generated else EXTRACTIVE,
            generator=self.generator.name if generated and self.generator is not None else None,
            scorer=self.engine.scorer_name,
            k=int(k) if k is not None else DEFAULT_K,
        )

    def settings_html(self, k: float | None, mode: str | None = None) -> str:
        """The settings panel's summary, in words."""
        settings = self.settings(k, mode)
        answer = (
            f"language model <code>{html.escape(settings.generator or '')}</code>, every sentence verified"
            if settings.generator
            else "quotes only (extractive)"
        )
        return (
            '<ul class="rag-settings-summary">'
            f'<li>Answer mode: <span id="rag-setting-mode">{answer}</span></li>'
            f'<li>Evidence scorer: <code id="rag-setting-scorer">{html.escape(settings.scorer)}</code></li>'
            f'<li>Passages searched (k): <span id="rag-setting-k">{settings.k}</span></li></ul>'
        )

    def clear(self) -> Session:
        """The chat's bin button: a new, empty session."""
        return []

    def api_ask(self, question: str) -> dict:
        """Answer one question about the documents; returns the answer JSON of `rag ask --json`.

        Always the extractive answer, also when the chat has a language model: this
        endpoint is for programs, which get one JSON object back rather than a stream,
        and a CPU model's 10-70 s per question, one question at a time, would leave
        concurrent callers waiting in line. `rag ask --generator ... --json` gives a
        model's verified answer as JSON.
        """
        try:
            return self.engine.ask(chat.clean_text(question)).to_json()  # a lone surrogate cannot go back as JSON
        except RagError as error:
            raise gr.Error(str(error)) from error

    # -- documents -----------------------------------------------------------

    def catalog(self) -> tuple[dict, dict, str]:
        """The document filter, the document list and the header, for the documents indexed now."""
        choices = self.choices()
        count = len(choices)
        return (
            gr.update(choices=choices),
            gr.update(choices=choices, label=f"{count} document{'s' if count != 1 else ''}"),
            self.header(),
        )

    def upload(self, paths: Sequence[str] | None) -> tuple:
        """Index the uploaded files: (status box, emptied upload box, filter, document list, header)."""
        files = [(Path(p), Path(p).name) for p in paths or []]
        if not files:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            status = upload_notice(add_uploads(self.engine, files))
        except Exception:  # add_uploads reports bad files itself; this is a bug or a full disk
            log.exception("adding uploads failed")
            status = notice_html("error", "The files could not be indexed. The app is still running: try again.")
        return (status, None, *self.catalog())

    def show_document(self, doc_id: str | None, exchanges: Session) -> str:
        """One document in full, with the quotes this session's answers cited highlighted."""
        document = self.engine.data.documents.get(doc_id or "")
        if document is None:
            return EMPTY_DOC
        return document_html(document, chat.quoted_spans(exchanges, document.id))
