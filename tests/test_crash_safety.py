"""Builds killed with SIGKILL, at seeded moments, leave the previous index working and no partial fallback.

Two kinds of trials: the real `rag index` (real model) killed before and while it embeds, and a
build with the fake embedder killed while it writes its build folder, the moment the swap logic
protects. After each kill the old index must load and answer; after the next completed build,
builds/ must hold the new build and the last good one, nothing a killed build left.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from index.embedder import SentenceTransformerEmbedder
from index.paths import PROJECT_ROOT
from index.store import PARTIAL_SUFFIX, current_build, read_index

pytestmark = pytest.mark.slow

SEED = 12


class _Stderr:
    """Drains a child's stderr in a thread (so a full pipe never stalls it) and tells when a marker appeared."""

    def __init__(self, process: subprocess.Popen, marker: str) -> None:
        self.seen = threading.Event()
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(process, marker), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen, marker: str) -> None:
        for chunk in iter(lambda: process.stderr.read(64), ""):
            self.text = (self.text + chunk)[-4000:]
            if marker in self.text:
                self.seen.set()


def _kill(process: subprocess.Popen) -> bool:
    """SIGKILL the child; False if it had already finished on its own."""
    finished = process.poll() is not None
    if not finished:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return not finished


def _assert_every_unsuffixed_build_loads(index_dir: Path, scratch: Path) -> None:
    """A build folder without the `.partial` suffix is complete: it loads as an index on its own."""
    for folder in (index_dir / "builds").iterdir():
        if folder.name.endswith(PARTIAL_SUFFIX):
            continue
        check = scratch / folder.name
        (check / "builds").mkdir(parents=True, exist_ok=True)
        (check / "builds" / folder.name).symlink_to(folder)
        (check / "CURRENT").write_text(folder.name)
        data = read_index(check)
        assert len(data.chunks) == len(data.dense) == data.vectors.shape[0], folder.name


def _assert_builds_after_a_completed_build(index_dir: Path, last_good: str) -> None:
    current = current_build(index_dir).name
    assert {p.name for p in (index_dir / "builds").iterdir()} == {current, last_good}
    assert not list(index_dir.glob("CURRENT.tmp-*"))


def test_sigkill_of_rag_index_at_seeded_moments_keeps_the_previous_index(tmp_path: Path):
    rng = random.Random(SEED)
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "first.txt").write_text("Marco Rubio was dispatched to Geneva to negotiate with Zelensky.")
    env = {**os.environ, "RAG_PROGRESS": "1"}
    command = [sys.executable, "-m", "ui.cli", "index", str(corpus), "--index-dir", str(index_dir)]
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300, cwd=PROJECT_ROOT)
    before = read_index(index_dir)
    good = before.path.name
    embedder = SentenceTransformerEmbedder()
    question = embedder.embed(["Who went to Geneva?"])[0]

    # A much bigger corpus so each later build is still running when killed.
    for i in range(400):
        (corpus / f"extra-{i}.txt").write_text(f"Extra document {i} about unrelated matters. " * 40)
    # (wait for "embedding": the embedding progress bar; extra seconds after it)
    moments = [
        (None, rng.uniform(1.0, 4.0)),
        ("embedding", rng.uniform(0.0, 1.0)),
        ("embedding", rng.uniform(1.0, 4.0)),
    ]
    for marker, delay in moments:
        process = subprocess.Popen(
            command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=PROJECT_ROOT
        )
        stderr = _Stderr(process, marker or "\0")
        if marker:
            assert stderr.seen.wait(240), f"no {marker!r} from rag index: {stderr.text[-1000:]}"
        time.sleep(delay)
        assert _kill(process), f"the build finished before it could be killed ({marker}, {delay:.1f}s)"

        after = read_index(index_dir, expect_model=before.manifest.model)
        assert after.path.name == good and after.manifest == before.manifest
        assert sorted(after.documents) == ["first"]
        scores, rows = after.dense.search(question, 1)
        assert after.chunks[int(rows[0])].doc_id == "first" and scores[0] > 0.3
        assert after.lexical.scores("Geneva")[0] > 0

    # The next completed build (the corpus as it was: nothing to embed) keeps the last good build as the
    # fallback and removes whatever the killed ones left.
    for extra in corpus.glob("extra-*.txt"):
        extra.unlink()
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300, cwd=PROJECT_ROOT)
    _assert_builds_after_a_completed_build(index_dir, good)


_BUILD_WITH_THE_FAKE = (
    "import sys\n"
    "from pathlib import Path\n"
    "from index.builder import build_index\n"
    "from tests.fakes import CountingEmbedder\n"
    "build_index([Path(sys.argv[1])], Path(sys.argv[2]), CountingEmbedder())\n"
)


def _partial_appears(index_dir: Path, process: subprocess.Popen, timeout: float) -> bool:
    """Wait until the child has started writing its build folder (a `.partial` folder exists)."""
    deadline = time.monotonic() + timeout
    builds = index_dir / "builds"
    while time.monotonic() < deadline and process.poll() is None:
        if any(p.name.endswith(PARTIAL_SUFFIX) for p in builds.iterdir()):
            return True
        time.sleep(0.002)
    return False


def test_sigkill_while_a_build_is_written_never_leaves_a_partial_build_as_the_fallback(tmp_path: Path):
    from index.builder import build_index
    from tests.fakes import CountingEmbedder

    rng = random.Random(SEED)
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "first.txt").write_text("Marco Rubio was dispatched to Geneva to negotiate with Zelensky.")
    build_index([corpus], index_dir, CountingEmbedder())
    good = current_build(index_dir).name
    for i in range(1500):
        (corpus / f"extra-{i}.txt").write_text(f"Extra document {i}. Troops moved on day {i}. Talks went on.")

    killed_while_writing = 0
    for _trial in range(4):
        process = subprocess.Popen(
            [sys.executable, "-c", _BUILD_WITH_THE_FAKE, str(corpus), str(index_dir)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        writing = _partial_appears(index_dir, process, timeout=60)
        time.sleep(rng.uniform(0.0, 0.1))
        killed = _kill(process)
        killed_while_writing += writing and killed
        if not killed:  # it finished first: a good build like any other, now the one to keep
            assert process.returncode == 0
            good = current_build(index_dir).name
        data = read_index(index_dir)
        assert data.path.name == good and len(data.chunks) == len(data.dense) == data.vectors.shape[0]
        _assert_every_unsuffixed_build_loads(index_dir, tmp_path / f"check-{_trial}")

    assert killed_while_writing >= 2, "too few trials hit the write: the test no longer tests it"
    (corpus / "first.txt").write_text("Marco Rubio went to Geneva again.")
    build_index([corpus], index_dir, CountingEmbedder())
    _assert_builds_after_a_completed_build(index_dir, good)
