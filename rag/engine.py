"""The one Python API that the CLI, the web app, the server and the eval suite all use.

    engine = Engine.open()                       # loads (or builds) the index
    answer = engine.ask("Who was sent to Geneva?")
    answer.answer, answer.citations, answer.refused

`ask` runs the whole query side: resolve a follow-up, retrieve (hybrid), score
evidence sentences, compose the answer and verify every quote, timing each
stage. The engine is safe to share between threads (the web app does): what a
question reads is one immutable snapshot of the index, swapped whole on reload.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.embedder import Embedder, SentenceTransformerEmbedder, embed_queries
from index.errors import IndexChangedError, InvalidQuestionError, RagError
from index.index_store import IndexStore
from index.open import open_index, read_store, update_sources
from index.paths import default_index_dir
from index.sentence_vectors import SentenceVectors, prepare_sentence_vectors
from rag.answering import FoundEvidence, Stopwatch, extractive_answer
from rag.compose import ComposeSettings
from rag.evidence import (
    DocumentFrequencies,
    Evidence,
    EvidenceSettings,
    Sentence,
    candidate_sentences,
    score_sentences,
)
from rag.followup import prefer_new, resolve_follow_up
from rag.injection import addresses_model, instruction_spans
from rag.questions import MAX_QUESTION_CHARS, clamp_k, clean_history, clean_question
from rag.retriever import HybridRetriever, RetrievalSettings, ScoredChunk
from rag.shapes import (
    asks_for_contact,
    author_surnames,
    comparison_sides,
    is_byline_or_bio,
    is_contact_line,
    pick_summary,
    question_shape,
    summary_region,
    summary_sentences,
    summary_topic,
)
from rag.signals import Vocabulary, document_name_words, named_documents, read_signals
from rag.types import Answer, Turn

__all__ = ["MAX_QUESTION_CHARS", "AnswerSettings", "Engine", "FoundEvidence", "clean_question", "document_name_words"]

# How often a running engine asks its store whether another process has built the index since (seconds).
INDEX_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class AnswerSettings:
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    compose: ComposeSettings = field(default_factory=ComposeSettings)
    pool: int = 8  # chunks whose sentences compete as evidence


def scorer_settings(scorer: Embedder) -> AnswerSettings:
    """Evidence weights and refusal threshold for scoring with `scorer` instead of MiniLM.

    For EmbeddingGemma-300M (no prompts): weights picked on the dev split by
    `python -m eval.benchmarks.selection --scorer DIR` (docs/scorer.md); its cosines sit on another
    scale than MiniLM's, so the threshold was fitted on the dev split too (docs/scorer.md).
    """
    return AnswerSettings(
        evidence=EvidenceSettings(w_semantic=1.0, w_coverage=0.2, w_context=0.3, w_passage=0.0),
        compose=ComposeSettings(refuse_below=GEMMA_REFUSE_BELOW, weak_below=GEMMA_REFUSE_BELOW + 0.06),
    )


# The highest threshold with at most 4% false refusals on the dev split (2.9%; it refuses 0.667 of dev's
# unanswerable questions): `python -m eval.benchmarks.scorer_threshold --split dev`, the rule
# eval.calibrate uses for MiniLM, re-run when retrieval began to fuse the scorer's sentences (0.38 before).
# The weak-support margin is MiniLM's (0.06), not fitted.
GEMMA_REFUSE_BELOW = 0.39


class _Snapshot:
    """One loaded index and everything derived from it; a reload replaces the whole snapshot.

    Sentence vectors and each document's passages addressed to a model are cached per snapshot
    (the same offsets may hold other text after a reload); those caches are the only things that
    change, under one lock. `stored` holds a separate scorer's vectors of every sentence, computed
    when the snapshot was made (`index.sentence_vectors`), so a question embeds only itself.
    """

    def __init__(self, data: IndexStore, settings: AnswerSettings, stored: SentenceVectors | None = None) -> None:
        self.data = data
        self.stored = stored
        self.retriever = HybridRetriever(data, settings.retrieval)
        self.frequencies = DocumentFrequencies([c.text for c in data.chunks])
        self.names = document_name_words(data)
        self.vocabularies = {d.id: Vocabulary.of(d.text) for d in data.documents.values()}
        self.titles = {d.id: d.title for d in data.documents.values()}
        self._vectors: dict[tuple[str, int, int], np.ndarray] = {}
        self._title_vectors: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()
        self._instructions: dict[str, tuple[tuple[int, int], ...]] = {}  # per document, found on first use
        # Every sentence's stored scorer vector as one matrix, for retrieval's sentence signal (built now, so
        # no question waits for it).
        self._sentence_matrix = self._stored_matrix() if stored is not None else None

    def addresses_model(self, sentence: Sentence) -> bool:
        """Whether the sentence belongs to a passage addressed to an AI model (`rag.injection`): such a
        passage is never evidence, in whole, so no answer quotes it. Its spans are found once per document."""
        text = self.data.documents[sentence.doc_id].text
        with self._cache_lock:
            spans = self._instructions.get(sentence.doc_id)
        if spans is None:
            spans = instruction_spans(text)
            with self._cache_lock:
                self._instructions[sentence.doc_id] = spans
        return addresses_model(text, sentence.start, sentence.end, spans)

    def title_vectors(self, doc_ids: Sequence[str], embed: Callable[[Sequence[str]], np.ndarray]):
        """Each document's title embedded once per snapshot (a summary weighs sentences by their closeness to it)."""
        with self._cache_lock:
            missing = [d for d in dict.fromkeys(doc_ids) if d not in self._title_vectors]
        if missing:
            fresh = embed([self.titles[d] for d in missing])
            with self._cache_lock:
                self._title_vectors.update(zip(missing, fresh, strict=True))
        with self._cache_lock:
            return {d: self._title_vectors[d] for d in doc_ids}

    def sentence_scores(self, vector: np.ndarray) -> np.ndarray | None:
        """Each chunk's best sentence: the highest cosine between `vector` (the question under the scorer)
        and the stored scorer vector of one of its sentences, one value per chunk row (-1 for a chunk
        with none); None without stored vectors. The retriever fuses it (`rag.retriever`)."""
        if self._sentence_matrix is None:
            return None
        matrix, of_pair, chunk_of_pair = self._sentence_matrix
        best = np.full(len(self.data.chunks), -1.0, dtype=np.float32)
        if len(chunk_of_pair):
            # `chunk_of_pair` ascends (built chunk by chunk), so each chunk's sentences are one run of it.
            chunk_rows, starts = np.unique(chunk_of_pair, return_index=True)
            best[chunk_rows] = np.maximum.reduceat((matrix @ vector)[of_pair], starts)
        return best

    def _stored_matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored scorer vectors of the index's distinct sentences (one row each), and for every
        (chunk, sentence) pair in chunk order the sentence's row there and the chunk's row: overlapping
        chunks share sentences, which are kept once."""
        vectors: list[np.ndarray] = []
        row_of: dict[str, int] = {}
        of_pair, chunk_of_pair = [], []
        documents = self.data.documents
        for row, chunk in enumerate(self.data.chunks):
            text = documents[chunk.doc_id].text
            for start, end in chunk.sentences:
                sentence = text[start:end]
                if sentence not in row_of:
                    vector = self.stored.get(sentence)
                    if vector is None:
                        continue
                    row_of[sentence] = len(vectors)
                    vectors.append(vector)
                of_pair.append(row_of[sentence])
                chunk_of_pair.append(row)
        matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, self.stored.dimension), np.float32)
        return matrix, np.array(of_pair, dtype=np.int64), np.array(chunk_of_pair, dtype=np.int64)

    def sentence_vectors(self, sentences: Sequence[Sentence], embed: Callable[[Sequence[str]], np.ndarray]):
        keys = [(s.doc_id, s.start, s.end) for s in sentences]
        with self._cache_lock:
            if self.stored is not None:
                for sentence, key in zip(sentences, keys, strict=True):
                    if key not in self._vectors:
                        vector = self.stored.get(sentence.text)
                        if vector is not None:
                            self._vectors[key] = vector
            missing = [i for i, key in enumerate(keys) if key not in self._vectors]
        if missing:
            fresh = embed([sentences[i].text for i in missing])
            with self._cache_lock:
                for row, i in enumerate(missing):
                    self._vectors[keys[i]] = fresh[row]
        with self._cache_lock:
            return np.vstack([self._vectors[key] for key in keys])


class _TakingTurns:
    """An embedder that takes the engine's model lock one batch at a time: a long job (the sentences of a
    build another process made) lets the questions asked meanwhile embed between its batches."""

    def __init__(self, embedder: Embedder, lock: threading.Lock, batch: int = 32) -> None:
        self.embedder, self.lock, self.batch = embedder, lock, batch
        self.name, self.dimension = embedder.name, embedder.dimension

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), self.batch):
            with self.lock:
                parts.append(self.embedder.embed(texts[start : start + self.batch]))
        return np.vstack(parts) if parts else np.zeros((0, self.dimension), dtype=np.float32)


class Engine:
    def __init__(
        self,
        data: IndexStore,
        embedder: Embedder,
        index_dir: Path,
        settings: AnswerSettings | None = None,
        scorer: Embedder | None = None,
        *,
        progress: bool = False,
        store: str | None = None,
    ) -> None:
        """`scorer`, when given, embeds questions and sentences for evidence scoring instead of the
        index's `embedder` (which still embeds the question for retrieval); see `scorer_settings`.
        Its vectors of every sentence are loaded from beside the index, or computed and kept there
        first (`progress`: show a bar while computing).
        `store` names the PostgreSQL database holding the index (`data` was read from it); `index_dir`
        then keeps only local files (uploads, feedback)."""
        self.embedder = embedder
        self.scorer = scorer
        self.index_dir = index_dir
        self.store = store
        self.settings = settings or (scorer_settings(scorer) if scorer is not None else AnswerSettings())
        self._embed_lock = threading.Lock()  # one encode at a time on a small CPU
        self._update_lock = threading.Lock()  # one index update at a time from this process
        self._follow_lock = threading.RLock()  # one thread at a time checks for or loads a build
        self.check_seconds = INDEX_CHECK_SECONDS
        self._snapshot = self._new_snapshot(data, progress=progress)
        self._checked_at = time.monotonic()

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
        on_build: Callable[[object], None] | None = None,
        scorer: Embedder | None = None,
        store: str | None = None,
    ) -> Engine:
        """Load the index, building or upgrading it first when needed (`index.open.open_index`);
        from the PostgreSQL database `store` when given (a postgresql:// URL)."""
        index_dir = Path(index_dir or default_index_dir())
        embedder = embedder or SentenceTransformerEmbedder()
        data = open_index(
            index_dir, embedder, build_if_missing=build_if_missing, progress=progress, on_build=on_build, store=store
        )
        engine = cls(data, embedder, index_dir, settings, scorer, progress=progress, store=store)
        # Load the models now, so the first question's timings measure answering, not loading.
        engine._embed(["warm-up"])
        if scorer is not None:
            engine._score(["warm-up"])
        return engine

    @property
    def scorer_name(self) -> str:
        """The model that scores evidence sentences (the index's embedder unless a scorer was given)."""
        return (self.scorer or self.embedder).name

    @property
    def data(self) -> IndexStore:
        return self._snapshot.data

    def add_documents(self, paths: Sequence[Path], *, progress: bool = False):
        """Index more files incrementally (kept with the existing sources) and reload; the `IndexSummary`."""
        with self._update_lock:
            sources = [Path(p) for p in self.data.manifest.sources]
            known = {s.resolve() for s in sources}
            sources += [Path(p) for p in paths if Path(p).resolve() not in known]
            summary = update_sources(self.index_dir, self.embedder, sources, progress=progress, store=self.store)
            self.reload()
            return summary

    def reload(self) -> None:
        """Answer from the index as it is now (one reload at a time: a slower one never puts back an older build)."""
        with self._follow_lock:
            data = read_store(self.index_dir, self.store, expect_model=self.embedder.name)
            self._snapshot = self._new_snapshot(data)
            self._checked_at = time.monotonic()

    def follow_index(self, *, force: bool = False) -> bool:
        """Load the index again when another process has built it since this snapshot was read (`rag index`
        beside a running app, on the same folder or database; a standby that replayed a build). Checked
        at most every `check_seconds` and by one thread at a time, the one whose question noticed (it
        waits for the load; the others go on answering from the snapshot they have). Unless `force`d, a
        store that cannot be read now is left for the question's own search to report. True when it reloaded."""
        if not force and time.monotonic() - self._checked_at < self.check_seconds:
            return False
        if not self._follow_lock.acquire(blocking=force):
            return False
        try:
            self._checked_at = time.monotonic()
            if self.data.is_current():
                return False
            self.reload()
            return True
        except RagError:
            if force:
                raise
            return False
        finally:
            self._follow_lock.release()

    def _new_snapshot(self, data: IndexStore, *, progress: bool = False) -> _Snapshot:
        stored = None
        if self.scorer is not None:
            # New sentences are embedded a batch at a time, so questions asked meanwhile get their turns.
            scorer = _TakingTurns(self.scorer, self._embed_lock) if not progress else self.scorer
            stored, _ = prepare_sentence_vectors(self.index_dir, data, scorer, progress=progress)
        return _Snapshot(data, self.settings, stored)

    # -- asking --------------------------------------------------------------

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._embed_lock:
            return self.embedder.embed(texts)

    def _score(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence vectors for evidence scoring: the scorer's when there is one."""
        if self.scorer is None:
            return self._embed(texts)
        with self._embed_lock:
            return self.scorer.embed(texts)

    def _score_question(self, query: str, query_vector: np.ndarray) -> np.ndarray:
        if self.scorer is None:
            return query_vector
        with self._embed_lock:
            return embed_queries(self.scorer, [query])[0]

    def find_evidence(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int = 5,
        doc_ids: Collection[str] | None = None,
    ) -> FoundEvidence:
        """Retrieve passages and score their sentences as evidence (no answer yet), from the newest build
        of the index (`follow_index`)."""
        self.follow_index()
        try:
            return self._find_evidence(question, history, k=k, doc_ids=doc_ids)
        except IndexChangedError:  # rebuilt while this question read it: read the new build and ask once more
            self.follow_index(force=True)
            return self._find_evidence(question, history, k=k, doc_ids=doc_ids)

    def _find_evidence(
        self, question: str, history: Sequence[Turn], *, k: int, doc_ids: Collection[str] | None
    ) -> FoundEvidence:
        started = time.perf_counter()
        question, history, k = clean_question(question), clean_history(history), clamp_k(k)
        snapshot, settings = self._snapshot, self.settings
        if doc_ids:
            unknown = sorted(set(doc_ids) - set(snapshot.data.documents))
            if unknown:
                raise InvalidQuestionError(f"unknown document id(s): {', '.join(unknown)}; see `rag docs` for the ids")
        follow_up = resolve_follow_up(question, history, snapshot.data.documents, snapshot.names)
        query = follow_up.query
        named = named_documents(question, snapshot.names, snapshot.titles)
        shape = question_shape(question, named)
        scope = doc_ids or follow_up.focus or None
        if shape == "summary" and not doc_ids and named:
            scope = named  # "Summarize Stockton's article": that document's passages
        query_vector = self._embed([query])[0]
        score_vector = self._score_question(query, query_vector)
        by_sentence = snapshot.sentence_scores(score_vector)

        def rank(doc_ids: Collection[str] | None, limit: int) -> list[ScoredChunk]:
            return snapshot.retriever.rank(query, query_vector, doc_ids, limit, by_sentence)

        ranked = rank(scope, max(k, settings.pool) * 2)
        passages = snapshot.retriever.passages(ranked, k)
        retrieve_seconds = time.perf_counter() - started

        def vectors(sentences: Sequence[Sentence]) -> np.ndarray:
            return snapshot.sentence_vectors(sentences, self._score)

        contact_wanted = asks_for_contact(question)

        def evidence_in(chunks: Sequence[ScoredChunk]) -> list[Evidence]:
            candidates = [
                c
                for c in candidate_sentences(snapshot.data, chunks)
                if not snapshot.addresses_model(c[0]) and (contact_wanted or not is_contact_line(c[0].text))
            ]
            return score_sentences(
                query,
                score_vector,
                candidates,
                vectors,
                snapshot.frequencies,
                lambda doc_id: snapshot.names.get(doc_id, set()),
                settings.evidence,
            )

        evidence = evidence_in(ranked[: max(k, settings.pool)])
        if follow_up.already_quoted:
            evidence = prefer_new(
                evidence, follow_up.already_quoted, settings.compose.relative, settings.compose.refuse_below
            )
        # Redundancy is only ever checked among the first few candidates.
        top = evidence[: settings.compose.max_sentences * 4]
        similarity = None
        if len(top) > 1:
            top_vectors = vectors([e.sentence for e in top])
            similarity = top_vectors @ top_vectors.T
        signals = read_signals(question, snapshot.names, evidence, snapshot.vocabularies, snapshot.titles, named)
        sides: dict[str, list[Evidence]] = {}
        if shape == "comparison":
            for doc_id in comparison_sides(question, named, snapshot.names):
                if not doc_ids or doc_id in doc_ids:
                    side = rank([doc_id], settings.pool)
                    surnames = author_surnames(snapshot.data.documents[doc_id])
                    sides[doc_id] = [e for e in evidence_in(side) if not is_byline_or_bio(e.sentence.text, surnames)]
        summary: list[Evidence] = []
        if shape == "summary":
            targets = sorted(scope) if scope else list(dict.fromkeys(p.doc_id for p in passages))[:1]
            sentences = summary_sentences(snapshot.data, targets, settings.evidence.min_words)
            sentences = [s for s in sentences if not snapshot.addresses_model(s)]
            if summary_topic(question, [snapshot.data.documents[d] for d in targets]):
                # "Summarize X's case against NATO expansion": the passages on that topic, not the whole piece
                region = summary_region(snapshot.data, ranked, set(targets))
                sentences = [s for s in sentences if (s.doc_id, s.start, s.end) in region] or sentences
            titles = snapshot.title_vectors(targets, self._score)
            summary = pick_summary(sentences, score_vector, titles, vectors, count=settings.compose.max_sentences + 1)
        return FoundEvidence(
            snapshot.data,
            question,
            query,
            passages,
            evidence,
            similarity,
            signals,
            retrieve_seconds,
            shape=shape,
            sides=sides,
            summary=summary,
            scorer=self.scorer_name,
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
        """The extractive answer: the best evidence sentences quoted verbatim, or a refusal."""
        clock = Stopwatch(time.perf_counter())
        found = self.find_evidence(question, history, k=k, doc_ids=doc_ids)
        clock.lap("retrieve", at=clock.started + found.retrieve_seconds)
        return extractive_answer(found, self.settings.compose, clock, id=id)
