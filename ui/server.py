"""`rag serve`: the engine over HTTP (FastAPI + uvicorn), the model and the index loaded once.

    app = build_app(Service(engine), api_key="secret")   # an ASGI app; `serve(...)` runs it with uvicorn

Routes (docs/server.md has examples; /docs has the OpenAPI page):

    POST /v1/ask                 the `rag ask --json` answer object
    GET  /v1/search?q=&k=        scored passages with offsets
    GET  /v1/documents[/{id}]    the indexed documents; one with its text (ids may contain "/")
    POST /v1/documents           multipart upload, indexed at once (the web chat's upload rules)
    DELETE /v1/documents/{id}    an uploaded document (409 for one indexed from the user's own files)
    POST /v1/chat/completions    OpenAI chat completions, streaming or not (ui/server_openai.py)
    GET  /v1/models              the answer modes as model ids
    /mcp                         the MCP tools over streamable HTTP (ui/mcp_server.py)
    GET  /healthz

Every error is JSON `{"error": {"message", "type"}}` with its status, never a traceback. Request
bodies are limited (1 MB, or the upload limit for POST /v1/documents) before they are read into the
app, and with an API key every route but /healthz and the docs needs `Authorization: Bearer KEY`;
both checks run in `_Guard`, outside the app, so nothing is parsed for a caller that fails them.
Blocking engine calls run in FastAPI's threadpool (the engine is thread-safe).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.errors import InvalidQuestionError, RagError, UsageError
from index.loaders import MAX_FILE_BYTES
from rag.questions import MAX_K
from rag.types import Turn
from ui.server_core import DocumentNotFoundError, NotUploadedError, Service, UnknownModeError, check_question
from ui.server_models import (
    AnswerOut,
    AskRequest,
    DeleteOut,
    DocumentOut,
    DocumentsOut,
    ErrorOut,
    HealthOut,
    SearchOut,
    UploadOut,
)

__all__ = ["MAX_JSON_BYTES", "MAX_UPLOAD_BYTES", "build_app", "error_body", "is_loopback", "serve"]

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 1024 * 1024
MAX_UPLOAD_BYTES = MAX_FILE_BYTES + 1024 * 1024  # one file at the loader's limit, plus the multipart framing
OPEN_PATHS = ("/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json")  # no data behind them
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    500: "server_error",
}
_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 404, 409, 413, 422, 500)}


def error_body(status: int, message: str) -> dict[str, object]:
    return {"error": {"message": message, "type": _ERROR_TYPES.get(status, "server_error")}}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def status_of(error: RagError) -> int:
    if isinstance(error, (InvalidQuestionError, UsageError, UnknownModeError)):
        return 400
    if isinstance(error, DocumentNotFoundError):
        return 404
    if isinstance(error, NotUploadedError):
        return 409
    return 500


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Guard:
    """ASGI wrapper: the API key check, then the body size limit, then the app."""

    def __init__(self, app, api_key: str | None) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.api_key is not None and scope["path"] not in OPEN_PATHS:
            given = headers.get(b"authorization", b"")
            scheme, _, token = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.api_key):
                message = "missing API key" if not given else "wrong API key"
                await _send_json(send, 401, error_body(401, f"{message}: send Authorization: Bearer <key>"))
                return None
        if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            return await self.app(scope, receive, send)
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") == "/v1/documents"
        limit = MAX_UPLOAD_BYTES if upload else MAX_JSON_BYTES
        declared = headers.get(b"content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > limit
        body, size = [], 0
        while True:  # read the whole body first (bounded), so an oversized one never reaches the app
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                too_large = True
            if not too_large:
                body.append(chunk)
            if not message.get("more_body") or size > 4 * MAX_UPLOAD_BYTES:
                break
        if too_large:
            what = "an upload" if upload else "a request body"
            text = f"{what} may be at most {limit // (1024 * 1024)} MB"
            await _send_json(send, 413, error_body(413, text), close=True)
            return None
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def _send_json(send, status: int, body: dict, close: bool = False) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def build_app(service: Service, *, api_key: str | None = None, host: str = "127.0.0.1", mcp: bool = True):
    """The ASGI app of `rag serve` over `service` (the FastAPI app is `.app` of the returned guard)."""
    mcp_server = None
    if mcp:
        from ui.mcp_server import build_mcp

        mcp_server = build_mcp(service)
        mcp_app = mcp_server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, host=host)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        if mcp_server is None:
            yield
            return
        async with mcp_server.session_manager.run():
            yield

    app = FastAPI(
        title="Grounded Q&A",
        description="Answers that quote your documents verbatim, every quote checked at its character offsets.",
        version="1",
        lifespan=lifespan,
        responses=_ERRORS,
    )
    _add_error_handlers(app)
    _add_routes(app, service)
    from ui.server_openai import add_openai_routes

    add_openai_routes(app, service)
    if mcp_server is not None:
        app.router.routes.extend(mcp_app.routes)  # /mcp, run by the session manager the lifespan starts
    guard = _Guard(app, api_key)
    guard.service = service
    return guard


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(_request: Request, error: RagError):
        status = status_of(error)
        if status == 500:
            log.error("request failed: %s", error)
        return error_response(status, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError):
        return error_response(422, _validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException):
        message = error.detail if isinstance(error.detail, str) else json.dumps(error.detail)
        return error_response(error.status_code, message, getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception):
        log.exception("unexpected error")
        return error_response(500, f"internal error ({type(error).__name__}); see the server's log")


def _add_routes(app: FastAPI, service: Service) -> None:
    @app.get("/healthz", response_model=HealthOut, tags=["server"])
    def healthz():
        data = service.engine.data
        return {"status": "ok", "documents": len(data.documents), "chunks": len(data.chunks), "models": service.models}

    @app.post("/v1/ask", response_model=AnswerOut, tags=["answers"])
    async def ask(request: AskRequest):
        """Answer a question with verified quotes: exactly the `rag ask --json` object."""
        check_question(request.question)
        mode = service.mode(request.generator)
        history = [Turn(t.role, t.content) for t in request.history]
        answer = await run_in_threadpool(
            service.answer, request.question, history, k=request.k, doc_ids=request.doc_ids, mode=mode, id=request.id
        )
        return JSONResponse(answer.to_json())

    @app.get("/v1/search", response_model=SearchOut, tags=["answers"])
    async def search(
        q: Annotated[str, Query(description="what to search for")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
        doc_id: Annotated[list[str] | None, Query(description="only search these documents (repeatable)")] = None,
    ):
        """The best passages for a query, scored, with character offsets (no answer)."""
        check_question(q)
        passages = await run_in_threadpool(service.search, q, k, doc_id)
        return {"query": q, "passages": passages}

    @app.get("/v1/documents", response_model=DocumentsOut, tags=["documents"])
    def documents():
        return {"documents": service.documents()}

    @app.get("/v1/documents/{doc_id:path}", response_model=DocumentOut, tags=["documents"])
    def document(doc_id: str):
        """A document's metadata and its whole text (citation offsets index this text)."""
        return service.document(doc_id)

    @app.post("/v1/documents", response_model=UploadOut, status_code=201, tags=["documents"])
    async def upload(files: Annotated[list[UploadFile], File(description=".txt, .md, .html or .pdf files")]):
        """Upload files and index them at once (the web chat's type, size and text limits)."""

        def save_and_index():
            folder = Path(tempfile.mkdtemp(prefix="rag-upload-"))
            try:
                saved = []
                for number, item in enumerate(files):
                    path = folder / f"{number}.upload"
                    with path.open("wb") as out:
                        shutil.copyfileobj(item.file, out)
                    saved.append((path, item.filename or "upload"))
                return service.upload(saved)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        result = await run_in_threadpool(save_and_index)
        if not result.added and result.problems:
            reasons = "; ".join(f"{name}: {reason}" for name, reason in result.problems)
            return error_response(400, f"nothing was indexed: {reasons}")
        return JSONResponse(service.upload_rows(result), status_code=201)

    @app.delete("/v1/documents/{doc_id:path}", response_model=DeleteOut, tags=["documents"])
    async def delete(doc_id: str):
        """Delete an uploaded document and re-index (documents from your own folders are refused: 409)."""
        return await run_in_threadpool(service.delete, doc_id)


def serve(service: Service, *, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None) -> None:
    """Run the server until interrupted (what `rag serve` does after loading)."""
    import uvicorn

    if not is_loopback(host) and not api_key:
        raise UsageError(f"refusing to serve on {host} without an API key")
    app = build_app(service, api_key=api_key, host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
