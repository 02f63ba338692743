"""A separate scorer's sentence vectors are computed once, kept beside the index, and reused: a
question then embeds only itself, a rebuild embeds only new sentences, and a damaged file is rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.builder import build_index
from index.sentence_vectors import SentenceVectors, cache_path, index_sentence_texts, prepare_sentence_vectors
from index.store import read_index
from rag.engine import Engine
from tests.fakes import PEACE, TALKS, CountingEmbedder


def _index(tmp_path: Path, *texts: str) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for number, text in enumerate(texts):
        (corpus / f"doc{number}.txt").write_text(text, encoding="utf-8")
    build_index([corpus], tmp_path / "index", CountingEmbedder())
    return tmp_path / "index"


def test_every_sentence_is_embedded_once_and_kept(tmp_path: Path) -> None:
    index_dir = _index(tmp_path, TALKS, PEACE)
    data = read_index(index_dir)
    scorer = CountingEmbedder(name="fake scorer/v1", dimension=32)
    vectors, added = prepare_sentence_vectors(index_dir, data, scorer)
    texts = index_sentence_texts(data)
    assert added == len(set(texts)) == len(scorer.embedded) and "Washington issued" in " ".join(texts)
    assert cache_path(index_dir, scorer.name).is_file() and "/" not in cache_path(index_dir, scorer.name).name
    again = CountingEmbedder(name="fake scorer/v1", dimension=32)
    reloaded, added = prepare_sentence_vectors(index_dir, data, again)
    assert added == 0 and again.embedded == []  # read back, nothing embedded
    for text in texts:
        assert np.allclose(reloaded.get(text), vectors.get(text))


def test_a_rebuild_embeds_only_new_sentences_and_forgets_removed_ones(tmp_path: Path) -> None:
    index_dir = _index(tmp_path, TALKS)
    prepare_sentence_vectors(index_dir, read_index(index_dir), CountingEmbedder(name="s", dimension=16))
    (tmp_path / "corpus" / "doc0.txt").unlink()
    (tmp_path / "corpus" / "doc1.txt").write_text(PEACE, encoding="utf-8")
    build_index([tmp_path / "corpus"], index_dir, CountingEmbedder())
    scorer = CountingEmbedder(name="s", dimension=16)
    vectors, added = prepare_sentence_vectors(index_dir, read_index(index_dir), scorer)
    assert added == len(scorer.embedded) and all("Rubio" not in t for t in scorer.embedded)
    assert vectors.get("Consequently, Secretary of State Marco Rubio has been dispatched") is None
    assert len(vectors) == len(set(index_sentence_texts(read_index(index_dir))))


def test_a_damaged_or_foreign_file_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "v.npz"
    path.write_bytes(b"not a numpy file")
    assert len(SentenceVectors.load(path, 8)) == 0
    store = SentenceVectors(4)
    store.ensure(["a sentence"], lambda texts: np.ones((len(texts), 4)))
    store.save(path)
    assert len(SentenceVectors.load(path, 4)) == 1
    assert len(SentenceVectors.load(path, 8)) == 0  # another model's dimension: not trusted


def test_the_engine_embeds_only_the_question_with_a_kept_scorer(tmp_path: Path) -> None:
    index_dir = _index(tmp_path, TALKS, PEACE)
    embedder = CountingEmbedder()
    first = CountingEmbedder(name="scorer")
    Engine.open(index_dir, embedder=embedder, scorer=first, build_if_missing=False)
    assert len(first.embedded) > 5  # all sentences, once
    second = CountingEmbedder(name="scorer")
    engine = Engine.open(index_dir, embedder=embedder, scorer=second, build_if_missing=False)
    assert second.embedded == ["warm-up"]  # a later start reads them back
    second.embedded.clear()
    answer = engine.ask("Who was dispatched to Geneva?")
    assert second.embedded == ["Who was dispatched to Geneva?"] and "Rubio" in answer.answer
