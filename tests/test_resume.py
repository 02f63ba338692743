"""Resumable builds: a `rag index` killed while it embeds, restarted, embeds only what was not done.

Fast tests drive `index.resume` with the hand-written fake embedder; the slow one kills the real
`rag index` (real model) with SIGKILL halfway through embedding and compares the restarted build's
vectors with an uninterrupted build's. It also checks the progress bar: on stderr with --progress,
absent with --json alone, and never in the JSON on stdout.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index.builder import build_index
from index.paths import DEFAULT_CORPUS, PROJECT_ROOT
from index.resume import CHECKPOINT_DIR, checkpoint_path, discard_checkpoints, embed_resumable
from index.store import read_index
from tests.fakes import CountingEmbedder

TEXTS = [f"Sentence {i} says {'something ' * (i % 7)}about the talks in Geneva." for i in range(50)]


# -- index.resume with the fake embedder ----------------------------------------------------


def test_vectors_come_back_in_the_order_given_and_are_checkpointed(tmp_path):
    fake = CountingEmbedder()
    result = embed_resumable(fake, TEXTS, tmp_path, batch_size=8)
    assert np.allclose(result.vectors, CountingEmbedder().embed(TEXTS))
    assert (result.embedded, result.resumed) == (len(TEXTS), 0)
    # the fake saw the texts grouped by length (shortest first), not in the order given
    assert [fake.count_tokens(t) for t in fake.embedded] == sorted(fake.count_tokens(t) for t in TEXTS)
    assert checkpoint_path(tmp_path, fake, fake.dimension).is_file()


def test_a_second_run_reads_the_checkpoint_and_embeds_only_new_texts(tmp_path):
    embed_resumable(CountingEmbedder(), TEXTS[:30], tmp_path, batch_size=8)
    again = CountingEmbedder()
    result = embed_resumable(again, TEXTS, tmp_path, batch_size=8)
    assert (result.embedded, result.resumed) == (20, 30)
    assert sorted(again.embedded) == sorted(TEXTS[30:])
    assert np.allclose(result.vectors, CountingEmbedder().embed(TEXTS))


def test_a_record_cut_short_by_a_kill_is_dropped(tmp_path):
    fake = CountingEmbedder()
    embed_resumable(fake, TEXTS[:10], tmp_path, batch_size=4)
    path = checkpoint_path(tmp_path, fake, fake.dimension)
    whole = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(b"\x01" * 50)  # half a record, as a kill during the write leaves it
    result = embed_resumable(CountingEmbedder(), TEXTS[:12], tmp_path, batch_size=4)
    assert (result.embedded, result.resumed) == (2, 10)
    assert path.stat().st_size == whole + 2 * (32 + 4 * fake.dimension)
    assert np.allclose(result.vectors, CountingEmbedder().embed(TEXTS[:12]))


def test_another_model_or_vector_family_never_reads_the_checkpoint(tmp_path):
    embed_resumable(CountingEmbedder(), TEXTS, tmp_path)
    other_model = embed_resumable(CountingEmbedder(name="another-model"), TEXTS, tmp_path)
    assert other_model.resumed == 0

    class Int8(CountingEmbedder):
        backend = "onnx-int8"

    assert embed_resumable(Int8(), TEXTS, tmp_path).resumed == 0
    assert len(list((tmp_path / CHECKPOINT_DIR).iterdir())) == 3
    discard_checkpoints(tmp_path)
    assert not (tmp_path / CHECKPOINT_DIR).exists()


def test_a_completed_build_removes_the_checkpoint(tmp_path):
    fake = CountingEmbedder()
    embed_resumable(fake, ["left by a killed build"], tmp_path / "index")
    summary = build_index([DEFAULT_CORPUS], tmp_path / "index", fake)
    assert summary.resumed == 0 and summary.to_json()["resumed"] == 0
    assert not (tmp_path / "index" / CHECKPOINT_DIR).exists()


# -- the real rag index, killed with SIGKILL --------------------------------------------------


def _write_corpus(folder: Path, copies: int) -> None:
    """Documents of the default corpus's sentences, shuffled differently per copy, so every chunk is distinct."""
    folder.mkdir()
    text = " ".join(path.read_text(encoding="utf-8") for path in sorted(DEFAULT_CORPUS.glob("*.md")))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 3]
    for copy in range(copies):
        order = sentences[:]
        random.Random(copy).shuffle(order)
        paragraphs = [" ".join(order[i : i + 5]) for i in range(0, len(order), 5)]
        (folder / f"copy-{copy}.txt").write_text(f"Copy {copy}\n\n" + "\n\n".join(paragraphs), encoding="utf-8")


def _rag_index(corpus: Path, index_dir: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "ui.cli", "index", str(corpus), "--index-dir", str(index_dir), "--json", *flags]


def _records(index_dir: Path) -> int:
    """Whole (digest, 384 floats) records in the checkpoint."""
    files = list((index_dir / CHECKPOINT_DIR).glob("*.bin")) if (index_dir / CHECKPOINT_DIR).is_dir() else []
    return sum(path.stat().st_size // (32 + 4 * 384) for path in files)


@pytest.mark.slow
def test_a_build_killed_while_embedding_resumes_and_makes_the_same_vectors(tmp_path):
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, copies=4)
    env = {key: value for key, value in os.environ.items() if key not in ("RAG_PROGRESS", "RAG_EMBED_BACKEND")}

    # Uninterrupted: --json alone shows no progress bar.
    whole = subprocess.run(
        _rag_index(corpus, tmp_path / "whole"), env=env, capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT
    )
    assert whole.returncode == 0, whole.stderr
    reference = json.loads(whole.stdout)
    assert "chunk/s" not in whole.stderr
    total = reference["chunks"]
    assert reference["embedded"] == total > 3 * 64  # several checkpointed batches

    # Killed once at least one batch is on disk, well before the last.
    index_dir = tmp_path / "killed"
    process = subprocess.Popen(
        _rag_index(corpus, index_dir),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=PROJECT_ROOT,
    )
    deadline = time.monotonic() + 600
    while _records(index_dir) == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the build finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done = _records(index_dir)
    assert 0 < done < total
    assert not (index_dir / "CURRENT").exists()  # no build was made current

    # Restarted with --progress: the bar (rate and ETA) goes to stderr, stdout holds only the JSON.
    restarted = subprocess.run(
        _rag_index(corpus, index_dir, "--progress"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PROJECT_ROOT,
    )
    assert restarted.returncode == 0, restarted.stderr
    summary = json.loads(restarted.stdout)
    assert (summary["chunks"], summary["resumed"], summary["embedded"]) == (total, done, total - done)
    assert "chunk/s" in restarted.stderr and "embedding" in restarted.stderr
    assert not (index_dir / CHECKPOINT_DIR).exists()

    expected, resumed = read_index(tmp_path / "whole"), read_index(index_dir)
    assert [c.id for c in resumed.chunks] == [c.id for c in expected.chunks]
    assert np.allclose(resumed.vectors, expected.vectors, atol=1e-5)
