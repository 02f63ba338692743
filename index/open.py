"""Open an index for answering, building or upgrading it first when needed.

    data = open_index(index_dir, embedder)           # builds corpus/ when there is no index
    data = open_index(index_dir, embedder, build_if_missing=False)  # errors name `rag index`
    data = update_sources(index_dir, embedder, [*old_sources, new_file])

This is the build side's door for the query side: `rag.Engine` calls these and
never imports the builder itself, so answering a question does not load the
chunker (LangChain) unless an index has to be built.

It is also where the store is picked: with `store="postgresql://…"` (`rag … --store`, $RAG_STORE)
the index lives in PostgreSQL (index.pg_store, index.pg_build), otherwise in `index_dir`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from index.embedder import Embedder
from index.errors import IndexMismatchError, IndexNotFoundError, RagError
from index.index_store import IndexStore
from index.paths import DEFAULT_CORPUS
from index.store import Manifest, read_index, read_manifest

__all__ = ["build", "chunking_of", "open_index", "read_store", "stored_manifest", "update_sources"]


def read_store(index_dir: Path, store: str | None = None, expect_model: str | None = None) -> IndexStore:
    """The index as it is now: in PostgreSQL when `store` names a database, else in `index_dir`."""
    if store:
        from index.pg_store import PgIndex

        return PgIndex.open(store, expect_model=expect_model)
    return read_index(index_dir, expect_model=expect_model)


def stored_manifest(index_dir: Path, store: str | None = None) -> Manifest | None:
    """The current index's manifest, or None when there is no index yet."""
    if not store:
        return read_manifest(index_dir)
    from index.pg_store import read_pg_manifest

    return read_pg_manifest(store)


def build(paths: Sequence[Path], index_dir: Path, embedder: Embedder, *, store: str | None = None, **options):
    """`index.builder.build_index` into `index_dir`, or `index.pg_build.build_pg` into `store`; the `IndexSummary`."""
    from index.builder import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, build_index

    if not store:
        return build_index(paths, index_dir, embedder, **options)
    from index.pg_build import build_pg

    options.setdefault("chunk_size", DEFAULT_CHUNK_SIZE)
    options.setdefault("chunk_overlap", DEFAULT_CHUNK_OVERLAP)
    return build_pg(paths, store, embedder, **options)


def open_index(
    index_dir: Path,
    embedder: Embedder,
    *,
    build_if_missing: bool = True,
    progress: bool = False,
    on_build: Callable[[object], None] | None = None,
    store: str | None = None,
) -> IndexStore:
    """The index at `index_dir` (or in the database `store`), built first when there is none (from the default corpus)
    or when it was split by another version of this code (again, from the document texts
    it stores, so it works even when a source folder has moved since).

    `build_if_missing=False` turns both builds into errors that name the command to run.
    `on_build` receives the `IndexSummary` of a build made here.
    """
    # Imported here: building loads the chunker (LangChain), which answering never needs.
    from index.builder import pipeline_signature

    manifest = stored_manifest(index_dir, store)
    summary = None
    if manifest is None:
        if not build_if_missing:
            raise IndexNotFoundError(store or index_dir)
        summary = build([DEFAULT_CORPUS], index_dir, embedder, store=store, progress=progress)
    elif manifest.pipeline != pipeline_signature() and manifest.model == embedder.name:
        if not build_if_missing:
            raise IndexMismatchError(
                f"the index at {index_dir} was split by another version of rag "
                f"({manifest.pipeline or 'not recorded'}; this one: {pipeline_signature()}): "
                "update it with `rag index`"
            )
        stored = read_store(index_dir, store, expect_model=embedder.name).documents
        summary = build(
            [Path(source) for source in manifest.sources],
            index_dir,
            embedder,
            store=store,
            chunk_size=manifest.chunk_size,
            chunk_overlap=manifest.chunk_overlap,
            vector_index=manifest.vector_index,
            progress=progress,
            documents=list(stored.values()),
        )
    if summary is not None and on_build:
        on_build(summary)
    return read_store(index_dir, store, expect_model=embedder.name)


def chunking_of(index_dir: Path, store: str | None = None, chunk_size: int | None = None) -> dict[str, int]:
    """The chunk size and overlap to build with: the index's own (the defaults when there is none, or it
    cannot be read), unless `chunk_size` asks for another size. Other sizes split and embed every
    document again, so an update keeps the index's unless told otherwise."""
    from index.builder import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE

    try:
        manifest = stored_manifest(index_dir, store)
    except RagError:  # damaged or of another format: the build starts afresh, as it would have
        manifest = None
    if manifest is not None and chunk_size in (None, manifest.chunk_size):
        return {"chunk_size": int(manifest.chunk_size), "chunk_overlap": int(manifest.chunk_overlap)}
    return {"chunk_size": chunk_size or DEFAULT_CHUNK_SIZE, "chunk_overlap": DEFAULT_CHUNK_OVERLAP}


def update_sources(
    index_dir: Path, embedder: Embedder, sources: Sequence[Path], *, progress: bool = False, store: str | None = None
):
    """Index exactly `sources` incrementally (new or changed files embedded, missing ones removed), split as
    the index was; returns the `IndexSummary`. The caller reloads the index to answer from it."""
    chunking = chunking_of(index_dir, store)
    return build(list(sources), index_dir, embedder, store=store, progress=progress, **chunking)
