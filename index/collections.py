"""Named collections under one index root: which folder is which collection.

    ROOT/                      the index root (`--index-dir`, $RAG_INDEX_DIR, or .rag-index/)
      CURRENT, builds/, ...    the `default` collection: the single-index layout of earlier versions
      collections/<name>/      every other collection: an index folder of its own (CURRENT, builds/,
                               uploads/), so each keeps its own manifest, sources and settings

The default collection is the root itself, so an index built before collections
existed is the `default` collection as it is: nothing moves, nothing is embedded
again. Other collections are one folder each, and the folder's name is the
collection's name, so renaming is one `os.rename` (atomic: after a crash the
collection has either its old or its new name) and deleting starts with one
rename out of sight (`collections/.deleted-...`), so a crash mid-delete never
leaves a half-deleted collection listed; leftovers are removed by the next change.
Both take the collection's build lock first, so they wait for a build in progress.
"""

from __future__ import annotations

import os
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from index.errors import RagError, UsageError
from index.store import build_lock, fsync_dir, read_manifest

__all__ = [
    "DEFAULT_COLLECTION",
    "MAX_NAME_CHARS",
    "CollectionInfo",
    "CollectionNotFoundError",
    "collection_dir",
    "collection_names",
    "create_collection",
    "delete_collection",
    "describe_collection",
    "list_collections",
    "remove_deleted",
    "rename_collection",
    "validate_name",
]

DEFAULT_COLLECTION = "default"
MAX_NAME_CHARS = 64
SUBFOLDER = "collections"
_DELETED_PREFIX = ".deleted-"
_FORBIDDEN = set('/\\:*?"<>|')  # separators, and what some file systems refuse in a folder name


class CollectionNotFoundError(UsageError):
    """No collection has this name (a usage error: the command named it)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no collection named {name!r}: `rag collections` lists them, "
            f"`rag index --collection {name} PATH` creates it from documents"
        )


@dataclass(frozen=True)
class CollectionInfo:
    """One collection as `rag collections` lists it."""

    name: str
    path: Path
    documents: int
    chunks: int
    indexed: bool  # False for a collection created but not indexed yet
    updated: float | None  # when its current build was made (seconds since the epoch)

    def to_json(self) -> dict[str, object]:
        """The `rag collections --json` contract (one object per collection)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "documents": self.documents,
            "chunks": self.chunks,
            "indexed": self.indexed,
            "updated": self.updated,
        }


def validate_name(name: str) -> str:
    """`name` when it can name a collection's folder; otherwise a UsageError that says what is allowed."""
    rule = (
        f'a collection name is 1 to {MAX_NAME_CHARS} characters without / \\ : * ? " < > |, control '
        "characters, or a leading dot or space"
    )
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        raise UsageError(f"bad collection name {name!r}: {rule}")
    if name != name.strip() or name.startswith(".") or any(c in _FORBIDDEN for c in name):
        raise UsageError(f"bad collection name {name!r}: {rule}")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise UsageError(f"bad collection name {name!r}: {rule}")
    return name


def collection_dir(root: Path, name: str | None) -> Path:
    """The index folder of collection `name` (None or "default": the root itself); it may not exist yet."""
    if name is None or name == DEFAULT_COLLECTION:
        return Path(root)
    return Path(root) / SUBFOLDER / validate_name(name)


def collection_names(root: Path) -> list[str]:
    """`default` first, then the other collections by name."""
    folder = Path(root) / SUBFOLDER
    others = []
    if folder.is_dir():
        others = sorted(
            (entry.name for entry in folder.iterdir() if entry.is_dir() and _valid(entry.name)),
            key=str.lower,
        )
    return [DEFAULT_COLLECTION, *(name for name in others if name != DEFAULT_COLLECTION)]


def _valid(name: str) -> bool:
    """A folder name that is a collection's: one made by hand with a name the rules refuse is passed over
    (listing it would make every command that lists collections fail)."""
    try:
        validate_name(name)
    except UsageError:
        return False
    return True


def describe_collection(root: Path, name: str) -> CollectionInfo:
    """Counts and build time of one collection, read from its manifest (nothing is loaded or embedded)."""
    path = collection_dir(root, name)
    if name != DEFAULT_COLLECTION and not path.is_dir():
        raise CollectionNotFoundError(name)
    try:
        manifest = read_manifest(path) if path.is_dir() else None
    except RagError:  # a damaged or older index is still listed, as not indexed, so it can be deleted
        manifest = None
    if manifest is None:
        return CollectionInfo(name, path, 0, 0, False, None)
    counts = manifest.counts
    return CollectionInfo(name, path, counts["documents"], counts["chunks"], True, manifest.created)


def list_collections(root: Path) -> list[CollectionInfo]:
    return [describe_collection(root, name) for name in collection_names(root)]


def create_collection(root: Path, name: str) -> Path:
    """Make an empty collection (one `mkdir`); a UsageError when the name is taken."""
    path = collection_dir(root, validate_name(name))
    if name == DEFAULT_COLLECTION or path.exists():
        raise UsageError(f"a collection named {name!r} already exists: choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir()
    except FileExistsError:
        raise UsageError(f"a collection named {name!r} already exists: choose another name") from None
    fsync_dir(path.parent)
    return path


def rename_collection(root: Path, old: str, new: str) -> Path:
    """Give collection `old` the name `new` with one atomic rename; returns its new folder."""
    validate_name(new)
    if DEFAULT_COLLECTION in (old, new):
        raise UsageError(
            "the default collection is the index root itself and keeps its name; to give its documents a name, "
            f"index them into a new collection: rag index --collection NAME PATH (then `rag collections delete "
            f"{DEFAULT_COLLECTION} --yes` if you no longer want it)"
        )
    source, target = collection_dir(root, old), collection_dir(root, new)
    if not source.is_dir():
        raise CollectionNotFoundError(old)
    if target.exists():
        raise UsageError(f"a collection named {new!r} already exists: choose another name, or delete that one first")
    with build_lock(source):  # not while a build writes into it
        if target.exists():  # os.rename would silently replace an empty folder
            raise UsageError(f"a collection named {new!r} already exists: choose another name")
        os.rename(source, target)
        fsync_dir(target.parent)
    return target


def delete_collection(root: Path, name: str) -> None:
    """Delete a collection with its index and uploads.

    Another collection is renamed out of sight first (atomic), then removed. The
    default collection loses its CURRENT pointer first (from then on it has no
    index), then its builds and uploads; the other collections under the root stay.
    """
    path = collection_dir(root, name)
    if name == DEFAULT_COLLECTION:
        if not path.is_dir():
            return
        with build_lock(path):
            (path / "CURRENT").unlink(missing_ok=True)
            fsync_dir(path)
            for part in ("builds", "uploads"):
                shutil.rmtree(path / part, ignore_errors=True)
        return
    if not path.is_dir():
        raise CollectionNotFoundError(name)
    trash = path.parent / f"{_DELETED_PREFIX}{name}-{time.time_ns()}"
    with build_lock(path):
        os.rename(path, trash)
        fsync_dir(path.parent)
    remove_deleted(root)


def remove_deleted(root: Path) -> None:
    """Remove what deletes left behind (a crash between the rename and the removal)."""
    folder = Path(root) / SUBFOLDER
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.startswith(_DELETED_PREFIX):
                shutil.rmtree(entry, ignore_errors=True)
