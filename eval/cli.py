"""`rag eval`: run an eval set (or an outside benchmark), report, and gate on thresholds.

With `--generator local|openai` the set is answered by the extractive engine
and by the language model (verified), side by side (`eval.compare`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from eval.dataset import DEFAULT_SET, EvalItem, load_set, select_items
from eval.html_report import render_report
from eval.judge import SupportJudge
from eval.runner import ItemResult, run_set, summarize
from index.errors import RagError, UsageError
from index.loaders import load_documents
from index.paths import PROJECT_ROOT
from rag.engine import Engine
from rag.entailment import EntailmentJudge
from rag.generators import Generator
from rag.options import scorer_from

__all__ = ["DEFAULT_THRESHOLDS", "check_gate", "run", "run_generator"]

DEFAULT_THRESHOLDS = PROJECT_ROOT / "eval" / "thresholds.json"
DEFAULT_REPORTS = PROJECT_ROOT / "eval" / "reports"


def check_gate(summary: dict[str, object], thresholds: dict[str, object]) -> list[tuple[str, float, dict, bool]]:
    """(metric, value, limit, passed) for every metric named in the thresholds."""
    rows = []
    for name, limit in thresholds.items():
        if name.startswith("_"):
            continue
        if name not in summary or not isinstance(limit, dict):
            raise RagError(f"threshold for unknown metric {name!r}; metrics are: {', '.join(summary)}")
        value = float(summary[name])  # type: ignore[arg-type]
        passed = value >= limit.get("min", float("-inf")) - 1e-9 and value <= limit.get("max", float("inf")) + 1e-9
        rows.append((name, value, limit, passed))
    return rows


def _table(summary: dict[str, object], gate: list[tuple[str, float, dict, bool]]) -> str:
    limits = {name: (limit, ok) for name, _, limit, ok in gate}
    lines = [f"{'metric':28} {'value':>8}  gate"]
    for name, value in summary.items():
        if isinstance(value, float):
            limit, ok = limits.get(name, ({}, True))
            rule = " ".join(f"{'>=' if k == 'min' else '<='}{v}" for k, v in limit.items())
            mark = "" if not limit else ("ok" if ok else "FAIL")
            lines.append(f"{name:28} {value:8.3f}  {rule} {mark}".rstrip())
    for name, value in summary["per_category"].items():  # type: ignore[union-attr]
        lines.append(f"  {name:26} {value:8.3f}")
    for stage, value in summary["latency_ms"].items():  # type: ignore[union-attr]
        lines.append(f"latency {stage:20} p50 {value['p50']:7.1f} ms  p95 {value['p95']:7.1f} ms")
    return "\n".join(lines)


def _benchmark(args: argparse.Namespace) -> int:
    if args.data is None:
        raise RagError(f"--benchmark {args.benchmark} needs --data DIR (e.g. ../shared/data/{args.benchmark})")
    if args.benchmark == "scifact":
        from eval.benchmarks import scifact as benchmark
    else:
        from eval.benchmarks import clapnq as benchmark
    out = args.out or DEFAULT_REPORTS
    out.mkdir(parents=True, exist_ok=True)
    # SciFact is document retrieval only: the evidence scorer plays no part there.
    scoring = {} if args.benchmark == "scifact" else {"scorer": scorer_from(args)}
    result = benchmark.run(args.data, out / f"{args.benchmark}-work", limit=args.limit, **scoring)
    (out / f"{args.benchmark}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


def _check_options(args: argparse.Namespace, generator: Generator | None) -> None:
    """Refuse option combinations that would silently mean nothing."""
    stride = getattr(args, "stride", None)
    if args.benchmark and generator is not None:
        raise UsageError("--benchmark measures the extractive engine; run --generator without --benchmark")
    if args.benchmark and stride is not None:
        raise UsageError("--stride selects eval-set questions for --generator runs; benchmarks take --limit")
    if not args.benchmark and generator is None and (stride is not None or args.limit is not None):
        raise UsageError(
            "--limit and --stride select questions for --generator and --benchmark runs; "
            "the gate of plain `rag eval` always runs the whole set"
        )


def _read_thresholds(path: Path) -> dict[str, object]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RagError(f"cannot read thresholds {path}: {error}") from error


def _documents_on_disk(engine: Engine) -> dict:
    """The indexed files as they are on disk now: quotes are checked against these, not the index's copy."""
    return {d.id: d for d in load_documents([Path(s) for s in engine.data.manifest.sources]).documents}


def run(
    args: argparse.Namespace,
    open_engine: Callable[[argparse.Namespace], object],
    generator: Generator | None = None,
    entailment: EntailmentJudge | None = None,
) -> int:
    """`rag eval`: the exit code is 1 when the gate fails."""
    _check_options(args, generator)
    if args.benchmark:
        return _benchmark(args)
    items = load_set(args.set or DEFAULT_SET)
    if getattr(args, "split", None):
        items = select_items(items, split=args.split)
    if generator is not None:
        load = getattr(generator, "load", None)
        if load:
            load()  # a missing model fails before the index is opened; loading is not part of any answer's time
        return run_generator(args, open_engine(args), generator, items, entailment)
    thresholds = _read_thresholds(args.thresholds or DEFAULT_THRESHOLDS)
    engine = open_engine(args)
    documents = _documents_on_disk(engine)

    def progress(result: ItemResult) -> None:
        if not args.json:
            mark = "." if result.correct else "x"
            print(mark, end="", file=sys.stderr, flush=True)

    results = run_set(engine, items, documents, on_item=progress)
    if not args.json:
        print(file=sys.stderr)
    summary = summarize(results)
    gate = check_gate(summary, thresholds)
    judge = SupportJudge.name
    report = {
        "set": str(args.set or DEFAULT_SET),
        "judge": judge,
        "refusal_threshold": engine.settings.compose.refuse_below,
        "summary": summary,
        "gate": [{"metric": n, "value": v, "limit": lim, "passed": ok} for n, v, lim, ok in gate],
        "passed": all(ok for *_, ok in gate),
        "items": [r.to_json() for r in results],
    }
    out = args.out or DEFAULT_REPORTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    (out / "eval.html").write_text(
        render_report(summary, results, gate, engine.settings.compose.refuse_below, judge), encoding="utf-8"
    )
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "items"}, ensure_ascii=False))
    else:
        print(_table(summary, gate))
        failing = [r for r in results if not r.correct]
        print(f"\n{len(failing)} failing questions (details in {out / 'eval.html'}):")
        for r in failing[:40]:
            print(f"  {r.item.id} [{r.item.category}] {r.item.question}\n      -> {r.answer.answer[:160]}")
        print(f"\nreports: {out / 'eval.json'}, {out / 'eval.html'}")
        print("gate: passed" if report["passed"] else "gate: FAILED (see the FAIL lines above)")
    return 0 if report["passed"] else 1


def _generator_progress(questions: int, judged_by_model: bool) -> Callable[[str, ItemResult], None]:
    """Dots for the extractive pass, one line per generated answer, then a note while the model judges."""
    done = 0

    def progress(mode: str, result: ItemResult) -> None:
        nonlocal done
        if mode == "extractive":
            print("." if result.correct else "x", end="", file=sys.stderr, flush=True)
            return
        done += 1
        answer = result.answer
        generation = answer.generation
        note = (generation.fallback or ("skipped" if generation.skipped else "")) if generation else ""
        removed = len(generation.removed) if generation else 0
        print(
            f"\n[{done}/{questions}] {'ok ' if result.correct else 'BAD'} {result.item.id} "
            f"{answer.timings_ms['total'] / 1000:5.1f}s removed={removed} "
            f"{note} | {answer.answer[:90]!r}",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if done == questions and judged_by_model:
            print("\njudging the citations with the model...", end="", file=sys.stderr, flush=True)

    return progress


def run_generator(
    args: argparse.Namespace,
    engine: Engine,
    generator: Generator,
    items: Sequence[EvalItem],
    entailment: EntailmentJudge | None = None,
) -> int:
    """`rag eval --generator`: both modes side by side, `generators.json`, and the generator gate.

    The gate is `quote_validity >= 1.0` on the generated answers (`eval.compare.GENERATED_GATE`),
    or the limits of `--thresholds` when one is given, checked on the generated answers.
    """
    from eval.compare import GENERATED_GATE, report_table, run_comparison
    from rag.entailment import LlmJudge
    from rag.generators import LlamaCppGenerator

    thresholds = _read_thresholds(args.thresholds) if args.thresholds else GENERATED_GATE
    selected = select_items(items, args.limit, getattr(args, "stride", None) or 1)
    local = isinstance(generator, LlamaCppGenerator)
    started = time.perf_counter()
    result = run_comparison(
        engine,
        generator,
        selected,
        _documents_on_disk(engine),
        llm_judge=LlmJudge(generator) if local else None,
        trust_model_refusal=getattr(args, "trust_model_refusal", False),
        entailment=entailment,
        on_item=None if args.json else _generator_progress(len(selected), local),
    )
    gate = check_gate(result["generated"], thresholds)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["gate"] = [{"metric": n, "value": v, "limit": lim, "passed": ok} for n, v, lim, ok in gate]
    result["passed"] = all(ok for *_, ok in gate)
    out = args.out or DEFAULT_REPORTS
    out.mkdir(parents=True, exist_ok=True)
    path = out / "generators.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "items"}, ensure_ascii=False))
    else:
        print(file=sys.stderr)
        print(report_table(result))
        failed = [f"{n} {v:.3f}" for n, v, _, ok in gate if not ok]
        print(f"\nwall time {result['wall_seconds']} s; report: {path}")
        print("gate (generated answers): " + ("passed" if result["passed"] else "FAILED: " + ", ".join(failed)))
    return 0 if result["passed"] else 1
