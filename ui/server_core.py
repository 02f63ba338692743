"""What `rag serve` and `rag mcp` do, without a web framework: one Engine, its answer modes, its documents.

    service = Service(engine, generator=None)           # generator: a rag.generators model, or None
    service.answer("Who was sent to Geneva?", [], mode="extractive")   # the same Answer as `rag ask`
    service.search("Geneva", k=5); service.documents(); service.document("id"); service.span("id", 0, 100)

Every interface (HTTP routes, the OpenAI-compatible chat, the MCP tools) calls these methods, and these
call the same `Engine.ask` / `rag.generated.answer_with_generator` as the CLI and the web chat. Methods
block (they embed, and a model may write); the HTTP server runs them in a threadpool.

Answer modes: "extractive" always, plus the configured generator's kind ("local" or "openai"). Model
names for the OpenAI-compatible routes are "grounded-" + mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.errors import InvalidQuestionError, RagError
from index.types import Document
from rag.engine import Engine
from rag.types import GENERATOR_KINDS, Answer, Passage, Turn

__all__ = [
    "MAX_SPAN_CHARS",
    "MODEL_PREFIX",
    "DocumentNotFoundError",
    "NotUploadedError",
    "Service",
    "UnknownModeError",
    "passage_json",
    "sources_text",
]

MODEL_PREFIX = "grounded-"
MAX_SPAN_CHARS = 20_000  # get_document returns at most this much text per call


class DocumentNotFoundError(RagError):
    """No indexed document has this id."""


class NotUploadedError(RagError):
    """The document was indexed from the user's own files, so the server will not delete it."""


class UnknownModeError(RagError):
    """An answer mode (or model name) this server is not configured for."""


def passage_json(passage: Passage) -> dict[str, object]:
    """A retrieved passage as JSON: `Passage.to_json()` plus its page."""
    return {**passage.to_json(), "page": passage.page}


def sources_text(answer: Answer) -> str:
    """A plain "Sources" list for the end of a chat reply, for clients that ignore the citations field."""
    if not answer.citations:
        return ""
    lines = ["Sources:"]
    for c in answer.citations:
        page = f", page {c.page}" if c.page else ""
        lines.append(
            f"[{c.n}] {c.title}{page} ({c.doc_id}, characters {c.start}-{c.end}): “{' '.join(c.quote.split())}”"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class _Span:
    doc_id: str
    start: int
    end: int
    length: int
    text: str


class Service:
    """The engine and the optional generator behind every server route and MCP tool."""

    def __init__(self, engine: Engine, generator=None, entailment=None, generator_kind: str | None = None) -> None:
        self.engine = engine
        self.generator = generator
        self.entailment = entailment
        kind = generator_kind or (generator.name.split(":", 1)[0] if generator is not None else None)
        self.modes: tuple[str, ...] = ("extractive", kind) if generator is not None and kind else ("extractive",)
        self._documents_lock = threading.Lock()  # one upload or delete at a time

    # -- answering -----------------------------------------------------------

    @property
    def models(self) -> list[str]:
        return [MODEL_PREFIX + mode for mode in self.modes]

    def mode(self, name: str | None, default: str = "extractive") -> str:
        """The answer mode for a request's "generator" or "model" value; UnknownModeError if not configured."""
        if name is None or name == "":
            return default
        plain = name[len(MODEL_PREFIX) :] if name.startswith(MODEL_PREFIX) else name
        if plain in self.modes:
            return plain
        offered = ", ".join([*self.modes, *self.models])
        if plain in GENERATOR_KINDS:
            raise UnknownModeError(
                f"this server has no {plain!r} model configured (start it with rag serve --generator {plain} ...); "
                f"available: {offered}"
            )
        raise UnknownModeError(f"unknown answer mode or model {name!r}; available: {offered}")

    def answer(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int = 5,
        doc_ids: Collection[str] | None = None,
        mode: str = "extractive",
        id: object = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """The answer `rag ask` gives (extractive, or drafted by the configured model and verified)."""
        if mode == "extractive" or self.generator is None:
            return self.engine.ask(question, history, k=k, doc_ids=doc_ids or None, id=id)
        from rag.generated import answer_with_generator

        return answer_with_generator(
            self.engine,
            question,
            history,
            self.generator,
            k=k,
            doc_ids=doc_ids or None,
            on_token=on_token,
            id=id,
            entailment=self.entailment,
        )

    def search(self, query: str, k: int = 5, doc_ids: Collection[str] | None = None) -> list[dict[str, object]]:
        """The `k` best passages for `query`, scored, with offsets and page."""
        found = self.engine.find_evidence(query, k=k, doc_ids=doc_ids or None)
        return [passage_json(p) for p in found.passages]

    # -- documents -----------------------------------------------------------

    @property
    def uploads_folder(self) -> Path:
        return self.engine.index_dir / "uploads"

    def is_upload(self, document: Document) -> bool:
        return Path(document.path).resolve().is_relative_to(self.uploads_folder.resolve())

    def _row(self, document: Document) -> dict[str, object]:
        data = self.engine.data
        return {
            "doc_id": document.id,
            "title": document.title,
            "authors": list(document.authors),
            "date": document.date,
            "chunks": data.manifest.documents.get(document.id, {}).get("chunks", 0),
            "format": document.format,
            "url": document.url,
            "publisher": document.publisher,
            "characters": len(document.text),
            "pages": len(document.page_starts) or None,
            "uploaded": self.is_upload(document),
        }

    def documents(self) -> list[dict[str, object]]:
        """One row per indexed document (the `rag docs --json` fields, and more)."""
        return [self._row(d) for d in self.engine.data.documents.values()]

    def find(self, doc_id: str) -> Document:
        document = self.engine.data.documents.get(doc_id)
        if document is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r}; GET /v1/documents lists the ids")
        return document

    def document(self, doc_id: str) -> dict[str, object]:
        """A document's metadata and whole text."""
        document = self.find(doc_id)
        return {**self._row(document), "text": document.text, "page_starts": list(document.page_starts) or None}

    def span(self, doc_id: str, start: int = 0, end: int | None = None) -> dict[str, object]:
        """`document.text[start:end]`, the offsets clamped to the text and to MAX_SPAN_CHARS."""
        document = self.find(doc_id)
        length = len(document.text)
        start = max(0, min(int(start), length))
        end = length if end is None else max(start, min(int(end), length))
        end = min(end, start + MAX_SPAN_CHARS)
        return {
            "doc_id": document.id,
            "title": document.title,
            "start": start,
            "end": end,
            "length": length,
            "page": document.page_at(start),
            "text": document.text[start:end],
        }

    def upload(self, files: Sequence[tuple[Path, str]]):
        """Save and index uploaded files (ui.uploads.add_uploads: the web upload's rules); the UploadResult."""
        from ui.uploads import add_uploads

        with self._documents_lock:
            return add_uploads(self.engine, files)

    def upload_rows(self, result) -> dict[str, object]:
        return {
            "added": [self._row(d) for d in result.added],
            "problems": [{"name": name, "reason": reason} for name, reason in result.problems],
            "renamed": [{"name": name, "saved_as": saved} for name, saved in result.renamed],
            "seconds": round(result.seconds, 2),
        }

    def delete(self, doc_id: str) -> dict[str, object]:
        """Delete an uploaded document's file and re-index the same sources so the index follows."""
        with self._documents_lock:
            document = self.find(doc_id)
            if not self.is_upload(document):
                raise NotUploadedError(
                    f"{doc_id!r} was indexed from {document.path}, not uploaded: the server only deletes uploads. "
                    "Delete the file (or list it in a .ragignore) and run `rag index` again."
                )
            Path(document.path).unlink(missing_ok=True)
            summary = self.engine.add_documents([])
            return {"deleted": doc_id, "documents": len(self.engine.data.documents), "removed": summary.removed}


def check_question(question: object) -> str:
    """The cleaned question, or InvalidQuestionError (before any work is queued)."""
    from rag.questions import clean_question

    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text")
    return clean_question(question)
