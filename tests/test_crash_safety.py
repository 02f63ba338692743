"""A real `rag index` killed with SIGKILL mid-build leaves the previous index working."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.embedder import SentenceTransformerEmbedder
from index.store import read_index

pytestmark = pytest.mark.slow


def test_sigkill_during_a_build_keeps_the_previous_index(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "first.txt").write_text("Marco Rubio was dispatched to Geneva to negotiate with Zelensky.")
    env = {**os.environ, "RAG_PROGRESS": "1"}
    command = [sys.executable, "-m", "ui.cli", "index", str(corpus), "--index-dir", str(index_dir)]
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300)
    before = read_index(index_dir)

    # A much bigger corpus so the second build is still embedding when killed.
    for i in range(400):
        (corpus / f"extra-{i}.txt").write_text(f"Extra document {i} about unrelated matters. " * 40)
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 240
    seen = ""
    while time.monotonic() < deadline and "Batches" not in seen:
        seen += process.stderr.read(1) or ""
        if process.poll() is not None:
            break
    assert process.poll() is None, "the build finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    after = read_index(index_dir, expect_model=before.manifest.model)
    assert sorted(after.documents) == ["first"]
    assert after.manifest == before.manifest
    embedder = SentenceTransformerEmbedder()
    scores, rows = after.dense.search(embedder.embed(["Who went to Geneva?"])[0], 1)
    assert after.chunks[int(rows[0])].doc_id == "first" and scores[0] > 0.3
    assert after.lexical.scores("Geneva")[0] > 0
