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
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from eval.benchmarks.common import default_out, table, write_json
from index.builder import DEFAULT_CHUNK_SIZE, build_index
from index.embedder import Embedder, EmbeddingGemmaEmbedder, SentenceTransformerEmbedder
from index.embedder import embed_queries as embed_question_texts
from index.store import IndexData, read_index
from rag.retriever import HybridRetriever, RetrievalSettings

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

RECALL_DEPTH = 1000  # chunks ranked for recall@100 (about 400 distinct abstracts)

# nDCG@10 on the SciFact test set reported elsewhere, for comparison.
PUBLISHED = {
    "BM25 (BEIR paper, Elasticsearch)": 0.665,
    "BM25 (bm25s, Lucene variant)": 0.687,
    "all-MiniLM-L6-v2 dense (MTEB)": 0.645,
    "plain RRF of bm25s + MiniLM (measured elsewhere)": 0.690,
}

# The modes of the main table: name -> settings (the tuned one is added by `run`).
MODES = {
    "dense": RetrievalSettings(mode="dense"),
    "bm25": RetrievalSettings(mode="lexical"),
    "hybrid (default settings)": RetrievalSettings(),
    "hybrid rrf k=60": RetrievalSettings(fusion="rrf", rrf_k=60),
}


# -- metrics -------------------------------------------------------------------


def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with linear gains and a log2 discount (trec_eval's `ndcg_cut`, used by BEIR).

    DCG = sum over the top k of rel_i / log2(i + 1), i counting from 1; the ideal
    DCG sorts all judged grades. A query without relevant documents scores 0.
    """
    dcg = sum(relevance.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents (grade > 0) found in the top k."""
    relevant = {doc for doc, grade in relevance.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def document_ranking(chunk_doc_ids: Sequence[str]) -> list[str]:
    """Documents in order of their best chunk, given chunk doc ids best first."""
    return list(dict.fromkeys(chunk_doc_ids))


# -- data ------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    corpus: list[dict]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade, for one split


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as rows:
        return [json.loads(line) for line in rows if line.strip()]


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """A BEIR qrels TSV (header `query-id corpus-id score`)."""
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            query, doc, grade = line.split("\t")
            qrels.setdefault(query, {})[doc] = int(grade)
    return qrels


def load_benchmark(data_dir: Path, split: str = "test") -> Benchmark:
    corpus = _read_jsonl(data_dir / "corpus.jsonl")
    queries = {row["_id"]: row["text"] for row in _read_jsonl(data_dir / "queries.jsonl")}
    return Benchmark(corpus, queries, load_qrels(data_dir / "qrels" / f"{split}.tsv"))


def write_documents(corpus: Sequence[dict], folder: Path) -> Path:
    """One `<_id>.txt` per abstract (title, blank line, text); unchanged files are left alone."""
    folder.mkdir(parents=True, exist_ok=True)
    for row in corpus:
        path = folder / f"{row['_id']}.txt"
        text = f"{row['title']}\n\n{row['text']}"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder


def open_index(
    benchmark: Benchmark, work_dir: Path, embedder: Embedder, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> IndexData:
    """Build (or reuse: the build is incremental) the index for one chunk size."""
    docs = write_documents(benchmark.corpus, work_dir / "docs")
    index_dir = work_dir / f"index-{chunk_size}"
    summary = build_index([docs], index_dir, embedder, chunk_size=chunk_size, progress=True)
    print(f"index {index_dir}: {summary.chunks} chunks, {summary.embedded} embedded in {summary.seconds:.0f}s")
    return read_index(index_dir)


# -- evaluation ------------------------------------------------------------------


def rank_documents(retriever: HybridRetriever, query: str, vector: np.ndarray, depth: int) -> list[str]:
    """Documents best first from the top `depth` fused chunks."""
    chunks = retriever.data.chunks
    ranked = retriever.rank(query, vector, limit=depth)
    return document_ranking([chunks[hit.row].doc_id for hit in ranked])


def evaluate(
    data: IndexData,
    settings: RetrievalSettings,
    queries: Mapping[str, str],
    vectors: Mapping[str, np.ndarray],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    recall: bool = True,
) -> dict[str, float]:
    """Mean nDCG@10 (and recall@100) over the queries that have qrels."""
    retriever = HybridRetriever(data, settings)
    deep = HybridRetriever(data, replace(settings, candidates=max(settings.candidates, RECALL_DEPTH)))
    ndcgs: list[float] = []
    recalls: list[float] = []
    started = time.perf_counter()
    for query_id, relevance in qrels.items():
        query, vector = queries[query_id], vectors[query_id]
        ndcgs.append(ndcg_at_k(rank_documents(retriever, query, vector, settings.candidates), relevance))
        if recall:
            recalls.append(recall_at_k(rank_documents(deep, query, vector, RECALL_DEPTH), relevance))
    result = {"ndcg@10": round(float(np.mean(ndcgs)), 4), "queries": len(ndcgs)}
    if recall:
        result["recall@100"] = round(float(np.mean(recalls)), 4)
    result["ms_per_query"] = round((time.perf_counter() - started) * 1000 / max(1, len(ndcgs)), 2)
    return result


def embed_queries(embedder: Embedder, queries: Mapping[str, str], ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Claim vectors (with the query prompt, for a model that has one)."""
    vectors = embed_question_texts(embedder, [queries[i] for i in ids])
    return dict(zip(ids, vectors, strict=True))


def corpus_subset(
    benchmark: Benchmark, qrels: Mapping[str, Mapping[str, int]], others: int, seed: int = 0
) -> Benchmark:
    """Every abstract judged for `qrels`' claims plus `others` more drawn at random."""
    judged = {doc for relevance in qrels.values() for doc in relevance}
    rest = [row for row in benchmark.corpus if row["_id"] not in judged]
    picked = {rest[i]["_id"] for i in np.random.default_rng(seed).permutation(len(rest))[:others]}
    corpus = [row for row in benchmark.corpus if row["_id"] in judged or row["_id"] in picked]
    return Benchmark(corpus, benchmark.queries, dict(qrels))


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
