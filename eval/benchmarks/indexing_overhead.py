"""Indexing overhead: the whole pipeline against the bare model encode.

For each corpus (the default corpus, and SciFact's 5,183 abstracts when
`--scifact` is given) the real pipeline (`index.build_index`: load, clean,
sentences, chunks, embed, FAISS, BM25, write) builds a fresh index, and the
same model object encodes the same chunk texts with plain
`SentenceTransformer.encode(batch_size=64, normalize_embeddings=True)`. The two
alternate (raw, pipeline, raw, pipeline, ...) and the fastest of each is kept,
which damps the noise of a shared machine. Overhead = pipeline / raw - 1, on
wall time and on this process's CPU time (which other processes on the
machine disturb less); the goal is at most 10%.

    python -m eval.benchmarks.indexing_overhead [--scifact /work/shared/data/scifact]
    python -m eval.benchmarks.indexing_speed --scifact /work/shared/data/scifact   # the same (the older command)

(`python -m eval.benchmarks.indexing_speed` without --scifact compares the embedding backends.)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from eval.benchmarks.common import default_out, table, write_json
from index.builder import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, build_index
from index.chunker import Chunker
from index.embedder import SentenceTransformerEmbedder
from index.loaders import load_documents
from index.paths import DEFAULT_CORPUS
from index.store import read_index

__all__ = ["chunk_texts", "main", "measure", "run"]


def chunk_texts(folder: Path, embedder: SentenceTransformerEmbedder) -> tuple[list[str], float]:
    """The chunk texts the pipeline will embed, and the seconds loading + chunking took."""
    started = time.perf_counter()
    size = min(DEFAULT_CHUNK_SIZE, embedder.max_tokens)
    chunker = Chunker(embedder.count_tokens, size, min(DEFAULT_CHUNK_OVERLAP, size // 2))
    texts = [chunk.text for doc in load_documents([folder]).documents for chunk in chunker.chunk(doc)]
    return texts, time.perf_counter() - started


def _raw_encode(embedder: SentenceTransformerEmbedder, texts: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of the bare encode."""
    wall, cpu = time.perf_counter(), time.process_time()
    embedder.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return time.perf_counter() - wall, time.process_time() - cpu


def _pipeline(embedder: SentenceTransformerEmbedder, folder: Path, index_dir: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of a full build, and its chunk count."""
    wall, cpu = time.perf_counter(), time.process_time()
    summary = build_index([folder], index_dir, embedder, rebuild=True)
    return time.perf_counter() - wall, time.process_time() - cpu, summary.chunks


def measure(name: str, folder: Path, embedder: SentenceTransformerEmbedder, rounds: int, scratch: Path) -> dict:
    texts, chunking = chunk_texts(folder, embedder)
    raw: list[tuple[float, float]] = []
    pipeline: list[tuple[float, float]] = []
    for round_ in range(rounds):
        raw.append(_raw_encode(embedder, texts))
        wall, cpu, chunks = _pipeline(embedder, folder, scratch / f"{name}-{round_}")
        pipeline.append((wall, cpu))
        if chunks != len(texts):
            raise AssertionError(f"the pipeline made {chunks} chunks, the chunker {len(texts)}")
        print(f"{name} round {round_ + 1}: raw encode {raw[-1][0]:.1f}s wall / {raw[-1][1]:.1f}s cpu, ", end="")
        print(f"pipeline {wall:.1f}s wall / {cpu:.1f}s cpu", flush=True)
    documents = len(read_index(scratch / f"{name}-0").documents)
    best_raw, best_pipeline = min(w for w, _ in raw), min(w for w, _ in pipeline)
    cpu_raw, cpu_pipeline = min(c for _, c in raw), min(c for _, c in pipeline)
    return {
        "documents": documents,
        "chunks": len(texts),
        "raw_encode_s": [round(w, 2) for w, _ in raw],
        "pipeline_s": [round(w, 2) for w, _ in pipeline],
        "raw_encode_cpu_s": [round(c, 2) for _, c in raw],
        "pipeline_cpu_s": [round(c, 2) for _, c in pipeline],
        "load_and_chunk_s": round(chunking, 2),
        "raw_chunks_per_s": round(len(texts) / best_raw, 1),
        "pipeline_chunks_per_s": round(len(texts) / best_pipeline, 1),
        "overhead": round(best_pipeline / best_raw - 1, 4),
        # CPU time of this process: less disturbed than wall time by other work on the machine.
        "overhead_cpu": round(cpu_pipeline / cpu_raw - 1, 4),
    }


def run(scifact: Path | None = None, rounds: int = 2) -> dict:
    from eval.benchmarks.scifact_data import load_benchmark, write_documents

    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm-up: load the model and its kernels"])
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="rag-speed-") as tmp:
        scratch = Path(tmp)
        corpora = {"default corpus": DEFAULT_CORPUS}
        if scifact is not None:
            corpora["scifact"] = write_documents(load_benchmark(scifact).corpus, scratch / "scifact-docs")
        for name, folder in corpora.items():
            results[name] = measure(name.replace(" ", "-"), folder, embedder, rounds, scratch)
    return {"model": embedder.name, "batch_size": embedder.batch_size, "rounds": rounds, "corpora": results}


def report_table(result: dict) -> str:
    rows = [
        [
            name,
            r["documents"],
            r["chunks"],
            f"{min(r['raw_encode_s']):.1f}",
            f"{min(r['pipeline_s']):.1f}",
            r["raw_chunks_per_s"],
            r["pipeline_chunks_per_s"],
            f"{r['overhead']:+.1%}",
            f"{r['overhead_cpu']:+.1%}",
        ]
        for name, r in result["corpora"].items()
    ]
    headers = ["corpus", "docs", "chunks", "raw encode s", "pipeline s"]
    headers += ["raw chunks/s", "pipeline chunks/s", "overhead (wall)", "overhead (cpu)"]
    return table(headers, rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", type=Path, default=None, help="the BEIR scifact folder (optional)")
    parser.add_argument("--rounds", type=int, default=2, help="raw/pipeline pairs; the fastest of each counts")
    parser.add_argument("--out", type=Path, default=default_out("indexing_overhead"))
    args = parser.parse_args(argv)
    result = run(args.scifact, args.rounds)
    print(report_table(result))
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
