"""The index in PostgreSQL: pgvector for dense search, BM25 term statistics in tables for lexical search.

    index = PgIndex.open("postgresql://rag@db:5432/rag", expect_model="all-MiniLM-L6-v2")
    scores, rows = index.dense_top(query_vector, 100)

Tables (created by the first `rag index --store postgresql://…`, see `index.pg_build`):

    rag_meta       key -> JSON: the manifest, and the corpus totals BM25 needs (chunks, tokens)
    rag_documents  one row per document: id, position, the whole Document as JSON
    rag_chunks     one row per chunk: offsets, sentence spans, token count, vector(D); an HNSW index
                   on the vector cast to halfvec (half the memory; the scores returned are still
                   the full-precision inner products)
    rag_postings   (term, chunk, tf): exact BM25 with the same tokenizer and parameters as the
                   local store (index.text.tokenize, index.lexical.BM25_K1/BM25_B), index.pg_bm25
    rag_terms      (term, df): each term's document frequency, kept current by every build

Documents and chunk offsets are read once when the index is opened (the query side's caches need
them); vectors and postings stay in the database and are searched there. Several processes can share
one database; a reader may point at a hot standby (libpq multi-host with
`target_session_attrs=prefer-standby`), the builder always writes to the primary.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from index.errors import IndexChangedError, IndexMismatchError, IndexNotFoundError, RagError, StoreUnavailableError
from index.pg_bm25 import QueryTerms, query_terms, scores_of, top_k
from index.store import Manifest
from index.text import tokenize
from index.types import Chunk, Document

__all__ = [
    "HNSW_EF_SEARCH",
    "PgIndex",
    "StoreUnavailableError",
    "chunk_terms",
    "connect",
    "document_body",
    "is_store_url",
    "read_pg_manifest",
    "redacted",
]

HNSW_EF_SEARCH = 200  # candidates the HNSW scan keeps (pgvector's default is 40; it caps how many rows come back)
_SCHEMES = ("postgresql://", "postgres://")


def is_store_url(location: object) -> bool:
    """Whether an index location names a PostgreSQL database rather than a folder."""
    return isinstance(location, str) and location.startswith(_SCHEMES)


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, **settings: object):
    """A psycopg connection with pgvector's types registered; errors become StoreUnavailableError."""
    import psycopg
    from pgvector.psycopg import register_vector

    try:
        conn = psycopg.connect(url, **settings)
        register_vector(conn)
    except psycopg.Error as error:
        raise StoreUnavailableError(
            f"cannot use the PostgreSQL store at {redacted(url)}: {str(error).strip().splitlines()[0]}. "
            "Check that the server runs, the URL is right and the pgvector extension is installed "
            "(CREATE EXTENSION vector)"
        ) from error
    return conn


def chunk_terms(text: str) -> Counter[str]:
    """The term frequencies BM25 indexes for a chunk: the local store's tokens (an empty token for a
    chunk without words, as index.lexical does)."""
    return Counter(tokenize(text) or [""])


def _clean(value: str) -> str:
    """PostgreSQL text cannot hold NUL; a space keeps every offset where it was."""
    return value.replace("\x00", " ")


def document_body(document: Document) -> dict:
    """The document as JSON-ready data, NUL-free (PostgreSQL text and jsonb cannot hold NUL)."""
    from dataclasses import asdict

    return _without_nul(asdict(document))  # type: ignore[return-value]


def _without_nul(value: object) -> object:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {_clean(str(k)): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def _document(raw: dict) -> Document:
    raw["authors"] = tuple(raw["authors"])
    raw["page_starts"] = tuple(raw["page_starts"])
    return Document(**raw)


class PgIndex:
    """A PostgreSQL index opened for answering (implements `index.index_store.IndexStore`)."""

    def __init__(
        self,
        url: str,
        manifest: Manifest,
        documents: dict[str, Document],
        chunks: list[Chunk],
        ids: np.ndarray,
        version: str,
        pool_size: int = 8,
    ) -> None:
        self.url = url
        self._version = version  # the manifest row's xmin when it was read (`is_current`)
        self.lexical_searches = self.pruned_searches = 0  # top-k BM25 searches, and those the pruned search answered
        self._manifest = manifest
        self._documents = documents
        self._chunks = chunks
        self._ids = ids  # database id of each row
        self._row_of = {int(db_id): row for row, db_id in enumerate(ids.tolist())}
        self._doc_rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(chunks):
            self._doc_rows.setdefault(chunk.doc_id, []).append(row)
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._slots = threading.Semaphore(pool_size)

    # -- opening ---------------------------------------------------------------

    @classmethod
    def open(cls, url: str, expect_model: str | None = None) -> PgIndex:
        """Read the manifest, documents and chunk offsets (one consistent snapshot); errors say what to run."""
        import psycopg

        with connect(url) as conn:
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    found = conn.execute("SELECT value, xmin::text FROM rag_meta WHERE key = 'manifest'").fetchone()
                    if found is None:
                        raise IndexNotFoundError(redacted(url))
                    manifest, version = _manifest(found[0], url), found[1]
                    if expect_model is not None and manifest.model != expect_model:
                        raise IndexMismatchError(
                            f"the index at {redacted(url)} was built with model {manifest.model!r}, not "
                            f"{expect_model!r}: rebuild it with `rag index --rebuild --store URL --model "
                            f"{expect_model}` or use `--model {manifest.model}`"
                        )
                    documents = {
                        doc_id: _document(body)
                        for doc_id, body in conn.execute("SELECT id, body FROM rag_documents ORDER BY position")
                    }
                    chunks, ids = [], []
                    rows = conn.execute(
                        "SELECT c.id, c.chunk_id, c.doc_id, c.start_at, c.end_at, c.sentences, c.page "
                        "FROM rag_chunks c JOIN rag_documents d ON d.id = c.doc_id ORDER BY d.position, c.position"
                    )
                    for db_id, chunk_id, doc_id, start, end, sentences, page in rows:
                        text = documents[doc_id].text[start:end]
                        spans = tuple((s, e) for s, e in sentences)
                        chunks.append(Chunk(chunk_id, doc_id, start, end, text, spans, page))
                        ids.append(db_id)
            except psycopg.errors.UndefinedTable:
                raise IndexNotFoundError(redacted(url)) from None
            except psycopg.Error as error:
                raise StoreUnavailableError(f"reading the index at {redacted(url)} failed: {error}") from error
        return cls(url, manifest, documents, chunks, np.array(ids, dtype=np.int64), version)

    @contextmanager
    def _conn(self) -> Iterator:
        """A pooled connection (one per concurrent caller, up to the pool size)."""
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = connect(self.url, autocommit=True)
            try:
                yield conn
            except Exception:
                conn.close()
                raise
            self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    # -- IndexStore -------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def documents(self) -> Mapping[str, Document]:
        return self._documents

    @property
    def chunks(self) -> Sequence[Chunk]:
        return self._chunks

    @property
    def path(self) -> str:
        return redacted(self.url)

    def _rows(self, found: list[tuple[int, float]], whole_corpus: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of database hits, leaving out chunks written after this index was opened.

        When a search over the whole corpus (`whole_corpus`: the dense one, which always finds neighbours)
        knows not one of its hits, the index was rebuilt since (a rebuild writes every chunk anew): an
        error to act on, not an empty result to answer from."""
        known = [(score, self._row_of[db_id]) for db_id, score in found if db_id in self._row_of]
        if whole_corpus and found and not known:
            raise IndexChangedError(
                f"the index at {redacted(self.url)} was rebuilt after this process opened it: "
                "reload it (`Engine` does so by itself) to answer from the new one"
            )
        scores = np.array([s for s, _ in known], dtype=np.float32)
        return scores, np.array([r for _, r in known], dtype=np.int64)

    def dense_top(
        self, query_vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        vector = np.asarray(query_vector, dtype=np.float32)
        if doc_ids:
            sql = (
                "SELECT id, -(embedding <#> %(q)s) FROM rag_chunks WHERE doc_id = ANY(%(docs)s) "
                "ORDER BY embedding <#> %(q)s LIMIT %(k)s"
            )
        elif self._manifest.vector_index == "hnsw":
            dimension = int(self._manifest.dimension)
            sql = (
                f"SELECT id, -(embedding <#> %(q)s) FROM rag_chunks "
                f"ORDER BY embedding::halfvec({dimension}) <#> %(q)s::halfvec({dimension}) LIMIT %(k)s"
            )
        else:  # exact: the full-precision column has no index, so this is a scan, like FAISS's flat index
            sql = "SELECT id, -(embedding <#> %(q)s) FROM rag_chunks ORDER BY embedding <#> %(q)s LIMIT %(k)s"
        with self._conn() as conn, conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, min(int(k), 1000))}")
            found = conn.execute(sql, {"q": vector, "k": int(k), "docs": list(doc_ids or [])}).fetchall()
        return self._rows(found, whole_corpus=not doc_ids)

    @contextmanager
    def _snapshot(self) -> Iterator:
        """A pooled connection inside one read-only snapshot: a search of several statements (BM25's
        statistics, then its postings) sees one state of the index even while a build commits."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn

    def _query_terms(self, conn, query: str) -> QueryTerms | None:
        counts = Counter(tokenize(query))
        if not counts or not self._chunks:
            return None
        return query_terms(conn, counts)

    def lexical_top(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        with self._snapshot() as conn:
            terms = self._query_terms(conn, query)
            found, pruned = top_k(conn, terms, int(k)) if terms is not None else ([], False)
        self.lexical_searches += 1
        self.pruned_searches += pruned
        scores, rows = self._rows([(db_id, s) for db_id, s in found if s > 0])
        order = np.argsort(-scores, kind="stable")
        return scores[order], rows[order]

    def lexical_scores(self, query: str, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        scores = np.zeros(len(rows), dtype=np.float32)
        if rows.size == 0:
            return scores
        with self._snapshot() as conn:
            terms = self._query_terms(conn, query)
            found = scores_of(conn, terms, self._ids[rows].tolist()) if terms is not None else []
        position = {int(row): i for i, row in enumerate(rows.tolist())}
        found_scores, found_rows = self._rows(found)
        for score, row in zip(found_scores.tolist(), found_rows.tolist(), strict=True):
            scores[position[row]] = score
        return scores

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros((0, int(self._manifest.dimension)), dtype=np.float32)
        with self._conn() as conn:
            found = dict(
                conn.execute(
                    "SELECT id, embedding FROM rag_chunks WHERE id = ANY(%s)", (self._ids[rows].tolist(),), binary=True
                )
            )
        try:
            return np.vstack([_array(found[int(self._ids[row])]) for row in rows.tolist()])
        except KeyError:
            raise IndexChangedError(
                f"the index at {redacted(self.url)} changed while this process read it: reload it "
                "(`Engine` does so by itself)"
            ) from None

    def rows_of(self, doc_ids: Collection[str]) -> np.ndarray:
        return np.array(sorted(r for d in set(doc_ids) for r in self._doc_rows.get(d, [])), dtype=np.int64)

    def is_current(self) -> bool:
        """Every build, incremental or not, rewrites the manifest row (a rebuild makes a new table), so the
        row's transaction id (`xmin`, the same on a standby) changes; reading it does not read the manifest."""
        import psycopg

        try:
            with self._conn() as conn:
                found = conn.execute("SELECT xmin::text FROM rag_meta WHERE key = 'manifest'").fetchone()
        except psycopg.Error as error:
            raise StoreUnavailableError(f"reading the index at {redacted(self.url)} failed: {error}") from error
        return found is None or found[0] == self._version

    def searching_vectors_with(self, vector_index: str) -> PgIndex:
        """This opened index with its vectors searched another way ("hnsw": the graph whatever the size, as
        the benchmarks compare), sharing what was read."""
        manifest = dataclasses.replace(self._manifest, vector_index=vector_index)
        return PgIndex(self.url, manifest, self._documents, self._chunks, self._ids, self._version)


def _array(vector: object) -> np.ndarray:
    """A pgvector value as float32 (the pgvector package returns its own Vector type)."""
    to_numpy = getattr(vector, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else vector, dtype=np.float32)


def read_pg_manifest(url: str) -> Manifest | None:
    """The manifest of the index in the database at `url`, or None when none was built there yet."""
    import psycopg

    with connect(url) as conn:
        try:
            found = conn.execute("SELECT value FROM rag_meta WHERE key = 'manifest'").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    return None if found is None else _manifest(found[0], url)


def _manifest(raw: object, url: str) -> Manifest:
    from dataclasses import fields

    if not isinstance(raw, dict):
        raise RagError(f"the index at {redacted(url)} is damaged: rebuild it with `rag index --rebuild --store URL`")
    known = {f.name for f in fields(Manifest)}
    return Manifest(**{key: value for key, value in raw.items() if key in known})


def sources_of(manifest: Manifest) -> list[Path]:
    return [Path(source) for source in manifest.sources]
