"""BM25 in PostgreSQL, computed exactly from the postings tables.

The score is the local store's (index.lexical: BM25 with k1 and b over index.text.tokenize's tokens):
a query word t found in df of the n chunks has idf = ln(1 + (n - df + 0.5) / (df + 0.5)), and a chunk
holding it tf times among `length` tokens adds times * idf * tf / (tf + k1 * (1 - b + b * length / avgdl)),
`times` being how often the query says t.

Tables (index.pg_build writes them): `rag_postings (term, chunk, tf, length)` and `rag_terms (term, df)`,
the document frequency of every term, kept current by every build, so that a query reads postings only.

A top-k search prunes the words that most chunks hold (MaxScore): their contribution is bounded, since
tf / (tf + …) < 1, by times * idf, small for a common word. The chunks are first ranked by the rarer words
alone (just enough of them to name k * DEPTH chunks), the best k * DEPTH get the common words' scores by
index lookups, and the result is kept only when no other chunk could beat its k-th score even with every
common word at its bound; otherwise the whole search runs. The answer is the same either way: only the work differs
(`python -m eval.benchmarks.scale`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from index.lexical import BM25_B, BM25_K1

__all__ = [
    "DEPTH",
    "QueryTerms",
    "add_term_counts",
    "create_terms_table",
    "ensure_terms_table",
    "query_terms",
    "scores_of",
    "top_k",
]

# How many candidates the rare words pick, as a multiple of k (more: the bound holds more often, at more lookups).
DEPTH = 8


@dataclass(frozen=True)
class QueryTerms:
    """The query's words found in the index, with how often the query says each, and their statistics."""

    terms: list[str]
    times: list[int]
    df: list[int]
    chunks: float  # n
    avgdl: float

    @property
    def idf(self) -> list[float]:
        return [math.log(1 + (self.chunks - df + 0.5) / (df + 0.5)) for df in self.df]

    def only(self, keep: Sequence[int]) -> QueryTerms:
        pick = list(keep)
        terms, times, df = ([values[i] for i in pick] for values in (self.terms, self.times, self.df))
        return QueryTerms(terms, times, df, self.chunks, self.avgdl)


def query_terms(conn, counts: Counter[str]) -> QueryTerms | None:
    """The statistics of the query words in the index (None when none of them is there). The document
    frequencies come from `rag_terms` when the last build kept it (its `stats` say so); an index written
    by a version without it (or whose last build was) has its postings counted instead."""
    stats = conn.execute(
        "SELECT (value->>'chunks')::float8, (value->>'tokens')::float8, coalesce((value->>'df')::bool, false) "
        "FROM rag_meta WHERE key = 'stats'"
    ).fetchone()
    if stats is None or not stats[0]:
        return None
    if stats[2]:
        sql = "SELECT term, df FROM rag_terms WHERE term = ANY(%s) AND df > 0"
    else:
        sql = "SELECT term, count(*) FROM rag_postings WHERE term = ANY(%s) GROUP BY term"
    found = dict(conn.execute(sql, (list(counts),)).fetchall())
    terms = [term for term in counts if found.get(term)]
    if not terms:
        return None
    chunks, tokens = float(stats[0]), float(stats[1])
    return QueryTerms(terms, [counts[t] for t in terms], [int(found[t]) for t in terms], chunks, tokens / chunks)


def _scores(conn, query: QueryTerms, chunks: Sequence[int] | None = None, limit: int | None = None) -> list:
    """(chunk, score) of every chunk holding a word of `query` (only `chunks`, when given), best first."""
    where = "AND p.chunk = ANY(%(chunks)s)" if chunks is not None else ""
    order = "ORDER BY 2 DESC, 1 LIMIT %(limit)s" if limit is not None else ""
    sql = f"""
        SELECT p.chunk, sum(q.times * q.idf * p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.length / %(avgdl)s)))
        FROM rag_postings p
        JOIN unnest(%(terms)s::text[], %(times)s::float8[], %(idf)s::float8[]) AS q(term, times, idf) USING (term)
        WHERE p.term = ANY(%(terms)s) {where}
        GROUP BY p.chunk {order}
    """
    params = {
        "terms": query.terms,
        "times": [float(t) for t in query.times],
        "idf": query.idf,
        "k1": BM25_K1,
        "b": BM25_B,
        "avgdl": query.avgdl,
        "chunks": list(chunks) if chunks is not None else None,
        "limit": limit,
    }
    return conn.execute(sql, params).fetchall()


def scores_of(conn, query: QueryTerms, chunks: Sequence[int]) -> list[tuple[int, float]]:
    """(chunk, score) of those of `chunks` that hold a query word (index lookups, no scan)."""
    return _scores(conn, query, chunks=chunks)


def top_k(conn, query: QueryTerms, k: int) -> tuple[list[tuple[int, float]], bool]:
    """The k best (chunk, score), best first, and whether the pruned search gave them (see the module docstring)."""
    if k <= 0:
        return [], False
    depth = k * DEPTH
    common = _common_words(query, depth)
    if not common:
        return _scores(conn, query, limit=k), False
    rare = query.only([i for i in range(len(query.terms)) if i not in common])
    ranked = _scores(conn, rare, limit=depth + 1)
    picked = ranked[:depth]
    if len(picked) >= k:
        idf = query.idf
        bound = sum(query.times[i] * idf[i] for i in common)  # the most the common words add to any chunk
        outside = ranked[depth][1] if len(ranked) > depth else 0.0  # the best rare-word score of any other chunk
        extra = dict(scores_of(conn, query.only(common), [chunk for chunk, _ in picked]))
        full = sorted(((chunk, score + extra.get(chunk, 0.0)) for chunk, score in picked), key=lambda h: (-h[1], h[0]))
        if full[k - 1][1] >= outside + bound + 1e-9:
            return full[:k], True
    return _scores(conn, query, limit=k), False


def _common_words(query: QueryTerms, candidates: int) -> list[int]:
    """The query words left to the index lookups: the most common ones, once the rarer ones alone are held by
    at least `candidates` chunks (their postings are what the first ranking reads)."""
    rare_postings = 0
    by_df = sorted(range(len(query.terms)), key=lambda i: query.df[i])
    for taken, i in enumerate(by_df):
        if rare_postings >= candidates:
            return by_df[taken:]
        rare_postings += query.df[i]
    return []


def add_term_counts(conn, counts: Counter[str], suffix: str = "", sign: int = 1) -> None:
    """Add (`sign` -1: take away) document frequencies to `rag_terms`: `counts` maps a term to the number
    of chunks, inserted (or deleted), that hold it."""
    if not counts:
        return
    table = f"rag_terms{suffix}"
    conn.execute(
        f"INSERT INTO {table} (term, df) SELECT * FROM unnest(%s::text[], %s::int[]) "
        f"ON CONFLICT (term) DO UPDATE SET df = {table}.df + EXCLUDED.df",
        ([t.replace("\x00", " ") for t in counts], [sign * n for n in counts.values()]),
    )


def ensure_terms_table(conn) -> None:
    """Before an update in place: an index whose last build did not keep `rag_terms` (written by a version
    without it, which leaves the table missing or stale) gets it anew, counted from its postings."""
    kept = conn.execute("SELECT coalesce((value->>'df')::bool, false) FROM rag_meta WHERE key = 'stats'").fetchone()
    if kept is None or not kept[0]:
        conn.execute("DROP TABLE IF EXISTS rag_terms")
        create_terms_table(conn)
        conn.execute("INSERT INTO rag_terms SELECT term, count(*) FROM rag_postings GROUP BY term")


def create_terms_table(conn, suffix: str = "") -> None:
    """Each term's document frequency, kept by every insert and delete of postings (`add_term_counts`)."""
    conn.execute(f"CREATE TABLE rag_terms{suffix} (term text PRIMARY KEY, df int NOT NULL)")
