"""What the EmbeddingGemma evidence scorer costs beside MiniLM: build time, disk, memory, answer time.

    python -m eval.benchmarks.scorer_cost [--rounds 3]

On the default corpus, in one run: the index build with MiniLM (load, chunk, embed), then the
scorer's pass over every sentence (`index.sentence_vectors`, what `rag index` adds when the scorer is
installed), the size on disk of each, and the resident memory after loading each model. Then the warm
extractive answer time of every non-follow-up question of the eval set with each scorer, the two
engines alternating question by question for `--rounds` rounds, so the ratio holds whatever else the
machine is doing. The issue's goal is a warm p50 of at most 100 ms with the stronger scorer on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from eval.benchmarks.common import default_out, latency_summary, table, write_json
from eval.benchmarks.latency import DEFAULT_SET, load_questions
from index.builder import build_index
from index.embedder import EmbeddingGemmaEmbedder, SentenceTransformerEmbedder, installed_scorer_path
from index.paths import DEFAULT_CORPUS
from index.sentence_vectors import cache_path, prepare_sentence_vectors
from index.store import read_index
from rag.engine import Engine

__all__ = ["main"]


def _megabytes(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1e6, 2)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


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
        embedder = SentenceTransformerEmbedder()
        started = time.perf_counter()
        summary = build_index([DEFAULT_CORPUS], index_dir, embedder)
        build_seconds = time.perf_counter() - started
        rss_minilm = _peak_rss_mb()
        index_mb = _megabytes(index_dir)

        scorer = EmbeddingGemmaEmbedder(prompts=False)
        scorer.embed(["load the model"])
        rss_gemma = _peak_rss_mb()
        started = time.perf_counter()
        _, sentences = prepare_sentence_vectors(index_dir, read_index(index_dir), scorer)
        scorer_seconds = time.perf_counter() - started
        vectors_mb = _megabytes(cache_path(index_dir, scorer.name))

        engines = {
            "minilm": Engine.open(index_dir, embedder=embedder, build_if_missing=False),
            "embeddinggemma": Engine.open(index_dir, embedder=embedder, build_if_missing=False, scorer=scorer),
        }
        for engine in engines.values():  # the first pass fills per-snapshot caches: not timed
            for question in questions:
                engine.ask(question)
        totals: dict[str, list[float]] = {name: [] for name in engines}
        for _ in range(args.rounds):
            for question in questions:
                for name, engine in engines.items():
                    totals[name].append(engine.ask(question).timings_ms["total"])

    latency = {name: latency_summary(values) for name, values in totals.items()}
    ratio = round(latency["embeddinggemma"]["p50"] / max(latency["minilm"]["p50"], 1e-9), 2)
    report = {
        "documents": summary.documents,
        "chunks": summary.chunks,
        "sentences": sentences,
        "build_seconds_minilm": round(build_seconds, 1),
        "scorer_seconds": round(scorer_seconds, 1),
        "scorer_sentences_per_second": round(sentences / max(scorer_seconds, 1e-9), 1),
        "index_mb": index_mb,
        "scorer_vectors_mb": vectors_mb,
        "peak_rss_mb_minilm": rss_minilm,
        "peak_rss_mb_with_gemma": rss_gemma,
        "warm_total_ms": latency,
        "p50_ratio_gemma_over_minilm": ratio,
    }
    print(
        table(
            ["", "MiniLM", "+ EmbeddingGemma scorer"],
            [
                ["build (s)", report["build_seconds_minilm"], f"+{report['scorer_seconds']}"],
                ["on disk (MB)", index_mb, f"+{vectors_mb}"],
                ["peak memory (MB)", rss_minilm, rss_gemma],
                ["warm answer p50 (ms)", latency["minilm"]["p50"], latency["embeddinggemma"]["p50"]],
                ["warm answer p95 (ms)", latency["minilm"]["p95"], latency["embeddinggemma"]["p95"]],
            ],
        )
    )
    print(f"\n{sentences} sentences, {report['scorer_sentences_per_second']} sentences/s; p50 ratio {ratio}x")
    write_json(args.out or default_out("scorer_cost"), report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
