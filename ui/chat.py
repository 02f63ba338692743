"""One browser session's conversation: ask, remember, and turn into chat messages.

A session is a plain list of `Exchange` records (gradio keeps one list per
browser tab). Each holds the question, the `Answer` (or an error message) and
the answer's HTML. Follow-ups get the earlier turns as plain text, never HTML,
and the Documents view gets the quoted spans. No gradio in here: the web
modules wire these functions to the page.

Text typed into the browser can hold what a page cannot send back: a lone
surrogate ("\\ud800") makes gradio's JSON encoder fail, and control characters
are noise to the engine. `clean_text` replaces them before a question is
answered, shown or kept, so neither the chat nor a follow-up built on it fails.

With a language model, `stream_generated` yields the exchange as it develops:
draft exchanges (`draft=True`, shown but never kept in the session) while the
model writes, then the verified answer, which replaces the draft.
"""

from __future__ import annotations

import html
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

from index.errors import InvalidQuestionError, RagError
from rag.engine import Engine
from rag.entailment import EntailmentJudge
from rag.generated import answer_with_generator
from rag.generators import GenerationError, Generator, Message
from rag.types import Answer, Turn
from ui.render import answer_html, draft_html, error_html

__all__ = [
    "DRAFT_REFRESH_SECONDS",
    "Exchange",
    "ask",
    "ask_generated",
    "clean_text",
    "history",
    "messages",
    "question_html",
    "quoted_spans",
    "stream_generated",
]

log = logging.getLogger(__name__)
SHOWN_QUESTION_CHARS = 600  # a pasted essay is not repeated in full in the chat
DRAFT_REFRESH_SECONDS = 0.15  # at most this often a streaming draft is redrawn
_ASKED = object()  # queue event: the model was given the prompt
_DRAFTED = object()  # queue event: the model has finished its draft (verification starts)
_FINISHED = object()  # queue event: the exchange is ready
# Lone surrogates, and control characters other than tab and newlines (C0, DEL, C1).
_UNSHOWABLE = re.compile(r"[\ud800-\udfff]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Exchange:
    """One question in a session and what came of it: an answer, or an error message, and its HTML.

    `draft` is True for the states shown while a model writes; those are never kept in the session.
    """

    id: str
    question: str
    html: str
    answer: Answer | None = None
    error: str | None = None
    draft: bool = False


def clean_text(text: str) -> str:
    """`text` without what cannot be shown or sent as JSON: lone surrogates become U+FFFD, control characters go."""
    return _UNSHOWABLE.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "", text)


def history(exchanges: Sequence[Exchange]) -> list[Turn]:
    """The earlier answered turns, as the engine wants them (answer text, not HTML)."""
    turns: list[Turn] = []
    for exchange in exchanges:
        if exchange.answer is not None:  # cleaned again: an Exchange may be made outside `ask` (a test, a script)
            turns.append(Turn("user", clean_text(exchange.question)))
            turns.append(Turn("assistant", clean_text(exchange.answer.answer)))
    return turns


def ask(
    engine: Engine,
    question: str,
    exchanges: Sequence[Exchange],
    k: int = 5,
    doc_ids: Collection[str] | None = None,
) -> Exchange:
    """Answer `question` in the context of `exchanges`; problems become an error message, never an exception."""
    question = clean_text(question)
    turns = history(exchanges)
    return _exchange(
        engine,
        question,
        _new_id(),
        lambda: engine.ask(question, turns, k=k, doc_ids=list(doc_ids) if doc_ids else None),
        doc_ids,
    )


def ask_generated(
    engine: Engine,
    question: str,
    exchanges: Sequence[Exchange],
    generator: Generator,
    k: int = 5,
    doc_ids: Collection[str] | None = None,
    *,
    on_token: Callable[[str], None] | None = None,
    exchange_id: str | None = None,
    entailment: EntailmentJudge | None = None,
) -> Exchange:
    """Like `ask`, but `generator` drafts the answer and only what the documents support is kept.

    The draft's pieces go to `on_token` as they come. A model that cannot be
    reached or run gives an error message, like any other problem.
    """
    question = clean_text(question)
    turns = history(exchanges)
    return _exchange(
        engine,
        question,
        exchange_id or _new_id(),
        lambda: answer_with_generator(
            engine,
            question,
            turns,
            generator,
            k=k,
            doc_ids=list(doc_ids) if doc_ids else None,
            on_token=on_token,
            entailment=entailment,
        ),
        doc_ids,
    )


def _new_id() -> str:
    return uuid.uuid4().hex[:10]


def _exchange(
    engine: Engine,
    question: str,
    exchange_id: str,
    answer: Callable[[], Answer],
    doc_ids: Collection[str] | None = None,
) -> Exchange:
    try:
        answered = answer()
        shown = answer_html(answered, engine.data.documents, exchange_id, searched=doc_ids)
        return Exchange(exchange_id, question, shown, answer=answered)
    except InvalidQuestionError as problem:
        error = f"That question can't be asked: {problem}."
    except GenerationError as problem:
        retry = "Try again, or switch to quotes-only answers."
        error = f"The language model could not answer: {_sentence(str(problem))} {retry}"
    except RagError as problem:
        error = f"The index could not answer: {problem}."
    except Exception:
        log.exception("answering %r failed", question[:200])
        error = "Something went wrong while answering. The app is still running: please try again."
    return Exchange(exchange_id, question, error_html(error), error=error)


def _sentence(text: str) -> str:
    """`text` ending in one full stop (or its own ? or !)."""
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


class _Watched:
    """A generator seen through a queue: says when the draft is complete, stops early when told to."""

    def __init__(self, inner: Generator, events: queue.Queue[object], stop: threading.Event) -> None:
        self.name = inner.name
        self._inner = inner
        self._events = events
        self._stop = stop

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        self._events.put(_ASKED)
        pieces = self._inner.stream(messages)
        try:
            for piece in pieces:
                if self._stop.is_set():
                    return  # nobody is reading: free the model for the next question
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if callable(close):
                close()  # a local model's lock is released now, not when garbage is collected
        self._events.put(_DRAFTED)


def _draft_exchange(exchange_id: str, question: str, text: str, stage: str, generator_name: str) -> Exchange:
    return Exchange(exchange_id, question, draft_html(text, stage, generator_name), draft=True)


def stream_generated(
    engine: Engine,
    question: str,
    exchanges: Sequence[Exchange],
    generator: Generator,
    k: int = 5,
    doc_ids: Collection[str] | None = None,
    *,
    refresh_seconds: float = DRAFT_REFRESH_SECONDS,
    entailment: EntailmentJudge | None = None,
) -> Iterator[Exchange]:
    """The exchange as it develops: drafts while the model writes, then the verified exchange, always last.

    The model runs in a worker thread that feeds a queue; the drafts are
    redrawn at most every `refresh_seconds` and only when something changed,
    so a fast server's hundred tokens a second are not a hundred page updates.
    The first state comes at once ("searching"), so the question shows while
    the documents are searched. When the caller stops reading early (the
    browser went away), the model is stopped at its next piece.
    """
    exchange_id = _new_id()
    question = clean_text(question)
    events: queue.Queue[object] = queue.Queue()
    stop = threading.Event()
    outcome: list[Exchange] = []

    def work() -> None:
        try:
            watched = _Watched(generator, events, stop)
            outcome.append(
                ask_generated(
                    engine,
                    question,
                    exchanges,
                    watched,
                    k,
                    doc_ids,
                    on_token=events.put,
                    exchange_id=exchange_id,
                    entailment=entailment,
                )
            )
        finally:
            events.put(_FINISHED)

    worker = threading.Thread(target=work, name=f"rag-draft-{exchange_id}", daemon=True)
    worker.start()
    pieces: list[str] = []
    stage, shown = "searching", ("searching", 0)
    redraw_at = time.monotonic() + refresh_seconds
    try:
        yield _draft_exchange(exchange_id, question, "", stage, generator.name)
        while True:
            now = time.monotonic()
            if now >= redraw_at:
                redraw_at = now + refresh_seconds
                if (stage, len(pieces)) != shown:
                    shown = (stage, len(pieces))
                    yield _draft_exchange(exchange_id, question, "".join(pieces), stage, generator.name)
            try:
                event = events.get(timeout=max(0.0, redraw_at - time.monotonic()))
            except queue.Empty:
                continue
            if event is _FINISHED:
                break
            if event is _ASKED:
                stage = "waiting"
            elif event is _DRAFTED:
                stage = "checking"
                redraw_at = 0.0  # show the whole draft now: verifying it takes a moment
            else:
                pieces.append(str(event))
                stage = "drafting"
    finally:
        stop.set()
    worker.join()
    yield outcome[0]


def question_html(question: str) -> str:
    """The user's question as shown in the chat (escaped; very long ones shortened)."""
    if len(question) <= SHOWN_QUESTION_CHARS:
        return f'<div class="rag-question">{html.escape(question)}</div>'
    return (
        f'<div class="rag-question">{html.escape(question[:SHOWN_QUESTION_CHARS])}… '
        f'<span class="rag-question-note">({len(question):,} characters)</span></div>'
    )


def messages(exchanges: Sequence[Exchange]) -> list[dict[str, str]]:
    """The chat as gradio messages: a user message and an assistant message per exchange."""
    out: list[dict[str, str]] = []
    for exchange in exchanges:
        out.append({"role": "user", "content": question_html(clean_text(exchange.question))})
        out.append({"role": "assistant", "content": exchange.html})
    return out


def quoted_spans(exchanges: Sequence[Exchange], doc_id: str) -> list[tuple[int, int]]:
    """(start, end) of every quote from `doc_id` that an answer in this session cited."""
    return [
        (citation.start, citation.end)
        for exchange in exchanges
        if exchange.answer is not None
        for citation in exchange.answer.citations
        if citation.doc_id == doc_id
    ]
