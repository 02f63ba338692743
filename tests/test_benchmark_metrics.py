"""The benchmark metrics against hand-computed values (no model, no data sets)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from eval.benchmarks.clapnq import (
    MatchCounts,
    best_annotation,
    detokenize,
    match_counts,
    overlap,
    prf,
    refusal_curve,
    sentences_match,
)
from eval.benchmarks.common import percentile, table
from eval.benchmarks.cross_encoder import LabelledQuestion, clapnq_questions, held_out_top1
from eval.benchmarks.scifact_data import document_ranking, load_qrels, ndcg_at_k, recall_at_k
from eval.benchmarks.selection import Question, fit_listwise, top1
from rag import Answer


def test_ndcg_matches_a_hand_computed_example() -> None:
    # Relevant: a (grade 1) at rank 1, c (grade 2) at rank 3; d (grade 1) is never retrieved.
    # DCG = 1/log2(2) + 2/log2(4) = 2; ideal = 2/log2(2) + 1/log2(3) + 1/log2(4).
    ideal = 2 + 1 / math.log2(3) + 0.5
    assert ndcg_at_k(["a", "b", "c"], {"a": 1, "c": 2, "d": 1}, k=10) == pytest.approx(2 / ideal)
    assert ndcg_at_k(["a", "b", "c"], {"a": 1, "c": 2, "d": 1}, k=10) == pytest.approx(0.638788, abs=1e-6)


def test_ndcg_bounds_and_cutoff() -> None:
    assert ndcg_at_k(["c", "a"], {"a": 1, "c": 2}) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "c"], {"a": 1, "c": 2}) < 1.0  # the better grade should come first
    assert ndcg_at_k(["x", "y"], {"a": 1}) == 0.0
    assert ndcg_at_k(["x"], {}) == 0.0
    ranked = [f"n{i}" for i in range(10)] + ["a"]
    assert ndcg_at_k(ranked, {"a": 1}, k=10) == 0.0  # rank 11 is past the cutoff
    assert ndcg_at_k(ranked, {"a": 1}, k=11) == pytest.approx(1 / math.log2(12))


def test_recall_counts_relevant_documents_in_the_top_k() -> None:
    relevance = {"a": 1, "z": 1, "w": 0}  # grade 0 is judged but not relevant
    assert recall_at_k(["a", "b", "w"], relevance, k=100) == 0.5
    assert recall_at_k(["b", "a", "z"], relevance, k=2) == 0.5
    assert recall_at_k(["b", "a", "z"], relevance, k=3) == 1.0
    assert recall_at_k(["a"], {"w": 0}) == 0.0


def test_document_ranking_keeps_each_document_at_its_best_chunk() -> None:
    assert document_ranking(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]


def test_load_qrels_skips_the_header(tmp_path) -> None:
    path = tmp_path / "test.tsv"
    path.write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n1\t11\t2\n3\t12\t1\n")
    assert load_qrels(path) == {"1": {"10": 1, "11": 2}, "3": {"12": 1}}


def test_detokenize_undoes_treebank_spacing() -> None:
    text = "It is common -- such as a Medical Examiner 's office ( mostly ) . The `` season '' is seven days ."
    assert detokenize(text) == (
        'It is common -- such as a Medical Examiner\'s office (mostly). The "season" is seven days.'
    )


def test_overlap_is_measured_on_the_shorter_text() -> None:
    gold = "Seasonality is a characteristic of a time series ."
    assert overlap("Seasonality is a characteristic of a time series.", gold) == 1.0
    # A quote that contains the whole gold sentence and more still covers the shorter one fully.
    assert overlap("Intro words here. " + detokenize(gold) + " And more after it.", gold) == 1.0
    assert overlap("", gold) == 0.0


def test_sentence_match_threshold_is_eighty_percent() -> None:
    gold = "one two three four five six seven eight nine ten"
    assert sentences_match("one two three four five six seven eight", gold)  # 8/8 of the shorter
    assert sentences_match("one two three four five six seven eight X Y", gold)  # 8/10
    assert not sentences_match("one two three four five six seven X Y Z", gold)  # 7/10
    assert not sentences_match("The weather in Paris is mild in spring.", gold)


def test_match_counts_and_micro_scores() -> None:
    gold = ["alpha beta gamma delta", "epsilon zeta eta theta"]
    cited = ["alpha beta gamma delta.", "something else entirely here"]
    counts = match_counts(cited, gold)
    assert counts == MatchCounts(cited_correct=1, cited=2, gold_found=1, gold=2)
    refused = match_counts([], gold)  # a refusal cites nothing: costs recall only
    scores = prf([counts, refused])
    assert (scores["precision"], scores["recall"], scores["questions"]) == (0.5, 0.25, 2)
    assert scores["f1"] == pytest.approx(2 * 0.5 * 0.25 / 0.75, abs=1e-4)


def test_best_annotation_picks_the_best_fitting_one() -> None:
    cited = ["epsilon zeta eta theta"]
    annotations = [["alpha beta gamma delta"], ["epsilon zeta eta theta", "iota kappa lambda mu"], []]
    best = best_annotation(cited, annotations)
    assert best == MatchCounts(cited_correct=1, cited=1, gold_found=1, gold=2)
    assert best_annotation(cited, [[], []]) is None


def test_percentile_and_table() -> None:
    assert percentile([1, 2, 3, 4, 5], 50) == 3.0
    assert percentile([], 95) == 0.0
    assert table(["a", "b"], [[1, 2]]) == "| a | b |\n|---|---|\n| 1 | 2 |"


def _answer(support: float) -> Answer:
    return Answer(question="q", answer="", refused=False, citations=[], passages=[], timings_ms={}, support=support)


def test_refusal_curve_counts_answers_below_each_threshold() -> None:
    asked = {
        "answerable": [({}, _answer(0.5)), ({}, _answer(0.7))],
        "unanswerable": [({}, _answer(0.3)), ({}, _answer(0.6))],
    }
    low, mid = refusal_curve(asked, [0.2, 0.55])
    assert (low["refusal_rate_unanswerable"], low["false_refusal_rate_answerable"]) == (0.0, 0.0)
    assert (mid["refusal_rate_unanswerable"], mid["false_refusal_rate_answerable"]) == (0.5, 0.5)


def _question(id: str, signals: list[list[float]], gold: list[bool]) -> Question:
    matrix = np.array(signals, dtype=float)
    return Question(id, matrix, np.zeros((len(gold), 1)), matrix[:, 0], np.array(gold))


def test_selection_top1_counts_a_question_without_candidates_as_a_miss() -> None:
    questions = [
        _question("a", [[0.9], [0.1]], [True, False]),
        _question("b", [[0.9], [0.1]], [False, True]),
        Question("c", np.zeros((0, 1)), np.zeros((0, 1)), np.zeros(0), np.zeros(0, dtype=bool)),
    ]
    assert top1(questions, lambda q: q.signals[:, 0], answerable=3) == pytest.approx(1 / 3)


def test_listwise_scorer_learns_which_signal_marks_the_gold_candidate() -> None:
    # Gold is always the candidate with the highest second signal; the first signal is noise.
    rng = np.random.default_rng(1)
    questions = []
    for i in range(40):
        signals = rng.random((6, 2))
        gold = signals[:, 1] == signals[:, 1].max()
        questions.append(_question(f"q{i}", signals.tolist(), gold.tolist()))
    first_signal = top1(questions, lambda q: q.signals[:, 0], answerable=40)
    learned = top1(questions, fit_listwise(questions, lambda q: q.signals), answerable=40)
    assert learned == 1.0
    assert first_signal < 0.5


def test_clapnq_questions_label_the_selected_sentences(tmp_path) -> None:
    row = {
        "id": "1",
        "input": "when was the bridge built",
        "passages": [{"title": "Bridge", "text": "...", "sentences": ["It opened in 1932 .", "It is red ."]}],
        "output": [{"answer": "1932", "selected_sentences": ["It opened in 1932 ."]}, {"selected_sentences": []}],
    }
    unlabelled = {**row, "id": "2", "output": [{"answer": "", "selected_sentences": []}]}
    (tmp_path / "clapnq_dev_answerable.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(unlabelled) + "\n")
    [question] = clapnq_questions(tmp_path)
    expected = LabelledQuestion("when was the bridge built", ["It opened in 1932.", "It is red."], [True, False])
    assert question == expected
    assert held_out_top1([question], lambda q, sentences: np.array([0.9, 0.1])) == 1.0
    assert held_out_top1([question], lambda q, sentences: np.array([0.1, 0.9])) == 0.0
