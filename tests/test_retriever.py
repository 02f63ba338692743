"""Hybrid ranking with a document filter: the filter narrows, it does not re-score (fakes, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import two_document_engine

QUESTION = "How many personnel would Ukraine's armed forces be cut to?"


def _rank(engine, doc_ids=None):
    vector = engine.embedder.embed([QUESTION])[0]
    return engine._retriever.rank(QUESTION, vector, doc_ids, limit=20)


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
