"""The typed request and response bodies of `rag serve` (they generate its OpenAPI document at /docs).

Response models describe what the routes return; the answer object itself is always
`Answer.to_json()` (the `rag ask --json` contract), sent as is.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.questions import MAX_K

__all__ = [
    "AnswerOut",
    "AskRequest",
    "ChatCompletion",
    "ChatMessage",
    "ChatRequest",
    "CitationOut",
    "DeleteOut",
    "DocumentOut",
    "DocumentRow",
    "DocumentsOut",
    "ErrorOut",
    "HealthOut",
    "ModelsOut",
    "PassageOut",
    "SearchOut",
    "TurnIn",
    "UploadOut",
]


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    """The body of POST /v1/ask (the options of `rag ask`)."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="the question (1 to 2,000 characters)")
    history: list[TurnIn] = Field(default_factory=list, description="earlier turns, oldest first")
    k: int = Field(5, ge=1, le=MAX_K, description="passages to retrieve")
    doc_ids: list[str] | None = Field(None, description="only search these documents")
    generator: str | None = Field(
        None, description='"extractive" (default), or the configured model\'s mode ("local" or "openai")'
    )
    id: Any = Field(None, description="echoed back as the answer's id")


class CitationOut(BaseModel):
    n: int
    doc_id: str
    title: str
    quote: str = Field(description="document.text[start:end] == quote, checked before the answer is returned")
    start: int
    end: int
    page: int | None
    score: float
    ocr: bool = Field(default=False, description="the quote was recognised by OCR in an image (may hold errors)")


class PassageOut(BaseModel):
    doc_id: str
    chunk_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    page: int | None = None


class AnswerOut(BaseModel):
    """The `rag ask --json` answer object (fields are only ever added)."""

    model_config = ConfigDict(extra="allow")
    id: Any = None
    question: str
    answer: str = Field(description="the answer text; marker [n] is backed by citations[n-1]")
    refused: bool
    citations: list[CitationOut]
    passages: list[PassageOut]
    timings_ms: dict[str, float]
    support: float
    search_query: str
    low_support: bool = Field(False, description="answered, but the best evidence only just cleared the threshold")
    scorer: str = Field("", description="the model that scored the evidence sentences")
    generation: dict[str, Any] | None = Field(None, description="present when a language model wrote the answer")


class SearchOut(BaseModel):
    query: str
    passages: list[PassageOut]


class DocumentRow(BaseModel):
    doc_id: str
    title: str
    authors: list[str]
    date: str | None
    chunks: int
    format: str
    url: str | None
    publisher: str | None
    characters: int
    pages: int | None
    uploaded: bool = Field(description="uploaded through the server or the web chat (and so deletable)")


class DocumentsOut(BaseModel):
    documents: list[DocumentRow]


class DocumentOut(DocumentRow):
    text: str
    page_starts: list[int] | None


class UploadProblem(BaseModel):
    name: str
    reason: str


class Renamed(BaseModel):
    name: str
    saved_as: str


class UploadOut(BaseModel):
    added: list[DocumentRow]
    problems: list[UploadProblem]
    renamed: list[Renamed]
    seconds: float


class DeleteOut(BaseModel):
    deleted: str
    documents: int
    removed: int


class HealthOut(BaseModel):
    status: Literal["ok"]
    documents: int
    chunks: int
    models: list[str]


class ErrorBody(BaseModel):
    message: str
    type: str


class ErrorOut(BaseModel):
    error: ErrorBody


# -- the OpenAI-compatible part ----------------------------------------------


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """POST /v1/chat/completions: the OpenAI request; sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description='an id from GET /v1/models, e.g. "grounded-extractive"')
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    k: int = Field(5, ge=1, le=MAX_K, description="extension: passages to retrieve")
    doc_ids: list[str] | None = Field(None, description="extension: only search these documents")


class ReplyMessage(BaseModel):
    role: Literal["assistant"]
    content: str = Field(description="the answer with its [n] markers, then a plain Sources list")
    citations: list[CitationOut] = Field(description="extension: the verified quote behind each marker")
    refused: bool = Field(description="extension: the documents don't answer the question")


class Choice(BaseModel):
    index: int
    message: ReplyMessage
    finish_reason: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: dict[str, int]


class ModelOut(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelsOut(BaseModel):
    object: Literal["list"]
    data: list[ModelOut]
