"""A collection's documents as the Documents view shows them, and deleting or renaming an upload.

    rows = document_rows(engine)                  # file name, format, size, chunks, indexed-at
    documents_table(rows, "news")                 # the same as the Documents view's HTML table
    delete_upload(engine, "notes")                # the file goes, the index follows, the engine reloads
    renamed = rename_upload(engine, "notes", "budget 2026")   # the file is renamed: a new document id

Only uploads (files under INDEX_DIR/uploads/, saved by the web chat) are deleted
or renamed here: a document indexed with `rag index PATH` is the user's own file,
which the page never touches. Both changes re-index the same sources at once, so
the next answer no longer cites a deleted document and cites a renamed one under
its new id (the build reuses the vectors of unchanged bytes, so nothing is
embedded again). The title stays what the file declares (a heading, front matter,
its first line); only a title taken from the file name changes with it.
"""

from __future__ import annotations

import datetime
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index.errors import RagError, UsageError
from index.types import Document
from rag.engine import Engine
from ui.uploads import safe_name

__all__ = [
    "DocumentRow",
    "NotAnUploadError",
    "delete_upload",
    "document_rows",
    "documents_table",
    "is_upload",
    "rename_upload",
]


class NotAnUploadError(UsageError):
    """The document was indexed from the user's own files, so the page does not change it."""


@dataclass(frozen=True)
class DocumentRow:
    """One line of the Documents view."""

    doc_id: str
    title: str
    file_name: str
    format: str
    size_bytes: int | None  # None when the file is gone (it is still indexed until the next build)
    chunks: int
    indexed_at: float | None  # seconds since the epoch; the build's time for indexes older than the field
    uploaded: bool


def uploads_folder(engine: Engine) -> Path:
    return engine.index_dir / "uploads"


def is_upload(engine: Engine, document: Document) -> bool:
    return Path(document.path).resolve().is_relative_to(uploads_folder(engine).resolve())


def _file_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def document_rows(engine: Engine) -> list[DocumentRow]:
    """Every document of the engine's index, by title."""
    data = engine.data
    rows = []
    for document in sorted(data.documents.values(), key=lambda d: (d.title.lower(), d.id)):
        entry = data.manifest.documents.get(document.id, {})
        indexed = entry.get("indexed") or data.manifest.created
        rows.append(
            DocumentRow(
                doc_id=document.id,
                title=document.title,
                file_name=Path(document.path).name,
                format=document.format,
                size_bytes=_file_size(document.path),
                chunks=int(entry.get("chunks", 0)),
                indexed_at=float(indexed) if indexed else None,
                uploaded=is_upload(engine, document),
            )
        )
    return rows


def _upload(engine: Engine, doc_id: str) -> Document:
    document = engine.data.documents.get(doc_id)
    if document is None:
        raise UsageError(f"no document with id {doc_id!r} in this collection: choose one from the list")
    if not is_upload(engine, document):
        raise NotAnUploadError(
            f"“{document.title}” was indexed from {document.path}, not uploaded here, so the page leaves it alone: "
            "delete or rename that file and run `rag index` again"
        )
    return document


def delete_upload(engine: Engine, doc_id: str) -> Document:
    """Delete an uploaded document's file and re-index, so no answer cites it any more; the deleted document."""
    document = _upload(engine, doc_id)
    if len(engine.data.documents) == 1:
        raise UsageError(
            f"“{document.title}” is the collection's only document, and an index cannot be empty: "
            "delete the whole collection instead (rag collections delete NAME --yes)"
        )
    path = Path(document.path)
    aside = engine.index_dir / f".deleting-{path.name}"  # outside uploads/: no longer a source
    if not path.exists():  # gone from disk already: re-indexing the sources drops it from the index
        engine.add_documents([])
        return document
    try:
        os.replace(path, aside)
    except OSError as error:
        raise UsageError(f"could not delete {path.name}: {error.strerror or error}") from error
    try:
        engine.add_documents([])  # the same sources, one file fewer: its chunks leave the index
    except BaseException:
        os.replace(aside, path)  # the index could not follow: the document stays, file and all
        raise
    aside.unlink(missing_ok=True)
    return document


def rename_upload(engine: Engine, doc_id: str, new_name: str) -> Document:
    """Rename an uploaded document's file (its document id follows) and re-index; the renamed document."""
    document = _upload(engine, doc_id)
    if not (new_name or "").strip():
        raise UsageError("type a new name for the document first")
    old = Path(document.path)
    stem = Path(safe_name(f"{new_name.strip()}{old.suffix}")).stem  # the upload's rules: no folders, no odd characters
    target = old.with_name(f"{stem}{old.suffix}")
    new_id = stem  # uploads sit in one flat folder, so a document's id is its file's stem
    if target == old:
        return document
    if target.exists() or new_id in engine.data.documents:
        raise UsageError(f"another document is already named {stem!r}: choose another name")
    try:
        os.rename(old, target)
    except OSError as error:  # e.g. the file was removed from disk behind the page's back
        raise UsageError(f"could not rename {old.name}: {error.strerror or error}; upload it again") from error
    try:
        engine.add_documents([])
    except RagError:
        os.rename(target, old)  # the index could not follow: keep the file under the name it is indexed by
        raise
    renamed = engine.data.documents.get(new_id)
    if renamed is None:  # the build skipped it (it was readable a moment ago): say so rather than pretend
        raise RagError(f"{target.name} was renamed but could not be indexed again: upload it again")
    return renamed


# -- the Documents view's table (document text escaped) -----------------------


def _size_text(size: int | None) -> str:
    if size is None:
        return "–"
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def _time_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def documents_table(rows: Sequence[DocumentRow], collection: str) -> str:
    """The collection's documents as an HTML table: name, file, format, size, chunks, indexed-at."""
    e = html.escape
    if not rows:
        return f'<div class="rag-empty">No documents in “{e(collection)}” yet.</div>'
    lines = [
        f'<tr data-doc-id="{e(r.doc_id)}"><td>{e(r.title)}<br><small>id {e(r.doc_id)}'
        f"{' · uploaded' if r.uploaded else ''}</small></td><td>{e(r.file_name)}</td><td>{e(r.format)}</td>"
        f'<td class="num">{_size_text(r.size_bytes)}</td><td class="num">{r.chunks}</td>'
        f"<td>{_time_text(r.indexed_at)}</td></tr>"
        for r in rows
    ]
    count = f"{len(rows)} document{'s' if len(rows) != 1 else ''}"
    return (
        f'<table class="rag-doc-table"><caption>{count} in “{e(collection)}”</caption>'
        "<thead><tr><th>Document</th><th>File</th><th>Format</th><th>Size</th><th>Chunks</th><th>Indexed</th>"
        f"</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )
