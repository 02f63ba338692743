"""One browser session's conversation: ask, remember, and turn into chat messages.

A session is a plain list of exchange dicts (JSON-able, so gradio can keep one
per browser tab). Each holds the question, the answer as `Answer.to_json()`
(or an error message) and the answer's HTML. Follow-ups get the earlier turns
as plain text, never HTML, and the Documents view gets the quoted spans.
No gradio in here: the web module wires these functions to the page.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Collection, Sequence

from index.errors import InvalidQuestionError, RagError
from rag.engine import Engine
from rag.types import Turn
from ui.render import answer_html, error_html

__all__ = ["Exchange", "ask", "history", "messages", "question_html", "quoted_spans"]

Exchange = dict[str, object]  # {"id", "question", "answer": dict | None, "error": str | None, "html"}

log = logging.getLogger(__name__)
SHOWN_QUESTION_CHARS = 600  # a pasted essay is not repeated in full in the chat


def history(exchanges: Sequence[Exchange]) -> list[Turn]:
    """The earlier answered turns, as the engine wants them (answer text, not HTML)."""
    turns: list[Turn] = []
    for exchange in exchanges:
        answer = exchange.get("answer")
        if isinstance(answer, dict):
            turns.append(Turn("user", str(exchange["question"])))
            turns.append(Turn("assistant", str(answer["answer"])))
    return turns


def ask(
    engine: Engine,
    question: str,
    exchanges: Sequence[Exchange],
    k: int = 5,
    doc_ids: Collection[str] | None = None,
) -> Exchange:
    """Answer `question` in the context of `exchanges`; problems become an error message, never an exception."""
    exchange_id = uuid.uuid4().hex[:10]
    exchange: Exchange = {"id": exchange_id, "question": question, "answer": None, "error": None}
    try:
        answer = engine.ask(question, history(exchanges), k=k, doc_ids=list(doc_ids) if doc_ids else None)
        exchange["html"] = answer_html(answer, engine.data.documents, exchange_id)
        exchange["answer"] = answer.to_json()
        return exchange
    except InvalidQuestionError as problem:
        error = f"That question can't be asked: {problem}."
    except RagError as problem:
        error = f"The index could not answer: {problem}."
    except Exception:
        log.exception("answering %r failed", question[:200])
        error = "Something went wrong while answering. The app is still running: please try again."
    return {**exchange, "error": error, "html": error_html(error)}


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
        out.append({"role": "user", "content": question_html(str(exchange["question"]))})
        out.append({"role": "assistant", "content": str(exchange["html"])})
    return out


def quoted_spans(exchanges: Sequence[Exchange], doc_id: str) -> list[tuple[int, int]]:
    """(start, end) of every quote from `doc_id` that an answer in this session cited."""
    spans = []
    for exchange in exchanges:
        answer = exchange.get("answer")
        if isinstance(answer, dict):
            for citation in answer.get("citations", []):
                if citation["doc_id"] == doc_id:
                    spans.append((int(citation["start"]), int(citation["end"])))
    return spans
