"""BM25 in PostgreSQL (index.pg_bm25) against the local BM25, on a corpus whose words follow Zipf's law
(common words in most chunks, as in real text): the pruned top-k search must give exactly the same
scores as the full one, and the document frequencies must stay right through updates (real server)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from eval.benchmarks.scale import load_postgres, synthetic_corpus
from index.index_store import top_rows
from index.lexical import LexicalIndex
from index.pg_bm25 import query_terms, top_k
from index.pg_store import PgIndex, connect
from index.text import tokenize


def test_pruned_top_k_equals_the_local_bm25_on_a_zipf_corpus(pg_database) -> None:
    corpus = synthetic_corpus(3000, queries=80, seed=5)
    load_postgres(pg_database, corpus)
    remote = PgIndex.open(pg_database)
    local = LexicalIndex.build([c.text for c in corpus.chunks])
    pruned = 0
    with connect(pg_database) as conn:
        for query in corpus.queries:
            expected, _ = top_rows(local.scores(query), 100)
            found, _ = remote.lexical_top(query, 100)
            np.testing.assert_allclose(found, expected, atol=1e-4)
            pruned += top_k(conn, query_terms(conn, Counter(tokenize(query))), 100)[1]
    # The pruned search must actually answer some (about a quarter at this size, more in larger indexes:
    # the rarer words' postings are then fewer), not always fall back to the full one.
    assert pruned >= len(corpus.queries) // 8, pruned


def _document_frequencies(url: str) -> tuple[dict, dict]:
    with connect(url) as conn:
        kept = dict(conn.execute("SELECT term, df FROM rag_terms WHERE df > 0").fetchall())
        counted = dict(conn.execute("SELECT term, count(*) FROM rag_postings GROUP BY term").fetchall())
    return kept, counted


def test_document_frequencies_stay_right_through_updates(tmp_path, pg_database, embedder) -> None:
    from index.pg_build import build_pg

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbour cranes lift containers. The harbour has nine cranes.")
    (folder / "b.txt").write_text("The lighthouse keeper logs every ship. Ships pass the harbour at dawn.")
    build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    kept, counted = _document_frequencies(pg_database)
    assert kept == counted and kept["harbour"] == 2

    (folder / "b.txt").unlink()
    (folder / "c.txt").write_text("Tide charts hang in the harbour office.")
    build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    kept, counted = _document_frequencies(pg_database)
    assert kept == counted and "lighthouse" not in kept and kept["harbour"] == 2

    # A version without rag_terms wrote the last build: its stats lack the mark and the table is stale (or
    # missing). Readers count postings instead, and the next build counts the table anew.
    before = PgIndex.open(pg_database).lexical_top("harbour office", 5)
    with connect(pg_database) as conn:
        conn.execute("UPDATE rag_meta SET value = value - 'df' WHERE key = 'stats'")
        conn.execute("DELETE FROM rag_terms WHERE term IN ('harbour', 'offic')")
        conn.commit()
    old = PgIndex.open(pg_database).lexical_top("harbour office", 5)
    np.testing.assert_allclose(old[0], before[0], atol=1e-6)
    assert old[1].tolist() == before[1].tolist() and old[1].size == 2
    (folder / "d.txt").write_text("The harbour office opens at eight.")
    build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    kept, counted = _document_frequencies(pg_database)
    assert kept == counted and kept["harbour"] == 3
    with connect(pg_database) as conn:
        conn.execute("UPDATE rag_meta SET value = value - 'df' WHERE key = 'stats'")
        conn.execute("DROP TABLE rag_terms")
        conn.commit()
    (folder / "d.txt").unlink()
    build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    kept, counted = _document_frequencies(pg_database)
    assert kept == counted and kept["harbour"] == 2


def test_a_top_k_of_nothing_is_empty(pg_database, embedder, tmp_path) -> None:
    from index.pg_build import build_pg

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbour cranes lift containers.")
    build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    assert PgIndex.open(pg_database).lexical_top("harbour", 0)[1].size == 0
