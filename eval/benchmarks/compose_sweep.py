"""How many evidence sentences an answer quotes: `ComposeSettings.relative` x `max_sentences`.

A further sentence is quoted when its score reaches `relative` times the best
one (at most `max_sentences` in all). Evidence is gathered once per question;
every setting is then composed from it, so the sweep costs one pass.

- default eval set: keyword accuracy, first citation, refusal and per-category
  accuracy through the eval's own `run_set` / `summarize` (the only thing the
  setting changes is which further sentences are quoted);
- ClapNQ (with `--clapnq DIR`): cited-sentence precision / recall / F1 against
  the annotated sentences, as `eval.benchmarks.clapnq` measures them.

    python -m eval.benchmarks.compose_sweep [--clapnq ../shared/data/clapnq] [--scorer auto] [--split dev]

`--scorer` as on `rag eval` (default minilm, the scorer these settings were first swept with; auto or
embeddinggemma sweeps with EmbeddingGemma and its own settings); `--split` sweeps one split of the set.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from eval.benchmarks import clapnq
from eval.benchmarks.common import default_out, table, write_json
from eval.dataset import DEFAULT_SET, load_set
from eval.runner import run_set, summarize
from index.builder import build_index
from index.embedder import SentenceTransformerEmbedder
from index.loaders import load_documents
from index.paths import DEFAULT_CORPUS
from index.store import read_index
from rag.compose import compose
from rag.engine import Engine
from rag.options import SCORERS, scorer_from

__all__ = ["SETTINGS", "main", "sweep_clapnq", "sweep_default_set"]

SETTINGS = [(relative, most) for relative in (0.95, 0.9, 0.85, 0.8, 0.75, 0.7) for most in (2, 3, 4)]


def _with(engine: Engine, relative: float, most: int) -> Engine:
    compose_settings = replace(engine.settings.compose, relative=relative, max_sentences=most)
    settings = replace(engine.settings, compose=compose_settings)
    return Engine(engine.data, engine.embedder, engine.index_dir, settings, engine.scorer)


def sweep_default_set(
    index_dir: Path, embedder: SentenceTransformerEmbedder, scorer=None, split: str | None = None
) -> list[dict]:
    build_index([DEFAULT_CORPUS], index_dir, embedder)  # incremental: a no-op when up to date
    base = Engine(read_index(index_dir), embedder, index_dir, scorer=scorer)
    documents = {d.id: d for d in load_documents([DEFAULT_CORPUS]).documents}
    items = [item for item in load_set(DEFAULT_SET) if split is None or item.split == split]
    rows = []
    for relative, most in SETTINGS:
        summary = summarize(run_set(_with(base, relative, most), items, documents))
        keys = ("keyword_accuracy", "first_citation_evidence", "refusal_rate", "false_refusal_rate", "token_f1")
        rows.append({"relative": relative, "max_sentences": most, **{k: round(summary[k], 4) for k in keys}})
        rows[-1]["per_category"] = {k: round(v, 4) for k, v in summary["per_category"].items()}
    return rows


def sweep_clapnq(data_dir: Path, work_dir: Path, embedder: SentenceTransformerEmbedder, scorer=None) -> list[dict]:
    rows_by_kind = clapnq.load_rows(data_dir)
    index_dir, _ = clapnq.index_passages(rows_by_kind, work_dir, embedder)
    engine = Engine(read_index(index_dir), embedder, index_dir, scorer=scorer)
    found = [(row, engine.find_evidence(row["input"], k=5)) for row in rows_by_kind["answerable"]]
    results = []
    for relative, most in SETTINGS:
        settings = replace(engine.settings.compose, relative=relative, max_sentences=most)
        counts = []
        for row, evidence in found:
            _, citations = compose(evidence.choose(settings)[0], evidence.data.documents)
            gold = [a["selected_sentences"] for a in row["output"]]
            result = clapnq.best_annotation([c.quote for c in citations], gold)
            if result is not None:
                counts.append(result)
        results.append({"relative": relative, "max_sentences": most, **clapnq.prf(counts)})
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("/tmp/rag-bench-compose-index"), help="default index")
    parser.add_argument("--clapnq", type=Path, default=None, help="the clapnq folder (adds the ClapNQ sweep)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-compose-clapnq"), help="ClapNQ index")
    parser.add_argument("--scorer", choices=SCORERS, default="minilm", help="the evidence scorer, as on rag eval")
    parser.add_argument("--split", choices=["dev", "heldout"], default=None, help="one split of the set")
    parser.add_argument("--out", type=Path, default=default_out("compose_sweep"))
    args = parser.parse_args(argv)
    embedder = SentenceTransformerEmbedder()
    scorer = scorer_from(args)
    print(f"scorer: {(scorer or embedder).name}; split: {args.split or 'all'}")
    result: dict[str, object] = {"default_set": sweep_default_set(args.index, embedder, scorer, args.split)}
    headers = ["relative", "max", "keywords", "first citation", "refused", "false refusals"]
    keys = ("keyword_accuracy", "first_citation_evidence", "refusal_rate", "false_refusal_rate")
    rows = [[r["relative"], r["max_sentences"], *(f"{r[k]:.3f}" for k in keys)] for r in result["default_set"]]
    print(table(headers, rows))
    if args.clapnq:
        result["clapnq"] = sweep_clapnq(args.clapnq, args.work, embedder, scorer)
        rows = [
            [r["relative"], r["max_sentences"], f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}"]
            for r in result["clapnq"]
        ]
        print(table(["relative", "max", "ClapNQ precision", "recall", "F1"], rows))
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
