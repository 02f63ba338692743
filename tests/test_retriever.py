"""Hybrid ranking with a document filter: the filter narrows, it does not re-score (fakes, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.retriever import HybridRetriever
from tests.fakes import two_document_engine

QUESTION = "How many personnel would Ukraine's armed forces be cut to?"


def _rank(engine, doc_ids=None):
    vector = engine.embedder.embed([QUESTION])[0]
    return HybridRetriever(engine.data, engine.settings.retrieval).rank(QUESTION, vector, doc_ids, limit=20)


def test_without_a_filter_relative_scores_are_shares_of_the_best(tmp_path: Path) -> None:
    engine = two_document_engine(tmp_path)
    ranked = _rank(engine)
    assert ranked[0].relative == pytest.approx(1.0)
    for hit in ranked:
        assert hit.relative == pytest.approx(hit.score / ranked[0].score)


def test_a_filtered_document_keeps_the_scores_it_has_without_the_filter(tmp_path: Path) -> None:
    engine = two_document_engine(tmp_path)
    unfiltered = {hit.row: hit for hit in _rank(engine)}
    peace = _rank(engine, ["peace"])
    assert peace and {engine.data.chunks[hit.row].doc_id for hit in peace} == {"peace"}
    for hit in peace:
        assert (hit.score, hit.relative) == pytest.approx((unfiltered[hit.row].score, unfiltered[hit.row].relative))
    assert max(hit.relative for hit in peace) < 1.0  # the question is about the other document

    # So the passage signal of its sentences stays low, and the weak match is not lifted.
    found = engine.find_evidence(QUESTION, doc_ids=["peace"])
    assert found.evidence and max(e.passage for e in found.evidence) < 1.0


def _many_document_engine(root: Path):
    """Eight one-line documents, so a small pool leaves most chunks out of it."""
    from index.builder import build_index
    from rag.engine import Engine
    from tests.fakes import CountingEmbedder

    corpus = root / "corpus"
    corpus.mkdir()
    lines = [
        "Ukraine would cut its armed forces to 600,000 personnel under the plan.",
        "The armed forces of Ukraine number 900,000 active troops today.",
        "Russia keeps 1.3 million personnel under arms.",
        "Personnel cuts were discussed in Geneva.",
        "The harbour has nine cranes and a lighthouse.",
        "Tide charts are kept in the library.",
        "The choir sings on Sundays.",
        "Bread is baked every morning.",
    ]
    for number, line in enumerate(lines):
        (corpus / f"d{number}.txt").write_text(f"Note {number}\n\n{line}\n", encoding="utf-8")
    embedder = CountingEmbedder()
    build_index([corpus], root / "index", embedder)
    return Engine.open(root / "index", embedder=embedder, build_if_missing=False)


@pytest.mark.parametrize("candidates", [2, 3])
def test_a_filter_scores_against_the_same_pool_as_no_filter(tmp_path: Path, candidates: int) -> None:
    # The pool is the best `candidates` chunks of each retriever. A filter also brings in chunks from
    # outside it; they are scaled by the pool's range, so the pool's own scores do not move.
    from rag.retriever import HybridRetriever, RetrievalSettings

    engine = _many_document_engine(tmp_path)
    retriever = HybridRetriever(engine.data, RetrievalSettings(candidates=candidates))
    vector = engine.embedder.embed([QUESTION])[0]
    unfiltered = {hit.row: hit for hit in retriever.rank(QUESTION, vector, None, limit=candidates)}
    assert 1 < len(unfiltered) < len(engine.data.chunks)  # the pool leaves chunks out
    for doc_id in sorted(engine.data.documents):
        filtered = retriever.rank(QUESTION, vector, [doc_id], limit=1)
        assert [engine.data.chunks[hit.row].doc_id for hit in filtered] == [doc_id]
        hit = filtered[0]
        assert 0.0 <= hit.relative <= 1.0
        same = unfiltered.get(hit.row)
        if same is not None:
            assert (hit.score, hit.relative) == pytest.approx((same.score, same.relative))
        else:
            assert hit.relative <= min(h.relative for h in unfiltered.values()) + 1e-9


def test_a_chunk_s_best_sentence_score_joins_the_pool_and_the_fusion(tmp_path: Path) -> None:
    # A chunk neither MiniLM nor BM25 puts in a pool of two is brought in by its sentence score, and with
    # all the weight on that signal the order is the sentence scores' order.
    import numpy as np

    from rag.retriever import HybridRetriever, RetrievalSettings

    engine = _many_document_engine(tmp_path)
    vector = engine.embedder.embed([QUESTION])[0]
    plain = HybridRetriever(engine.data, RetrievalSettings(candidates=2))
    pooled = {hit.row for hit in plain.rank(QUESTION, vector, None, limit=2)}
    outsider = next(row for row, chunk in enumerate(engine.data.chunks) if "choir" in chunk.text)
    assert outsider not in pooled
    by_sentence = np.full(len(engine.data.chunks), 0.1, dtype=np.float32)
    by_sentence[outsider] = 0.9
    only_sentences = HybridRetriever(engine.data, RetrievalSettings(candidates=2, sentence_weight=1.0))
    ranked = only_sentences.rank(QUESTION, vector, None, limit=3, sentence_scores=by_sentence)
    assert ranked[0].row == outsider and ranked[0].relative == pytest.approx(1.0)
    # With no weight on it, the signal changes nothing at all: not the order, not the scores.
    ignored = HybridRetriever(engine.data, RetrievalSettings(candidates=2, sentence_weight=0.0))
    assert ignored.rank(QUESTION, vector, None, limit=8, sentence_scores=by_sentence) == plain.rank(
        QUESTION, vector, None, limit=8
    )
    # Half and half: the outsider rises above where the two other signals alone put it.
    half = HybridRetriever(engine.data, RetrievalSettings(candidates=2, sentence_weight=0.5))
    order = [hit.row for hit in half.rank(QUESTION, vector, None, limit=8, sentence_scores=by_sentence)]
    alone = [hit.row for hit in ignored.rank(QUESTION, vector, None, limit=8, sentence_scores=by_sentence)]
    assert order.index(outsider) < alone.index(outsider)


def test_rrf_weighs_the_sentence_signal_too(tmp_path: Path) -> None:
    import numpy as np

    from rag.retriever import HybridRetriever, RetrievalSettings

    engine = _many_document_engine(tmp_path)
    vector = engine.embedder.embed([QUESTION])[0]
    outsider = next(row for row, chunk in enumerate(engine.data.chunks) if "choir" in chunk.text)
    by_sentence = np.full(len(engine.data.chunks), 0.1, dtype=np.float32)
    by_sentence[outsider] = 0.9
    order = {}
    for weight in (0.0, 0.5, 1.0):
        retriever = HybridRetriever(engine.data, RetrievalSettings(fusion="rrf", sentence_weight=weight))
        order[weight] = [hit.row for hit in retriever.rank(QUESTION, vector, None, 8, by_sentence)]
    plain = HybridRetriever(engine.data, RetrievalSettings(fusion="rrf")).rank(QUESTION, vector, None, 8)
    assert order[0.0] == [hit.row for hit in plain]
    assert order[1.0][0] == outsider
    assert order[0.0].index(outsider) > order[0.5].index(outsider) >= order[1.0].index(outsider)
