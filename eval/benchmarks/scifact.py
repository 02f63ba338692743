"""SciFact (BEIR): document retrieval quality of the real index and retriever.

Every abstract becomes one `.txt` document (title, blank line, text; the doc id
is the BEIR `_id`), indexed with `index.build_index` and the default model.
Each test claim is ranked with `rag.retriever.HybridRetriever`; a document's
score is the best score of its chunks. Reported per mode (dense, BM25, hybrid
convex, hybrid RRF): nDCG@10 (graded qrels, log2 discount, as in BEIR /
trec_eval) and recall@100, beside published numbers for the same model.

    python -m eval.benchmarks.scifact --data /work/shared/data/scifact
    python -m eval.benchmarks.scifact --data /work/shared/data/scifact --scorer DIR [--corpus-limit N]

With `--scorer DIR` the retrieval embedder is EmbeddingGemma-300M (the folder
`scripts/fetch_scorer.sh` prints; claims get its query prompt, abstracts its
document prompt) and only the four main modes run, at the default chunk size.
`--corpus-limit N` indexes a subset: every abstract judged for the evaluated
claims plus N others drawn at random (seed 0), so a slow model finishes on 2
cores; nDCG on a subset is higher than on the full corpus and compares only with
another model on the same subset (run it again without `--scorer`).

nDCG@10 is measured on the retriever's own candidate pool (`candidates` chunks
per retriever, as the engine does); recall@100 on a deeper list of
RECALL_DEPTH chunks with the same settings, so that it sees 100 documents.
The parameter sweep that chose the defaults is `eval.benchmarks.scifact_tune`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from eval.benchmarks.common import default_out, table, write_json
from index.builder import DEFAULT_CHUNK_SIZE
from index.embedder import Embedder, EmbeddingGemmaEmbedder, SentenceTransformerEmbedder
from index.store import IndexData

__all__ = [
    "PUBLISHED",
    "RECALL_DEPTH",
    "Benchmark",
    "document_ranking",
    "evaluate",
    "load_benchmark",
    "main",
    "ndcg_at_k",
    "open_index",
    "recall_at_k",
    "run",
]

from eval.benchmarks.scifact_data import (
    MODES,
    PUBLISHED,
    RECALL_DEPTH,
    Benchmark,
    corpus_subset,
    document_ranking,
    embed_queries,
    evaluate,
    load_benchmark,
    ndcg_at_k,
    open_index,
    recall_at_k,
)


def run(
    data_dir: Path,
    work_dir: Path,
    limit: int | None = None,
    scorer: Path | None = None,
    corpus_limit: int | None = None,
) -> dict:
    """Index SciFact, rank the test claims in every mode, return the numbers."""
    from eval.benchmarks.scifact_tune import TUNED, TuningConfig  # the sweep's winners, measured again here

    benchmark = load_benchmark(data_dir, "test")
    qrels = dict(list(benchmark.qrels.items())[:limit]) if limit else benchmark.qrels
    if corpus_limit is not None:
        benchmark = corpus_subset(benchmark, qrels, corpus_limit)
        work_dir = work_dir / f"subset-{corpus_limit}"
    embedder: Embedder = EmbeddingGemmaEmbedder(scorer) if scorer else SentenceTransformerEmbedder()
    if scorer:
        work_dir = work_dir / "embeddinggemma"  # its own documents' index: the manifest names the model
    modes = {name: TuningConfig(chunk_size=DEFAULT_CHUNK_SIZE, retrieval=settings) for name, settings in MODES.items()}
    if not scorer and corpus_limit is None:
        modes.update({f"tuned, {unit} BM25: {config.label}": config for unit, config in TUNED.items()})
    vectors = embed_queries(embedder, benchmark.queries, list(qrels))
    indexes: dict[int, IndexData] = {}
    results: dict[str, dict] = {}
    for name, config in modes.items():
        if config.chunk_size not in indexes:
            indexes[config.chunk_size] = open_index(benchmark, work_dir, embedder, config.chunk_size)
        data = config.apply_lexical(indexes[config.chunk_size])
        results[name] = evaluate(data, config.retrieval, benchmark.queries, vectors, qrels)
        results[name].update(chunk_size=config.chunk_size, config=asdict(config))
        print(f"{name}: {results[name]['ndcg@10']:.4f}")
    return {
        "split": "test",
        "model": embedder.name,
        "documents": len(benchmark.corpus),
        "modes": results,
        "published": PUBLISHED if corpus_limit is None else {},
    }


def report_table(result: dict) -> str:
    rows = [
        [name, r["chunk_size"], f"{r['ndcg@10']:.3f}", f"{r['recall@100']:.3f}"] for name, r in result["modes"].items()
    ]
    rows += [[f"published: {name}", "", f"{score:.3f}", ""] for name, score in result["published"].items()]
    claims = next(iter(result["modes"].values()))["queries"] if result["modes"] else 0
    documents = result.get("documents", "all")
    title = f"SciFact test ({claims} claims, {documents} abstracts, {result['model']})"
    return table([title, "chunk tokens", "nDCG@10", "recall@100"], rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the BEIR scifact folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-scifact"), help="documents and indexes")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test queries")
    parser.add_argument("--scorer", type=Path, default=None, help="EmbeddingGemma folder: use it as the embedder")
    parser.add_argument("--corpus-limit", type=int, default=None, help="judged abstracts plus N random others")
    parser.add_argument("--out", type=Path, default=default_out("scifact"))
    args = parser.parse_args(argv)
    result = run(args.data, args.work, args.limit, args.scorer, args.corpus_limit)
    print(report_table(result))
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
