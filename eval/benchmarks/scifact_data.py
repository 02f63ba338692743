"""SciFact's data and measures, shared by the benchmark (`eval.benchmarks.scifact`) and the sweep that
tuned it (`eval.benchmarks.scifact_tune`): loading, indexing, ranking, nDCG@10 and recall@100."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.builder import DEFAULT_CHUNK_SIZE, build_index
from index.embedder import Embedder
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
    "ndcg_at_k",
    "open_index",
    "recall_at_k",
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
