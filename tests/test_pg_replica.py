"""The PostgreSQL store as a team runs it: the `rag` command writing to the primary, answers read from
a hot standby, and a build killed with SIGKILL halfway through its writes (real server, real model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.paths import DEFAULT_CORPUS
from index.pg_store import PgIndex, connect

ROOT = Path(__file__).resolve().parents[1]


def rag(*args: str, store: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_STORE": store, "RAG_INDEX_DIR": str(tmp_path / "local-files")}
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT
    )


def _both(primary, standby, database: str, prefer: str) -> str:
    """A libpq multi-host URL naming the standby first, then the primary."""
    return (
        f"postgresql://rag@127.0.0.1:{standby.port},127.0.0.1:{primary.port}/{database}?target_session_attrs={prefer}"
    )


def test_rag_index_writes_to_the_primary_and_answers_come_from_the_standby(
    pg_server, pg_standby, embedder, tmp_path
) -> None:
    from rag.engine import Engine

    pg_server.create_database("replicated")
    readers = _both(pg_server, pg_standby, "replicated", "prefer-standby")
    # The same multi-host URL for writing: `rag index` insists on a read-write session, so it reaches the primary.
    built = rag("index", str(DEFAULT_CORPUS), "--json", store=readers, tmp_path=tmp_path)
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    assert summary["documents"] >= 1 and summary["chunks"] >= summary["documents"]

    pg_standby.wait_for_replay(pg_server)
    with connect(readers) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True  # the standby answers reads

    on_standby = Engine.open(tmp_path / "files", embedder=embedder, build_if_missing=False, store=readers)
    primary_url = pg_server.url.rsplit("/", 1)[0] + "/replicated"
    on_primary = Engine.open(tmp_path / "files", embedder=embedder, build_if_missing=False, store=primary_url)
    assert on_standby.data.manifest.counts == {"documents": summary["documents"], "chunks": summary["chunks"]}
    questions = [json.loads(line)["question"] for line in (ROOT / "eval/sets/default.jsonl").read_text().splitlines()]
    answered = 0
    for question in questions[:12]:
        mine, theirs = on_standby.ask(question), on_primary.ask(question)
        assert (mine.refused, mine.answer) == (theirs.refused, theirs.answer)
        for citation in mine.citations:
            assert on_standby.data.documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
        answered += not mine.refused
    assert answered > 0

    # The command line reads through the replica too.
    asked = rag("ask", questions[0], "--json", store=readers, tmp_path=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["answer"] == on_primary.ask(questions[0]).answer
    listed = rag("docs", "--json", store=readers, tmp_path=tmp_path)
    assert {row["doc_id"] for row in json.loads(listed.stdout)} == set(on_standby.data.documents)


def test_running_engines_answer_from_a_build_made_by_another_process(pg_server, pg_standby, embedder, tmp_path) -> None:
    """Two app processes' engines (one reading the primary, one the standby) keep answering while `rag index`
    adds a document and then rebuilds: each picks up the new build by itself, with no restart."""
    from rag.engine import Engine

    pg_server.create_database("following")
    primary = pg_server.url.rsplit("/", 1)[0] + "/following"
    readers = _both(pg_server, pg_standby, "following", "prefer-standby")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.txt").write_text("Harbour cranes lift containers onto ships. Velmar's harbour has nine cranes.")
    assert rag("index", str(docs), store=primary, tmp_path=tmp_path).returncode == 0
    pg_standby.wait_for_replay(pg_server)
    engines = [
        Engine.open(tmp_path / "files", embedder=embedder, build_if_missing=False, store=url)
        for url in (primary, readers)
    ]
    for engine in engines:
        engine.check_seconds = 0.0  # check before every question (the default waits a few seconds)
    question = "Who writes down every ship that passes at dawn?"
    assert all(engine.ask(question).refused for engine in engines)

    (docs / "lighthouse.txt").write_text(
        "The lighthouse keeper of Orsk writes down every ship that passes at dawn. He has kept the log since 1974."
    )
    added = rag("index", str(docs), store=primary, tmp_path=tmp_path)
    assert added.returncode == 0, added.stderr
    pg_standby.wait_for_replay(pg_server)
    for engine in engines:
        answer = engine.ask(question)
        assert not answer.refused and answer.citations[0].doc_id == "lighthouse"

    # A rebuild gives every chunk a new row: the rows these engines know are gone, and they follow.
    before = [engine.data for engine in engines]
    rebuilt = rag("index", str(docs), "--rebuild", store=primary, tmp_path=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    pg_standby.wait_for_replay(pg_server)
    for engine, old in zip(engines, before, strict=True):
        engine.check_seconds = 3600.0  # no check before the question: the search itself meets the new rows
        answer = engine.ask(question)
        assert engine.data is not old and engine.data.is_current()
        assert not answer.refused and answer.citations[0].doc_id == "lighthouse"


def test_a_standby_refuses_writes(pg_server, pg_standby, tmp_path) -> None:
    """Pointing `rag index` at the standby alone fails with a message, and never half-writes."""
    pg_server.create_database("standby_only")
    pg_standby.wait_for_replay(pg_server)
    standby_url = f"postgresql://rag@127.0.0.1:{pg_standby.port}/standby_only"
    result = rag("index", str(DEFAULT_CORPUS), store=standby_url, tmp_path=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "cannot use the PostgreSQL store" in result.stderr


def _many_documents(folder: Path, sources: list[Path], copies: int) -> Path:
    """Each source many times over (each copy a distinct document), so a build has minutes of embedding."""
    folder.mkdir()
    for path in sources:
        for number in range(copies):
            text = f"Copy {number}.\n\n" + path.read_text(encoding="utf-8")
            (folder / f"{path.stem}-{number}{path.suffix}").write_text(text, encoding="utf-8")
    return folder


def _builder(url: str) -> tuple[int, str | None] | None:
    """(server pid, transaction id) of the running `rag index`, or None."""
    with connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT pid, backend_xid::text FROM pg_stat_activity WHERE application_name = 'rag-index'"
        ).fetchone()


def test_a_build_killed_mid_write_leaves_the_previous_index_answering(pg_database, embedder, tmp_path) -> None:
    from index.pg_build import build_pg
    from rag.engine import Engine

    build_pg([DEFAULT_CORPUS], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    before = PgIndex.open(pg_database)
    engine = Engine.open(tmp_path / "files", embedder=embedder, build_if_missing=False, store=pg_database)
    question = json.loads((ROOT / "eval/sets/default.jsonl").read_text().splitlines()[0])["question"]
    expected = engine.ask(question)

    big = _many_documents(tmp_path / "big", [Path(d.path) for d in before.documents.values()], copies=12)
    env = {**os.environ, "RAG_STORE": pg_database, "RAG_INDEX_DIR": str(tmp_path / "local-files")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "index", str(big), "--rebuild"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while True:  # until the build has written (it holds a transaction id once its first table exists)
            found = _builder(pg_database)
            if found and found[1]:
                break
            assert process.poll() is None, "the build ended before it was killed"
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.05)
        time.sleep(3)  # a few batches embedded and copied into the new tables
        # While it writes, readers open the previous index without waiting for it.
        with connect(pg_database, autocommit=True) as conn:
            conn.execute("SET statement_timeout = '5s'")
            count = conn.execute("SELECT count(*) FROM rag_documents").fetchone()[0]
        assert count == len(before.documents)
        assert process.poll() is None, "the build finished before it was killed: give it more documents"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)

    deadline = time.monotonic() + 60
    while _builder(pg_database) is not None:  # the server notices the closed connection and rolls back
        assert time.monotonic() < deadline, "the killed build's transaction is still open"
        time.sleep(0.1)
    after = PgIndex.open(pg_database)
    assert sorted(after.documents) == sorted(before.documents)
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
    engine.reload()
    again = engine.ask(question)
    assert (again.refused, again.answer) == (expected.refused, expected.answer)
    # The advisory lock went with the killed session: the next update runs, and has nothing to embed.
    summary = build_pg([DEFAULT_CORPUS], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    assert summary.embedded == 0


@pytest.mark.parametrize("bad", ["mysql://db/x", "/tmp/some-folder"])
def test_store_takes_only_postgresql_urls(bad, tmp_path) -> None:
    result = rag("docs", "--store", bad, store="", tmp_path=tmp_path)
    assert result.returncode == 2 and "postgresql://" in result.stderr and "Traceback" not in result.stderr
