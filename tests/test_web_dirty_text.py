"""Lone surrogates and control characters sent to a launched web chat, the way the page sends a question.

A browser replaces a lone surrogate before it sends a question, but any
program can post "\\ud800" as a JSON escape to gradio's queue, and gradio's
reply encoder (orjson) cannot write it back: the answer's stream broke off
with a server-side exception. The chat cleans questions and history first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fakes import two_document_engine
from tests.web_fixtures import free_port

pytestmark = pytest.mark.slow

DIRTY = "Who was dispatched \ud800 to Geneva?\x07\x1b[2J"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str]]:
    from ui.web import build_app, launch

    root = tmp_path_factory.mktemp("dirty")
    app = build_app(two_document_engine(root), root / "feedback.jsonl")
    url = launch(app, host="127.0.0.1", port=free_port(), block=False)
    try:
        yield app, url
    finally:
        app.close()


def submit(app, url: str, session: str, question: str) -> list[dict]:
    """Post `question` to the chat's submit event as the page does; the chat messages that come back."""
    import httpx

    fn_index = next(i for i, f in app.fns.items() if getattr(f.fn, "__name__", "") == "respond")
    body = {"data": [question, [], 5, []], "fn_index": fn_index, "session_hash": session, "event_data": None}
    posted = httpx.post(
        f"{url}gradio_api/queue/join",
        content=json.dumps(body),  # ensure_ascii: the lone surrogate travels as the escape "\ud800"
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert posted.status_code == 200, posted.text
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    assert message.get("success"), message
                    return message["output"]["data"][0]
    raise AssertionError("the answer's stream ended without a result")


def test_a_dirty_question_and_its_follow_up_are_answered_and_shown_clean(served) -> None:
    app, url = served
    first = submit(app, url, "dirty-session", DIRTY)
    shown = json.dumps(first, ensure_ascii=False)
    assert "Who was dispatched \ufffd to Geneva?[2J" in shown
    assert "\\u0007" not in shown and "\\u001b" not in shown
    assert "Marco Rubio" in shown and "Traceback" not in shown and "rag-error" not in shown
    second = submit(app, url, "dirty-session", "Who did he meet there?")  # the dirty turn is history now
    assert len(second) == 4 and "rag-error" not in json.dumps(second)
