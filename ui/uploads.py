"""Documents added from the browser: check, save into the index folder, index at once.

Uploaded files are kept in `INDEX_DIR/uploads/`, which becomes one more source
of the index, so they survive a restart and a later `rag index` without paths
(which reuses the index's sources) keeps them.
An upload never replaces another document: a different file with the name of
an earlier upload, or with the id of an indexed document ("notes.txt" when
"notes" is taken), is saved under the next free name ("notes-2.txt").
Every problem comes back as (file name, reason) for the page to show; nothing
here raises for a bad file.
"""

from __future__ import annotations

import filecmp
import itertools
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import RagError
from index.loaders import MAX_FILE_BYTES, SUPPORTED_SUFFIXES
from index.types import Document
from rag.engine import Engine

__all__ = ["UPLOAD_SUFFIXES", "UploadResult", "add_uploads", "check_upload", "free_target", "safe_name"]

# What the page offers; the loader also reads the longer spellings.
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".pdf")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class UploadResult:
    added: list[Document] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    seconds: float = 0.0
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (file name, name saved as)


def safe_name(name: str) -> str:
    """A plain file name for `name`: no folders, no odd characters, not hidden."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = _UNSAFE.sub("_", stem).strip(" .") or "upload"
    return f"{stem[:100]}{suffix}"


def check_upload(path: Path, name: str) -> str | None:
    """Why this file cannot be added, or None when it may be indexed."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(UPLOAD_SUFFIXES)
        return f"unsupported file type {suffix or '(none)'}: upload {kinds} files"
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return f"the file is {size / 1024 / 1024:.1f} MB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB"
    if size == 0:
        return "the file is empty"
    return None


def free_target(folder: Path, name: str, source: Path, taken_ids: dict[str, str]) -> Path:
    """Where to save `source` (uploaded as `name`) in `folder` without replacing another document.

    `taken_ids` maps indexed document ids to their files. The safe name is used
    when it is free or already holds these very bytes (uploading a file again is
    harmless); otherwise "-2", "-3", ... is added to the stem.
    """
    plain = Path(safe_name(name))
    for number in itertools.count(1):
        stem = plain.stem if number == 1 else f"{plain.stem}-{number}"
        target = folder / f"{stem}{plain.suffix}"
        owner = taken_ids.get(stem)
        if owner is not None and Path(owner).resolve() != target.resolve():
            continue  # another file already has this document id
        if not target.exists() or filecmp.cmp(target, source, shallow=False):
            return target
    raise AssertionError("unreachable")


def add_uploads(engine: Engine, files: Sequence[tuple[Path, str]]) -> UploadResult:
    """Save the acceptable `(temporary path, original name)` files and index them."""
    folder = engine.index_dir / "uploads"
    problems: list[tuple[str, str]] = []
    saved: dict[Path, str] = {}  # saved path -> the name it was uploaded under
    taken_ids = {doc.id: doc.path for doc in engine.data.documents.values()}
    for path, name in files:
        reason = check_upload(Path(path), name)
        if reason:
            problems.append((name, reason))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = free_target(folder, name, Path(path), taken_ids)
        shutil.copyfile(path, target)
        saved[target.resolve()] = name
        taken_ids[target.stem] = str(target)
    if not saved:
        return UploadResult([], problems)
    try:
        summary = engine.add_documents([folder])
    except Exception as error:
        for target in saved:  # not indexed, so not kept: the next upload would retry it unasked
            target.unlink(missing_ok=True)
        if not isinstance(error, RagError):
            raise
        return UploadResult([], [*problems, *((name, str(error)) for name in saved.values())])
    for skipped_path, reason in summary.skipped:
        name = saved.pop(Path(skipped_path).resolve(), None)
        if name is not None:
            problems.append((name, reason))
            Path(skipped_path).unlink(missing_ok=True)  # a file that will not load should not linger
    by_path = {Path(d.path).resolve(): d for d in engine.data.documents.values()}
    added = [by_path[p] for p in saved if p in by_path]
    renamed = [(name, path.name) for path, name in saved.items() if path.name != safe_name(name)]
    return UploadResult(added, problems, summary.seconds, renamed)
