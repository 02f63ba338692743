"""The packaged embedding model: vectors, and the thread count used for small batches."""

import numpy as np
import torch

from index.embedder import SentenceTransformerEmbedder, embed_queries


def test_small_batches_run_on_one_thread_and_match_the_batched_vectors(embedder, monkeypatch):
    texts = ["Who was sent to Geneva?", "Rubio led the delegation.", "A third sentence about NATO."]
    threads_seen: list[int] = []
    encode = embedder.model.encode

    def spy(*args, **kwargs):
        threads_seen.append(torch.get_num_threads())
        return encode(*args, **kwargs)

    before = torch.get_num_threads()
    monkeypatch.setattr(embedder.model, "encode", spy)
    small = embedder.embed(texts)
    large = SentenceTransformerEmbedder(single_thread_up_to=0)
    large._model = embedder.model  # same weights, batch path
    batched = large.embed(texts)

    assert threads_seen == [1, before]
    assert torch.get_num_threads() == before
    assert small.shape == (3, embedder.dimension) and small.dtype == np.float32
    np.testing.assert_allclose(small, batched, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-5)


def test_minilm_embeds_questions_like_documents(embedder):
    texts = ["Who was sent to Geneva?"]
    np.testing.assert_array_equal(embedder.embed_query(texts), embedder.embed(texts))
    np.testing.assert_array_equal(embed_queries(embedder, texts), embedder.embed(texts))
