"""Build or update the PostgreSQL index (`rag index --store postgresql://…`).

The same incremental rule as the local builder (index.builder): a document whose content hash is
unchanged keeps its chunks, vectors and postings; new and changed documents are chunked and
embedded; documents whose files are gone are deleted. The whole update is ONE transaction on the
primary (`target_session_attrs=read-write`), under an advisory lock so builds queue up: a build that
fails or is killed leaves the previous index as it was, readable all along.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from index.builder import IndexSummary, _LazyChunker, _nothing_to_index, pipeline_signature
from index.embedder import Embedder
from index.errors import NothingToIndexError
from index.loaders import load_documents
from index.onnx_embedder import backend_of, vector_family
from index.pg_bm25 import add_term_counts, create_terms_table, ensure_terms_table
from index.pg_store import chunk_terms, connect, document_body, redacted
from index.store import FORMAT_VERSION, IndexData, Manifest
from index.types import Chunk, Document
from index.vector_store import INDEX_KINDS

__all__ = [
    "EMBED_BATCH",
    "PG_EXACT_UP_TO",
    "build_pg",
    "copy_index",
    "create_tables",
    "ensure_vector_index",
    "insert_chunks",
    "insert_documents",
    "swap_in",
    "write_manifest",
]

# `--vector-index auto`: exact search (a scan of the vectors) up to this many chunks, the HNSW graph above.
# Lower than FAISS's AUTO_HNSW_ABOVE: a scan in PostgreSQL costs ~7 ms per 1,000 chunks here, against
# ~0.2 ms in FAISS (python -m eval.benchmarks.scale, docs/scaling.md).
PG_EXACT_UP_TO = 10_000
EMBED_BATCH = 256  # chunks embedded and written at a time: memory stays flat however large the build
_LOCK_KEY = 7_242_014  # pg_advisory_xact_lock key: one `rag index` writer per database at a time


_TABLES = ("rag_meta", "rag_documents", "rag_chunks", "rag_postings", "rag_terms")
NEXT = "_next"  # a rebuild writes tables with this suffix and swaps them in just before it commits


def create_tables(conn, dimension: int, suffix: str = "") -> None:
    """Create empty index tables named with `suffix` (inside the caller's transaction: DDL is transactional).

    Constraint and index names are left to PostgreSQL, which keeps them unique across swaps."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute(f"DROP TABLE IF EXISTS {', '.join(t + suffix for t in _TABLES)}")
    conn.execute(f"CREATE TABLE rag_meta{suffix} (key text PRIMARY KEY, value jsonb NOT NULL)")
    conn.execute(
        f"CREATE TABLE rag_documents{suffix} (id text PRIMARY KEY, position int NOT NULL, path text NOT NULL, "
        "hash text NOT NULL, body jsonb NOT NULL)"
    )
    conn.execute(
        f"CREATE TABLE rag_chunks{suffix} (id bigint PRIMARY KEY, chunk_id text NOT NULL, "
        f"doc_id text NOT NULL REFERENCES rag_documents{suffix}(id) ON DELETE CASCADE, position int NOT NULL, "
        "start_at int NOT NULL, end_at int NOT NULL, sentences jsonb NOT NULL, page int, length int NOT NULL, "
        f"embedding vector({int(dimension)}) NOT NULL)"
    )
    conn.execute(f"CREATE INDEX ON rag_chunks{suffix} (doc_id)")
    conn.execute("CREATE SEQUENCE IF NOT EXISTS rag_chunk_ids")
    # Postings are deleted by chunk explicitly (one scan per build), so no per-row cascade index is kept.
    conn.execute(
        f"CREATE TABLE rag_postings{suffix} (term text NOT NULL, chunk bigint NOT NULL, tf int NOT NULL, "
        "length int NOT NULL, PRIMARY KEY (term, chunk))"
    )
    create_terms_table(conn, suffix)


def swap_in(conn, suffix: str = NEXT) -> None:
    """Replace the index tables with the `suffix` ones. Readers wait only for this moment (the old tables'
    exclusive lock is taken here, at the end of the build), and read the previous index until the commit."""
    conn.execute(f"DROP TABLE IF EXISTS {', '.join(_TABLES)}")
    for table in _TABLES:
        conn.execute(f"ALTER TABLE {table}{suffix} RENAME TO {table}")


def ensure_vector_index(conn, dimension: int, suffix: str = "") -> None:
    """The HNSW graph over the vectors as halfvec (made after a bulk load, kept up to date by inserts)."""
    present = conn.execute(
        "SELECT count(*) FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%USING hnsw%%'",
        (f"rag_chunks{suffix}",),
    ).fetchone()[0]
    if not present:
        conn.execute(
            f"CREATE INDEX ON rag_chunks{suffix} USING hnsw ((embedding::halfvec({int(dimension)})) halfvec_ip_ops) "
            "WITH (m = 16, ef_construction = 64)"
        )


def insert_documents(conn, documents: Sequence[Document], positions: Sequence[int], suffix: str = "") -> None:
    """Insert documents (their chunks follow with `insert_chunks`)."""
    from psycopg.types.json import Jsonb

    with (
        conn.cursor() as cur,
        cur.copy(f"COPY rag_documents{suffix} (id, position, path, hash, body) FROM STDIN") as copy,
    ):
        for document, position in zip(documents, positions, strict=True):
            copy.write_row(
                (document.id, position, document.path, document.content_hash, Jsonb(document_body(document)))
            )


def insert_chunks(
    conn, chunks: Sequence[Chunk], vectors: np.ndarray, first_position: dict[str, int], suffix: str = ""
) -> None:
    """Insert chunks (rows of `vectors` follow `chunks`) with their BM25 postings. `first_position` maps a
    document to the position of its next chunk, and is advanced (chunks of a document may come in batches)."""
    from psycopg.types.json import Jsonb

    with conn.cursor() as cur:
        numbering = "SELECT nextval('rag_chunk_ids') FROM generate_series(1, %s)"
        ids = [row[0] for row in cur.execute(numbering, (len(chunks),))]
        postings = []
        with cur.copy(
            f"COPY rag_chunks{suffix} (id, chunk_id, doc_id, position, start_at, end_at, sentences, page, length, "
            "embedding) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", "text", "text", "int4", "int4", "int4", "jsonb", "int4", "int4", "vector"])
            for db_id, chunk, vector in zip(ids, chunks, vectors, strict=True):
                terms = chunk_terms(chunk.text)
                length = sum(terms.values())
                postings.append((terms, length))
                position = first_position.get(chunk.doc_id, 0)
                first_position[chunk.doc_id] = position + 1
                spans = Jsonb([list(span) for span in chunk.sentences])
                row = (db_id, chunk.id, chunk.doc_id, position, chunk.start, chunk.end, spans, chunk.page, length)
                copy.write_row((*row, np.asarray(vector, dtype=np.float32)))
        with cur.copy(f"COPY rag_postings{suffix} (term, chunk, tf, length) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int8", "int4", "int4"])
            for db_id, (terms, length) in zip(ids, postings, strict=True):
                for term, tf in terms.items():
                    copy.write_row((term.replace("\x00", " "), db_id, tf, length))
    add_term_counts(conn, Counter(term for terms, _ in postings for term in terms), suffix)


def write_manifest(conn, manifest_fields: dict[str, object], suffix: str = "") -> Manifest:
    """Record the corpus totals BM25 needs and the manifest (counted from the tables, so always true)."""
    from psycopg.types.json import Jsonb

    chunks, tokens = conn.execute(f"SELECT count(*), coalesce(sum(length), 0) FROM rag_chunks{suffix}").fetchone()
    per_doc = dict(conn.execute(f"SELECT doc_id, count(*) FROM rag_chunks{suffix} GROUP BY doc_id").fetchall())
    documents = {
        doc_id: {"path": path, "hash": content_hash, "chunks": int(per_doc.get(doc_id, 0))}
        for doc_id, path, content_hash in conn.execute(
            f"SELECT id, path, hash FROM rag_documents{suffix} ORDER BY position"
        )
    }
    kind = str(manifest_fields.pop("vector_index", "auto"))
    if kind == "auto":
        kind = "hnsw" if chunks > PG_EXACT_UP_TO else "flat"
    manifest = Manifest(documents=documents, vector_index=kind, created=time.time(), **manifest_fields)
    upsert = f"INSERT INTO rag_meta{suffix} VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    # "df": this build kept rag_terms (index.pg_bm25); a version without it writes stats without the mark.
    conn.execute(upsert, ("stats", Jsonb({"chunks": int(chunks), "tokens": int(tokens), "df": True})))
    conn.execute(upsert, ("manifest", Jsonb(asdict(manifest))))
    return manifest


def _stored(conn) -> tuple[Manifest | None, dict[str, Document]]:
    """The manifest and documents in the database now (None and {} when there are no tables yet)."""
    from index.pg_store import _document, _manifest

    exists = conn.execute("SELECT to_regclass('rag_meta') IS NOT NULL").fetchone()[0]
    if not exists:
        return None, {}
    found = conn.execute("SELECT value FROM rag_meta WHERE key = 'manifest'").fetchone()
    if found is None:
        return None, {}
    documents = {doc_id: _document(body) for doc_id, body in conn.execute("SELECT id, body FROM rag_documents")}
    return _manifest(found[0], ""), documents


def build_pg(
    paths: Sequence[Path],
    url: str,
    embedder: Embedder,
    *,
    chunk_size: int,
    chunk_overlap: int,
    vector_index: str = "auto",
    rebuild: bool = False,
    progress: bool = False,
    documents: Sequence[Document] | None = None,
    follow_links: bool = False,
) -> IndexSummary:
    """Index the files under `paths` into the database at `url` (see the module docstring)."""
    if vector_index not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {vector_index!r}; choose one of {', '.join(INDEX_KINDS)}")
    started = time.perf_counter()
    chunker = _LazyChunker(embedder, chunk_size, min(chunk_overlap, chunk_size // 2))
    with connect(url, target_session_attrs="read-write", application_name="rag-index") as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        manifest, old_docs = _stored(conn)
        same = manifest is not None and (
            manifest.model,
            manifest.chunk_size,
            manifest.chunk_overlap,
            manifest.pipeline,
            manifest.format_version,
            vector_family(manifest.embed_backend),  # int8 and fp32 vectors never mix in one index
        ) == (
            embedder.name,
            chunker.chunk_size,
            chunker.chunk_overlap,
            pipeline_signature(),
            FORMAT_VERSION,
            vector_family(backend_of(embedder)),
        )
        if documents is None:
            report = load_documents(paths, follow_links=follow_links)
            documents, skipped, unreadable = list(report.documents), report.skipped, report.unreadable
        else:
            documents, skipped, unreadable = list(documents), [], frozenset()
        if not (same and not rebuild):
            old_docs = {}
        # A file that exists but could not be read now keeps its indexed version (as index.builder does).
        loaded = {d.id for d in documents}
        kept = [d for d in old_docs.values() if d.id not in loaded and d.path in unreadable]
        documents = [*documents, *kept]
        if not documents:
            raise NothingToIndexError(_nothing_to_index(paths, skipped))
        unchanged = {d.id for d in documents if d.id in old_docs and old_docs[d.id].content_hash == d.content_hash}
        fresh = [d for d in documents if d.id not in unchanged]
        dimension = int(manifest.dimension) if old_docs and manifest else 0
        suffix = "" if old_docs else NEXT  # updates in place (readers see MVCC snapshots); rebuilds aside
        if not old_docs:
            dimension = embedder.dimension
            create_tables(conn, dimension, suffix)
        gone = [doc_id for doc_id in old_docs if doc_id not in unchanged]
        if old_docs:
            ensure_terms_table(conn)
        if gone:
            removed = conn.execute(
                "WITH gone AS (DELETE FROM rag_postings p USING rag_chunks c WHERE p.chunk = c.id "
                "AND c.doc_id = ANY(%s) RETURNING p.term) SELECT term, count(*) FROM gone GROUP BY term",
                (gone,),
            ).fetchall()
            add_term_counts(conn, Counter(dict(removed)), sign=-1)
            conn.execute("DELETE FROM rag_documents WHERE id = ANY(%s)", (gone,))
        position = {d.id: i for i, d in enumerate(documents)}
        if unchanged:
            conn.execute(
                "UPDATE rag_documents d SET position = p.position "
                "FROM unnest(%s::text[], %s::int[]) AS p(id, position) WHERE d.id = p.id",
                (sorted(unchanged), [position[i] for i in sorted(unchanged)]),
            )
        insert_documents(conn, fresh, [position[d.id] for d in fresh], suffix)
        chunks = [chunk for document in fresh for chunk in chunker.chunk(document)]
        next_position: dict[str, int] = {}
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            insert_chunks(conn, batch, embedder.embed([c.text for c in batch]), next_position, suffix)
        ensure_vector_index(conn, dimension, suffix)
        written = write_manifest(
            conn,
            {
                "format_version": FORMAT_VERSION,
                "model": embedder.name,
                "dimension": dimension,
                "chunk_size": chunker.chunk_size,
                "chunk_overlap": chunker.chunk_overlap,
                "vector_index": vector_index,
                "sources": [str(Path(p).resolve()) for p in paths],
                "pipeline": pipeline_signature(),
                "embed_backend": backend_of(embedder),
            },
            suffix,
        )
        if suffix:
            swap_in(conn, suffix)
    return IndexSummary(
        documents=len(documents),
        chunks=written.counts["chunks"],
        embedded=len(chunks),
        removed=len(set(old_docs) - {d.id for d in documents}),
        skipped=skipped,
        seconds=time.perf_counter() - started,
        rebuilt=not old_docs,
        embed_backend=backend_of(embedder),
    )


def copy_index(data: IndexData, url: str) -> Manifest:
    """Copy a local index (documents, chunks, vectors) into the database at `url` without embedding again,
    replacing what is there, in one transaction. The manifest keeps the local one's model and sources, so
    later `rag index --store` updates are incremental."""
    with connect(url, target_session_attrs="read-write", application_name="rag-index") as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        dimension = int(data.manifest.dimension)
        create_tables(conn, dimension, NEXT)
        documents = list(data.documents.values())
        insert_documents(conn, documents, list(range(len(documents))), NEXT)
        positions: dict[str, int] = {}
        for start in range(0, len(data.chunks), EMBED_BATCH * 8):
            end = start + EMBED_BATCH * 8
            insert_chunks(conn, data.chunks[start:end], data.vectors[start:end], positions, NEXT)
        ensure_vector_index(conn, dimension, NEXT)
        fields = {k: v for k, v in asdict(data.manifest).items() if k in _COPIED}
        manifest = write_manifest(conn, {**fields, "vector_index": "auto"}, NEXT)
        swap_in(conn, NEXT)
    return manifest


_COPIED = ("format_version", "model", "dimension", "chunk_size", "chunk_overlap", "sources", "pipeline")
_COPIED += ("embed_backend",)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m index.pg_build --from-index DIR URL`: move a local index into PostgreSQL as it is."""
    import argparse

    from index.store import read_index

    parser = argparse.ArgumentParser(prog="python -m index.pg_build", description=main.__doc__)
    parser.add_argument("--from-index", type=Path, required=True, help="the local index folder (rag --index-dir)")
    parser.add_argument("url", help="postgresql:// URL of the primary")
    args = parser.parse_args(argv)
    manifest = copy_index(read_index(args.from_index), args.url)
    print(
        f"copied {manifest.counts['documents']} documents, {manifest.counts['chunks']} chunks to {redacted(args.url)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
