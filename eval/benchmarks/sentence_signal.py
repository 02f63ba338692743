"""How much should each passage's best sentence under the scorer weigh in retrieval?

    python -m eval.benchmarks.sentence_signal [--split dev|heldout|all] [--values 0,0.3,0.6,0.8] [--clapnq DIR]

`RetrievalSettings.sentence_weight` is the share of a passage's fused retrieval score that comes from
its best sentence: the highest cosine between the question and one of its sentences under
EmbeddingGemma (vectors computed once per index, `index.sentence_vectors`), beside MiniLM's passage
cosine and BM25 (`rag.retriever`). For each value this asks the default eval set's questions of the
chosen split with the default scorer (and, with `--clapnq`, all 600 ClapNQ dev questions, never
tuned on) and prints how often the gold evidence is among the five passages shown, first-citation
accuracy, keywords, refusals and false refusals. Needs the scorer (`scripts/fetch_scorer.sh`).
docs/scorer.md has what it measured and why the default is 0.6.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from eval.benchmarks.common import default_out, table, write_json
from eval.dataset import DEFAULT_SET, load_set
from eval.runner import run_set, summarize
from index.builder import build_index
from index.embedder import SentenceTransformerEmbedder, installed_scorer_path
from index.onnx_embedder import make_embedder, make_scorer
from index.paths import DEFAULT_CORPUS
from index.store import read_index
from rag.engine import GEMMA_REFUSE_BELOW, AnswerSettings, Engine, scorer_settings

__all__ = ["main"]

_EVAL_METRICS = (
    "evidence_recall_at_k",
    "first_citation_evidence",
    "keyword_accuracy",
    "refusal_rate",
    "false_refusal_rate",
)


def _weighted(scorer, weight: float) -> AnswerSettings:
    settings = scorer_settings(scorer)
    return dataclasses.replace(settings, retrieval=dataclasses.replace(settings.retrieval, sentence_weight=weight))


def eval_set(split: str, values: list[float]) -> dict[float, dict]:
    """The default set's summary for each sentence weight (one index, one scorer)."""
    with tempfile.TemporaryDirectory() as folder:
        index_dir = Path(folder) / "index"
        embedder = make_embedder()
        build_index([DEFAULT_CORPUS], index_dir, embedder)
        scorer = make_scorer()
        items = [item for item in load_set(DEFAULT_SET) if split == "all" or item.split == split]
        documents = read_index(index_dir).documents
        results = {}
        for value in values:
            settings = _weighted(scorer, value)
            engine = Engine.open(index_dir, embedder=embedder, build_if_missing=False, scorer=scorer, settings=settings)
            summary = summarize(run_set(engine, items, documents))
            results[value] = {key: summary[key] for key in (*_EVAL_METRICS, "per_category")}
            print(f"{split} sentence_weight={value}: {[round(summary[key], 3) for key in _EVAL_METRICS]}", flush=True)
    return results


def clapnq(data_dir: Path, work: Path, values: list[float]) -> dict[float, dict]:
    """ClapNQ dev's sentence F1 and refusals for each value (the benchmark's own index and summary)."""
    from eval.benchmarks.clapnq import index_passages, load_rows
    from eval.benchmarks.clapnq import summarize as clapnq_summary

    rows = load_rows(data_dir, None)
    embedder = SentenceTransformerEmbedder()
    index_dir, _ = index_passages(rows, work, embedder)
    scorer = make_scorer()
    results = {}
    for value in values:
        settings = _weighted(scorer, value)
        engine = Engine(read_index(index_dir), embedder, index_dir, settings, scorer)
        asked = {kind: [(row, engine.ask(row["input"], k=5)) for row in group] for kind, group in rows.items()}
        summary = clapnq_summary(asked)
        results[value] = {
            "sentence_f1": summary["sentences"]["f1"],
            "refusal_rate_unanswerable": summary["refusal_rate_unanswerable"],
            "false_refusal_rate_answerable": summary["false_refusal_rate_answerable"],
        }
        results[value]["curve"] = curve(asked)
        print(f"clapnq sentence_weight={value}: {[round(v, 3) for v in list(results[value].values())[:3]]}", flush=True)
    return results


# Refusal thresholds on EmbeddingGemma's scale from the shipped one up.
CURVE_THRESHOLDS = (GEMMA_REFUSE_BELOW, 0.40, 0.42, 0.44, 0.46, 0.48)


def curve(asked: dict[str, list]) -> list[dict[str, float]]:
    """Refusals had the threshold been t, at or above the shipped one (an answer counts as refused when it
    was, or when its support is below t). This compares two settings at the same false-refusal rate;
    nothing is picked from it (ClapNQ is never tuned on)."""
    rows = []
    for t in CURVE_THRESHOLDS:
        rate = {kind: sum(a.refused or a.support < t for _, a in group) / len(group) for kind, group in asked.items()}
        rows.append({"threshold": t, "refused": rate["unanswerable"], "false_refusals": rate["answerable"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--values", default="0,0.3,0.6,0.8", help="sentence weights, comma-separated")
    parser.add_argument("--clapnq", type=Path, default=None, help="also run ClapNQ dev from this folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-clapnq-signal"), help="ClapNQ index folder")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if installed_scorer_path() is None:
        print("EmbeddingGemma is not installed: run `bash scripts/fetch_scorer.sh` first", file=sys.stderr)
        return 2
    values = [float(v) for v in args.values.split(",")]
    report: dict[str, object] = {"split": args.split, "eval_set": eval_set(args.split, values)}
    rows = [[value, *(round(r[key], 3) for key in _EVAL_METRICS)] for value, r in report["eval_set"].items()]
    print(
        table(
            ["sentence weight", "gold in 5 passages", "first citation", "keywords", "refused", "false refusals"], rows
        )
    )
    if args.clapnq:
        report["clapnq"] = found = clapnq(args.clapnq, args.work, values)
        rows = [[value, *(round(v, 3) for k, v in r.items() if k != "curve")] for value, r in found.items()]
        print(table(["sentence weight", "ClapNQ sentence F1", "refused", "false refusals"], rows))
        rows = [
            [value, c["threshold"], round(c["refused"], 3), round(c["false_refusals"], 3)]
            for value, r in found.items()
            for c in r["curve"]
        ]
        print(table(["sentence weight", "had it refused below", "refused", "false refusals"], rows))
    write_json(args.out or default_out("sentence_signal"), report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
