"""The OpenAI-compatible routes of `rag serve`: POST /v1/chat/completions and GET /v1/models.

The last user message is the question and the earlier user/assistant messages are the
history (system messages are ignored: the answer rules are fixed). The reply keeps its
`[n]` markers and ends with a plain "Sources:" list, so a client that knows nothing of
this server still shows where each quote comes from; the verified citations travel as an
extra field, `choices[0].message.citations` (non-streaming) or `choices[0].delta.citations`
on the last chunk of a stream, each the Citation JSON of `rag ask --json`.

A stream sends the role at once, then the verified answer as one content chunk (a model's
draft is not streamed: its markers and sentences may still change in verification), then
a chunk with the citations and `finish_reason: "stop"`, then `data: [DONE]`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from index.errors import InvalidQuestionError, RagError
from rag.types import Answer, Turn
from ui.server_core import Service, check_question, sources_text
from ui.server_models import ChatCompletion, ChatMessage, ChatRequest, ModelsOut

__all__ = ["add_openai_routes", "conversation", "reply_text"]


def _text(message: ChatMessage) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content if part.get("type") in ("text", "input_text"))


def conversation(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """(question, history) from chat messages: the last user message, and the user/assistant turns before it."""
    talk = [m for m in messages if m.role in ("user", "assistant")]
    if not talk or talk[-1].role != "user":
        raise InvalidQuestionError("the last message must be the user's question")
    return _text(talk[-1]), [Turn(m.role, _text(m)) for m in talk[:-1]]


def reply_text(answer: Answer) -> str:
    sources = sources_text(answer)
    return f"{answer.answer}\n\n{sources}" if sources else answer.answer


def _chunk(ident: str, created: int, model: str, delta: dict, finish: str | None = None) -> str:
    body = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def add_openai_routes(app: FastAPI, service: Service) -> None:
    @app.get("/v1/models", response_model=ModelsOut, tags=["openai"])
    def models():
        """The answer modes, as model ids for the `model` field."""
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "grounded-rag"} for name in service.models]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", response_model=ChatCompletion, tags=["openai"])
    async def chat_completions(request: ChatRequest):
        """OpenAI chat completions: the grounded answer with [n] markers, Sources, and `message.citations`."""
        mode = service.mode(request.model)
        question, history = conversation(request.messages)
        check_question(question)
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

        def answer() -> Answer:
            return service.answer(question, history, k=request.k, doc_ids=request.doc_ids, mode=mode)

        if not request.stream:
            result = await run_in_threadpool(answer)
            message = {
                "role": "assistant",
                "content": reply_text(result),
                "citations": [c.to_json() for c in result.citations],
                "refused": result.refused,
            }
            return JSONResponse(
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": request.model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                }
            )

        async def events() -> AsyncIterator[str]:
            yield _chunk(ident, created, request.model, {"role": "assistant", "content": ""})
            try:
                result = await run_in_threadpool(answer)
            except Exception as error:  # the status is sent already: the error goes in the stream
                message = str(error) if isinstance(error, RagError) else f"internal error ({type(error).__name__})"
                yield f"data: {json.dumps({'error': {'message': message, 'type': 'server_error'}})}\n\n"
                yield "data: [DONE]\n\n"
                return
            yield _chunk(ident, created, request.model, {"content": reply_text(result)})
            final = {"citations": [c.to_json() for c in result.citations], "refused": result.refused}
            yield _chunk(ident, created, request.model, final, finish="stop")
            yield "data: [DONE]\n\n"

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
