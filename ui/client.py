"""Ask a running `rag serve` instead of loading the model: what `rag ask --server URL` (or $RAG_SERVER) uses.

    answer = ask_server("http://127.0.0.1:8000", "Who was sent to Geneva?")   # an Answer
    print(format_answer(answer)); answer.to_json()   # the server's JSON object, exactly as it was sent

Light on purpose (httpx and the answer types only), so a one-shot question costs the
interpreter's start and one HTTP round trip.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields

from index.errors import InvalidQuestionError, RagError
from rag.types import Answer, Turn
from rag.types import answer_from_json as rebuild_answer

__all__ = ["SERVER_KEY_ENV", "ServedAnswer", "answer_from_json", "ask_server"]

SERVER_KEY_ENV = "RAG_API_KEY"  # the key `rag serve` checks; sent as a bearer token when set


@dataclass(frozen=True)
class ServedAnswer(Answer):
    """An Answer rebuilt from a server's JSON; `to_json()` gives that JSON back unchanged."""

    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> dict[str, object]:
        return self.raw


def answer_from_json(data: dict) -> ServedAnswer:
    """The Answer a `rag ask --json` object describes (passages' dense/lexical scores are not in it: 0)."""
    answer = rebuild_answer(data)
    return ServedAnswer(**{f.name: getattr(answer, f.name) for f in fields(Answer)}, raw=data)


def ask_server(
    url: str,
    question: str,
    history: Sequence[Turn] = (),
    *,
    k: int = 5,
    doc_ids: Collection[str] | None = None,
    generator: str | None = None,
    id: object = None,
    timeout: float = 300.0,
    client=None,
) -> ServedAnswer:
    """POST the question to `url`/v1/ask; a RagError (InvalidQuestionError for a 400) says what went wrong."""
    import httpx

    body = {
        "question": question,
        "history": [{"role": t.role, "content": t.content} for t in history],
        "k": k,
        "doc_ids": list(doc_ids) if doc_ids else None,
        "generator": generator,
        "id": id,
    }
    headers = {}
    key = os.environ.get(SERVER_KEY_ENV, "").strip()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    endpoint = url.rstrip("/") + "/v1/ask"
    try:
        if client is not None:
            response = client.post(endpoint, json=body, headers=headers, timeout=timeout)
        else:
            response = httpx.post(endpoint, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        raise RagError(
            f"cannot reach the rag server at {url} ({type(error).__name__}: {error}); start it with `rag serve`, "
            "or drop --server (and unset RAG_SERVER) to answer locally"
        ) from error
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200:
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
        text = f"the server at {url} answered {response.status_code}: {message or response.text[:300]}"
        if response.status_code == 401:
            text += f" (set ${SERVER_KEY_ENV} to the server's key)"
        raise (InvalidQuestionError if response.status_code in (400, 422) else RagError)(text)
    if not isinstance(data, dict) or "answer" not in data:
        raise RagError(f"{endpoint} did not return an answer object: is it a rag server?")
    return answer_from_json(data)
