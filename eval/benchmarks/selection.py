"""How far can evidence selection go on the signals the engine has? (issue #3's first-citation gap)

    python -m eval.benchmarks.selection [--model NAME_OR_PATH] [--scorer DIR] [--clapnq DIR] [--out FILE]

`rag eval` finds the first citation holding the gold evidence for about 73% of
the answerable questions, against a goal of 90%. This command asks where the
gap lies, on the default set's answerable questions:

- **gold among candidates**: a gold sentence is among the candidate sentences
  at all (the sentences of the pooled chunks). Nothing that only reorders the
  candidates can do better.
- **top-1** per way of ordering the candidates: the share of answerable
  questions whose first candidate holds gold evidence. The engine's own score,
  each signal alone, and *learned* orderings: a listwise linear model (softmax
  over one question's candidates) over the five signals of `rag.evidence`
  (semantic, coverage, context, passage, brevity), and over those plus the 384
  question-by-sentence products of the MiniLM vectors (a learned bilinear
  match). Learned models are fitted on the eval questions themselves, so they
  are reported both in-sample (an optimistic bound) and 5-fold cross-validated
  by question (what they would do on new questions).
- with `--model`: the engine's scoring with the semantic signal computed by
  another sentence-transformers model (a name or a local folder), for example
  all-mpnet-base-v2.
- with `--scorer DIR`: EmbeddingGemma-300M (the folder `scripts/fetch_scorer.sh`
  prints) against MiniLM, with and without its query/document prompts: plain
  cosine top-1, the engine score with it as the semantic signal, weights
  re-picked on a dev split and reported on the held-out one, and refusal
  (`eval.benchmarks.scorer`; docs/scorer.md has the numbers).
- with `--clapnq DIR`: a cross-encoder trained on 80% of ClapNQ's answerable
  questions (`eval.benchmarks.cross_encoder`, about 4 minutes on 2 cores), scored on the
  other 20% and used alone to order the default set's candidates.

If a learned ordering of these signals cannot beat the engine's score out of
sample, better weighting is not the way to the goal; a stronger judge of
"does this sentence answer the question" is (docs/calibration.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.benchmarks.common import default_out, table, write_json
from eval.benchmarks.cross_encoder import clapnq_questions, held_out_top1, train_cross_encoder
from eval.calibrate import QuestionFeatures, collect
from eval.dataset import DEFAULT_SET, load_set
from index.embedder import SentenceTransformerEmbedder
from rag.engine import Engine, document_name_words
from rag.evidence import DocumentFrequencies, score_sentences

__all__ = ["Question", "fit_listwise", "main", "top1"]

FOLDS = 5


@dataclass(frozen=True)
class Question:
    """One answerable question's candidates: features per candidate and which hold gold evidence."""

    id: str
    signals: np.ndarray  # candidates x 5: semantic, coverage, context, passage, brevity
    products: np.ndarray  # candidates x dimension: question vector * sentence vector
    engine_score: np.ndarray  # candidates: the engine's own score
    gold: np.ndarray  # candidates: bool


def top1(questions: Sequence[Question], order: Callable[[Question], np.ndarray], answerable: int) -> float:
    """Share of the `answerable` questions whose best-ordered candidate holds gold evidence."""
    hits = sum(bool(q.gold[int(np.argmax(order(q)))]) for q in questions if len(q.gold))
    return hits / answerable if answerable else 0.0


def fit_listwise(
    questions: Sequence[Question],
    features: Callable[[Question], np.ndarray],
    l2: float = 0.1,
    steps: int = 300,
) -> Callable[[Question], np.ndarray]:
    """A linear scorer trained with a softmax over each question's candidates (Adam, L2).

    Only questions with a gold candidate teach anything; features are standardised
    on the training questions.
    """
    teaching = [q for q in questions if q.gold.any()]
    stacked = np.vstack([features(q) for q in teaching])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    matrices = [(features(q) - mean) / scale for q in teaching]
    weights = np.zeros(stacked.shape[1])
    first, second = np.zeros_like(weights), np.zeros_like(weights)
    for step in range(1, steps + 1):
        gradient = l2 * weights
        for matrix, question in zip(matrices, teaching, strict=True):
            scores = matrix @ weights
            p = np.exp(scores - scores.max())
            p /= p.sum()
            target = p * question.gold
            target /= target.sum()
            gradient += matrix.T @ (p - target) / len(teaching)
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient**2
        weights -= 0.05 * (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
    return lambda q: ((features(q) - mean) / scale) @ weights


def _cross_validated(
    questions: Sequence[Question], features: Callable[[Question], np.ndarray], answerable: int
) -> float:
    order = np.random.default_rng(0).permutation(len(questions))
    hits = 0.0
    for fold in np.array_split(order, FOLDS):
        held_out = set(fold.tolist())
        scorer = fit_listwise([q for i, q in enumerate(questions) if i not in held_out], features)
        test = [q for i, q in enumerate(questions) if i in held_out]
        hits += top1(test, scorer, answerable) * answerable
    return hits / answerable if answerable else 0.0


def _questions(engine: Engine, collected: Sequence[QuestionFeatures]) -> list[Question]:
    texts = sorted({e.sentence.text for q in collected for e in q.candidates})
    vectors = dict(zip(texts, engine.embedder.embed(texts), strict=True))
    questions = []
    for q in collected:
        if not q.candidates:
            questions.append(Question(q.item.id, np.zeros((0, 5)), np.zeros((0, 1)), np.zeros(0), q.gold))
            continue
        query = engine.embedder.embed([q.query])[0]
        sentences = np.vstack([vectors[e.sentence.text] for e in q.candidates])
        signals = np.array(
            [[e.semantic, e.coverage * e.brevity, e.context, e.passage, e.brevity] for e in q.candidates]
        )
        scores = np.array([e.score for e in q.candidates])
        questions.append(Question(q.item.id, signals, sentences * query, scores, q.gold))
    return questions


def _other_model_scores(engine: Engine, collected: Sequence[QuestionFeatures], model: str) -> dict[str, np.ndarray]:
    """The engine's score of each candidate (same order) with `model` as the semantic signal."""
    other = SentenceTransformerEmbedder(model)
    frequencies = DocumentFrequencies([chunk.text for chunk in engine.data.chunks])
    names = document_name_words(engine.data)
    scores = {}
    for q in collected:
        if not q.candidates:
            continue
        candidates = [(e.sentence, e.passage) for e in q.candidates]
        rescored = score_sentences(
            q.query,
            other.embed([q.query])[0],
            candidates,
            lambda sentences: other.embed([s.text for s in sentences]),
            frequencies,
            lambda doc_id: names.get(doc_id, set()),
            engine.settings.evidence,
        )
        by_sentence = {e.sentence: e.score for e in rescored}
        scores[q.item.id] = np.array([by_sentence[e.sentence] for e in q.candidates])
    return scores


def _cross_encoder_scores(
    engine: Engine, collected: Sequence[QuestionFeatures], clapnq: Path
) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """A cross-encoder's scores for each default-set question's candidates, and how it did on ClapNQ
    (beside the engine's embedding model alone, MiniLM cosine, on the same held-out questions)."""
    labelled = clapnq_questions(clapnq)
    order = np.random.default_rng(0).permutation(len(labelled))
    held_out = [labelled[i] for i in order[: len(labelled) // 5]]
    trained_on = [labelled[i] for i in order[len(labelled) // 5 :]]
    score = train_cross_encoder(trained_on)
    scores = {q.item.id: score(q.query, [e.sentence.text for e in q.candidates]) for q in collected if q.candidates}
    embed = engine.embedder.embed

    def cosine(question: str, sentences: Sequence[str]) -> np.ndarray:
        return embed(list(sentences)) @ embed([question])[0]

    report = {
        "clapnq_trained_on": len(trained_on),
        "clapnq_held_out": len(held_out),
        "clapnq_held_out_top1": round(held_out_top1(held_out, score), 4),
        "clapnq_held_out_top1_embedding_cosine": round(held_out_top1(held_out, cosine), 4),
    }
    return scores, report


def run(
    engine: Engine,
    set_path: Path,
    model: str | None = None,
    clapnq: Path | None = None,
    scorer: Path | None = None,
) -> dict:
    everything = collect(engine, load_set(set_path))
    collected = [q for q in everything if q.item.answerable]
    questions = _questions(engine, collected)
    answerable = len(questions)
    rows = [
        ("engine score (shipped)", top1(questions, lambda q: q.engine_score, answerable), None),
        ("semantic alone", top1(questions, lambda q: q.signals[:, 0], answerable), None),
        ("coverage alone", top1(questions, lambda q: q.signals[:, 1], answerable), None),
    ]
    for label, features in (
        ("listwise linear, 5 signals", lambda q: q.signals),
        ("listwise linear, 5 signals + 384 products", lambda q: np.hstack([q.signals, q.products])),
    ):
        in_sample = top1(questions, fit_listwise(questions, features), answerable)
        rows.append((label, _cross_validated(questions, features, answerable), in_sample))
    cross_encoder = None
    if clapnq is not None:
        scores, cross_encoder = _cross_encoder_scores(engine, collected, clapnq)
        ordering = f"cross-encoder trained on {cross_encoder['clapnq_trained_on']} ClapNQ questions"
        rows.append((ordering, top1(questions, lambda q: scores.get(q.id, q.engine_score), answerable), None))
    if model:
        other = _other_model_scores(engine, collected, model)
        rows.append(
            (
                f"engine score, semantic from {Path(model).name}",
                top1(questions, lambda q: other.get(q.id, q.engine_score), answerable),
                None,
            )
        )
    scorer_result = None
    if scorer is not None:
        from eval.benchmarks.scorer import scorer_quality

        scorer_result = scorer_quality(engine.data, everything, scorer, engine.embedder, engine.settings.evidence)
    return {
        "set": str(set_path),
        "answerable": answerable,
        "cross_encoder": cross_encoder,
        "scorer": scorer_result,
        "gold_among_candidates": round(float(np.mean([q.gold.any() for q in questions])), 4),
        "top1": [
            {"ordering": label, "top1": round(value, 4), "in_sample": None if fitted is None else round(fitted, 4)}
            for label, value, fitted in rows
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--model", default=None, help="another sentence-transformers model for the semantic signal")
    parser.add_argument("--scorer", type=Path, default=None, help="EmbeddingGemma folder: compare it with MiniLM")
    parser.add_argument("--clapnq", type=Path, default=None, help="ClapNQ folder: also train a cross-encoder on it")
    parser.add_argument("--out", type=Path, default=default_out("selection"))
    args = parser.parse_args(argv)

    result = run(Engine.open(args.index_dir), args.set, args.model, args.clapnq, args.scorer)
    write_json(args.out, result)
    print(f"answerable questions: {result['answerable']}; gold among candidates: {result['gold_among_candidates']:.3f}")
    if result["cross_encoder"]:
        ce = result["cross_encoder"]
        print(
            f"cross-encoder: trained on {ce['clapnq_trained_on']} ClapNQ questions, top-1 on the "
            f"{ce['clapnq_held_out']} held out: {ce['clapnq_held_out_top1']:.3f} "
            f"(embedding cosine alone: {ce['clapnq_held_out_top1_embedding_cosine']:.3f})"
        )
    rows = [
        (r["ordering"], f"{r['top1']:.3f}", "" if r["in_sample"] is None else f"{r['in_sample']:.3f}")
        for r in result["top1"]
    ]
    print(table(["ordering of the candidates", "top-1 (5-fold CV for learned)", "in-sample"], rows))
    if result["scorer"]:
        from eval.benchmarks.scorer import quality_tables

        print(quality_tables(result["scorer"]))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
