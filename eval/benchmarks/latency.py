"""Answer latency on the default corpus, per stage, cold and warm.

Every question of `eval/sets/default.jsonl` except the follow-ups (which need
a conversation) is asked once as a "first pass", when the engine has not yet
embedded the candidate sentences, and then again in warm passes. The model is
loaded before the first pass, so model loading is reported on its own and is
in neither. Stages are the engine's own timings: retrieve (embed the question,
dense + BM25 + fusion), select (score evidence sentences), compose (build and
verify the quotes), total.

    python -m eval.benchmarks.latency
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

from eval.benchmarks.common import default_out, latency_summary, table, write_json
from index.builder import build_index
from index.embedder import SentenceTransformerEmbedder
from index.paths import DEFAULT_CORPUS, PROJECT_ROOT
from index.store import read_index
from rag import Answer, Engine

__all__ = ["STAGES", "load_questions", "main", "run", "timed_pass"]

STAGES = ("retrieve", "select", "compose", "total")
DEFAULT_SET = PROJECT_ROOT / "eval" / "sets" / "default.jsonl"


def load_questions(path: Path) -> list[str]:
    """The questions of an eval set, follow-ups left out."""
    with open(path, encoding="utf-8") as rows:
        items = [json.loads(line) for line in rows if line.strip()]
    return [item["question"] for item in items if item["category"] != "followup"]


def timed_pass(engine: Engine, questions: Sequence[str]) -> dict[str, dict[str, float]]:
    answers: list[Answer] = [engine.ask(question) for question in questions]
    return {stage: latency_summary([a.timings_ms[stage] for a in answers]) for stage in STAGES}


def run(index_dir: Path, questions_path: Path = DEFAULT_SET, warm_passes: int = 2) -> dict:
    embedder = SentenceTransformerEmbedder()
    started = time.perf_counter()
    embedder.embed(["load the model"])
    model_load_s = time.perf_counter() - started
    summary = build_index([DEFAULT_CORPUS], index_dir, embedder)  # incremental: a no-op when up to date
    engine = Engine(read_index(index_dir), embedder, index_dir)
    questions = load_questions(questions_path)
    first = timed_pass(engine, questions)
    warm = [timed_pass(engine, questions) for _ in range(warm_passes)]
    # The warm numbers are the best warm pass per stage and percentile (least disturbed by other work).
    best_warm = {stage: {key: min(p[stage][key] for p in warm) for key in ("p50", "p95", "mean")} for stage in STAGES}
    return {
        "questions": len(questions),
        "chunks": summary.chunks,
        "model_load_s": round(model_load_s, 2),
        "first_pass_ms": first,
        "warm_passes_ms": warm,
        "warm_ms": best_warm,
    }


def report_table(result: dict) -> str:
    first, warm = result["first_pass_ms"], result["warm_ms"]
    rows = [
        [
            stage,
            f"{first[stage]['p50']:.1f}",
            f"{first[stage]['p95']:.1f}",
            f"{warm[stage]['p50']:.1f}",
            f"{warm[stage]['p95']:.1f}",
        ]
        for stage in STAGES
    ]
    headers = ["stage (ms)", "first pass p50", "first pass p95", "warm p50", "warm p95"]
    return table(headers, rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("/tmp/rag-bench-latency-index"), help="index folder")
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="eval set (JSON Lines)")
    parser.add_argument("--warm-passes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=default_out("latency"))
    args = parser.parse_args(argv)
    result = run(args.index, args.set, args.warm_passes)
    print(f"{result['questions']} questions, {result['chunks']} chunks, model load {result['model_load_s']}s")
    print(report_table(result))
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
