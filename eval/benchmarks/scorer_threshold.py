"""The refusal threshold for an evidence scorer, fitted on one split of the eval set.

    python -m eval.benchmarks.scorer_threshold --scorer embeddinggemma --split dev [--max-false-refusal 0.04]

Every question of the set is asked in order (so follow-ups see the answers given), with the refusal
threshold at 0; for the questions of the split it records the best evidence score and whether another
rule refuses anyway (a pinned figure or name, how many, when). A threshold T then refuses a question
when its score is below T or another rule refuses it. The table lists false refusals (answerable) and
refusals (unanswerable) for T from 0.30 to 0.59; the pick is the highest T whose false refusals stay
within `--max-false-refusal`, the rule `eval.calibrate` uses for MiniLM. `rag.engine.GEMMA_REFUSE_BELOW`
came from this command.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from eval.benchmarks.common import default_out, write_json
from eval.dataset import DEFAULT_SET, load_set, select_items
from eval.runner import history_for
from index.embedder import SentenceTransformerEmbedder
from rag.engine import AnswerSettings, Engine, scorer_settings
from rag.options import SCORERS, scorer_from

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scorer", choices=SCORERS, default="embeddinggemma")
    parser.add_argument("--split", choices=["dev", "heldout"], default="dev")
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--max-false-refusal", type=float, default=0.04)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    scorer = scorer_from(args)
    base = scorer_settings(scorer) if scorer is not None else AnswerSettings()
    free = dataclasses.replace(base, compose=dataclasses.replace(base.compose, refuse_below=0.0))
    engine = Engine.open(args.index_dir, embedder=SentenceTransformerEmbedder(), settings=free, scorer=scorer)
    items = load_set(args.set)
    wanted = {item.id for item in select_items(items, split=args.split)}
    by_id, answers, rows = {item.id: item for item in items}, {}, []
    for item in items:
        history = history_for(item, by_id, answers)
        answers[item.id] = engine.ask(item.question, history).answer
        if item.id in wanted:
            found = engine.find_evidence(item.question, history)
            _, reason = found.choose(free.compose)
            rows.append((item.answerable, found.support, reason is not None))
    answerable = [r for r in rows if r[0]]
    unanswerable = [r for r in rows if not r[0]]
    table, best = [], None
    for step in range(30, 60):
        threshold = step / 100
        false = sum(other or support < threshold for _, support, other in answerable) / len(answerable)
        refused = sum(other or support < threshold for _, support, other in unanswerable) / len(unanswerable)
        table.append({"threshold": threshold, "false_refusal": round(false, 3), "refused": round(refused, 3)})
        if false <= args.max_false_refusal:
            best = table[-1]
    result = {"scorer": engine.scorer_name, "split": args.split, "table": table, "pick": best}
    write_json(args.out or default_out("scorer_threshold"), result)
    print("threshold  false refusals  refused")
    for row in table:
        print(f"{row['threshold']:.2f}       {row['false_refusal']:.3f}           {row['refused']:.3f}")
    print(json.dumps({"pick": best}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
