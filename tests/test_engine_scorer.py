"""An evidence scorer beside the index's model (`rag ask --scorer embeddinggemma`): questions and
sentences are scored by it, retrieval fuses the index's model, BM25 and each passage's best sentence
under the scorer, and answers say which one scored."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index.builder import build_index
from index.embedder import EmbeddingGemmaEmbedder, installed_scorer_path
from index.paths import DEFAULT_CORPUS
from rag.engine import Engine, scorer_settings
from tests.fakes import PEACE, TALKS, CountingEmbedder
from ui.cli import main as rag_main


class QueryCountingScorer(CountingEmbedder):
    """A fake scorer that embeds questions on their own path, as EmbeddingGemma does."""

    def __init__(self) -> None:
        super().__init__(name="fake-scorer")
        self.queries: list[str] = []

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        self.queries.extend(texts)
        return self.embed(texts)


def test_the_scorer_scores_and_the_index_model_retrieves(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "talks.txt").write_text(TALKS, encoding="utf-8")
    (corpus / "peace.txt").write_text(PEACE, encoding="utf-8")
    embedder, scorer = CountingEmbedder(), QueryCountingScorer()
    build_index([corpus], tmp_path / "index", embedder)
    engine = Engine.open(tmp_path / "index", embedder=embedder, build_if_missing=False, scorer=scorer)
    embedder.embedded.clear()
    scorer.embedded.clear()
    answer = engine.ask("Who was dispatched to Geneva?")
    assert embedder.embedded == ["Who was dispatched to Geneva?"]  # retrieval: the index's model, once
    # The scorer embeds the question only: every sentence's vector was computed when the engine opened.
    assert scorer.queries == ["Who was dispatched to Geneva?"] == scorer.embedded
    assert answer.scorer == "fake-scorer" and json.loads(json.dumps(answer.to_json()))["scorer"] == "fake-scorer"
    assert engine.settings == scorer_settings(scorer)  # its own weights and threshold
    assert not answer.refused and "Rubio" in answer.answer


def test_without_a_scorer_the_index_model_scores(tmp_path: Path) -> None:
    from tests.fakes import two_document_engine

    engine = two_document_engine(tmp_path)
    assert engine.scorer is None and engine.ask("Who was dispatched to Geneva?").scorer == "fake-embedder"


def test_asking_for_a_scorer_that_is_not_installed_says_how_to_fetch_it(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))
    monkeypatch.delenv("RAG_SCORER", raising=False)
    assert rag_main(["ask", "Who went to Geneva?", "--scorer", "embeddinggemma", "--index-dir", str(tmp_path)]) == 2
    assert "scripts/fetch_scorer.sh" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.scorer
@pytest.mark.skipif(
    installed_scorer_path() is None, reason="EmbeddingGemma-300M is not fetched (scripts/fetch_scorer.sh)"
)
def test_embeddinggemma_scores_the_real_corpus(tmp_path: Path, embedder) -> None:
    build_index([DEFAULT_CORPUS], tmp_path / "index", embedder)
    engine = Engine.open(tmp_path / "index", embedder=embedder, scorer=EmbeddingGemmaEmbedder(prompts=False))
    answer = engine.ask("Who was dispatched to Geneva?")
    assert answer.scorer == "embeddinggemma-300m (no prompts)"
    assert not answer.refused and "Rubio" in answer.citations[0].quote
    assert engine.ask("What did Poland's government say about the plan?").refused


class SynonymScorer(CountingEmbedder):
    """A fake scorer that knows one paraphrase: "southern neighbour" means Mexico (what a real scorer
    knows and a bag of words does not)."""

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return super().embed([text.replace("southern neighbour", "Mexico") for text in texts])

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def test_a_passage_is_retrieved_by_the_one_sentence_the_scorer_matches(tmp_path: Path) -> None:
    """A paraphrase that shares no word with its answer: the index's model and BM25 rank the Geneva
    passage first, and each passage's best sentence under the scorer, fused into retrieval (here with
    all the weight, as these fakes are too crude to weigh), puts the answer's passage first instead."""
    import dataclasses

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "talks.txt").write_text(TALKS, encoding="utf-8")
    (corpus / "peace.txt").write_text(PEACE, encoding="utf-8")
    (corpus / "analogy.txt").write_text(
        "An analogy\n\nThe US government would never tolerate Mexico joining a Moscow-run military alliance.",
        encoding="utf-8",
    )
    embedder, scorer = CountingEmbedder(), SynonymScorer(name="synonyms", dimension=4096)  # no hash collisions
    build_index([corpus], tmp_path / "index", embedder)
    question = "Is the southern neighbour a concern in Geneva?"
    found = {}
    for weight in (0.0, 1.0):
        settings = scorer_settings(scorer)
        retrieval = dataclasses.replace(settings.retrieval, sentence_weight=weight)
        settings = dataclasses.replace(settings, retrieval=retrieval, pool=1)  # one passage's sentences compete
        engine = Engine.open(tmp_path / "index", embedder=embedder, scorer=scorer, settings=settings)
        found[weight] = engine.find_evidence(question, k=1)
    assert [p.doc_id for p in found[0.0].passages] == ["talks"]
    assert [p.doc_id for p in found[1.0].passages] == ["analogy"]
    assert {e.sentence.doc_id for e in found[0.0].evidence} == {"talks"}
    assert {e.sentence.doc_id for e in found[1.0].evidence} == {"analogy"}  # its sentence is now evidence
    # One score per chunk: its best sentence's cosine with the question under the scorer.
    snapshot = engine._snapshot
    scores = snapshot.sentence_scores(scorer.embed_query([question])[0])
    assert scores.shape == (len(snapshot.data.chunks),)
    assert snapshot.data.chunks[int(np.argmax(scores))].doc_id == "analogy"
    question_vector = scorer.embed_query([question])[0]
    for row, chunk in enumerate(snapshot.data.chunks):  # the same as taking each chunk's sentences one by one
        text = snapshot.data.documents[chunk.doc_id].text
        each = [float(snapshot.stored.get(text[start:end]) @ question_vector) for start, end in chunk.sentences]
        assert scores[row] == pytest.approx(max(each), abs=1e-6)
    # Without a scorer there is no such signal, and retrieval is what it was.
    assert Engine.open(tmp_path / "index", embedder=embedder)._snapshot.sentence_scores(scores) is None


@pytest.mark.slow
@pytest.mark.scorer
def test_retrieving_by_the_best_sentence_finds_more_gold_passages_on_the_real_corpus(gemma_engine) -> None:
    """The dev split's answerable questions (follow-ups left out: they need their earlier turn): the five
    passages shown hold more of the gold evidence with EmbeddingGemma's sentences fused into retrieval
    than without (`python -m eval.benchmarks.sentence_signal` measures the same on whole answers)."""
    import dataclasses

    from eval.dataset import DEFAULT_SET, load_set
    from eval.metrics import evidence_hits

    settings = gemma_engine.settings
    assert settings.retrieval.sentence_weight > 0
    without = Engine(
        gemma_engine.data,
        gemma_engine.embedder,
        gemma_engine.index_dir,
        dataclasses.replace(settings, retrieval=dataclasses.replace(settings.retrieval, sentence_weight=0.0)),
        gemma_engine.scorer,
    )
    items = [i for i in load_set(DEFAULT_SET) if i.split == "dev" and i.answerable and not i.follows]

    def recall(engine: Engine) -> float:
        found = []
        for item in items:
            texts = [p.text for p in engine.find_evidence(item.question).passages]
            hits = evidence_hits(texts, [e.text for e in item.evidence])
            found.append(sum(hits) / len(hits) if item.needs_all_evidence else float(any(hits)))
        return sum(found) / len(found)

    with_sentences, plain = recall(gemma_engine), recall(without)
    assert with_sentences >= plain + 0.05, (with_sentences, plain)
