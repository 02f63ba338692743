"""Compare fusion methods on an eval set: retrieval and answer metrics per setting.

    python -m eval.benchmarks.fusion [--set eval/sets/default.jsonl] [--out eval/reports/fusion.json]

Runs the whole set once per retrieval setting (dense only, BM25 only, reciprocal
rank fusion, convex fusion at several alphas) on the same index and model, and
prints evidence recall@5, MRR, first-citation accuracy and refusal figures.
The SciFact side of the comparison is `python -m eval.benchmarks.scifact`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from eval.dataset import DEFAULT_SET, load_set
from eval.runner import run_set, summarize
from index.loaders import load_documents
from rag.engine import Engine
from rag.retriever import RetrievalSettings

SETTINGS = {
    "dense only": RetrievalSettings(mode="dense"),
    "bm25 only": RetrievalSettings(mode="lexical"),
    "rrf (k=60)": RetrievalSettings(fusion="rrf"),
    **{f"convex alpha={a}": RetrievalSettings(fusion="convex", alpha=a) for a in (0.4, 0.5, 0.6, 0.7, 0.8)},
}
COLUMNS = ("evidence_recall_at_k", "mrr", "first_citation_evidence", "refusal_rate", "false_refusal_rate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("eval/reports/fusion.json"))
    args = parser.parse_args(argv)

    engine = Engine.open(args.index_dir)
    items = load_set(args.set)
    documents = {d.id: d for d in load_documents([Path(s) for s in engine.data.manifest.sources]).documents}
    rows = {}
    print(f"{'setting':22}" + "".join(f"{c[:22]:>24}" for c in COLUMNS))
    for name, retrieval in SETTINGS.items():
        engine.settings = dataclasses.replace(engine.settings, retrieval=retrieval)
        engine.reload()  # a fresh retriever with the new settings
        summary = summarize(run_set(engine, items, documents))
        rows[name] = {c: summary[c] for c in COLUMNS}
        print(f"{name:22}" + "".join(f"{summary[c]:24.3f}" for c in COLUMNS))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
