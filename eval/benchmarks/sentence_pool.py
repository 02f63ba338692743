"""Does searching every sentence's stored scorer vector find evidence that passage retrieval misses?

    python -m eval.benchmarks.sentence_pool [--split dev|heldout|all] [--values 0,2,4,8] [--clapnq DIR]

`AnswerSettings.sentence_pool` adds to the evidence pool the passages holding the sentences whose
EmbeddingGemma vectors (computed once per index, `index.sentence_vectors`) are nearest to the
question: a paraphrase that shares no word with its answer, which MiniLM's passage ranking misses,
still gets its sentence scored. For each value this asks the default eval set's questions of the
chosen split with the default scorer (and, with `--clapnq`, all 600 ClapNQ dev questions, never
tuned on) and prints first-citation accuracy, keywords, refusals and false refusals. Needs the
scorer (`scripts/fetch_scorer.sh`). docs/scorer.md has what it measured and why the default is 0.
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
from rag.engine import Engine, scorer_settings

__all__ = ["main"]

_EVAL_METRICS = ("first_citation_evidence", "keyword_accuracy", "refusal_rate", "false_refusal_rate")


def eval_set(split: str, values: list[int]) -> dict[int, dict]:
    """The default set's summary for each sentence_pool value (one index, one scorer)."""
    with tempfile.TemporaryDirectory() as folder:
        index_dir = Path(folder) / "index"
        embedder = make_embedder()
        build_index([DEFAULT_CORPUS], index_dir, embedder)
        scorer = make_scorer()
        items = [item for item in load_set(DEFAULT_SET) if split == "all" or item.split == split]
        documents = read_index(index_dir).documents
        results = {}
        for value in values:
            settings = dataclasses.replace(scorer_settings(scorer), sentence_pool=value)
            engine = Engine.open(index_dir, embedder=embedder, build_if_missing=False, scorer=scorer, settings=settings)
            summary = summarize(run_set(engine, items, documents))
            results[value] = {key: summary[key] for key in (*_EVAL_METRICS, "per_category")}
            print(f"{split} sentence_pool={value}: {[round(summary[key], 3) for key in _EVAL_METRICS]}", flush=True)
    return results


def clapnq(data_dir: Path, work: Path, values: list[int]) -> dict[int, dict]:
    """ClapNQ dev's sentence F1 and refusals for each value (the benchmark's own index and summary)."""
    from eval.benchmarks.clapnq import load_rows, write_passages
    from eval.benchmarks.clapnq import summarize as clapnq_summary

    rows = load_rows(data_dir, None)
    docs = write_passages(rows, work / "docs-detokenized", False)
    index_dir = work / "index-detokenized"
    embedder = SentenceTransformerEmbedder()
    build_index([docs], index_dir, embedder)
    scorer = make_scorer()
    results = {}
    for value in values:
        settings = dataclasses.replace(scorer_settings(scorer), sentence_pool=value)
        engine = Engine(read_index(index_dir), embedder, index_dir, settings, scorer)
        asked = {kind: [(row, engine.ask(row["input"], k=5)) for row in group] for kind, group in rows.items()}
        summary = clapnq_summary(asked)
        results[value] = {
            "sentence_f1": summary["sentences"]["f1"],
            "refusal_rate_unanswerable": summary["refusal_rate_unanswerable"],
            "false_refusal_rate_answerable": summary["false_refusal_rate_answerable"],
        }
        print(f"clapnq sentence_pool={value}: {[round(v, 3) for v in results[value].values()]}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--values", default="0,2,4,8", help="sentence_pool values, comma-separated")
    parser.add_argument("--clapnq", type=Path, default=None, help="also run ClapNQ dev from this folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-clapnq-pool"), help="ClapNQ index folder")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if installed_scorer_path() is None:
        print("EmbeddingGemma is not installed: run `bash scripts/fetch_scorer.sh` first", file=sys.stderr)
        return 2
    values = [int(v) for v in args.values.split(",")]
    report: dict[str, object] = {"split": args.split, "eval_set": eval_set(args.split, values)}
    rows = [[value, *(round(r[key], 3) for key in _EVAL_METRICS)] for value, r in report["eval_set"].items()]
    print(table(["sentence_pool", "first citation", "keywords", "refused", "false refusals"], rows))
    if args.clapnq:
        report["clapnq"] = found = clapnq(args.clapnq, args.work, values)
        rows = [[value, *(round(v, 3) for v in r.values())] for value, r in found.items()]
        print(table(["sentence_pool", "ClapNQ sentence F1", "refused", "false refusals"], rows))
    write_json(args.out or default_out("sentence_pool"), report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
