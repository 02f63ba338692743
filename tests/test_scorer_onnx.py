"""EmbeddingGemma run by ONNX Runtime against the same model in torch, and the model head in numpy.

The agreement tests use the real fetched model (marked `scorer`; its ONNX file is exported by
scripts/fetch_scorer.sh, or on first use) on real sentences of the default corpus, plus one text
longer than the model's sliding attention window (512 tokens), where the hand-built attention
masks of `index.onnx_embedder._attention_masks` differ from plain padding masks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.embedder import EmbeddingGemmaEmbedder, installed_scorer_path
from index.errors import RagError, UsageError
from index.onnx_embedder import _attention_masks, _head_of, make_scorer, onnx_scorer
from index.store import read_index


def _write_model_folder(folder: Path, modules: list[tuple[str, str]], dense_activation: str = "Identity") -> Path:
    """A sentence-transformers folder's module list and configs (no transformer weights: the head only)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    entries = []
    for index, (kind, path) in enumerate(modules):
        entries.append({"idx": index, "name": str(index), "path": path, "type": f"sentence_transformers.models.{kind}"})
        if kind == "Pooling":
            (folder / path).mkdir()
            (folder / path / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
        if kind == "Dense":
            (folder / path).mkdir()
            config = {
                "in_features": 4,
                "out_features": 3,
                "activation_function": f"torch.nn.modules.{dense_activation}",
            }
            (folder / path / "config.json").write_text(json.dumps(config))
            weight = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
            tensors = {"linear.weight": weight, "linear.bias": np.ones(3, dtype=np.float32)}
            save_file(tensors, str(folder / path / "model.safetensors"))
    (folder / "modules.json").write_text(json.dumps(entries))
    return folder


def test_the_head_mean_pools_the_real_tokens_then_applies_each_dense_layer_then_normalises(tmp_path):
    folder = _write_model_folder(
        tmp_path / "m", [("Transformer", ""), ("Pooling", "1_Pooling"), ("Dense", "2_Dense"), ("Normalize", "3_N")]
    )
    head = _head_of(folder)
    hidden = np.array([[[1, 2, 3, 4], [3, 2, 1, 0], [100, 100, 100, 100]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])  # the third token is padding: it must not count
    mean = np.array([2, 2, 2, 2], dtype=np.float32)
    expected = mean @ (np.arange(12, dtype=np.float32).reshape(3, 4) / 10).T + 1
    expected /= np.linalg.norm(expected)
    assert head.dimension == 3
    np.testing.assert_allclose(head(hidden, mask)[0], expected, rtol=1e-6)


def test_a_model_the_head_cannot_compute_is_refused_in_words(tmp_path):
    tanh = _write_model_folder(
        tmp_path / "tanh",
        [("Transformer", ""), ("Pooling", "1_Pooling"), ("Dense", "2_Dense"), ("Normalize", "3_N")],
        dense_activation="activation.Tanh",
    )
    with pytest.raises(RagError, match=r"activation.*--embed-backend torch"):
        _head_of(tanh)
    unnormalised = _write_model_folder(tmp_path / "plain", [("Transformer", ""), ("Pooling", "1_Pooling")])
    with pytest.raises(RagError, match="not Transformer \\+ mean pooling"):
        _head_of(unnormalised)


def test_the_sliding_mask_keeps_real_tokens_nearer_than_the_window():
    import torch

    padding = torch.tensor([[1, 1, 1, 1, 0]])
    masks = _attention_masks(padding, window=2)
    full, sliding = masks["full_attention"][0, 0], masks["sliding_attention"][0, 0]
    assert full.shape == sliding.shape == (5, 5)
    assert full[:, :4].all() and not full[:, 4].any()  # every query sees every real key, never the padding
    for query in range(5):
        for key in range(5):
            assert bool(sliding[query, key]) == (key < 4 and abs(query - key) < 2)


def test_an_unknown_scorer_backend_is_refused(monkeypatch):
    monkeypatch.setenv("RAG_SCORER_BACKEND", "int8")
    with pytest.raises(UsageError, match="torch or onnx"):
        make_scorer()


# -- the real model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gemma_pair():
    if installed_scorer_path() is None:
        pytest.skip("EmbeddingGemma-300M is not fetched: run scripts/fetch_scorer.sh")
    torch_model = EmbeddingGemmaEmbedder(prompts=True)
    return torch_model, onnx_scorer(prompts=True)


@pytest.fixture(scope="module")
def corpus_sentences(corpus_index) -> list[str]:
    data = read_index(corpus_index)
    return [
        chunk.text[start - chunk.start : end - chunk.start]
        for chunk in data.chunks[::3]
        for start, end in chunk.sentences[:2]
    ]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


@pytest.mark.scorer
def test_onnx_gemma_gives_torch_s_vectors_for_sentences_and_questions(gemma_pair, corpus_sentences):
    torch_model, onnx_model = gemma_pair
    assert onnx_model.name == torch_model.name  # one vector family: the stored sentence vectors are shared
    assert onnx_model.dimension == torch_model.dimension == 768
    assert onnx_model.max_tokens == torch_model.max_tokens
    documents = _cosines(onnx_model.embed(corpus_sentences), torch_model.embed(corpus_sentences))
    questions = ["Who negotiated the plan?", "What did the authors say about elections in Ukraine?"]
    queries = _cosines(onnx_model.embed_query(questions), torch_model.embed_query(questions))
    assert documents.min() > 0.9999, documents.min()
    assert queries.min() > 0.9999, queries.min()


@pytest.mark.scorer
def test_onnx_gemma_agrees_past_the_sliding_window(gemma_pair, corpus_index):
    torch_model, onnx_model = gemma_pair
    text = " ".join(chunk.text for chunk in read_index(corpus_index).chunks)
    words = text.split()
    long_text = " ".join(words[:1200])
    assert onnx_model.count_tokens(long_text) > 1000  # twice the 512-token window: sliding layers see part of it
    got = onnx_model.embed([long_text, words[0]])  # batched with a short text: padding and windows together
    want = torch_model.embed([long_text, words[0]])
    assert _cosines(got, want).min() > 0.9999, _cosines(got, want)


@pytest.mark.scorer
def test_the_default_scorer_runs_on_onnx_and_says_so(monkeypatch):
    if installed_scorer_path() is None:
        pytest.skip("EmbeddingGemma-300M is not fetched: run scripts/fetch_scorer.sh")
    monkeypatch.delenv("RAG_SCORER_BACKEND", raising=False)
    scorer = make_scorer()
    assert scorer.backend == "onnx" and scorer.name == EmbeddingGemmaEmbedder(prompts=False).name
    monkeypatch.setenv("RAG_SCORER_BACKEND", "torch")
    assert isinstance(make_scorer(), EmbeddingGemmaEmbedder)


@pytest.mark.scorer
def test_without_an_exported_file_the_default_scorer_is_torch(monkeypatch, tmp_path):
    """An export that failed at install time must leave a working scorer, not an error at every question."""
    folder = installed_scorer_path()
    if folder is None:
        pytest.skip("EmbeddingGemma-300M is not fetched: run scripts/fetch_scorer.sh")
    monkeypatch.delenv("RAG_SCORER_BACKEND", raising=False)
    monkeypatch.setenv("RAG_SCORER", str(folder))
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))  # an empty cache: no ONNX file in it
    assert isinstance(make_scorer(), EmbeddingGemmaEmbedder)
    monkeypatch.setenv("RAG_SCORER_BACKEND", "onnx")  # asked for by name: exported on first use instead
    assert make_scorer().backend == "onnx"
