"""Indexing speed: embedding backends side by side in one run, chunks/s and SciFact nDCG@10.

    python -m eval.benchmarks.indexing_speed [--data /work/shared/data/scifact] [--limit N]

The SciFact abstracts are chunked as `rag index` chunks them, and the same chunk
texts are embedded four ways:

- torch encode:      plain `SentenceTransformer.encode(batch_size=64, normalize_embeddings=True)`
                     on the texts in corpus order (it sorts each call's texts by characters itself);
- torch + length:    the same model through `SentenceTransformerEmbedder`, each slice's texts sorted by
                     token length and embedded 64 at a time (what `rag index --embed-backend torch` does);
- onnx:              ONNX Runtime, fp32 (`--embed-backend onnx`), by token length;
- onnx-int8:         ONNX Runtime, int8 dynamic quantization (`--embed-backend onnx-int8`), by length.

The machine is shared, so the four take turns: the texts are cut into `--rounds` slices, and in
every round each way embeds its next slice, in an order that rotates. Chunks/s and the ratio to
plain encode are computed on the summed wall time and on this process's CPU time (less disturbed
by other work; the four run in this one process, one after another). Then each way's vectors are
built into a real index (`build_index`, with an embedder that hands back those vectors) and the
SciFact test claims, embedded by the same backend, are ranked by the default hybrid retriever
and by dense search alone: nDCG@10 as `python -m eval.benchmarks.scifact` computes it.

`--limit N`: only the first N test claims, the abstracts judged for them and N others.
`--questions`: instead, the query side: one question, and 12 sentences (what evidence scoring
embeds), per backend, interleaved, p50/p95 milliseconds over `--repeat` turns.
`--scifact DIR` runs the older pipeline-overhead measurement instead (eval.benchmarks.indexing_overhead).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.benchmarks.common import default_out, table, write_json
from index.batching import length_batches
from index.builder import build_index
from index.embedder import SentenceTransformerEmbedder
from index.onnx_embedder import OnnxEmbedder
from index.store import read_index
from rag.retriever import RetrievalSettings

__all__ = ["WAYS", "main", "run"]

WAYS = ("torch encode", "torch + length", "onnx", "onnx-int8")
BACKEND = {"torch encode": "torch", "torch + length": "torch", "onnx": "onnx", "onnx-int8": "onnx-int8"}
DEFAULT_DATA = Path("/work/shared/data/scifact")


@dataclass
class _Way:
    """One way of embedding: what it calls and what it measured."""

    name: str
    embed: Callable[[list[str]], np.ndarray]
    wall: float = 0.0
    cpu: float = 0.0
    vectors: np.ndarray | None = None

    def run_slice(self, texts: Sequence[str], rows: list[int]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = self.embed([texts[row] for row in rows])
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        if self.vectors is None:
            self.vectors = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        self.vectors[rows] = vectors


class _Precomputed:
    """Hands back vectors made earlier, by text, so `build_index` makes a real index from them."""

    def __init__(self, model: SentenceTransformerEmbedder, backend: str, texts: Sequence[str], vectors: np.ndarray):
        self.name, self.backend, self._model = model.name, backend, model
        self._vectors = dict(zip(texts, vectors, strict=True))

    @property
    def dimension(self) -> int:
        return self._model.dimension

    @property
    def max_tokens(self) -> int:
        return self._model.max_tokens

    def count_tokens(self, text: str) -> int:
        return self._model.count_tokens(text)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return np.vstack([self._vectors[text] for text in texts])


def _by_length(embedder, batch_size: int = 64) -> Callable[[list[str]], np.ndarray]:
    """Embed in batches of similar token length, vectors back in the order given."""

    def embed(texts: list[str]) -> np.ndarray:
        lengths = [embedder.count_tokens(text) for text in texts]
        out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        for rows in length_batches(lengths, batch_size):
            out[rows] = embedder.embed([texts[row] for row in rows])
        return out

    return embed


def _ways(torch_model: SentenceTransformerEmbedder, onnx: OnnxEmbedder, int8: OnnxEmbedder) -> list[_Way]:
    def plain(batch: list[str]) -> np.ndarray:
        return torch_model.model.encode(batch, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)

    return [
        _Way("torch encode", plain),
        _Way("torch + length", _by_length(torch_model)),
        _Way("onnx", _by_length(onnx)),
        _Way("onnx-int8", _by_length(int8)),
    ]


def measure_speed(ways: list[_Way], texts: list[str], rounds: int) -> None:
    """Every way embeds every text once: in each of `rounds` rounds all ways embed the same slice of the texts
    (in corpus order; the length-batching ways sort it themselves), taking turns in an order that rotates."""
    size = -(-len(texts) // rounds)
    for round_ in range(rounds):
        rows = list(range(round_ * size, min(len(texts), (round_ + 1) * size)))
        turn = ways[round_ % len(ways) :] + ways[: round_ % len(ways)]
        for way in turn:
            way.run_slice(texts, rows)
        elapsed = ", ".join(f"{w.name} {w.wall:.0f}s" for w in ways)
        print(f"round {round_ + 1}/{rounds}: {elapsed}", flush=True)


def _quality(way: _Way, embedder, model, texts, docs: Path, scratch: Path, benchmark, qrels) -> dict[str, float]:
    from eval.benchmarks.scifact_data import embed_queries, evaluate

    index_dir = scratch / way.name.replace(" ", "-").replace("+", "and")
    build_index([docs], index_dir, _Precomputed(model, BACKEND[way.name], texts, way.vectors))
    data = read_index(index_dir)
    queries = embed_queries(embedder, benchmark.queries, list(qrels))
    hybrid = evaluate(data, RetrievalSettings(), benchmark.queries, queries, qrels, recall=False)
    dense = evaluate(data, RetrievalSettings(mode="dense"), benchmark.queries, queries, qrels, recall=False)
    return {"ndcg@10": hybrid["ndcg@10"], "dense ndcg@10": dense["ndcg@10"], "queries": hybrid["queries"]}


def run(data_dir: Path, limit: int | None, rounds: int) -> dict:
    from eval.benchmarks.indexing_overhead import chunk_texts
    from eval.benchmarks.scifact_data import corpus_subset, load_benchmark, write_documents

    benchmark = load_benchmark(data_dir, "test")
    qrels = dict(list(benchmark.qrels.items())[:limit]) if limit else benchmark.qrels
    if limit:
        benchmark = corpus_subset(benchmark, qrels, limit)
    torch_model, onnx, int8 = SentenceTransformerEmbedder(), OnnxEmbedder(), OnnxEmbedder(quantized=True)
    for embedder in (torch_model, onnx, int8):  # load, export or quantize before any clock starts
        embedder.embed(["warm-up: load the model and its kernels"] * 20)
    embedders = {"torch encode": torch_model, "torch + length": torch_model, "onnx": onnx, "onnx-int8": int8}
    with tempfile.TemporaryDirectory(prefix="rag-speed-") as tmp:
        scratch = Path(tmp)
        docs = write_documents(benchmark.corpus, scratch / "docs")
        texts, _ = chunk_texts(docs, torch_model)
        print(f"{len(benchmark.corpus)} abstracts, {len(texts)} chunks, {len(qrels)} claims", flush=True)
        ways = _ways(torch_model, onnx, int8)
        measure_speed(ways, texts, rounds)
        base = next(w for w in ways if w.name == "torch encode")
        results: dict[str, dict] = {}
        for way in ways:
            quality = _quality(way, embedders[way.name], torch_model, texts, docs, scratch, benchmark, qrels)
            cosines = (way.vectors * base.vectors).sum(axis=1)
            results[way.name] = {
                "wall_s": round(way.wall, 1),
                "cpu_s": round(way.cpu, 1),
                "chunks_per_s": round(len(texts) / way.wall, 1),
                "speedup_wall": round(base.wall / way.wall, 2),
                "speedup_cpu": round(base.cpu / way.cpu, 2),
                "min_cosine_to_torch": round(float(cosines.min()), 5),
                **quality,
            }
            print(f"{way.name}: {results[way.name]}", flush=True)
    return {
        "documents": len(benchmark.corpus),
        "chunks": len(texts),
        "claims": len(qrels),
        "rounds": rounds,
        "model": torch_model.name,
        "ways": results,
    }


def question_latency(repeat: int) -> dict[str, dict[str, float]]:
    """Milliseconds to embed one question and 12 sentences, per backend, the backends taking turns."""
    from eval.benchmarks.common import latency_summary

    question = ["Who was dispatched to Geneva to negotiate with Zelensky?"]
    sentences = [f"Sentence {i} says what the plan's points mean for the talks in Geneva." for i in range(12)]
    backends = {
        "torch": SentenceTransformerEmbedder(),
        "onnx": OnnxEmbedder(),
        "onnx-int8": OnnxEmbedder(quantized=True),
    }
    times: dict[str, dict[str, list[float]]] = {name: {"question": [], "12 sentences": []} for name in backends}
    for embedder in backends.values():
        embedder.embed(question)  # load and warm up
        embedder.embed(sentences)
    for _ in range(repeat):
        for name, embedder in backends.items():
            for kind, texts in (("question", question), ("12 sentences", sentences)):
                started = time.perf_counter()
                embedder.embed(texts)
                times[name][kind].append((time.perf_counter() - started) * 1000)
    return {f"{name} {kind}": latency_summary(ms) for name, kinds in times.items() for kind, ms in kinds.items()}


def report_table(result: dict) -> str:
    base = result["ways"]["torch encode"]
    rows = [
        [
            name,
            r["chunks_per_s"],
            f"{r['speedup_wall']:.2f}×",
            f"{r['speedup_cpu']:.2f}×",
            f"{r['ndcg@10']:.4f} ({r['ndcg@10'] - base['ndcg@10']:+.4f})",
            f"{r['dense ndcg@10']:.4f} ({r['dense ndcg@10'] - base['dense ndcg@10']:+.4f})",
            f"{r['min_cosine_to_torch']:.4f}",
        ]
        for name, r in result["ways"].items()
    ]
    title = f"{result['documents']} abstracts, {result['chunks']} chunks, {result['claims']} claims"
    headers = [title, "chunks/s", "vs encode (wall)", "vs encode (CPU)", "nDCG@10 hybrid", "nDCG@10 dense"]
    return table([*headers, "min cosine to torch"], rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the BEIR scifact folder")
    parser.add_argument("--limit", type=int, default=None, help="the first N test claims, their abstracts, N others")
    parser.add_argument("--rounds", type=int, default=8, help="turns the four ways take (more: fairer under load)")
    parser.add_argument("--scifact", type=Path, default=None, help="run the pipeline-overhead benchmark on this folder")
    parser.add_argument("--questions", action="store_true", help="measure query-side latency per backend instead")
    parser.add_argument("--repeat", type=int, default=60, help="turns for --questions")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.questions:
        latency = question_latency(args.repeat)
        print(table(["backend, texts", "p50 ms", "p95 ms"], [[k, v["p50"], v["p95"]] for k, v in latency.items()]))
        write_json(args.out or default_out("embed_latency"), latency)
        return
    if args.scifact is not None:  # the older command, kept working
        from eval.benchmarks import indexing_overhead

        indexing_overhead.main(["--scifact", str(args.scifact), *(["--out", str(args.out)] if args.out else [])])
        return
    result = run(args.data, args.limit, args.rounds)
    print(report_table(result))
    out = args.out or default_out("indexing_speed")
    write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
