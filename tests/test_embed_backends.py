"""ONNX Runtime embedding backends against torch, batching by length, and the backend in the manifest.

The ONNX tests use the real packaged MiniLM, exported and quantized on first use into
~/.cache/grounded-rag/onnx (a few seconds, once per machine), on real text from corpus/.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from eval.dataset import DEFAULT_SET, load_set
from index.batching import length_batches
from index.builder import build_index
from index.onnx_embedder import EMBED_BACKENDS, OnnxEmbedder, backend_of, make_embedder, onnx_file, vector_family
from index.paths import DEFAULT_CORPUS
from index.store import read_index
from rag import options
from tests.fakes import CountingEmbedder


@pytest.fixture(scope="module")
def onnx_fp32() -> OnnxEmbedder:
    return OnnxEmbedder()


@pytest.fixture(scope="module")
def onnx_int8() -> OnnxEmbedder:
    return OnnxEmbedder(quantized=True)


@pytest.fixture(scope="module")
def corpus_texts(corpus_index) -> list[str]:
    """Every chunk of the default corpus, plus each chunk's first sentence (short texts of many lengths)."""
    data = read_index(corpus_index)
    sentences = [
        chunk.text[start - chunk.start : end - chunk.start]
        for chunk in data.chunks
        for start, end in chunk.sentences[:1]
    ]
    return [chunk.text for chunk in data.chunks] + sentences


# -- batching by length (no model) ---------------------------------------------------


def test_length_batches_cover_every_row_once_shortest_first():
    lengths = [5, 1, 9, 1, 7, 3, 3]
    batches = list(length_batches(lengths, 3))
    assert [len(batch) for batch in batches] == [3, 3, 1]
    rows = [row for batch in batches for row in batch]
    assert sorted(rows) == list(range(len(lengths)))
    assert [lengths[row] for row in rows] == sorted(lengths)
    assert rows[:2] == [1, 3]  # equal lengths keep their input order


def test_length_batches_reject_an_empty_batch():
    with pytest.raises(ValueError, match="at least 1"):
        list(length_batches([1, 2], 0))


def test_the_options_offer_exactly_the_backends_the_index_knows():
    assert options.EMBED_BACKENDS == EMBED_BACKENDS


def test_vector_families_keep_int8_apart():
    assert vector_family("torch") == vector_family("onnx") != vector_family("onnx-int8")
    assert backend_of(CountingEmbedder()) == "torch"


# -- the real model --------------------------------------------------------------------


@pytest.mark.slow
def test_onnx_fp32_matches_torch_on_corpus_text(embedder, onnx_fp32, corpus_texts):
    torch_vectors = embedder.embed(corpus_texts)
    onnx_vectors = onnx_fp32.embed(corpus_texts)
    cosines = (torch_vectors * onnx_vectors).sum(axis=1)
    assert cosines.min() > 0.999
    assert onnx_fp32.dimension == embedder.dimension and onnx_fp32.max_tokens == embedder.max_tokens
    assert [onnx_fp32.count_tokens(t) for t in corpus_texts[:20]] == [
        embedder.count_tokens(t) for t in corpus_texts[:20]
    ]


@pytest.mark.slow
def test_onnx_int8_stays_close_to_torch_on_corpus_text(embedder, onnx_int8, corpus_texts):
    cosines = (embedder.embed(corpus_texts) * onnx_int8.embed(corpus_texts)).sum(axis=1)
    assert cosines.min() > 0.98
    assert np.allclose(np.linalg.norm(onnx_int8.embed(corpus_texts[:5]), axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_length_batching_returns_vectors_in_the_order_given(onnx_fp32, corpus_texts):
    """Texts of very different lengths, embedded together, get the vectors each gets on its own."""
    texts = corpus_texts[::7][:12]
    together = onnx_fp32.embed(texts)
    alone = np.vstack([onnx_fp32.embed([text]) for text in texts])
    assert (together * alone).sum(axis=1).min() > 0.9999
    reversed_rows = onnx_fp32.embed(texts[::-1])[::-1]
    assert (together * reversed_rows).sum(axis=1).min() > 0.9999


@pytest.mark.slow
def test_onnx_fp32_retrieves_the_same_chunks_for_the_eval_questions(embedder, onnx_fp32, corpus_index, tmp_path):
    torch_data = read_index(corpus_index)
    build_index([DEFAULT_CORPUS], tmp_path / "onnx", onnx_fp32)
    onnx_data = read_index(tmp_path / "onnx")
    assert [c.id for c in onnx_data.chunks] == [c.id for c in torch_data.chunks]  # same tokenizer, same chunks
    questions = [item.question for item in load_set(DEFAULT_SET)]
    torch_scores = embedder.embed(questions) @ torch_data.vectors.T
    onnx_scores = onnx_fp32.embed(questions) @ onnx_data.vectors.T
    for question, torch_row, onnx_row in zip(questions, torch_scores, onnx_scores, strict=True):
        assert list(np.argsort(-torch_row)[:5]) == list(np.argsort(-onnx_row)[:5]), question


@pytest.mark.slow
def test_the_manifest_records_the_backend_and_int8_is_never_mixed_with_fp32(embedder, onnx_fp32, onnx_int8, tmp_path):
    index_dir = tmp_path / "index"
    first = build_index([DEFAULT_CORPUS], index_dir, onnx_int8)
    assert read_index(index_dir).manifest.embed_backend == "onnx-int8"
    assert first.to_json()["embed_backend"] == "onnx-int8"
    again = build_index([DEFAULT_CORPUS], index_dir, onnx_int8)
    assert again.embedded == 0  # unchanged files, same backend: nothing embedded
    switched = build_index([DEFAULT_CORPUS], index_dir, onnx_fp32)
    assert switched.embedded == switched.chunks  # int8 -> fp32: every vector made again
    assert read_index(index_dir).manifest.embed_backend == "onnx"
    same_family = build_index([DEFAULT_CORPUS], index_dir, embedder)
    assert same_family.embedded == 0  # fp32 ONNX and torch vectors agree: kept


def test_the_index_command_follows_the_backend_an_index_was_built_with(tmp_path, monkeypatch):
    monkeypatch.delenv("RAG_EMBED_BACKEND", raising=False)
    args = argparse.Namespace(index_dir=tmp_path, collection=None, model=None, embed_backend=None)
    assert options.embed_backend_from(args) == "onnx"  # no index yet: the default for the packaged model
    assert options.embed_backend_from(argparse.Namespace(**{**vars(args), "model": "/some/model"})) == "torch"
    build_index([DEFAULT_CORPUS], tmp_path, _Int8Fake())
    assert options.embed_backend_from(args) == "onnx-int8"
    monkeypatch.setenv("RAG_EMBED_BACKEND", "onnx")
    assert options.embed_backend_from(args) == "onnx"
    args.embed_backend = "torch"
    assert options.embed_backend_from(args) == "torch"


def test_an_unknown_backend_is_a_usage_error_that_names_the_choices(monkeypatch):
    from index.errors import UsageError

    monkeypatch.setenv("RAG_EMBED_BACKEND", "tensorflow")
    with pytest.raises(UsageError, match="torch, onnx, onnx-int8"):
        make_embedder()


def test_the_onnx_file_is_cached_under_the_model_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))
    path = onnx_file("all-MiniLM-L6-v2", quantized=True)
    assert path.parent == tmp_path / "onnx" and path.name.endswith("-int8.onnx")
    assert path.name.startswith("all-MiniLM-L6-v2-")


class _Int8Fake(CountingEmbedder):
    """A fake that says it runs on onnx-int8 (what the manifest records is all that matters here)."""

    backend = "onnx-int8"


def test_a_model_that_is_no_local_folder_is_refused_with_what_to_do(tmp_path):
    from index.errors import RagError

    with pytest.raises(RagError, match="--embed-backend torch"):
        OnnxEmbedder(str(tmp_path / "nowhere")).count_tokens("x")


def test_the_speed_benchmark_has_every_way_embed_every_text_once_in_rotating_turns():
    from eval.benchmarks.indexing_speed import _Way, measure_speed

    texts = [f"text {i} " + "word " * (i % 5) for i in range(23)]
    fakes = [CountingEmbedder(), CountingEmbedder()]
    ways = [_Way(f"way {i}", lambda batch, fake=fake: fake.embed(batch)) for i, fake in enumerate(fakes)]
    measure_speed(ways, texts, rounds=4)
    for way, fake in zip(ways, fakes, strict=True):
        assert sorted(fake.embedded) == sorted(texts)
        assert np.allclose(way.vectors, CountingEmbedder().embed(texts))
        assert way.wall > 0 and way.cpu >= 0
