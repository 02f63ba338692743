"""What the EmbeddingGemma evidence scorer costs beside MiniLM: build time, disk, memory, answer time.

    python -m eval.benchmarks.scorer_cost [--rounds 3]

On the default corpus, in one run: the index build with MiniLM (load, chunk, embed), then the
scorer's pass over every sentence (`index.sentence_vectors`, what `rag index` adds when the scorer is
installed) with EmbeddingGemma on each backend (torch, and ONNX Runtime: `index.onnx_embedder`), the
size on disk of each, and how much resident memory loading each model added. Then the warm
extractive answer time of every non-follow-up question of the eval set with each scorer, the engines
alternating question by question for `--rounds` rounds, so the ratios hold whatever else the machine
is doing. The issue's goal is a warm p50 of at most 100 ms with the stronger scorer on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from eval.benchmarks.common import default_out, latency_summary, table, write_json
from eval.benchmarks.latency import DEFAULT_SET, load_questions
from index.builder import build_index
from index.embedder import installed_scorer_path
from index.onnx_embedder import backend_of, make_embedder, make_scorer
from index.paths import DEFAULT_CORPUS
from index.sentence_vectors import cache_path, prepare_sentence_vectors
from index.store import read_index
from rag.engine import Engine

__all__ = ["main"]

SCORERS = ("torch", "onnx")


def _megabytes(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1e6, 2)


def _rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="warm passes over the questions (default 3)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if installed_scorer_path() is None:
        print("EmbeddingGemma is not installed: run `bash scripts/fetch_scorer.sh` first", file=sys.stderr)
        return 2
    questions = load_questions(DEFAULT_SET)
    with tempfile.TemporaryDirectory() as folder:
        index_dir = Path(folder) / "index"
        before = _rss_mb()
        embedder = make_embedder()  # MiniLM on its default backend, as `rag chat` runs it
        started = time.perf_counter()
        summary = build_index([DEFAULT_CORPUS], index_dir, embedder)
        build_seconds = round(time.perf_counter() - started, 1)
        memory = {"minilm": round(_rss_mb() - before, 1)}
        index_mb = _megabytes(index_dir)

        scorers, scorer_seconds, vectors_mb, sentences = {}, {}, 0.0, 0
        for backend in SCORERS:
            before = _rss_mb()
            scorer = make_scorer(backend)
            scorer.embed(["load the model"])
            memory[f"gemma {backend}"] = round(_rss_mb() - before, 1)
            cache_path(index_dir, scorer.name).unlink(missing_ok=True)  # each backend embeds every sentence
            started = time.perf_counter()
            _, sentences = prepare_sentence_vectors(index_dir, read_index(index_dir), scorer)
            scorer_seconds[backend] = round(time.perf_counter() - started, 1)
            vectors_mb = _megabytes(cache_path(index_dir, scorer.name))
            scorers[backend] = scorer

        engines = {"minilm": Engine.open(index_dir, embedder=embedder, build_if_missing=False)}
        for backend, scorer in scorers.items():
            engines[f"gemma {backend}"] = Engine.open(
                index_dir, embedder=embedder, build_if_missing=False, scorer=scorer
            )
        for engine in engines.values():  # the first pass fills per-snapshot caches: not timed
            for question in questions:
                engine.ask(question)
        totals: dict[str, list[float]] = {name: [] for name in engines}
        for _ in range(args.rounds):
            for question in questions:
                for name, engine in engines.items():
                    totals[name].append(engine.ask(question).timings_ms["total"])

    latency = {name: latency_summary(values) for name, values in totals.items()}
    ratios = {
        name: round(latency[name]["p50"] / max(latency["minilm"]["p50"], 1e-9), 2)
        for name in latency
        if name != "minilm"
    }
    report = {
        "documents": summary.documents,
        "chunks": summary.chunks,
        "sentences": sentences,
        "minilm_backend": backend_of(embedder),
        "build_seconds_minilm": build_seconds,
        "scorer_seconds": scorer_seconds,
        "scorer_sentences_per_second": {
            backend: round(sentences / max(seconds, 1e-9), 1) for backend, seconds in scorer_seconds.items()
        },
        "index_mb": index_mb,
        "scorer_vectors_mb": vectors_mb,
        "rss_added_mb": memory,
        "warm_total_ms": latency,
        "p50_ratio_over_minilm": ratios,
        "p50_ratio_onnx_over_torch": round(latency["gemma onnx"]["p50"] / max(latency["gemma torch"]["p50"], 1e-9), 2),
    }
    names = list(engines)
    print(
        table(
            ["", *names],
            [
                [
                    "build / sentence pass (s)",
                    report["build_seconds_minilm"],
                    *(f"+{scorer_seconds[b]}" for b in SCORERS),
                ],
                ["on disk (MB)", index_mb, *(f"+{vectors_mb}" for _ in SCORERS)],
                ["memory added by the model (MB)", *(memory[name] for name in names)],
                ["warm answer p50 (ms)", *(latency[name]["p50"] for name in names)],
                ["warm answer p95 (ms)", *(latency[name]["p95"] for name in names)],
            ],
        )
    )
    print(
        f"\n{sentences} sentences; p50 ratios over MiniLM {ratios}; onnx / torch {report['p50_ratio_onnx_over_torch']}"
    )
    write_json(args.out or default_out("scorer_cost"), report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
