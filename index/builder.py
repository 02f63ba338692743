"""Build or update the on-disk index from files: load, chunk, embed, store.

Incremental: a document whose file bytes are unchanged keeps its chunks and
vectors from the previous build; only new or changed documents are embedded,
and documents whose files are gone are removed. A renamed or copied file takes
the chunks and vectors of the indexed document with the same bytes instead of
being embedded again (counted as `reused`). A file that fails to load is
reported and, if it was indexed before, its previous version is kept.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.chunker import CHUNKER_VERSION, Chunker
from index.embedder import Embedder
from index.errors import NothingToIndexError, RagError
from index.lexical import BM25_B, BM25_K1, LexicalIndex
from index.loaders import load_documents
from index.onnx_embedder import backend_of, vector_family
from index.pdf import PDF_TEXT_VERSION
from index.resume import discard_checkpoints, embed_resumable
from index.sentences import SPLITTER_VERSION
from index.store import (
    FORMAT_VERSION,
    IndexData,
    Manifest,
    build_lock,
    read_index,
    remove_partial_builds,
    write_build,
)
from index.types import Chunk, Document
from index.vector_store import VectorStore

__all__ = ["DEFAULT_CHUNK_OVERLAP", "DEFAULT_CHUNK_SIZE", "IndexSummary", "build_index", "pipeline_signature"]

DEFAULT_CHUNK_SIZE = 128
DEFAULT_CHUNK_OVERLAP = 32


def pipeline_signature() -> str:
    """What, besides the model and chunk sizes, decides an index's chunks, sentences and BM25.

    Recorded in the manifest. An index whose signature differs was made by another
    version of this code: its documents are split and embedded again on the next
    build, and `Engine.open` makes that build itself, so an upgrade never keeps
    serving the old sentence boundaries.
    """
    return (
        f"sentences-v{SPLITTER_VERSION} chunks-v{CHUNKER_VERSION} bm25-k1={BM25_K1}-b={BM25_B} pdf-v{PDF_TEXT_VERSION}"
    )


@dataclass(frozen=True)
class IndexSummary:
    documents: int
    chunks: int
    embedded: int
    removed: int
    skipped: list[tuple[str, str]]
    seconds: float
    rebuilt: bool = False
    # Chunks whose vectors came from a document indexed under another name (a renamed or copied file).
    reused: int = 0
    resumed: int = 0  # new chunks whose vectors an interrupted build had already made (index.resume)
    embed_backend: str = "torch"  # what ran the model (index.onnx_embedder.EMBED_BACKENDS)

    def to_json(self) -> dict[str, object]:
        """The `rag index --json` contract."""
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "removed": self.removed,
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
            "seconds": round(self.seconds, 3),
            "reused": self.reused,
            "resumed": self.resumed,
            "embed_backend": self.embed_backend,
        }


class _LazyChunker:
    """Chunk settings as asked for; the real Chunker (which needs the model) made on demand."""

    def __init__(self, embedder: Embedder, chunk_size: int, chunk_overlap: int) -> None:
        self.embedder = embedder
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._chunker: Chunker | None = None

    def chunk(self, document: Document) -> list[Chunk]:
        if self._chunker is None:
            size = min(self.chunk_size, self.embedder.max_tokens)
            self._chunker = Chunker(self.embedder.count_tokens, size, min(self.chunk_overlap, size // 2))
        return self._chunker.chunk(document)


def _previous(index_dir: Path, embedder: Embedder, chunker: _LazyChunker, rebuild: bool) -> IndexData | None:
    """The current build if its chunks and vectors can be reused, else None."""
    if rebuild:
        return None
    try:
        data = read_index(index_dir)
    except RagError:  # no index yet, another model or format, or damaged: start afresh
        return None
    manifest = data.manifest
    same = (manifest.model, manifest.chunk_size, manifest.chunk_overlap, manifest.pipeline) == (
        embedder.name,
        chunker.chunk_size,
        chunker.chunk_overlap,
        pipeline_signature(),
    )
    # torch and fp32 ONNX vectors agree to float rounding; int8 ones do not, and are never mixed with them.
    same_vectors = vector_family(manifest.embed_backend) == vector_family(backend_of(embedder))
    return data if same and same_vectors else None


def build_index(
    paths: Sequence[Path],
    index_dir: Path,
    embedder: Embedder,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    vector_index: str = "auto",
    rebuild: bool = False,
    progress: bool = False,
    documents: Sequence[Document] | None = None,
    follow_links: bool = False,
) -> IndexSummary:
    """Index the files under `paths` (incrementally; see the module docstring).

    `documents`, when given, are indexed instead of what `paths` hold now; the
    paths are still recorded as the index's sources. `Engine.open` uses it to
    re-split an index made by another version from the texts it stores, which
    works even when a source folder has moved since.

    `follow_links` (`rag index --follow-links`): also index what symlinks lead
    to outside `paths`. Off by default: such a link is listed under `skipped`
    with the reason and the flag to use, so a link in a shared folder cannot
    pull a file like /etc/passwd into the index unasked.

    A file that fails to load, for any reason at all, is listed under
    `skipped` with its reason and the others are indexed.
    """
    started = time.perf_counter()
    started_at = time.time()
    # The chunker asks the model for its token limit on first use only, so an
    # update that has nothing to embed never loads the model.
    chunker = _LazyChunker(embedder, chunk_size, min(chunk_overlap, chunk_size // 2))
    with build_lock(index_dir):
        remove_partial_builds(index_dir)  # what killed builds left, before this one needs the disk space
        previous = _previous(index_dir, embedder, chunker, rebuild)
        if documents is None:
            report = load_documents(paths, follow_links=follow_links)
            documents, skipped, unreadable = list(report.documents), report.skipped, report.unreadable
        else:
            documents, skipped, unreadable = list(documents), [], frozenset()

        # Keep the indexed version of a file that exists but could not be read now. A path left out
        # when discovering (a symlink out of the folders, a broken link) is not kept: it is no source.
        old_docs = previous.documents if previous else {}
        loaded_ids = {d.id for d in documents}
        for doc in old_docs.values():
            if doc.id not in loaded_ids and doc.path in unreadable:
                documents.append(doc)
        if not documents:
            raise NothingToIndexError(_nothing_to_index(paths, skipped))

        old_rows: dict[str, list[int]] = {}
        if previous:
            for row, chunk in enumerate(previous.chunks):
                old_rows.setdefault(chunk.doc_id, []).append(row)

        chunks: list[Chunk] = []
        vectors: list[np.ndarray | None] = []
        to_embed: list[int] = []
        by_content = _rows_by_content(previous, old_rows)
        reused = 0
        for doc in documents:
            old = old_docs.get(doc.id)
            # Same bytes but another text (a reader that changed, e.g. PDF lines joined): chunked again.
            same_text = old is not None and old.content_hash == doc.content_hash and old.text == doc.text
            if previous and same_text and doc.id in old_rows:
                for row in old_rows[doc.id]:
                    chunks.append(previous.chunks[row])
                    vectors.append(previous.vectors[row])
                continue
            moved = by_content.get((doc.content_hash, doc.format))
            if previous and moved and previous.documents[previous.chunks[moved[0]].doc_id].text != doc.text:
                moved = None  # the same bytes read to another text (a reader that changed): chunked again
            if previous and moved:  # renamed or copied: the same text, so the same chunks and vectors
                chunks.extend(_renamed_chunks(doc, moved, previous))
                vectors.extend(previous.vectors[row] for row in moved)
                reused += len(moved)
                continue
            for chunk in chunker.chunk(doc):
                to_embed.append(len(chunks))
                chunks.append(chunk)
                vectors.append(None)

        resumed = 0
        if to_embed:
            # In batches by length, checkpointed so a killed build resumes (index.resume); progress on stderr.
            result = embed_resumable(embedder, [chunks[i].text for i in to_embed], index_dir, progress=progress)
            fresh, resumed = result.vectors, result.resumed
            for position, row in enumerate(to_embed):
                vectors[row] = fresh[position]
            dimension = fresh.shape[1]
        else:  # nothing new: reuse the known dimension rather than loading the model
            dimension = _dimension(previous, embedder)
        matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dimension), dtype=np.float32)

        dense = VectorStore.build(matrix, vector_index)
        lexical = LexicalIndex.build([chunk.text for chunk in chunks])
        per_doc: dict[str, int] = {}
        for chunk in chunks:
            per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=embedder.name,
            dimension=int(dimension),
            chunk_size=chunker.chunk_size,
            chunk_overlap=chunker.chunk_overlap,
            vector_index=dense.kind,
            sources=[str(Path(p).resolve()) for p in paths],
            documents={
                d.id: {
                    "path": d.path,
                    "hash": d.content_hash,
                    "chunks": per_doc.get(d.id, 0),
                    "indexed": _indexed_at(d, previous, started_at),
                }
                for d in documents
            },
            created=time.time(),
            pipeline=pipeline_signature(),
            embed_backend=backend_of(embedder),
        )
        write_build(index_dir, manifest, documents, chunks, matrix, dense, lexical)
        discard_checkpoints(index_dir)
    removed = len(set(old_docs) - {d.id for d in documents})
    return IndexSummary(
        documents=len(documents),
        chunks=len(chunks),
        embedded=len(to_embed) - resumed,
        removed=removed,
        skipped=skipped,
        seconds=time.perf_counter() - started,
        rebuilt=previous is None,
        reused=reused,
        resumed=resumed,
        embed_backend=backend_of(embedder),
    )


def _rows_by_content(previous: IndexData | None, old_rows: dict[str, list[int]]) -> dict[tuple[str, str], list[int]]:
    """The previous build's chunk rows of each document, by (content hash, format).

    A file whose bytes and format match an indexed document's reads to the same
    text, so a renamed or copied file takes that document's chunks and vectors
    instead of being embedded again. The format is part of the key because
    `a.md` renamed to `a.txt` holds the same bytes but is read differently.
    """
    if previous is None:
        return {}
    rows_by_content: dict[tuple[str, str], list[int]] = {}
    for doc_id, rows in old_rows.items():
        doc = previous.documents.get(doc_id)
        if doc is not None:
            rows_by_content.setdefault((doc.content_hash, doc.format), rows)
    return rows_by_content


def _renamed_chunks(doc: Document, rows: list[int], previous: IndexData) -> list[Chunk]:
    """The previous build's chunks at `rows`, renamed to `doc` (offsets and text are the same)."""
    return [
        dataclasses.replace(previous.chunks[row], id=f"{doc.id}#{number}", doc_id=doc.id)
        for number, row in enumerate(rows)
    ]


def _indexed_at(document: Document, previous: IndexData | None, now: float) -> float:
    """When this version of `document` was indexed (the manifest's per-document "indexed"): kept from
    the previous build while its bytes are unchanged; an index written before the field existed gives
    its build time."""
    if previous is not None:
        old = previous.manifest.documents.get(document.id)
        if old is not None and old.get("hash") == document.content_hash:
            return float(old.get("indexed") or previous.manifest.created)
    return now


def _nothing_to_index(paths: Sequence[Path], skipped: Sequence[tuple[str, str]]) -> str:
    where = ", ".join(str(p) for p in paths) or "(no paths)"
    reasons = "; ".join(f"{Path(path).name}: {reason}" for path, reason in skipped[:3])
    more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
    found = f" Skipped: {reasons}{more}." if skipped else ""
    return (
        f"nothing to index in {where}: no readable .txt, .md, .html or .pdf file.{found} "
        "The index was left as it was; give a file or folder with documents."
    )


def _dimension(previous: IndexData | None, embedder: Embedder) -> int:
    if previous is not None:
        return previous.manifest.dimension
    return embedder.dimension
