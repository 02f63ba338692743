"""Small helpers shared by the benchmarks: percentiles, tables, the JSON report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.paths import PROJECT_ROOT

__all__ = ["default_out", "latency_summary", "percentile", "table", "write_json"]


def default_out(name: str) -> Path:
    """Where a benchmark writes its JSON unless told otherwise."""
    return PROJECT_ROOT / "eval" / "reports" / f"{name}.json"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100, linear interpolation); 0.0 for no values."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean of a list of milliseconds, rounded for reports."""
    return {
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "mean": round(float(np.mean(values)) if len(values) else 0.0, 2),
        "n": len(values),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (numbers as given: round them before)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
