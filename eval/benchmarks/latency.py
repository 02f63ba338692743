"""Answer latency on the default corpus, per stage, cold and warm.

Every question of `eval/sets/default.jsonl` except the follow-ups (which need
a conversation) is asked once as a "first pass", when the engine has not yet
embedded the candidate sentences, and then again in warm passes. The model is
loaded before the first pass, so model loading is reported on its own and is
in neither. Stages are the engine's own timings: retrieve (embed the question,
dense + BM25 + fusion), select (score evidence sentences), compose (build and
verify the quotes), total.

It also times the question embedding alone with the embedder's default (a few
texts on one torch thread) against all torch threads, alternating question by
question in one run, so the ratio holds whatever else the machine is doing;
`--load N` starts N busy-looping processes for the run to show a shared machine.

    python -m eval.benchmarks.latency [--load 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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


def _busy_loop() -> None:
    while True:
        pass


def compare_threads(embedder: SentenceTransformerEmbedder, questions: Sequence[str]) -> dict[str, dict[str, float]]:
    """Question embedding on one thread (the default) vs all of torch's threads, interleaved."""
    all_threads = SentenceTransformerEmbedder(embedder.name, single_thread_up_to=0)
    all_threads._model = embedder.model  # the same loaded weights
    times: dict[str, list[float]] = {"one thread": [], "all threads": []}
    for question in questions:
        for label, model in (("one thread", embedder), ("all threads", all_threads)):
            started = time.perf_counter()
            model.embed([question])
            times[label].append((time.perf_counter() - started) * 1000)
    return {label: latency_summary(values) for label, values in times.items()}


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
        "question_embedding_ms": compare_threads(embedder, questions),
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
    parser.add_argument("--load", type=int, default=0, help="busy-looping processes to run alongside")
    args = parser.parse_args(argv)
    hogs = [multiprocessing.Process(target=_busy_loop, daemon=True) for _ in range(args.load)]
    for hog in hogs:
        hog.start()
    try:
        result = run(args.index, args.set, args.warm_passes)
    finally:
        for hog in hogs:
            hog.terminate()
    result["extra_load_processes"] = args.load
    print(f"{result['questions']} questions, {result['chunks']} chunks, model load {result['model_load_s']}s")
    print(report_table(result))
    embedding = result["question_embedding_ms"]
    one, every = embedding["one thread"], embedding["all threads"]
    print(
        f"question embedding p50/p95: one thread {one['p50']:.1f}/{one['p95']:.1f} ms, all threads "
        f"{every['p50']:.1f}/{every['p95']:.1f} ms (all/one p50 = {every['p50'] / one['p50']:.2f})"
    )
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
