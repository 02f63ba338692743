"""A language-model generator against the extractive engine, side by side, on the default eval set.

Every question is answered twice on the same index: by `Engine.ask`
(extractive) and by `answer_with_generator` (model draft, then verification).
Both go through `eval.runner.evaluate_item` and `summarize`, so correctness,
citation recall/precision (the eval's lexical+semantic judge), refusal and
false-refusal rates are the eval's own definitions. Added for the generator:
sentences removed by verification, citations it corrected, fallbacks to the
extractive answer, model calls skipped below the refusal threshold, and the
time to first token. A follow-up gets its own mode's earlier answer as history.

    python -m eval.benchmarks.generators --generator local --model-path PATH [--limit N] [--stride N]
    python -m eval.benchmarks.generators --generator openai --base-url http://127.0.0.1:8080/v1 --model NAME
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from eval.benchmarks.common import default_out, latency_summary, table, write_json
from eval.dataset import DEFAULT_SET, EvalItem, load_set
from eval.judge import SupportJudge
from eval.runner import ItemResult, evaluate_item, summarize
from index.builder import build_index
from index.embedder import SentenceTransformerEmbedder
from index.paths import DEFAULT_CORPUS
from rag.engine import Engine
from rag.generated import answer_with_generator
from rag.generators import Generator, LlamaCppGenerator, OpenAICompatibleGenerator
from rag.types import Answer, Turn

__all__ = ["main", "run", "select_items"]


def _history(item, by_id, answers: dict[str, Answer]) -> list[Turn]:
    if not item.follows or item.follows not in answers:
        return []
    return [Turn("user", by_id[item.follows].question), Turn("assistant", answers[item.follows].answer)]


def select_items(items: Sequence[EvalItem], limit: int | None = None, stride: int = 1) -> list[EvalItem]:
    """Every `stride`-th item (then the first `limit`), with the earlier turn of any follow-up kept."""
    by_id = {item.id: item for item in items}
    picked = {item.id for item in list(items)[:: max(1, stride)][: limit or None]}
    for item_id in list(picked):
        while by_id[item_id].follows:
            item_id = by_id[item_id].follows
            picked.add(item_id)
    return [item for item in items if item.id in picked]


def run(
    engine: Engine,
    generator: Generator,
    set_path: Path = DEFAULT_SET,
    limit: int | None = None,
    stride: int = 1,
    trust_model_refusal: bool = False,
) -> dict:
    items = select_items(load_set(set_path), limit, stride)
    by_id = {item.id: item for item in items}
    documents = engine.data.documents
    judge = SupportJudge(engine.embedder.embed)
    results: dict[str, list[ItemResult]] = {"extractive": [], "generated": []}
    answers: dict[str, dict[str, Answer]] = {"extractive": {}, "generated": {}}
    for number, item in enumerate(items, start=1):
        extractive = engine.ask(item.question, _history(item, by_id, answers["extractive"]), id=item.id)
        generated = answer_with_generator(
            engine,
            item.question,
            _history(item, by_id, answers["generated"]),
            generator,
            id=item.id,
            trust_model_refusal=trust_model_refusal,
        )
        for mode, answer in (("extractive", extractive), ("generated", generated)):
            answers[mode][item.id] = answer
            results[mode].append(evaluate_item(item, answer, documents, judge))
        mark = "ok " if results["generated"][-1].correct else "BAD"
        note = generated.extra.get("fallback") or ("skipped" if "skipped" in generated.extra else "")
        print(
            f"[{number}/{len(items)}] {mark} {item.id} {generated.timings_ms['total'] / 1000:5.1f}s "
            f"removed={len(generated.extra['removed_sentences'])} {note} | {generated.answer[:90]!r}",
            file=sys.stderr,
            flush=True,
        )
    return {
        "generator": generator.name,
        "trust_model_refusal": trust_model_refusal,
        "judge": judge.name,
        "questions": len(items),
        "extractive": summarize(results["extractive"]),
        "generated": summarize(results["generated"]),
        "generation": _generation_stats(results["generated"]),
        "items": [
            {
                "id": e.item.id,
                "extractive": e.answer.answer,
                "generated": g.answer.answer,
                "raw_answer": g.answer.extra.get("raw_answer", ""),
                "removed_sentences": g.answer.extra.get("removed_sentences", []),
                "fallback": g.answer.extra.get("fallback"),
                "correct": {"extractive": e.correct, "generated": g.correct},
            }
            for e, g in zip(results["extractive"], results["generated"], strict=True)
        ],
    }


def _generation_stats(results: Sequence[ItemResult]) -> dict[str, object]:
    extras = [r.answer.extra for r in results]
    called = [r for r in results if "generate" in r.answer.timings_ms]
    removed = sum(len(x.get("removed_sentences", [])) for x in extras)
    refusal_removals = sum(
        1 for x in extras for s in x.get("removed_sentences", []) if str(s["reason"]).startswith("refusal")
    )
    return {
        "model_calls": len(called),
        "skipped_below_threshold": sum("skipped" in x for x in extras),
        "sentences_removed": removed - refusal_removals,
        "sentences_kept": sum(
            r.statements for r in called if not r.answer.refused and not r.answer.extra.get("fallback")
        ),
        "corrected_citations": sum(int(x.get("corrected_citations", 0)) for x in extras),
        "fallbacks_to_extractive": sum(x.get("fallback") == "extractive" for x in extras),
        "model_refusals": sum(bool(x.get("model_refused")) for x in extras),
        "first_token_ms": latency_summary([r.answer.timings_ms["first_token"] for r in called]),
        "generate_ms": latency_summary([r.answer.timings_ms["generate"] for r in called]),
        "total_ms_when_called": latency_summary([r.answer.timings_ms["total"] for r in called]),
    }


def report(result: dict) -> str:
    e, g, gen = result["extractive"], result["generated"], result["generation"]

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    def correct(summary: dict) -> float:
        return sum(summary["per_category"].values()) / max(1, len(summary["per_category"]))

    rows = [
        ["correct (mean over categories)", pct(correct(e)), pct(correct(g))],
        ["first citation is gold evidence", pct(e["first_citation_evidence"]), pct(g["first_citation_evidence"])],
        ["keyword accuracy", pct(e["keyword_accuracy"]), pct(g["keyword_accuracy"])],
        ["token F1 (answered)", f"{e['token_f1']:.3f}", f"{g['token_f1']:.3f}"],
        ["citation recall", pct(e["citation_recall"]), pct(g["citation_recall"])],
        ["citation precision", pct(e["citation_precision"]), pct(g["citation_precision"])],
        ["quote validity", pct(e["quote_validity"]), pct(g["quote_validity"])],
        ["refusal rate (unanswerable)", pct(e["refusal_rate"]), pct(g["refusal_rate"])],
        ["false-refusal rate (answerable)", pct(e["false_refusal_rate"]), pct(g["false_refusal_rate"])],
        ["total ms p50 / p95", _p(e["latency_ms"]["total"]), _p(g["latency_ms"]["total"])],
        ["time to first token ms p50 / p95", "-", _p(gen["first_token_ms"])],
    ]
    lines = [table(["metric", "extractive", result["generator"]], rows), ""]
    lines.append(
        f"model called for {gen['model_calls']} of {result['questions']} questions "
        f"({gen['skipped_below_threshold']} refused below the threshold without a call); "
        f"verification kept {gen['sentences_kept']} sentences, removed {gen['sentences_removed']} "
        f"and corrected {gen['corrected_citations']} "
        f"citations; {gen['fallbacks_to_extractive']} fallbacks to the extractive answer; "
        f"{gen['model_refusals']} model refusals; total when called p50/p95 {_p(gen['total_ms_when_called'])} ms"
    )
    categories = sorted(e["per_category"])
    lines += ["", table(["category", "extractive", result["generator"]], [
        [c, pct(e["per_category"][c]), pct(g["per_category"][c])] for c in categories
    ])]  # fmt: skip
    return "\n".join(lines)


def _p(stats: dict) -> str:
    return f"{stats['p50']:.0f} / {stats['p95']:.0f}"


def _generator(args: argparse.Namespace) -> Generator:
    if args.generator == "local":
        if not args.model_path:
            raise SystemExit("--generator local needs --model-path (scripts/fetch_test_model.sh prints one)")
        generator = LlamaCppGenerator(args.model_path, n_threads=args.threads)
        generator.load()  # model loading is not part of any answer's time
        return generator
    if not args.base_url or not args.model:
        raise SystemExit("--generator openai needs --base-url and --model")
    return OpenAICompatibleGenerator(args.base_url, args.model, api_key_env=args.api_key_env)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=["local", "openai"], required=True)
    parser.add_argument("--model-path", type=Path, help="GGUF file (local)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (local; default: all cores)")
    parser.add_argument("--base-url", help="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--model", help="model name (openai)")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY")
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="eval set (JSON Lines)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--stride", type=int, default=1, help="every Nth question (follow-ups keep their first turn)")
    parser.add_argument("--index", type=Path, default=Path("/tmp/rag-bench-generators-index"), help="index folder")
    parser.add_argument("--trust-model-refusal", action="store_true", help="a model refusal stands (no fallback)")
    parser.add_argument("--out", type=Path, default=default_out("generators"))
    args = parser.parse_args(argv)

    embedder = SentenceTransformerEmbedder()
    build_index([DEFAULT_CORPUS], args.index, embedder)  # incremental: a no-op when up to date
    engine = Engine.open(args.index, embedder=embedder, build_if_missing=False)
    generator = _generator(args)
    started = time.perf_counter()
    result = run(engine, generator, args.set, args.limit, args.stride, args.trust_model_refusal)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(report(result))
    print(f"wall time {result['wall_seconds']} s")
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
