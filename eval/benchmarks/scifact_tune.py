"""Tune retrieval on SciFact: choose on the TRAIN claims, report TEST beside them.

    python -m eval.benchmarks.scifact_tune --data /work/shared/data/scifact

Swept, in stages, for each of three lexical units (each stage starts from the
best train nDCG@10 of the stage before):

1. BM25 alone: chunk size (128 / 254 tokens), k1, b;
2. dense alone per chunk size (once, whatever the lexical unit);
3. hybrid: convex alpha 0.3..0.8 and RRF k, per chunk size;
4. the number of candidates per retriever;
5. BM25 k1/b again, now inside the best hybrid, then alpha (or k) once more.

The lexical units: each chunk as indexed (what the product does now); each
chunk with its document's title added (the title is otherwise only in the
first chunk); the whole abstract, its score given to every chunk (with
"document score = best chunk", that is the best dense chunk fused with the
lexical score of the whole document; it ranks alike for every chunk size, so
its BM25-alone grid is run once).

Every configuration tried is recorded with its train (nDCG@10 only: recall
would double the time and does not select) and test numbers in the JSON
report. Nothing here knows about particular claims or documents: the winner
is whatever scores best on train. TUNED holds the winners, written down after
the last run so that `eval.benchmarks.scifact` measures them again.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from eval.benchmarks.common import default_out, table, write_json
from eval.benchmarks.scifact_data import RECALL_DEPTH, embed_queries, evaluate, load_benchmark, load_qrels, open_index
from index.embedder import SentenceTransformerEmbedder
from index.lexical import BM25_B, BM25_K1, LexicalIndex
from index.store import IndexData
from index.text import tokenize
from index.vector_store import VectorStore
from rag.retriever import RetrievalSettings

__all__ = ["TUNED", "DocumentLexical", "TuningConfig", "main", "sweep"]

CHUNK_SIZES = (128, 254)
K1_VALUES = (0.9, 1.2, 1.5)
B_VALUES = (0.4, 0.6, 0.75, 0.9)
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
RRF_KS = (10, 20, 40, 60, 100)
CANDIDATES = (20, 50, 100, 200, 400)


@dataclass(frozen=True)
class TuningConfig:
    chunk_size: int = 128
    k1: float = BM25_K1
    b: float = BM25_B
    doc_lexical: bool = False  # BM25 on the whole abstract instead of on each chunk
    title_in_chunks: bool = False  # BM25 on each chunk with its document's title added
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)

    @property
    def label(self) -> str:
        r = self.retrieval
        if r.mode != "hybrid":
            how = r.mode
        elif r.fusion == "rrf":
            how = f"rrf k={r.rrf_k}"
        else:
            how = f"convex a={r.alpha}"
        unit = "doc-bm25" if self.doc_lexical else "titled-chunk-bm25" if self.title_in_chunks else "chunk-bm25"
        return f"{how}, {self.chunk_size}t, {unit} k1={self.k1} b={self.b}, cand={r.candidates}"

    def apply_lexical(self, data: IndexData, tokens: Tokens | None = None) -> IndexData:
        """The index with this config's BM25 (rebuilt: k1/b are fixed at build time)."""
        tokens = tokens or Tokens(data)
        if self.doc_lexical:
            return replace(data, lexical=DocumentLexical(data, tokens, self.k1, self.b))
        if self.title_in_chunks:
            return replace(data, lexical=bm25(tokens.titled_chunks, self.k1, self.b))
        if (self.k1, self.b) == (BM25_K1, BM25_B):
            return data
        return replace(data, lexical=bm25(tokens.chunks, self.k1, self.b))


class Tokens:
    """The lexical tokens of an index's chunks and documents, made once (tokenizing is most of a BM25 build)."""

    def __init__(self, data: IndexData) -> None:
        self.chunks = [tokenize(c.text) for c in data.chunks]
        titles = {doc.id: tokenize(doc.title) for doc in data.documents.values()}
        # The title is added to every chunk but the one that already starts with it.
        self.titled_chunks = [
            tokens if c.text.startswith(data.documents[c.doc_id].title) else titles[c.doc_id] + tokens
            for c, tokens in zip(data.chunks, self.chunks, strict=True)
        ]
        self.doc_ids = list(data.documents)
        self.documents = [tokenize(data.documents[i].text) for i in self.doc_ids]


def bm25(tokens: Sequence[list[str]], k1: float, b: float) -> LexicalIndex:
    """What `LexicalIndex.build` makes, from tokens already made."""
    import bm25s

    retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
    retriever.index([t or [""] for t in tokens], show_progress=False)
    return LexicalIndex(retriever, len(tokens))


class DocumentLexical:
    """BM25 over whole documents; every chunk gets its document's score.

    With "document score = best chunk", a document then ranks by its best dense
    chunk fused with the lexical score of the whole abstract (title included).
    """

    def __init__(self, data: IndexData, tokens: Tokens, k1: float, b: float) -> None:
        self._index = bm25(tokens.documents, k1, b)
        position = {doc_id: i for i, doc_id in enumerate(tokens.doc_ids)}
        self._rows = np.array([position[c.doc_id] for c in data.chunks], dtype=np.int64)
        self.size = len(data.chunks)

    def scores(self, query: str) -> np.ndarray:
        return self._index.scores(query)[self._rows]


class PrecomputedDense:
    """The exact top hits of the benchmark's query vectors, searched once.

    A flat FAISS search is most of a ranking's time, and it is the same for every
    configuration of one chunk size, so the sweep asks FAISS once per query.
    """

    def __init__(self, store: VectorStore, vectors: Iterable[np.ndarray], depth: int) -> None:
        self._store = store
        self._depth = depth
        self._hits = {_key(v): store.search(v, depth) for v in vectors}

    def __len__(self) -> int:
        return len(self._store)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        hits = self._hits.get(_key(query))
        if hits is None or k > self._depth:
            return self._store.search(query, k)
        return hits[0][:k], hits[1][:k]


def _key(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


# The winners of the last sweep on the train claims, per lexical unit (see docs/benchmarks.md).
TUNED: dict[str, TuningConfig] = {
    "chunk": TuningConfig(chunk_size=128, k1=1.2, b=0.4, retrieval=RetrievalSettings(alpha=0.7)),
    "titled chunk": TuningConfig(
        chunk_size=128, k1=0.9, b=0.75, title_in_chunks=True, retrieval=RetrievalSettings(alpha=0.6, candidates=50)
    ),
    "whole abstract": TuningConfig(
        chunk_size=128, k1=0.9, b=0.9, doc_lexical=True, retrieval=RetrievalSettings(alpha=0.6)
    ),
}


class Sweep:
    """Evaluates configurations on train and test, keeping every record."""

    def __init__(self, data_dir: Path, work_dir: Path) -> None:
        benchmark = load_benchmark(data_dir, "test")
        self.benchmark = benchmark
        self.splits = {"train": load_qrels(data_dir / "qrels" / "train.tsv"), "test": benchmark.qrels}
        self.embedder = SentenceTransformerEmbedder()
        ids = sorted({q for qrels in self.splits.values() for q in qrels})
        self.vectors = embed_queries(self.embedder, benchmark.queries, ids)
        self.work_dir = work_dir
        self._indexes: dict[int, IndexData] = {}
        self._tokens: dict[int, Tokens] = {}
        self._lexical: dict[tuple[int, float, float, bool, bool], IndexData] = {}
        self.records: list[dict] = []

    def data(self, config: TuningConfig) -> IndexData:
        key = (config.chunk_size, config.k1, config.b, config.doc_lexical, config.title_in_chunks)
        if key not in self._lexical:
            if config.chunk_size not in self._indexes:
                data = open_index(self.benchmark, self.work_dir, self.embedder, config.chunk_size)
                dense = PrecomputedDense(data.dense, self.vectors.values(), RECALL_DEPTH)
                self._indexes[config.chunk_size] = replace(data, dense=dense)
                self._tokens[config.chunk_size] = Tokens(data)
            data = self._indexes[config.chunk_size]
            self._lexical[key] = config.apply_lexical(data, self._tokens[config.chunk_size])
        return self._lexical[key]

    def measure(self, stage: str, config: TuningConfig) -> dict:
        config = canonical(config)
        for record in self.records:
            if record["config"] == config:  # already measured in an earlier stage
                return record
        data = self.data(config)
        record = {"stage": stage, "label": config.label, "config": config}
        for split, qrels in self.splits.items():
            # Recall on train would double the sweep's time and is not what selects.
            recall = split == "test"
            record[split] = evaluate(data, config.retrieval, self.benchmark.queries, self.vectors, qrels, recall=recall)
        self.records.append(record)
        print(f"[{stage}] {config.label}: train {record['train']['ndcg@10']:.4f} test {record['test']['ndcg@10']:.4f}")
        return record

    def best(self, configs: Iterable[TuningConfig], stage: str) -> TuningConfig:
        records = [self.measure(stage, c) for c in configs]
        return max(records, key=lambda r: r["train"]["ndcg@10"])["config"]


def canonical(config: TuningConfig) -> TuningConfig:
    """Settings the fusion ignores set to their defaults, so equal rankings are equal configs."""
    default, r = RetrievalSettings(), config.retrieval
    if r.mode != "hybrid":
        return _with(config, fusion=default.fusion, alpha=default.alpha, rrf_k=default.rrf_k)
    if r.fusion == "rrf":
        return _with(config, alpha=default.alpha)
    return _with(config, rrf_k=default.rrf_k)


def config_from_json(raw: dict) -> TuningConfig:
    return TuningConfig(**{**raw, "retrieval": RetrievalSettings(**raw["retrieval"])})


def _with(config: TuningConfig, **retrieval: object) -> TuningConfig:
    return replace(config, retrieval=replace(config.retrieval, **retrieval))


def _fusions(base: TuningConfig) -> list[TuningConfig]:
    convex = [_with(base, mode="hybrid", fusion="convex", alpha=a) for a in ALPHAS]
    return [canonical(c) for c in convex + [_with(base, mode="hybrid", fusion="rrf", rrf_k=k) for k in RRF_KS]]


def _bm25_grid(base: TuningConfig) -> list[TuningConfig]:
    return [replace(base, k1=k1, b=b) for k1 in K1_VALUES for b in B_VALUES]


UNITS: dict[str, dict[str, bool]] = {
    "chunk": {},
    "titled chunk": {"title_in_chunks": True},
    "whole abstract": {"doc_lexical": True},
}


def tune_unit(s: Sweep, unit: dict[str, bool]) -> TuningConfig:
    """Stages 1, 3, 4, 5 for one lexical unit; returns its best configuration on train."""
    lexical = RetrievalSettings(mode="lexical")
    seeds: list[TuningConfig] = []
    for size in CHUNK_SIZES:
        if unit.get("doc_lexical") and seeds:  # whole-abstract BM25 ranks alike for every chunk size
            seeds.append(replace(seeds[0], chunk_size=size))
        else:
            seeds.append(s.best(_bm25_grid(TuningConfig(chunk_size=size, retrieval=lexical, **unit)), "1 bm25"))
    best = s.best([s.best(_fusions(seed), "3 fusion") for seed in seeds], "3 fusion")
    best = s.best([_with(best, candidates=n) for n in CANDIDATES], "4 candidates")
    best = s.best(_bm25_grid(best), "5 bm25 in hybrid")
    return s.best([c for c in _fusions(best) if c.retrieval.fusion == best.retrieval.fusion], "5 refit")


def sweep(s: Sweep) -> dict[str, TuningConfig]:
    """All stages for every lexical unit: the best configuration on train of each."""
    for size in CHUNK_SIZES:
        s.measure("2 dense", TuningConfig(chunk_size=size, retrieval=RetrievalSettings(mode="dense")))
    return {name: tune_unit(s, unit) for name, unit in UNITS.items()}


def _row(record: dict) -> list[object]:
    train, test = record["train"], record["test"]
    return [
        record["stage"],
        record["label"],
        f"{train['ndcg@10']:.4f}",
        f"{test['ndcg@10']:.4f}",
        f"{test['recall@100']:.3f}",
    ]


def report_table(records: Sequence[dict]) -> str:
    headers = ["stage", "configuration", "train nDCG@10", "test nDCG@10", "test R@100"]
    return table(headers, [_row(r) for r in records])


def resume(s: Sweep, path: Path) -> None:
    """Take the measurements of an earlier run as already made (same data, same index)."""
    if not path.is_file():
        return
    for record in json.loads(path.read_text(encoding="utf-8"))["records"]:
        config = canonical(config_from_json(record["config"]))
        if all(r["config"] != config for r in s.records):
            s.records.append({**record, "label": config.label, "config": config})
    print(f"resumed {len(s.records)} measured configurations from {path}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the BEIR scifact folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-scifact"), help="documents and indexes")
    parser.add_argument("--out", type=Path, default=default_out("scifact_tuning"))
    parser.add_argument("--resume", action="store_true", help="reuse the measurements already in --out")
    args = parser.parse_args(argv)
    s = Sweep(args.data, args.work)
    if args.resume:
        resume(s, args.out)
    winners = sweep(s)
    print(report_table(s.records))
    best = max(winners.values(), key=lambda c: s.measure("", c)["train"]["ndcg@10"])
    for unit, config in winners.items():
        record = s.measure("", config)
        print(f"best with {unit} BM25: {config.label}: train {record['train']['ndcg@10']:.4f}, ", end="")
        print(f"test {record['test']['ndcg@10']:.4f}")
    records = [{**r, "config": asdict(r["config"])} for r in s.records]
    result = {
        "best": asdict(best),
        "best_label": best.label,
        "best_per_unit": {unit: asdict(c) for unit, c in winners.items()},
        "records": records,
    }
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
