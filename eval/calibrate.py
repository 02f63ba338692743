"""Calibrate the evidence weights and the refusal threshold on an eval set.

    python -m eval.calibrate [--set eval/sets/default.jsonl] [--max-false-refusal 0.05]

1. For every question, the engine's candidate sentences and their four signals
   (semantic, coverage, context, passage; rag/evidence.py) are collected once.
2. Weights: a small grid; the winner picks a gold-evidence sentence first for
   the most answerable questions.
3. Threshold: the highest one that refuses at most `max_false_refusal` of the
   answerable questions; the refusal rate on unanswerable ones follows from it.
4. The same two steps run in 5-fold cross-validation, so the report also says
   how well the calibration carries over to questions it was not fitted on.

It prints the values to put in EvidenceSettings / ComposeSettings and writes
them as JSON (--out).
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.dataset import DEFAULT_SET, EvalItem, load_set
from eval.metrics import contains
from eval.runner import history_for
from rag.engine import Engine
from rag.evidence import Evidence, EvidenceSettings

__all__ = ["QuestionFeatures", "collect", "cross_validate", "fit"]

WEIGHT_GRID = list(itertools.product([1.0], [0.0, 0.2, 0.3, 0.5, 0.7], [0.0, 0.1, 0.2, 0.3], [0.0, 0.1, 0.2, 0.3]))


@dataclass(frozen=True)
class QuestionFeatures:
    item: EvalItem
    signals: np.ndarray  # candidates x 4: semantic*brevity, coverage*brevity, context, passage
    gold: np.ndarray  # candidates: does the sentence hold a gold evidence span?
    query: str = ""  # what was searched (a follow-up resolved against its conversation)
    candidates: tuple[Evidence, ...] = ()  # the scored candidate sentences, rows of `signals`


def collect(engine: Engine, items: list[EvalItem]) -> list[QuestionFeatures]:
    by_id = {item.id: item for item in items}
    answers: dict[str, str] = {}
    features = []
    for item in items:
        history = history_for(item, by_id, answers)
        answers[item.id] = engine.ask(item.question, history).answer
        found = engine.find_evidence(item.question, history)
        spans = [e.text for e in item.evidence]
        signals = np.array(
            [[e.semantic, e.coverage * e.brevity, e.context, e.passage] for e in found.evidence], dtype=float
        ).reshape(-1, 4)
        gold = np.array([any(contains(e.sentence.text, s) for s in spans) for e in found.evidence], dtype=bool)
        features.append(QuestionFeatures(item, signals, gold, found.query, tuple(found.evidence)))
    return features


def _scores(question: QuestionFeatures, weights: tuple[float, ...]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return question.signals @ w / w.sum() if len(question.signals) else np.zeros(0)


def _top1(questions: list[QuestionFeatures], weights: tuple[float, ...]) -> float:
    answerable = [q for q in questions if q.item.answerable]
    hits = [bool(len(q.gold)) and bool(q.gold[int(np.argmax(_scores(q, weights)))]) for q in answerable]
    return float(np.mean(hits)) if hits else 0.0


def _best_scores(questions: list[QuestionFeatures], weights: tuple[float, ...]) -> np.ndarray:
    return np.array([_scores(q, weights).max(initial=0.0) for q in questions])


def fit(questions: list[QuestionFeatures], max_false_refusal: float) -> tuple[tuple[float, ...], float]:
    """Weights with the best first-evidence accuracy, then the refusal threshold."""
    weights = max(WEIGHT_GRID, key=lambda w: _top1(questions, w))
    answerable = _best_scores([q for q in questions if q.item.answerable], weights)
    threshold = float(np.quantile(answerable, max_false_refusal, method="lower")) if len(answerable) else 0.0
    return weights, threshold


def _rates(questions: list[QuestionFeatures], weights: tuple[float, ...], threshold: float) -> dict[str, float]:
    best = _best_scores(questions, weights)
    answerable = np.array([q.item.answerable for q in questions])
    return {
        "first_evidence_top1": _top1(questions, weights),
        "refusal_rate": float(np.mean(best[~answerable] < threshold)) if (~answerable).any() else 0.0,
        "false_refusal_rate": float(np.mean(best[answerable] < threshold)) if answerable.any() else 0.0,
    }


def cross_validate(questions: list[QuestionFeatures], max_false_refusal: float, folds: int = 5) -> dict[str, float]:
    order = np.random.default_rng(0).permutation(len(questions))
    totals: dict[str, list[float]] = {}
    for fold in np.array_split(order, folds):
        held_out = set(fold.tolist())
        train = [q for i, q in enumerate(questions) if i not in held_out]
        test = [q for i, q in enumerate(questions) if i in held_out]
        weights, threshold = fit(train, max_false_refusal)
        for name, value in _rates(test, weights, threshold).items():
            totals.setdefault(name, []).append(value)
    return {name: float(np.mean(values)) for name, values in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--max-false-refusal", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=Path("eval/reports/calibration.json"))
    args = parser.parse_args(argv)

    engine = Engine.open(args.index_dir)
    questions = collect(engine, load_set(args.set))
    weights, threshold = fit(questions, args.max_false_refusal)
    fitted = _rates(questions, weights, threshold)
    validated = cross_validate(questions, args.max_false_refusal)
    current = EvidenceSettings()
    current_weights = (current.w_semantic, current.w_coverage, current.w_context, current.w_passage)
    report = {
        "set": str(args.set),
        "questions": len(questions),
        "weights": dict(zip(["w_semantic", "w_coverage", "w_context", "w_passage"], weights, strict=True)),
        "refuse_below": round(threshold, 4),
        "fitted": fitted,
        "cross_validated": validated,
        "current_settings": _rates(questions, current_weights, engine.settings.compose.refuse_below),
        "ceiling_gold_among_candidates": float(np.mean([q.gold.any() for q in questions if q.item.answerable])),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
