"""`rag eval`: run an eval set (or an outside benchmark), report, and gate on thresholds."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from eval.dataset import DEFAULT_SET, load_set
from eval.html_report import render_report
from eval.judge import SupportJudge
from eval.runner import ItemResult, run_set, summarize
from index.errors import RagError
from index.loaders import load_documents
from index.paths import PROJECT_ROOT

__all__ = ["DEFAULT_THRESHOLDS", "check_gate", "run"]

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
    result = benchmark.run(args.data, out / f"{args.benchmark}-work", limit=args.limit)
    (out / f"{args.benchmark}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


def run(args: argparse.Namespace, open_engine: Callable[[argparse.Namespace], object]) -> int:
    if args.benchmark:
        return _benchmark(args)
    items = load_set(args.set or DEFAULT_SET)
    thresholds_path = args.thresholds or DEFAULT_THRESHOLDS
    try:
        thresholds = json.loads(Path(thresholds_path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RagError(f"cannot read thresholds {thresholds_path}: {error}") from error
    engine = open_engine(args)
    # Quotes are checked against the files as they are on disk now, not the index's copy.
    documents = {d.id: d for d in load_documents([Path(s) for s in engine.data.manifest.sources]).documents}

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
