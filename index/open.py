"""Open an index for answering, building or upgrading it first when needed.

    data = open_index(index_dir, embedder)           # builds corpus/ when there is no index
    data = open_index(index_dir, embedder, build_if_missing=False)  # errors name `rag index`
    data = update_sources(index_dir, embedder, [*old_sources, new_file])

This is the build side's door for the query side: `rag.Engine` calls these and
never imports the builder itself, so answering a question does not load the
chunker (LangChain) unless an index has to be built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from index.embedder import Embedder
from index.errors import IndexMismatchError, IndexNotFoundError
from index.paths import DEFAULT_CORPUS
from index.store import IndexData, read_index, read_manifest

__all__ = ["open_index", "update_sources"]


def open_index(
    index_dir: Path,
    embedder: Embedder,
    *,
    build_if_missing: bool = True,
    progress: bool = False,
    on_build: Callable[[object], None] | None = None,
) -> IndexData:
    """The index at `index_dir`, built first when there is none (from the default corpus)
    or when it was split by another version of this code (again, from the document texts
    it stores, so it works even when a source folder has moved since).

    `build_if_missing=False` turns both builds into errors that name the command to run.
    `on_build` receives the `IndexSummary` of a build made here.
    """
    # Imported here: building loads the chunker (LangChain), which answering never needs.
    from index.builder import build_index, pipeline_signature

    manifest = read_manifest(index_dir)
    summary = None
    if manifest is None:
        if not build_if_missing:
            raise IndexNotFoundError(index_dir)
        summary = build_index([DEFAULT_CORPUS], index_dir, embedder, progress=progress)
    elif manifest.pipeline != pipeline_signature() and manifest.model == embedder.name:
        if not build_if_missing:
            raise IndexMismatchError(
                f"the index at {index_dir} was split by another version of rag "
                f"({manifest.pipeline or 'not recorded'}; this one: {pipeline_signature()}): "
                "update it with `rag index`"
            )
        stored = read_index(index_dir, expect_model=embedder.name).documents
        summary = build_index(
            [Path(source) for source in manifest.sources],
            index_dir,
            embedder,
            chunk_size=manifest.chunk_size,
            chunk_overlap=manifest.chunk_overlap,
            vector_index=manifest.vector_index,
            progress=progress,
            documents=list(stored.values()),
        )
    if summary is not None and on_build:
        on_build(summary)
    return read_index(index_dir, expect_model=embedder.name)


def update_sources(index_dir: Path, embedder: Embedder, sources: Sequence[Path], *, progress: bool = False):
    """Index exactly `sources` incrementally (new or changed files embedded, missing ones removed);
    returns the `IndexSummary`. The caller reloads the index to answer from it."""
    from index.builder import build_index

    return build_index(list(sources), index_dir, embedder, progress=progress)
