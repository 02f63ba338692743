"""The one Python API that the CLI, the web app and the eval suite all use.

    engine = Engine.open()                       # loads (or builds) the index
    answer = engine.ask("Who was sent to Geneva?")
    answer.answer, answer.citations, answer.refused

`ask` runs the whole query side: resolve a follow-up, retrieve (hybrid), score
evidence sentences, compose the answer and verify every quote, timing each
stage. The engine is safe to share between threads (the web app does).
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.builder import IndexSummary, build_index, pipeline_signature
from index.embedder import Embedder, SentenceTransformerEmbedder
from index.errors import IndexMismatchError, IndexNotFoundError, InvalidQuestionError
from index.paths import DEFAULT_CORPUS, default_index_dir
from index.store import IndexData, read_index, read_manifest
from index.text import asks_for_quantity, numbers, tokenize
from rag.compose import REFUSAL, ComposeSettings, choose_evidence, compose
from rag.evidence import (
    DocumentFrequencies,
    Evidence,
    EvidenceSettings,
    Sentence,
    candidate_sentences,
    score_sentences,
)
from rag.followup import search_query
from rag.retriever import HybridRetriever, RetrievalSettings
from rag.types import Answer, Passage, Turn

__all__ = ["MAX_QUESTION_CHARS", "AnswerSettings", "Engine", "clean_question", "document_name_words"]

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class AnswerSettings:
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    compose: ComposeSettings = field(default_factory=ComposeSettings)
    pool: int = 8  # chunks whose sentences compete as evidence


def clean_question(question: str) -> str:
    """The question without control characters; raises InvalidQuestionError when unusable."""
    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text")
    # Undecodable bytes (a terminal's `\xff`, kept by Python as lone surrogates) become U+FFFD.
    text = _SURROGATE.sub("\ufffd", question)
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text)).strip()
    if not text:
        raise InvalidQuestionError("the question is empty; type a question about the documents")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"the question is {len(text):,} characters long; ask it in at most {MAX_QUESTION_CHARS:,} characters"
        )
    if not any(ch.isalnum() for ch in text):
        raise InvalidQuestionError("the question has no words in it; type a question about the documents")
    return text


@dataclass(frozen=True)
class FoundEvidence:
    data: IndexData
    question: str  # as cleaned by `clean_question`
    query: str  # what was searched (the question, or it resolved against the conversation)
    passages: list[Passage]
    evidence: list[Evidence]  # best first
    similarity: np.ndarray | None  # cosine between the evidence sentences
    named_docs: set[str]  # documents the question names by author or title
    retrieve_seconds: float
    unmatched_numbers: frozenset[str] = frozenset()  # figures of the question in no candidate sentence
    asks_quantity: bool = False  # "how many ...?": an answer must state a number

    def choose(self, settings: ComposeSettings) -> tuple[list[Evidence], str | None]:
        """The evidence sentences an answer quotes, or none and why; `rag.compose.choose_evidence`."""
        return choose_evidence(
            self.evidence, settings, self.similarity, self.named_docs, self.unmatched_numbers, self.asks_quantity
        )


def document_name_words(data: IndexData) -> dict[str, set[str]]:
    """Each document's title and author words (as tokenized), which name it in a question."""
    return {doc.id: set(tokenize(" ".join([doc.title, *doc.authors]))) for doc in data.documents.values()}


def named_documents(question: str, names: dict[str, set[str]]) -> set[str]:
    """Documents whose author or title words (not common words) appear in the question."""
    words = set(tokenize(question))
    counts: dict[str, int] = {}
    for tokens in names.values():
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
    return {doc_id for doc_id, tokens in names.items() if any(counts[t] == 1 and t in words for t in tokens)}


class Engine:
    def __init__(
        self,
        data: IndexData,
        embedder: Embedder,
        index_dir: Path,
        settings: AnswerSettings | None = None,
    ) -> None:
        self.embedder = embedder
        self.index_dir = index_dir
        self.settings = settings or AnswerSettings()
        self._lock = threading.RLock()  # guards the swap of `_data` and the caches
        self._embed_lock = threading.Lock()  # one encode at a time on a small CPU
        self._install(data)

    # -- opening and updating ------------------------------------------------

    @classmethod
    def open(
        cls,
        index_dir: Path | None = None,
        *,
        embedder: Embedder | None = None,
        settings: AnswerSettings | None = None,
        build_if_missing: bool = True,
        progress: bool = False,
        on_build: Callable[[IndexSummary], None] | None = None,
    ) -> Engine:
        """Load the index; build it first when there is none (from the default corpus) or when
        it was split by another version of this code (again, from the document texts it stores).

        `build_if_missing=False` turns both builds into errors that name the command to run.
        """
        index_dir = Path(index_dir or default_index_dir())
        embedder = embedder or SentenceTransformerEmbedder()
        manifest = read_manifest(index_dir)
        summary = None
        if manifest is None:
            if not build_if_missing:
                raise IndexNotFoundError(index_dir)
            summary = build_index([DEFAULT_CORPUS], index_dir, embedder, progress=progress)
        elif manifest.pipeline != pipeline_signature() and manifest.model == embedder.name:
            if not build_if_missing:
                raise IndexMismatchError(
                    f"the index at {index_dir} was split by another version of rag "
                    f"({manifest.pipeline or 'not recorded'}; this one: {pipeline_signature()}): "
                    "update it with `rag index`"
                )
            stored = read_index(index_dir, expect_model=embedder.name).documents
            summary = build_index(
                [Path(source) for source in manifest.sources],
                index_dir,
                embedder,
                chunk_size=manifest.chunk_size,
                chunk_overlap=manifest.chunk_overlap,
                vector_index=manifest.vector_index,
                progress=progress,
                documents=list(stored.values()),
            )
        if summary is not None and on_build:
            on_build(summary)
        engine = cls(read_index(index_dir, expect_model=embedder.name), embedder, index_dir, settings)
        # Load the model now, so the first question's timings measure answering, not loading.
        engine._embed(["warm-up"])
        return engine

    def _install(self, data: IndexData) -> None:
        with self._lock:
            self._data = data
            self._retriever = HybridRetriever(data, self.settings.retrieval)
            self._frequencies: DocumentFrequencies | None = None
            self._sentence_vectors: dict[tuple[str, int, int], np.ndarray] = {}
            self._names = document_name_words(data)

    @property
    def data(self) -> IndexData:
        return self._data

    def add_documents(self, paths: Sequence[Path], *, progress: bool = False) -> IndexSummary:
        """Index more files incrementally (kept with the existing sources) and reload."""
        sources = [Path(p) for p in self._data.manifest.sources]
        for path in paths:
            if Path(path).resolve() not in {s.resolve() for s in sources}:
                sources.append(Path(path))
        summary = build_index(sources, self.index_dir, self.embedder, progress=progress)
        self.reload()
        return summary

    def reload(self) -> None:
        self._install(read_index(self.index_dir, expect_model=self.embedder.name))

    # -- asking --------------------------------------------------------------

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._embed_lock:
            return self.embedder.embed(texts)

    def _frequencies_for(self, data: IndexData) -> DocumentFrequencies:
        with self._lock:
            if self._frequencies is None or data is not self._data:
                self._frequencies = DocumentFrequencies([c.text for c in data.chunks])
            return self._frequencies

    def _sentence_vectors_for(self, sentences: Sequence[Sentence]) -> np.ndarray:
        keys = [(s.doc_id, s.start, s.end) for s in sentences]
        missing = [i for i, key in enumerate(keys) if key not in self._sentence_vectors]
        if missing:
            fresh = self._embed([sentences[i].text for i in missing])
            with self._lock:
                for row, i in enumerate(missing):
                    self._sentence_vectors[keys[i]] = fresh[row]
        return np.vstack([self._sentence_vectors[key] for key in keys])

    def find_evidence(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int = 5,
        doc_ids: Collection[str] | None = None,
    ) -> FoundEvidence:
        """Retrieve passages and score their sentences as evidence (no answer yet)."""
        started = time.perf_counter()
        question = clean_question(question)
        k = max(1, min(int(k), 50))
        data, settings, retriever = self._data, self.settings, self._retriever
        if doc_ids:
            unknown = sorted(set(doc_ids) - set(data.documents))
            if unknown:
                raise InvalidQuestionError(f"unknown document id(s): {', '.join(unknown)}; see `rag docs` for the ids")
        query = search_query(question, history)
        query_vector = self._embed([query])[0]
        ranked = retriever.rank(query, query_vector, doc_ids, limit=max(k, settings.pool) * 2)
        passages = retriever.passages(ranked, k)
        retrieve_seconds = time.perf_counter() - started

        candidates = candidate_sentences(data, ranked[: max(k, settings.pool)])
        evidence = score_sentences(
            query,
            query_vector,
            candidates,
            self._sentence_vectors_for,
            self._frequencies_for(data),
            lambda doc_id: self._names.get(doc_id, set()),
            settings.evidence,
        )
        # Redundancy is only ever checked among the first few candidates.
        top = evidence[: settings.compose.max_sentences * 4]
        similarity = None
        if len(top) > 1:
            vectors = self._sentence_vectors_for([e.sentence for e in top])
            similarity = vectors @ vectors.T
        named = named_documents(question, self._names)
        # A figure the question pins ("point 17", "in 1994") that no candidate sentence holds: the
        # passages are about something else, however close their words (docs/calibration.md).
        # Single digits are left out: they are often spelled out ("3 little birds" / "Three Little
        # Birds") or only number the question itself ("2 facts about ...", "(5 points)").
        pinned = {figure for figure in numbers(question) if sum(ch.isdigit() for ch in figure) >= 2}
        candidate_figures = set().union(*(numbers(e.sentence.text) for e in evidence)) if evidence else set()
        unmatched = frozenset(pinned - candidate_figures)
        # The question as asked, not the search text: a follow-up's search text carries the earlier turn.
        quantity = asks_for_quantity(question)
        return FoundEvidence(
            data, question, query, passages, evidence, similarity, named, retrieve_seconds, unmatched, quantity
        )

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int = 5,
        doc_ids: Collection[str] | None = None,
        id: object = None,
    ) -> Answer:
        started = time.perf_counter()
        found = self.find_evidence(question, history, k=k, doc_ids=doc_ids)
        chosen, _ = found.choose(self.settings.compose)
        selected = time.perf_counter()

        text, citations = compose(chosen, found.data.documents)
        refused = not citations
        finished = time.perf_counter()
        retrieved = started + found.retrieve_seconds
        return Answer(
            question=found.question,
            answer=REFUSAL if refused else text,
            refused=refused,
            citations=citations,
            passages=found.passages,
            timings_ms={
                "retrieve": (retrieved - started) * 1000,
                "select": (selected - retrieved) * 1000,
                "compose": (finished - selected) * 1000,
                "total": (finished - started) * 1000,
            },
            id=id,
            support=found.evidence[0].support if found.evidence else 0.0,
            search_query=found.query,
        )
