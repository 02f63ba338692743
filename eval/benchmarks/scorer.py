"""EmbeddingGemma-300M against MiniLM: as the evidence scorer, and how fast (issue #13).

    python -m eval.benchmarks.selection --scorer DIR     # quality: the tables below, with the selection ones
    python -m eval.benchmarks.scorer [--scorer DIR]      # speed: documents/s and ms per question, both models

DIR is the folder `scripts/fetch_scorer.sh` prints (default: `installed_scorer_path()`).

Quality (`scorer_quality`), on the default set, per model (MiniLM, EmbeddingGemma
without prompts, EmbeddingGemma with its query/document prompts):

- **plain cosine**: top-1 of the question-sentence cosine alone, over each
  question's candidate sentences (the engine's pool) and over every sentence of
  the corpus;
- **engine score**: the engine's weighted mean with that model's cosine as the
  semantic signal (and in the context signal), with the shipped weights;
- **re-weighted**: the weights picked on a DEV split only (a grid over the
  coverage, context and passage weights, semantic fixed at 1), reported on the
  held-out split: the set's `split` field ("dev" / "heldout"), or, in a set
  without one, the even-indexed answerable questions (in set order) as dev and
  the odd ones as held-out, likewise for the unanswerable ones;
- **refusal**: the threshold that refuses at most 5% of the dev answerable
  questions, applied to the held-out questions (threshold only: the engine's
  figure and how-many rules come on top of it in `rag eval`).

The candidates are the engine's own (retrieved with MiniLM); only their scoring changes.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.benchmarks.common import default_out, table, write_json
from eval.calibrate import QuestionFeatures
from eval.dataset import DEFAULT_SET, load_set
from eval.metrics import contains
from index.embedder import (
    Embedder,
    EmbeddingGemmaEmbedder,
    SentenceTransformerEmbedder,
    embed_queries,
    installed_scorer_path,
)
from index.store import IndexData
from rag.evidence import DocumentFrequencies, EvidenceSettings, Sentence, score_sentences
from rag.signals import document_name_words

__all__ = [
    "WEIGHT_GRID",
    "ModelSignals",
    "Vectors",
    "best_weights",
    "corpus_sentences",
    "engine_scores",
    "main",
    "scorer_quality",
    "split",
    "threshold_for",
    "top1",
]

# semantic fixed at 1; coverage, context, passage. Wider in coverage than eval.calibrate's grid:
# EmbeddingGemma's cosines sit on another scale than MiniLM's.
WEIGHT_GRID = list(
    itertools.product([1.0], [0.0, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5], [0.0, 0.1, 0.2, 0.3], [0.0, 0.1, 0.2, 0.3])
)
SHIPPED = (1.0, 0.5, 0.1, 0.1)
MAX_FALSE_REFUSAL = 0.05


@dataclass(frozen=True)
class ModelSignals:
    """One model's view of each question's candidates (the engine's order)."""

    signals: dict[
        str, np.ndarray
    ]  # question id -> candidates x 4: semantic*brevity, coverage*brevity, context, passage
    cosine: dict[str, np.ndarray]  # question id -> plain cosine per candidate (no brevity, no clipping)


def engine_scores(signals: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """The engine's weighted mean of the four signals (`EvidenceSettings.combine`)."""
    w = np.asarray(weights, dtype=float)
    return signals @ w / w.sum() if len(signals) else np.zeros(0)


def top1(questions: Sequence[QuestionFeatures], order: Callable[[QuestionFeatures], np.ndarray]) -> float:
    """Share of `questions` whose best-ordered candidate holds gold evidence (no candidate: a miss)."""
    if not questions:
        return 0.0
    hits = sum(_hit(q, order(q)) for q in questions)
    return hits / len(questions)


def _hit(q: QuestionFeatures, scores: np.ndarray) -> bool:
    return bool(len(q.gold)) and bool(q.gold[int(np.argmax(scores))])


def split(questions: Sequence[QuestionFeatures]) -> tuple[list[QuestionFeatures], list[QuestionFeatures]]:
    """Dev and held-out questions: the set's own `split` field when every item has one; else dev is the
    even positions in set order and held-out the odd ones, answerable and unanswerable each split alike."""
    if questions and all(q.item.split is not None for q in questions):
        return [q for q in questions if q.item.split == "dev"], [q for q in questions if q.item.split == "heldout"]
    dev: list[QuestionFeatures] = []
    held: list[QuestionFeatures] = []
    for answerable in (True, False):
        group = [q for q in questions if q.item.answerable == answerable]
        dev += group[0::2]
        held += group[1::2]
    return dev, held


def best_weights(
    questions: Sequence[QuestionFeatures], model: ModelSignals, grid: Sequence[tuple[float, ...]] = WEIGHT_GRID
) -> tuple[float, ...]:
    """The grid weights with the best top-1 on the answerable `questions` (first of ties, in grid order)."""
    answerable = [q for q in questions if q.item.answerable]
    return max(grid, key=lambda w: top1(answerable, lambda q: engine_scores(model.signals[q.item.id], w)))


def _support(q: QuestionFeatures, model: ModelSignals, weights: Sequence[float]) -> float:
    return float(engine_scores(model.signals[q.item.id], weights).max(initial=0.0))


def threshold_for(questions: Sequence[QuestionFeatures], model: ModelSignals, weights: Sequence[float]) -> float:
    """The highest threshold refusing at most MAX_FALSE_REFUSAL of the answerable `questions`."""
    supports = [_support(q, model, weights) for q in questions if q.item.answerable]
    return float(np.quantile(supports, MAX_FALSE_REFUSAL, method="lower")) if supports else 0.0


def _refusal(questions: Sequence[QuestionFeatures], model: ModelSignals, weights, threshold: float) -> dict:
    answerable = [q for q in questions if q.item.answerable]
    unanswerable = [q for q in questions if not q.item.answerable]
    return {
        "unanswerable_refused": round(
            float(np.mean([_support(q, model, weights) < threshold for q in unanswerable])), 4
        ),
        "false_refusal": round(float(np.mean([_support(q, model, weights) < threshold for q in answerable])), 4),
    }


@dataclass(frozen=True)
class Vectors:
    """One model's vectors, each text embedded once: sentences as documents, searched texts as questions."""

    sentences: dict[str, np.ndarray]
    queries: dict[str, np.ndarray]

    @classmethod
    def embed(cls, embedder: Embedder, sentences: Sequence[str], queries: Sequence[str]) -> Vectors:
        texts, asked = sorted(set(sentences)), sorted(set(queries))
        return cls(
            dict(zip(texts, embedder.embed(texts), strict=True)) if texts else {},
            dict(zip(asked, embed_queries(embedder, asked), strict=True)) if asked else {},
        )


def model_signals(
    data: IndexData, collected: Sequence[QuestionFeatures], vectors: Vectors, settings: EvidenceSettings
) -> ModelSignals:
    """Score every question's candidates again with the model of `vectors` as the semantic signal."""
    frequencies = DocumentFrequencies([chunk.text for chunk in data.chunks])
    names = document_name_words(data)

    def embed_sentences(sentences: Sequence[Sentence]) -> np.ndarray:
        return np.vstack([vectors.sentences[s.text] for s in sentences])

    signals: dict[str, np.ndarray] = {}
    cosine: dict[str, np.ndarray] = {}
    for q in collected:
        if not q.candidates:
            signals[q.item.id], cosine[q.item.id] = np.zeros((0, 4)), np.zeros(0)
            continue
        query = vectors.queries[q.query]
        candidates = [(e.sentence, e.passage) for e in q.candidates]
        rescored = score_sentences(
            q.query,
            query,
            candidates,
            embed_sentences,
            frequencies,
            lambda doc_id: names.get(doc_id, set()),
            settings,
        )
        by_sentence = {e.sentence: e for e in rescored}
        ordered = [by_sentence[e.sentence] for e in q.candidates]
        signals[q.item.id] = np.array([[e.semantic, e.coverage * e.brevity, e.context, e.passage] for e in ordered])
        cosine[q.item.id] = embed_sentences([e.sentence for e in q.candidates]) @ query
    return ModelSignals(signals, cosine)


def corpus_sentences(data: IndexData) -> list[Sentence]:
    """Every distinct sentence of the indexed documents, in document order."""
    seen: dict[tuple[str, int, int], None] = {}
    for chunk in data.chunks:
        for start, end in chunk.sentences:
            seen.setdefault((chunk.doc_id, start, end), None)
    documents = data.documents
    return [Sentence(d, s, e, documents[d].text[s:e]) for d, s, e in sorted(seen)]


def _corpus_top1(answerable: Sequence[QuestionFeatures], vectors: Vectors, sentences: Sequence[Sentence]) -> float:
    """Top-1 of plain cosine over every corpus sentence: does the best one hold a gold span?"""
    matrix = np.vstack([vectors.sentences[s.text] for s in sentences])
    hits = 0
    for q in answerable:
        best = sentences[int(np.argmax(matrix @ vectors.queries[q.query]))]
        hits += any(contains(best.text, span.text) for span in q.item.evidence)
    return hits / len(answerable) if answerable else 0.0


def scorer_quality(
    data: IndexData, collected: Sequence[QuestionFeatures], scorer: Path, minilm: Embedder, settings: EvidenceSettings
) -> dict:
    """The tables of the module docstring, as one JSON-able dict."""
    prompted = EmbeddingGemmaEmbedder(scorer, prompts=True)
    models: dict[str, Embedder] = {
        "MiniLM": minilm,
        "EmbeddingGemma, no prompts": prompted.variant(prompts=False),  # one copy of the weights
        "EmbeddingGemma, query/document prompts": prompted,
    }
    answerable = [q for q in collected if q.item.answerable]
    dev, held = split(collected)
    dev_answerable = [q for q in dev if q.item.answerable]
    held_answerable = [q for q in held if q.item.answerable]
    sentences = corpus_sentences(data)
    corpus_ceiling = float(
        np.mean([any(contains(s.text, span.text) for s in sentences for span in q.item.evidence) for q in answerable])
    )
    rows = {}
    for label, embedder in models.items():
        started = time.perf_counter()
        vectors = Vectors.embed(
            embedder,
            [s.text for s in sentences] + [e.sentence.text for q in collected for e in q.candidates],
            [q.query for q in collected],
        )
        signals = model_signals(data, collected, vectors, settings)
        picked = best_weights(dev, signals)
        rows[label] = {
            "cosine_top1_candidates": round(top1(answerable, lambda q, s=signals: s.cosine[q.item.id]), 4),
            "cosine_top1_corpus": round(_corpus_top1(answerable, vectors, sentences), 4),
            "engine_top1_shipped": round(
                top1(answerable, lambda q, s=signals: engine_scores(s.signals[q.item.id], SHIPPED)), 4
            ),
            "engine_top1_shipped_dev": round(
                top1(dev_answerable, lambda q, s=signals: engine_scores(s.signals[q.item.id], SHIPPED)), 4
            ),
            "engine_top1_shipped_held_out": round(
                top1(held_answerable, lambda q, s=signals: engine_scores(s.signals[q.item.id], SHIPPED)), 4
            ),
            "dev_weights": list(picked),
            "engine_top1_dev_weights_dev": round(
                top1(dev_answerable, lambda q, s=signals, w=picked: engine_scores(s.signals[q.item.id], w)), 4
            ),
            "engine_top1_dev_weights_held_out": round(
                top1(held_answerable, lambda q, s=signals, w=picked: engine_scores(s.signals[q.item.id], w)), 4
            ),
            "refusal_shipped_weights_held_out": _refusal(held, signals, SHIPPED, threshold_for(dev, signals, SHIPPED)),
            "refusal_dev_weights_held_out": _refusal(held, signals, picked, threshold_for(dev, signals, picked)),
            "seconds": round(time.perf_counter() - started, 1),
            "engine_hits_shipped": sorted(
                q.item.id for q in answerable if _hit(q, engine_scores(signals.signals[q.item.id], SHIPPED))
            ),
        }
        print(f"{label}: {rows[label]}", flush=True)
    baseline = set(rows["MiniLM"]["engine_hits_shipped"])
    for r in rows.values():
        hits = set(r["engine_hits_shipped"])
        r["vs_minilm_gained"], r["vs_minilm_lost"] = sorted(hits - baseline), sorted(baseline - hits)
    return {
        "scorer": str(scorer),
        "answerable": len(answerable),
        "split": "the set's split field" if all(q.item.split for q in collected) else "even / odd positions",
        "dev_answerable": len(dev_answerable),
        "held_out_answerable": len(held_answerable),
        "dev_unanswerable": len(dev) - len(dev_answerable),
        "held_out_unanswerable": len(held) - len(held_answerable),
        "corpus_sentences": len(sentences),
        "gold_in_a_corpus_sentence": round(corpus_ceiling, 4),
        "gold_among_candidates": round(float(np.mean([q.gold.any() for q in answerable])), 4),
        "models": rows,
    }


def quality_tables(result: dict) -> str:
    """The quality result as Markdown tables."""
    models = result["models"]
    first = table(
        [
            f"model ({result['answerable']} answerable)",
            "cosine top-1, candidates",
            f"cosine top-1, all {result['corpus_sentences']} corpus sentences",
            "engine score, shipped weights",
        ],
        [
            [
                label,
                f"{r['cosine_top1_candidates']:.3f}",
                f"{r['cosine_top1_corpus']:.3f}",
                f"{r['engine_top1_shipped']:.3f}",
            ]
            for label, r in models.items()
        ]
        + [
            [
                "ceiling",
                f"{result['gold_among_candidates']:.3f}",
                f"{result['gold_in_a_corpus_sentence']:.3f}",
                f"{result['gold_among_candidates']:.3f}",
            ]
        ],
    )
    second = table(
        [
            f"model (dev {result['dev_answerable']} / held-out {result['held_out_answerable']} answerable)",
            "shipped weights: dev",
            "held-out",
            "dev-picked weights (sem, cov, ctx, pass)",
            "dev",
            "held-out",
        ],
        [
            [
                label,
                f"{r['engine_top1_shipped_dev']:.3f}",
                f"{r['engine_top1_shipped_held_out']:.3f}",
                ", ".join(f"{w:g}" for w in r["dev_weights"]),
                f"{r['engine_top1_dev_weights_dev']:.3f}",
                f"{r['engine_top1_dev_weights_held_out']:.3f}",
            ]
            for label, r in models.items()
        ],
    )
    third = table(
        [
            f"held-out refusal, threshold fit on dev ({result['held_out_unanswerable']} unanswerable held out)",
            "shipped weights: refused / false refusals",
            "dev-picked weights: refused / false refusals",
        ],
        [
            [
                label,
                f"{r['refusal_shipped_weights_held_out']['unanswerable_refused']:.3f} / "
                f"{r['refusal_shipped_weights_held_out']['false_refusal']:.3f}",
                f"{r['refusal_dev_weights_held_out']['unanswerable_refused']:.3f} / "
                f"{r['refusal_dev_weights_held_out']['false_refusal']:.3f}",
            ]
            for label, r in models.items()
        ],
    )
    changes = "\n".join(
        f"{label}, engine score with shipped weights, against MiniLM: "
        f"{len(r['vs_minilm_gained'])} questions gained ({', '.join(r['vs_minilm_gained'])}), "
        f"{len(r['vs_minilm_lost'])} lost ({', '.join(r['vs_minilm_lost'])})"
        for label, r in models.items()
        if label != "MiniLM"
    )
    return f"{first}\n\n{second}\n\n{third}\n\n{changes}"


# -- speed -----------------------------------------------------------------------


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


def speed(
    embedders: dict[str, Embedder], documents: Sequence[str], questions: Sequence[str], rounds: int = 3
) -> dict[str, dict[str, float]]:
    """Documents per second (one batch call, all threads) and ms per question (one at a time, as the engine asks),
    the models interleaved round by round so that both see the same machine load; medians over the rounds."""
    for embedder in embedders.values():  # load, and warm up
        embedder.embed(list(documents[:4]))
        embed_queries(embedder, list(questions[:2]))
    per_doc: dict[str, list[float]] = {name: [] for name in embedders}
    per_query: dict[str, list[float]] = {name: [] for name in embedders}
    loads: list[float] = []
    for _ in range(rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed(list(documents))
            per_doc[name].append(len(documents) / (time.perf_counter() - started))
            for question in questions:
                started = time.perf_counter()
                embed_queries(embedder, [question])
                per_query[name].append((time.perf_counter() - started) * 1000)
        loads.append(_load_average())
    return {
        name: {
            "documents_per_second": round(statistics.median(per_doc[name]), 2),
            "query_ms_p50": round(statistics.median(per_query[name]), 2),
            "query_ms_p95": round(float(np.percentile(per_query[name], 95)), 2),
            "load_average": round(statistics.mean(loads), 2),
        }
        for name in embedders
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="EmbeddingGemma-300M against MiniLM: embedding speed")
    parser.add_argument(
        "--scorer", type=Path, default=None, help="the EmbeddingGemma folder (default: the fetched one)"
    )
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--documents", type=int, default=64, help="corpus sentences encoded per round")
    parser.add_argument("--questions", type=int, default=20, help="questions embedded one at a time per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=default_out("scorer_speed"))
    args = parser.parse_args(argv)
    scorer = args.scorer or installed_scorer_path()
    if scorer is None:
        parser.error("EmbeddingGemma is not installed: run scripts/fetch_scorer.sh or give --scorer")

    from rag.engine import Engine

    engine = Engine.open(args.index_dir)
    sentences = [s.text for s in corpus_sentences(engine.data)][: args.documents]
    questions = [item.question for item in load_set(args.set)][: args.questions]
    embedders: dict[str, Embedder] = {
        "MiniLM": SentenceTransformerEmbedder(),
        "EmbeddingGemma (prompts)": EmbeddingGemmaEmbedder(scorer),
    }
    result = speed(embedders, sentences, questions, args.rounds)
    minilm, gemma = result["MiniLM"], result["EmbeddingGemma (prompts)"]
    rows = [
        [name, f"{r['documents_per_second']:.1f}", f"{r['query_ms_p50']:.1f}", f"{r['query_ms_p95']:.1f}"]
        for name, r in result.items()
    ]
    rows.append(
        [
            "EmbeddingGemma / MiniLM",
            f"{gemma['documents_per_second'] / minilm['documents_per_second']:.3f}x",
            f"{gemma['query_ms_p50'] / minilm['query_ms_p50']:.1f}x",
            f"{gemma['query_ms_p95'] / minilm['query_ms_p95']:.1f}x",
        ]
    )
    print(
        f"{len(sentences)} corpus sentences per round, {len(questions)} questions one at a time, "
        f"{args.rounds} rounds; {os.cpu_count()} CPUs, load average {minilm['load_average']}"
    )
    print(table(["model", "documents/s (batched)", "ms per question p50", "p95"], rows))
    write_json(args.out, {"documents": len(sentences), "questions": len(questions), "models": result})
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
