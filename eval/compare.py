"""`rag eval --generator`: verified language-model answers against the extractive ones, side by side.

Every question is answered in both modes on the same index: by `Engine.ask`
(extractive) and by `rag.generated.answer_with_generator` (the model's draft,
then verification). Both go through `eval.runner.run_set` and `summarize`, so
correctness, citation recall/precision, refusal and false-refusal rates are
the eval's own definitions (docs/eval.md). A follow-up gets its own mode's
earlier answer as history. Added for the generator: sentences removed by
verification, citations it corrected, fallbacks to the extractive answer, model
calls skipped below the refusal threshold, and the time to first token.

Citations are judged by the lexical+semantic `SupportJudge` and, when given,
by a second judge (the loaded model as a yes/no entailment judge,
`rag.entailment.LlmJudge`); each judge's agreement with the gold evidence is
reported for both modes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from eval.benchmarks.common import latency_summary, table
from eval.dataset import EvalItem
from eval.judge import CachedJudge, Judge, SupportJudge
from eval.metrics import citation_pairs
from eval.runner import ItemResult, judge_report, run_set, summarize
from index.types import Document
from rag.engine import Engine
from rag.entailment import EntailmentJudge, LlmJudge
from rag.generated import answer_with_generator
from rag.generators import Generator
from rag.types import Answer, Generation, Turn

__all__ = ["GENERATED_GATE", "generation_stats", "report_table", "run_comparison"]

# The default gate in generator mode: every quote of a generated answer is verbatim at its offsets.
# The other metrics of eval/thresholds.json are extractive baselines, not limits for a model.
GENERATED_GATE: dict[str, object] = {"quote_validity": {"min": 1.0}}

MODES = ("extractive", "generated")


def run_comparison(
    engine: Engine,
    generator: Generator,
    items: Sequence[EvalItem],
    documents: dict[str, Document],
    *,
    llm_judge: LlmJudge | None = None,
    trust_model_refusal: bool = False,
    entailment: EntailmentJudge | None = None,
    k: int = 5,
    on_item: Callable[[str, ItemResult], None] | None = None,
) -> dict:
    """Both modes over `items`, summarized and judged; the report `rag eval --generator` writes."""
    lexical = CachedJudge(SupportJudge(engine.embedder.embed))

    def generated_answer(question: str, history: Sequence[Turn], item_id: str) -> Answer:
        return answer_with_generator(
            engine,
            question,
            history,
            generator,
            k=k,
            id=item_id,
            trust_model_refusal=trust_model_refusal,
            entailment=entailment,
        )

    def progress(mode: str) -> Callable[[ItemResult], None] | None:
        return (lambda result: on_item(mode, result)) if on_item else None

    results = {
        "extractive": run_set(engine, items, documents, k=k, judge=lexical, on_item=progress("extractive")),
        "generated": run_set(
            engine, items, documents, k=k, ask=generated_answer, judge=lexical, on_item=progress("generated")
        ),
    }
    judges: dict[str, Judge] = {"lexical": lexical}
    if llm_judge is not None:
        judges["llm"] = CachedJudge(llm_judge)
    started = time.perf_counter()
    judged = {
        key: {"name": judge.name, **{mode: judge_report(results[mode], judge) for mode in MODES}}
        for key, judge in judges.items()
    }
    if llm_judge is not None:
        judged["llm"].update(
            calls=llm_judge.calls, unparsed=llm_judge.unparsed, seconds=round(time.perf_counter() - started, 1)
        )
    return {
        "generator": generator.name,
        "judge": lexical.name,
        "trust_model_refusal": trust_model_refusal,
        "questions": len(items),
        "extractive": summarize(results["extractive"]),
        "generated": summarize(results["generated"]),
        "generation": generation_stats(results["generated"]),
        "judges": judged,
        "items": [_item_json(e, g, judges) for e, g in zip(results["extractive"], results["generated"], strict=True)],
    }


def generation_stats(results: Sequence[ItemResult]) -> dict[str, object]:
    """What verification did to the model's drafts, and how long the model took."""
    generations = [r.answer.generation or Generation("none") for r in results]
    called = [r for r in results if "generate" in r.answer.timings_ms]
    removed = [s for g in generations for s in g.removed]
    return {
        "model_calls": len(called),
        "skipped_below_threshold": sum(g.skipped is not None for g in generations),
        "sentences_removed": sum(not s.reason.startswith("refusal") for s in removed),
        "sentences_kept": sum(
            r.statements
            for r in called
            if not r.answer.refused and not (r.answer.generation and r.answer.generation.fallback)
        ),
        "corrected_citations": sum(g.corrected_citations for g in generations),
        "fallbacks_to_extractive": sum(g.fallback == "extractive" for g in generations),
        "model_refusals": sum(g.model_refused for g in generations),
        "first_token_ms": latency_summary([r.answer.timings_ms["first_token"] for r in called]),
        "generate_ms": latency_summary([r.answer.timings_ms["generate"] for r in called]),
        "total_ms_when_called": latency_summary([r.answer.timings_ms["total"] for r in called]),
    }


def _judgments(result: ItemResult, judges: dict[str, Judge]) -> list[dict[str, object]]:
    return [
        {
            "statement": pair.statement,
            "n": pair.n,
            "gold": pair.gold,
            **{key: judge.supports(pair.statement, [pair.quote]) for key, judge in judges.items()},
        }
        for pair in citation_pairs(result.item, result.answer)
    ]


def _answer_json(result: ItemResult, judges: dict[str, Judge]) -> dict[str, object]:
    answer = result.answer
    return {
        "answer": answer.answer,
        "refused": answer.refused,
        "correct": result.correct,
        "citations": [c.to_json() for c in answer.citations],
        "timings_ms": {stage: round(ms, 1) for stage, ms in answer.timings_ms.items()},
        "judgments": _judgments(result, judges),
    }


def _item_json(extractive: ItemResult, generated: ItemResult, judges: dict[str, Judge]) -> dict[str, object]:
    generation = generated.answer.generation or Generation("none")
    return {
        "id": extractive.item.id,
        "category": extractive.item.category,
        "question": extractive.item.question,
        "extractive": _answer_json(extractive, judges),
        "generated": {
            **_answer_json(generated, judges),
            "raw_answer": generation.raw_answer,
            "removed_sentences": [r.to_json() for r in generation.removed],
            "corrected_citations": generation.corrected_citations,
            "fallback": generation.fallback,
            "model_refused": generation.model_refused,
            "skipped": generation.skipped,
        },
    }


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _p50_p95(stats: dict) -> str:
    return f"{stats['p50']:.0f} / {stats['p95']:.0f}"


def _rate(extractive: dict, generated: dict, metric: str, count: str) -> list[str]:
    """A rate over some of the questions, or "n/a" when the selection has none of them."""
    if not extractive[count]:
        return [f"n/a (no {count} questions)"] * 2
    return [_pct(extractive[metric]), _pct(generated[metric])]


def _correct(summary: dict) -> float:
    """Accuracy averaged over the categories (each category counts the same)."""
    return sum(summary["per_category"].values()) / max(1, len(summary["per_category"]))


def _judge_rows(judges: dict) -> list[list[str]]:
    rows = []
    for key, judged in judges.items():
        e, g = judged["extractive"], judged["generated"]
        label = "lexical+semantic" if key == "lexical" else "LLM"
        rows += [
            [f"{label} judge: agrees with gold evidence", _pct(e["agreement"]), _pct(g["agreement"])],
            [f"{label} judge: yes rate (gold rate)", f"{_pct(e['yes_rate'])} ({_pct(e['gold_rate'])})",
             f"{_pct(g['yes_rate'])} ({_pct(g['gold_rate'])})"],
        ]  # fmt: skip
        if key != "lexical":
            rows.append([
                f"{label} judge: citation recall / precision",
                f"{_pct(e['citation_recall'])} / {_pct(e['citation_precision'])}",
                f"{_pct(g['citation_recall'])} / {_pct(g['citation_precision'])}",
            ])  # fmt: skip
    return rows


def report_table(result: dict) -> str:
    """The side-by-side tables `rag eval --generator` prints."""
    e, g, gen = result["extractive"], result["generated"], result["generation"]
    rows = [
        ["correct (mean over categories)", _pct(_correct(e)), _pct(_correct(g))],
        ["first citation is gold evidence", _pct(e["first_citation_evidence"]), _pct(g["first_citation_evidence"])],
        ["keyword accuracy", _pct(e["keyword_accuracy"]), _pct(g["keyword_accuracy"])],
        ["token F1 (answered)", f"{e['token_f1']:.3f}", f"{g['token_f1']:.3f}"],
        ["citation recall", _pct(e["citation_recall"]), _pct(g["citation_recall"])],
        ["citation precision (ALCE)", _pct(e["citation_precision"]), _pct(g["citation_precision"])],
        ["quote validity", _pct(e["quote_validity"]), _pct(g["quote_validity"])],
        ["refusal rate (unanswerable)", *_rate(e, g, "refusal_rate", "unanswerable")],
        ["false-refusal rate (answerable)", *_rate(e, g, "false_refusal_rate", "answerable")],
        ["model calls / skipped below threshold", "-", f"{gen['model_calls']} / {gen['skipped_below_threshold']}"],
        ["sentences kept / removed", "-", f"{gen['sentences_kept']} / {gen['sentences_removed']}"],
        ["citations corrected", "-", str(gen["corrected_citations"])],
        ["fallbacks to extractive (model refusals)", "-",
         f"{gen['fallbacks_to_extractive']} ({gen['model_refusals']})"],
        ["time to first token ms p50 / p95", "-", _p50_p95(gen["first_token_ms"])],
        ["total ms p50 / p95", _p50_p95(e["latency_ms"]["total"]), _p50_p95(g["latency_ms"]["total"])],
        *_judge_rows(result["judges"]),
    ]  # fmt: skip
    categories = sorted(e["per_category"])
    per_category = [[c, _pct(e["per_category"][c]), _pct(g["per_category"][c])] for c in categories]
    judges = [f"- {key}: {judged['name']}" for key, judged in result["judges"].items()]
    return "\n".join(
        [
            f"{result['questions']} questions; generator {result['generator']}",
            "",
            table(["metric", "extractive", result["generator"]], rows),
            "",
            table(["category", "extractive", result["generator"]], per_category),
            "",
            "judges:",
            *judges,
        ]
    )
