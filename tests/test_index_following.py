"""A running engine answers from the newest build of its index: `rag index` run by another process (on
the same folder here; on the same database in tests/test_pg_replica.py) is picked up without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from index.builder import build_index
from rag.engine import Engine

ROOT = Path(__file__).resolve().parents[1]

HARBOUR = "Harbour cranes lift containers onto the ships. The harbour of Velmar has nine cranes.\n"
LIGHTHOUSE = (
    "The lighthouse keeper of Orsk writes down every ship that passes at dawn. He has kept the log since 1974.\n"
)


def _engine(tmp_path: Path, embedder) -> tuple[Engine, Path, Path]:
    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "harbour.txt").write_text(HARBOUR)
    build_index([docs], index_dir, embedder)
    engine = Engine.open(index_dir, embedder=embedder, build_if_missing=False)
    engine.check_seconds = 0.0  # check before every question (the default waits a few seconds between checks)
    return engine, docs, index_dir


def test_a_build_made_by_another_process_is_answered_from_without_a_restart(tmp_path, embedder) -> None:
    engine, docs, index_dir = _engine(tmp_path, embedder)
    question = "Who writes down every ship that passes at dawn?"
    assert engine.ask(question).refused  # only the harbour is indexed yet
    (docs / "lighthouse.txt").write_text(LIGHTHOUSE)
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir)}
    built = subprocess.run(
        [sys.executable, "-m", "ui.cli", "index", str(docs)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert built.returncode == 0, built.stderr
    assert not engine.data.is_current()

    answer = engine.ask(question)
    assert not answer.refused
    assert answer.citations[0].doc_id == "lighthouse"
    assert engine.data.is_current() and set(engine.data.documents) == {"harbour", "lighthouse"}


def test_the_index_is_checked_at_most_every_few_seconds(tmp_path, embedder) -> None:
    engine, docs, index_dir = _engine(tmp_path, embedder)
    engine.check_seconds = 3600.0
    (docs / "lighthouse.txt").write_text(LIGHTHOUSE)
    build_index([docs], index_dir, embedder)
    assert not engine.follow_index()  # checked a moment ago, at opening: not again yet
    assert set(engine.data.documents) == {"harbour"}
    assert engine.follow_index(force=True)
    assert set(engine.data.documents) == {"harbour", "lighthouse"}
    assert not engine.follow_index(force=True)  # already the newest build: nothing to load


def test_an_unchanged_index_is_not_reloaded(tmp_path, embedder) -> None:
    engine, _, _ = _engine(tmp_path, embedder)
    before = engine.data
    engine.ask("How many cranes does the harbour have?")
    assert engine.data is before


class _CountingLock:
    def __init__(self) -> None:
        self.taken = 0
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        self.taken += 1

    def __exit__(self, *exc) -> None:
        self._lock.release()


class _Fake:
    name, dimension = "fake", 2

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts, *, progress=False):
        self.calls.append(len(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_a_reload_embeds_new_sentences_a_batch_at_a_time_so_questions_get_turns() -> None:
    from rag.engine import _TakingTurns

    fake, lock = _Fake(), _CountingLock()
    texts = [f"sentence {'x' * i}" for i in range(70)]
    vectors = _TakingTurns(fake, lock, batch=32).embed(texts)
    assert fake.calls == [32, 32, 6] and lock.taken == 3  # the model lock is let go between batches
    assert vectors[:, 0].tolist() == [len(t) for t in texts]
    assert _TakingTurns(fake, lock).embed([]).shape == (0, 2)
