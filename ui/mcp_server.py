"""The MCP tools over the engine, with the official `mcp` SDK (mcp 2.x: `MCPServer`, formerly FastMCP).

    build_mcp(Service(engine)).run("stdio")     # what `rag mcp` runs
    rag serve also mounts the same tools at /mcp (streamable HTTP)

Tools: `ask` (the `rag ask --json` answer, its quotes verified at their offsets), `search`
(scored passages with offsets), `list_documents`, and `get_document` (the text between two
offsets of a document, clamped to it). They call the same `Service` methods as the HTTP
routes, hence the same Engine as the CLI and the web chat. The SDK runs these plain functions
in worker threads, so the engine's blocking calls do not stall the transport.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from index.errors import RagError
from rag.questions import MAX_K
from rag.types import Turn
from ui.server_core import Service
from ui.server_models import TurnIn

__all__ = ["INSTRUCTIONS", "build_mcp"]

INSTRUCTIONS = (
    "Grounded Q&A over a local document collection. `ask` answers with verbatim quotes: every citation's "
    "quote equals document.text[start:end]; a refused answer means the documents do not answer the question. "
    "Quote the citations when you use an answer. `search` returns passages, `get_document` reads text by offsets."
)


def _tool_errors(fn: Callable) -> Callable:
    """A RagError (an empty question, an unknown document) reaches the client as a tool error with its message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RagError as error:
            raise ToolError(str(error)) from error

    return wrapper


def build_mcp(service: Service) -> MCPServer:
    server = MCPServer("grounded-rag", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    @_tool_errors
    def ask(
        question: str,
        history: list[TurnIn] | None = None,
        k: int = 5,
        doc_ids: list[str] | None = None,
        generator: str | None = None,
    ) -> dict[str, Any]:
        """Answer a question from the documents with verified verbatim quotes.

        Returns the answer object of `rag ask --json`: `answer` has [n] markers, `citations[n-1]` backs
        marker [n] with its doc_id, quote and character offsets; `refused` is true when the documents do
        not answer (then `passages` lists the closest ones). `generator`: "extractive" (default) or the
        server's configured model mode. `k`: passages to retrieve (1-50). `doc_ids`: only these documents.
        """
        turns = [Turn(t.role, t.content) for t in history or []]
        mode = service.mode(generator)
        k = max(1, min(k, MAX_K))
        return service.answer(question, turns, k=k, doc_ids=doc_ids, mode=mode).to_json()

    @server.tool()
    @_tool_errors
    def search(query: str, k: int = 5, doc_ids: list[str] | None = None) -> dict[str, Any]:
        """Search the documents: the k best passages (1-50) with scores and character offsets, no answer."""
        return {"query": query, "passages": service.search(query, max(1, min(k, MAX_K)), doc_ids)}

    @server.tool()
    @_tool_errors
    def list_documents() -> dict[str, Any]:
        """The indexed documents: doc_id, title, authors, date, format, characters, whether uploaded."""
        return {"documents": service.documents()}

    @server.tool()
    @_tool_errors
    def get_document(doc_id: str, start: int = 0, end: int | None = None) -> dict[str, Any]:
        """The text of a document between two character offsets (clamped to the document).

        Offsets are those of citations and passages. Without `end`, reads to the end of the document;
        at most 20,000 characters are returned per call (`length` is the document's total).
        """
        return service.span(doc_id, start, end)

    return server
