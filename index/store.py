"""The index on disk: one folder per build, and a pointer to the current one.

    INDEX_DIR/
      CURRENT            name of the live build (replaced atomically)
      builds/<name>/     manifest.json, documents.jsonl, chunks.jsonl,
                         vectors.npy, dense.faiss, bm25/
      .lock              held while a build is being written
      resume/            vectors a killed build had made, reused by the next one (index.resume)

A build is written completely in a folder named `<name>.partial`, flushed to
disk, renamed to `<name>`, and only then is CURRENT swapped with `os.replace`,
which is atomic. A build killed halfway leaves the previous index untouched and
loadable, and its `.partial` folder is removed by the next build. Besides the
current build, only the one CURRENT named before it is kept (for readers still
opening it), so the fallback is always a build that was once complete and live.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import IndexMismatchError, IndexNotFoundError, RagError
from index.index_store import top_rows
from index.lexical import LexicalIndex
from index.types import Chunk, Document
from index.vector_store import VectorStore

__all__ = [
    "FORMAT_VERSION",
    "PARTIAL_SUFFIX",
    "IndexData",
    "Manifest",
    "build_lock",
    "read_index",
    "remove_partial_builds",
    "write_build",
]

FORMAT_VERSION = 1
PARTIAL_SUFFIX = ".partial"  # a build folder still being written (or left by a killed build)
_POINTER_TMP = "CURRENT.tmp-"


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    vector_index: str
    sources: list[str]
    # doc_id -> {"path": str, "hash": str, "chunks": int, "indexed": float (seconds since the epoch; newer indexes)}
    documents: dict[str, dict[str, object]]
    created: float
    # How the text was split and the lexical index made (index.builder.pipeline_signature);
    # empty in indexes written before it was recorded.
    pipeline: str = ""
    # What ran the model (index.onnx_embedder.EMBED_BACKENDS); "torch" in indexes written before it was recorded.
    embed_backend: str = "torch"

    @property
    def counts(self) -> dict[str, int]:
        return {
            "documents": len(self.documents),
            "chunks": sum(int(d["chunks"]) for d in self.documents.values()),
        }


@dataclass(frozen=True)
class IndexData:
    """Everything a loaded index holds; rows of `vectors` follow `chunks`."""

    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    dense: VectorStore
    lexical: LexicalIndex
    path: Path

    # -- index.index_store.IndexStore: what the query side asks of the local store --

    def dense_top(
        self, query_vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if not doc_ids:
            return self.dense.search(query_vector, k)
        rows = self.rows_of(doc_ids)
        scores = self.vectors[rows] @ query_vector
        order = np.argsort(-scores, kind="stable")[:k]
        return scores[order], rows[order]

    def lexical_top(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        return top_rows(self.lexical.scores(query), k)

    def lexical_scores(self, query: str, rows: np.ndarray) -> np.ndarray:
        return self.lexical.scores(query)[rows]

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        return self.vectors[rows]

    def rows_of(self, doc_ids: Collection[str]) -> np.ndarray:
        wanted = set(doc_ids)
        return np.array([row for row, c in enumerate(self.chunks) if c.doc_id in wanted], dtype=np.int64)

    def is_current(self) -> bool:
        # `path` is <index_dir>/builds/<name>; a build made since points CURRENT at another name.
        try:
            now = current_build(self.path.parent.parent)
        except OSError:  # cannot tell now: keep answering from this build
            return True
        return now is None or now.name == self.path.name


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index folder (other processes wait their turn)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable (the folder's own entry list is flushed)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_partial_builds(index_dir: Path) -> None:
    """Delete what killed builds left: `.partial` build folders and unswapped CURRENT pointers.

    Call it holding `build_lock`: then no other writer is running, so every
    partial folder is a dead build's.
    """
    builds = index_dir / "builds"
    if builds.is_dir():
        for folder in builds.iterdir():
            if folder.name.endswith(PARTIAL_SUFFIX):
                shutil.rmtree(folder, ignore_errors=True)
    if index_dir.is_dir():
        for pointer in index_dir.glob(f"{_POINTER_TMP}*"):
            pointer.unlink(missing_ok=True)


def write_build(
    index_dir: Path,
    manifest: Manifest,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    dense: VectorStore,
    lexical: LexicalIndex,
) -> Path:
    """Write a complete build aside, then make it current atomically (call it holding `build_lock`)."""
    remove_partial_builds(index_dir)
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    name = f"b{time.time_ns()}-{os.getpid()}"
    folder = builds / f"{name}{PARTIAL_SUFFIX}"
    folder.mkdir()
    # `counts` is derived, but written too so a person reading the manifest sees the totals.
    (folder / "manifest.json").write_text(
        json.dumps({**dataclasses.asdict(manifest), "counts": manifest.counts}, indent=1)
    )
    with open(folder / "documents.jsonl", "w", encoding="utf-8") as out:
        for document in documents:
            out.write(json.dumps(dataclasses.asdict(document), ensure_ascii=False) + "\n")
    with open(folder / "chunks.jsonl", "w", encoding="utf-8") as out:
        for chunk in chunks:
            row = {k: v for k, v in dataclasses.asdict(chunk).items() if k != "text"}
            out.write(json.dumps(row) + "\n")
    np.save(folder / "vectors.npy", vectors.astype(np.float32))
    dense.save(folder / "dense.faiss")
    lexical.save(folder / "bm25")
    _fsync_tree(folder)
    # Complete on disk: only now does it get a build's name, so a folder without the suffix is never half-written.
    complete = builds / name
    os.replace(folder, complete)
    fsync_dir(builds)
    previous = _current_name(index_dir)
    pointer = index_dir / f"{_POINTER_TMP}{os.getpid()}"
    pointer.write_text(name)
    with open(pointer, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer, index_dir / "CURRENT")
    fsync_dir(index_dir)
    _remove_old_builds(builds, keep={name} if previous is None else {name, previous})
    return complete


def _current_name(index_dir: Path) -> str | None:
    try:
        return (index_dir / "CURRENT").read_text().strip() or None
    except OSError:
        return None


def _remove_old_builds(builds: Path, keep: set[str]) -> None:
    """Everything but the new build and the one it replaced: older builds, and any folder a killed build left."""
    for old in builds.iterdir():
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    folder = index_dir / "builds" / pointer.read_text().strip()
    return folder if folder.is_dir() else None


def _damaged(index_dir: Path, why: str) -> RagError:
    return RagError(f"the index at {index_dir} is damaged ({why}): rebuild it with `rag index --rebuild`")


def read_manifest(index_dir: Path) -> Manifest | None:
    folder = current_build(index_dir)
    if folder is None:
        return None
    try:
        raw = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as error:
        raise _damaged(index_dir, str(error)) from error
    if not isinstance(raw, dict):
        raise _damaged(index_dir, "its manifest is not a JSON object")
    raw.pop("counts", None)
    if raw.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {index_dir} has format version {raw.get('format_version')}, this "
            f"version of rag reads version {FORMAT_VERSION}: rebuild it with `rag index --rebuild`"
        )
    # Keys a later version may add are ignored, so an index stays readable after a downgrade.
    known = {f.name for f in dataclasses.fields(Manifest)}
    try:
        return Manifest(**{key: value for key, value in raw.items() if key in known})
    except TypeError as error:  # a field is missing
        raise _damaged(index_dir, str(error)) from error


def read_index(index_dir: Path, expect_model: str | None = None) -> IndexData:
    """Load the current build; fails with a rebuild hint on a model/format mismatch."""
    manifest = read_manifest(index_dir)
    folder = current_build(index_dir)
    if manifest is None or folder is None:
        raise IndexNotFoundError(index_dir)
    if expect_model is not None and manifest.model != expect_model:
        raise IndexMismatchError(
            f"the index at {index_dir} was built with model {manifest.model!r}, not "
            f"{expect_model!r}: rebuild it with `rag index --rebuild --model {expect_model}` "
            f"or use `--model {manifest.model}`"
        )
    try:
        documents = {}
        with open(folder / "documents.jsonl", encoding="utf-8") as rows:
            for line in rows:
                raw = json.loads(line)
                raw["authors"] = tuple(raw["authors"])
                raw["page_starts"] = tuple(raw["page_starts"])
                documents[raw["id"]] = Document(**raw)
        chunks = []
        with open(folder / "chunks.jsonl", encoding="utf-8") as rows:
            for line in rows:
                raw = json.loads(line)
                text = documents[raw["doc_id"]].text[raw["start"] : raw["end"]]
                sentences = tuple((s, e) for s, e in raw["sentences"])
                chunks.append(Chunk(text=text, **{**raw, "sentences": sentences}))
        vectors = np.load(folder / "vectors.npy")
        dense = VectorStore.load(folder / "dense.faiss", manifest.vector_index)
        lexical = LexicalIndex.load(folder / "bm25", len(chunks))
    except (OSError, ValueError, KeyError) as error:
        raise _damaged(index_dir, str(error)) from error
    return IndexData(manifest, documents, chunks, vectors, dense, lexical, folder)
