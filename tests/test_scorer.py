"""EmbeddingGemma as an embedder (fakes), where it is found, and the real model when it is installed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eval.benchmarks.scorer import ModelSignals, best_weights, engine_scores, split, threshold_for, top1
from index.embedder import (
    SCORER_FOLDER,
    EmbeddingGemmaEmbedder,
    SentenceTransformerEmbedder,
    embed_queries,
    installed_scorer_path,
)
from index.errors import RagError

PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: "}


class FakeTokenizer:
    def __call__(self, text, add_special_tokens=True):
        ids = [len(word) for word in text.split()]
        return {"input_ids": ([2, *ids, 1] if add_special_tokens else ids)}


class FakeModel:
    """Records how it was called; a text's vector depends on its prompt and its words."""

    prompts = PROMPTS
    max_seq_length = 2048
    tokenizer = FakeTokenizer()

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def get_embedding_dimension(self) -> int:
        return 8

    def encode(self, texts, prompt_name=None, **options):
        self.calls.append({"texts": list(texts), "prompt_name": prompt_name, "threads": torch.get_num_threads()})
        prefix = self.prompts[prompt_name] if prompt_name else ""
        rows = []
        for text in texts:
            seed = sum(map(ord, prefix + text)) % (2**32)
            rows.append(np.random.default_rng(seed).normal(size=8))
        matrix = np.array(rows, dtype=np.float64)  # float64 on purpose: the embedder returns float32
        if options.get("normalize_embeddings"):
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix


def fake_gemma(tmp_path, **kwargs) -> tuple[EmbeddingGemmaEmbedder, FakeModel]:
    embedder = EmbeddingGemmaEmbedder(tmp_path, **kwargs)
    model = FakeModel()
    embedder._model = model
    return embedder, model


def make_model_folder(path):
    path.mkdir(parents=True)
    (path / "modules.json").write_text("[]")
    (path / "model.safetensors").write_bytes(b"")
    return path


# -- finding the installed scorer ---------------------------------------------------


def test_the_scorer_is_found_in_the_model_cache_and_is_none_when_absent(tmp_path, monkeypatch):
    monkeypatch.delenv("RAG_SCORER", raising=False)
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))
    assert installed_scorer_path() is None
    (tmp_path / SCORER_FOLDER).mkdir()  # a folder without the model's files is not an install
    assert installed_scorer_path() is None
    (tmp_path / SCORER_FOLDER).rmdir()
    folder = make_model_folder(tmp_path / SCORER_FOLDER)
    assert installed_scorer_path() == folder


def test_rag_scorer_overrides_the_cache_and_must_name_a_model_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "cache"))
    make_model_folder(tmp_path / "cache" / SCORER_FOLDER)
    chosen = make_model_folder(tmp_path / "elsewhere")
    monkeypatch.setenv("RAG_SCORER", str(chosen))
    assert installed_scorer_path() == chosen
    monkeypatch.setenv("RAG_SCORER", str(tmp_path / "missing"))
    with pytest.raises(RagError, match="RAG_SCORER"):
        installed_scorer_path()


def test_a_missing_scorer_fails_on_first_use_with_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.delenv("RAG_SCORER", raising=False)
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))
    embedder = EmbeddingGemmaEmbedder()  # nothing is loaded (or checked) yet
    assert embedder.path is None and embedder._model is None
    with pytest.raises(RagError, match=r"fetch_scorer\.sh"):
        embedder.embed(["a sentence"])


# -- the embedder, with a fake model -------------------------------------------------


def test_documents_and_questions_get_their_prompts(tmp_path):
    embedder, model = fake_gemma(tmp_path)
    documents = embedder.embed(["Rubio led the delegation.", "A second sentence."])
    question = embedder.embed_query(["Who led the delegation?"])
    assert [c["prompt_name"] for c in model.calls] == ["document", "query"]
    assert documents.shape == (2, 8) and question.shape == (1, 8)
    assert documents.dtype == np.float32 and question.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(np.vstack([documents, question]), axis=1), 1.0, atol=1e-6)
    # The same text is a different vector as a question and as a document.
    assert not np.allclose(embedder.embed_query(["same text"]), embedder.embed(["same text"]))


def test_without_prompts_both_sides_are_encoded_bare_and_named_apart(tmp_path):
    embedder, model = fake_gemma(tmp_path, prompts=False)
    np.testing.assert_allclose(embedder.embed_query(["same text"]), embedder.embed(["same text"]))
    assert [c["prompt_name"] for c in model.calls] == [None, None]
    assert embedder.name != EmbeddingGemmaEmbedder(tmp_path).name  # an index records which it was built with


def test_a_variant_shares_the_loaded_weights(tmp_path):
    embedder, model = fake_gemma(tmp_path)
    bare = embedder.variant(prompts=False)
    assert bare.model is model and not bare.prompts and bare.path == embedder.path
    bare.embed(["a"])
    assert model.calls[-1]["prompt_name"] is None


def test_small_batches_use_one_thread_and_large_ones_all(tmp_path):
    embedder, model = fake_gemma(tmp_path, single_thread_up_to=2)
    before = torch.get_num_threads()
    embedder.embed_query(["one question"])
    embedder.embed(["a", "b", "c"])
    assert [c["threads"] for c in model.calls] == [1, before]
    assert torch.get_num_threads() == before


def test_empty_input_gives_an_empty_matrix_of_the_right_width(tmp_path):
    embedder, model = fake_gemma(tmp_path)
    assert embedder.embed([]).shape == (0, 8)
    assert embedder.embed_query([]).shape == (0, 8)
    assert model.calls == []


def test_the_document_prompt_counts_against_the_token_window(tmp_path):
    prompted, _ = fake_gemma(tmp_path)
    bare, _ = fake_gemma(tmp_path, prompts=False)
    assert bare.max_tokens == 2048 - 2
    assert prompted.max_tokens == 2048 - 2 - len(PROMPTS["document"].split())
    assert prompted.count_tokens("three words here") == 3


def test_embed_queries_uses_embed_query_when_there_is_one(tmp_path):
    gemma, model = fake_gemma(tmp_path)
    embed_queries(gemma, ["a question"])
    assert model.calls[-1]["prompt_name"] == "query"

    class OnlyEmbed:
        def embed(self, texts, *, progress=False):
            return np.ones((len(texts), 3), dtype=np.float32)

    assert embed_queries(OnlyEmbed(), ["a", "b"]).shape == (2, 3)


def test_minilm_embeds_a_question_like_any_text():
    embedder = SentenceTransformerEmbedder()
    model = FakeModel()
    embedder._model = model
    np.testing.assert_allclose(embedder.embed_query(["a question"]), embedder.embed(["a question"]))
    assert [c["prompt_name"] for c in model.calls] == [None, None]


# -- the benchmark's split, weights and threshold -------------------------------------


class _Item:
    def __init__(self, id, answerable, split=None):
        self.id, self.answerable, self.split = id, answerable, split


class _Question:
    def __init__(self, id, answerable, gold, split=None):
        self.item, self.gold = _Item(id, answerable, split), np.array(gold, dtype=bool)


def test_the_sets_own_split_field_is_used_when_every_item_has_one():
    questions = [_Question("a", True, [True], "heldout"), _Question("b", True, [True], "dev")]
    questions.append(_Question("c", False, [], "dev"))
    dev, held = split(questions)
    assert [q.item.id for q in dev] == ["b", "c"]
    assert [q.item.id for q in held] == ["a"]


def test_without_a_split_field_dev_is_the_even_positions_and_held_out_the_odd_ones():
    questions = [_Question(f"a{i}", True, [True]) for i in range(5)] + [_Question(f"u{i}", False, []) for i in range(3)]
    dev, held = split(questions)
    assert [q.item.id for q in dev] == ["a0", "a2", "a4", "u0", "u2"]
    assert [q.item.id for q in held] == ["a1", "a3", "u1"]


def test_weights_are_picked_for_top1_and_the_threshold_keeps_false_refusals_low():
    # Candidate 0 wins on semantic, candidate 1 (the gold one) on coverage.
    signals = np.array([[0.9, 0.0, 0.0, 0.0], [0.5, 1.0, 0.0, 0.0]])
    questions = [_Question(f"q{i}", True, [False, True]) for i in range(3)]
    model = ModelSignals({q.item.id: signals for q in questions}, {})
    assert top1(questions, lambda q: engine_scores(signals, (1.0, 0.0, 0.0, 0.0))) == 0.0
    weights = best_weights(questions, model, grid=[(1.0, 0.0, 0.0, 0.0), (1.0, 1.0, 0.0, 0.0)])
    assert weights == (1.0, 1.0, 0.0, 0.0)
    assert threshold_for(questions, model, weights) == pytest.approx(0.75)


# -- the real model, when installed ---------------------------------------------------


@pytest.mark.slow
def test_the_real_embeddinggemma_ranks_the_answering_sentence_first():
    path = installed_scorer_path()
    if path is None:
        pytest.skip("EmbeddingGemma is not installed (bash scripts/fetch_scorer.sh)")
    embedder = EmbeddingGemmaEmbedder(path)
    sentences = [
        "Ukraine would be obliged to slash its armed forces to 600,000 personnel.",
        "The talks in Geneva were described as productive by both delegations.",
        "Rubio led the American delegation.",
    ]
    documents = embedder.embed(sentences)
    question = embedder.embed_query(["How large would Ukraine's army be under the plan?"])[0]
    assert embedder.dimension == 768
    assert documents.shape == (3, 768) and documents.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    assert int(np.argmax(documents @ question)) == 0
    # The prompts matter: the bare sentence is another vector.
    bare = EmbeddingGemmaEmbedder(path, prompts=False)
    bare._model = embedder.model
    assert float(bare.embed(sentences[:1])[0] @ documents[0]) < 0.999
