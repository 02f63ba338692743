"""Turn files into Documents, through the reader of each format (index.readers.READERS).

`load_file` either returns a Document or raises DocumentLoadError with a reason
a person can act on, whatever went wrong inside (a missing package, a parser's
recursion, memory); `load_documents` collects those reasons instead of
stopping, so one bad file never aborts an indexing run.

Files are hostile until read: symlinks that lead outside the folders being
indexed are not followed unless asked (`follow_links`), named pipes, sockets
and devices are never opened (a FIFO would block the run forever), sizes are
checked before reading, and YAML front matter may not use anchors or aliases
(a few hundred bytes of nested aliases expand to gigabytes).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index.discovery import (
    OUTSIDE_LINK_REASON,
    SUPPORTED_SUFFIXES,
    discover_files,
    file_status,
    not_regular_reason,
)
from index.errors import DocumentLoadError
from index.readers import READERS
from index.titles import meaningful_title
from index.types import Document

__all__ = [
    "MAX_FILE_BYTES",
    "OUTSIDE_LINK_REASON",
    "SUPPORTED_SUFFIXES",
    "LoadReport",
    "discover_files",
    "document_id",
    "load_documents",
    "load_file",
]

MAX_FILE_BYTES = 50 * 1024 * 1024
# Formats whose first line is a fair title when the file declares none; the others (PDF, Office,
# e-books, tables) are titled by their file name instead of by a header line or a table cell.
_FIRST_LINE_TITLED = (".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class LoadReport:
    documents: list[Document]
    skipped: list[tuple[str, str]]  # (path, reason)
    # The skipped paths that are files which failed to load (as opposed to paths left out when
    # discovering: symlinks out, loops, broken links, FIFOs, missing paths). A build keeps the indexed
    # version of these only: the others are not part of the sources any more.
    unreadable: frozenset[str] = frozenset()


def document_id(path: Path, root: Path) -> str:
    """A stable id from the path under its root: `notes/plan.md` -> `notes/plan`."""
    return path.relative_to(root).with_suffix("").as_posix()


def load_file(path: Path, doc_id: str) -> Document:
    """The Document in `path`; any failure at all is raised as DocumentLoadError with its reason.

    Callers (a build, a web upload) can rely on that: a missing package, a
    parser's RecursionError or a MemoryError on one file becomes that file's
    skip reason instead of ending the run.
    """
    try:
        return _load_file(path, doc_id)
    except DocumentLoadError:
        raise
    except Exception as error:  # the point: nothing one file does may escape as anything else
        raise DocumentLoadError(_unexpected(error)) from error


def _unexpected(error: BaseException) -> str:
    message = " ".join(str(error).split())[:300]
    return f"could not be read: {type(error).__name__}" + (f": {message}" if message else "")


def _load_file(path: Path, doc_id: str) -> Document:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentLoadError(f"unsupported file type {suffix or '(none)'}")
    data = _read_bytes(path)
    content_hash = hashlib.sha256(data).hexdigest()
    fields = READERS[suffix](data)
    text = fields.pop("text")
    if not text.strip():
        raise DocumentLoadError("no text in file (empty, or only markup/images)")
    fallback = (_first_line(text) if suffix in _FIRST_LINE_TITLED else "") or path.stem
    title = meaningful_title(fields.pop("title", None), fallback)
    return Document(
        id=doc_id,
        text=text,
        title=title,
        path=str(path),
        format=suffix.lstrip("."),
        content_hash=content_hash,
        **fields,
    )


def _too_large() -> DocumentLoadError:
    return DocumentLoadError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, for a regular file of at most MAX_FILE_BYTES; nothing else is ever opened."""
    info, reason = file_status(path)
    if info is None:
        raise DocumentLoadError(reason or "cannot read file")
    if not stat.S_ISREG(info.st_mode):
        raise DocumentLoadError(not_regular_reason(info.st_mode))
    if info.st_size > MAX_FILE_BYTES:
        raise _too_large()  # decided from the size alone: a huge file is not read
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the stat, opening it still returns at once.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise DocumentLoadError(f"cannot read file: {error.strerror or error}") from error
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise DocumentLoadError(not_regular_reason(mode))
        try:
            data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise DocumentLoadError(f"cannot read file: {error.strerror or error}") from error
    if len(data) > MAX_FILE_BYTES:  # it grew since the stat
        raise _too_large()
    return data


def load_documents(paths: Iterable[Path], *, follow_links: bool = False) -> LoadReport:
    """Every readable document under `paths`; every other file found is in `skipped` with its reason.

    `follow_links`: also read files and folders that symlinks lead to outside
    `paths` (see `discover_files`); off by default, so a link in a shared
    folder cannot pull e.g. /etc/passwd into the index.
    """
    files, skipped = discover_files(paths, follow_links=follow_links)
    documents: list[Document] = []
    seen: dict[str, str] = {}
    unreadable: set[str] = set()
    for path, root in files:
        doc_id = document_id(path, root)
        if doc_id in seen:
            skipped.append((str(path), f"same document id {doc_id!r} as {seen[doc_id]}"))
            continue
        try:
            documents.append(load_file(path, doc_id))
            seen[doc_id] = str(path)
        except DocumentLoadError as error:
            skipped.append((str(path), str(error)))
            unreadable.add(str(path))
    return LoadReport(documents, skipped, frozenset(unreadable))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""
