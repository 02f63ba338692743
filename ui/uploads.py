"""Documents added from the browser: check, save into the index folder, index at once.

Uploaded files are kept in `INDEX_DIR/uploads/`, which becomes one more source
of the index, so they survive a restart and a later `rag index` without paths
(which reuses the index's sources) keeps them.
An upload never replaces another document: a different file with the name of
an earlier upload, or with the id of an indexed document ("notes.txt" when
"notes" is taken), is saved under the next free name ("notes-2.txt").
Every problem comes back as (file name, reason) for the page to show; nothing
here raises for a bad file.

Each file is loaded here first, on its own: whatever goes wrong while reading
one file (a damaged PDF, a missing package, a MemoryError) skips that file with
its reason and the others are indexed. Loading here also measures the text
before anything is embedded: an upload may hold at most `MAX_UPLOAD_CHARS`
characters, because indexing runs one upload at a time and a big file would
keep every other upload waiting for an hour; large files belong to `rag index`.
"""

from __future__ import annotations

import filecmp
import itertools
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import DocumentLoadError, RagError
from index.loaders import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, document_id, load_file
from index.types import Document
from rag.engine import Engine

__all__ = [
    "MAX_UPLOAD_CHARS",
    "TOO_LARGE_ADVICE",
    "UPLOAD_SUFFIXES",
    "Loader",
    "UploadResult",
    "add_uploads",
    "check_upload",
    "free_target",
    "safe_name",
    "text_limit_problem",
]

log = logging.getLogger(__name__)

# What the page offers; the loader also reads the longer spellings.
UPLOAD_SUFFIXES = tuple(".txt .md .html .pdf .docx .pptx .xlsx .csv .epub .odt .rtf .png .jpg".split())
# At most this much text per upload (all its files together). The default corpus splits into one chunk per
# ~490 characters and embedding runs at ~30 chunks/s on 2 cores (docs/benchmarks.md), so 1,000,000
# characters is ~2,000 chunks, about 70 s of indexing; a 50 MB text file would hold the one indexing slot
# for about an hour.
MAX_UPLOAD_CHARS = 1_000_000
CHARS_PER_CHUNK = 490  # measured on corpus/ with the default chunker (128 tokens, 32 overlapping)
CHUNKS_PER_SECOND = 30  # all-MiniLM-L6-v2 on 2 CPU cores
TOO_LARGE_ADVICE = "index large files from the command line: rag index PATH (naming the index's other sources too)"

Loader = Callable[[Path, str], Document]  # (file, document id) -> Document, like index.loaders.load_file
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


def _duration(seconds: float) -> str:
    """A rough duration in words: "40 s", "12 min", "3 h 20 min"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def text_limit_problem(characters: int, allowance: int) -> str | None:
    """Why a file with this much text cannot join this upload (`allowance` characters are left), or None."""
    if characters <= allowance:
        return None
    if characters > MAX_UPLOAD_CHARS:
        estimate = _duration(characters / CHARS_PER_CHUNK / CHUNKS_PER_SECOND)
        return (
            f"its text is {characters:,} characters; an upload may hold at most {MAX_UPLOAD_CHARS:,} "
            f"(indexing this one here would take about {estimate} and hold up every other upload): "
            f"{TOO_LARGE_ADVICE}"
        )
    return (
        f"its text ({characters:,} characters) would take this upload over {MAX_UPLOAD_CHARS:,} characters: "
        f"upload it on its own, or {TOO_LARGE_ADVICE}"
    )


def _load(load: Loader, target: Path, folder: Path) -> tuple[Document | None, str | None]:
    """The document in a saved upload, or why it cannot be read; never raises for a bad file."""
    try:
        return load(target, document_id(target, folder)), None
    except DocumentLoadError as error:
        return None, str(error)
    except MemoryError:
        return None, "could not be read: not enough memory to read it here"
    except Exception as error:  # a missing package, a parser's bug: that file's problem, not the batch's
        log.exception("loading upload %s failed", target.name)
        message = " ".join(str(error).split())[:300]
        return None, f"could not be read: {type(error).__name__}" + (f": {message}" if message else "")


def add_uploads(engine: Engine, files: Sequence[tuple[Path, str]], *, load: Loader = load_file) -> UploadResult:
    """Save the acceptable `(temporary path, original name)` files and index them.

    `load` reads one saved file (tests pass a fake). A file that cannot be
    loaded, or whose text would take the upload over `MAX_UPLOAD_CHARS`, is
    reported and removed; the others are indexed.
    """
    folder = engine.index_dir / "uploads"
    problems: list[tuple[str, str]] = []
    saved: dict[Path, str] = {}  # saved path -> the name it was uploaded under
    fresh: set[Path] = set()  # saved paths that were not there before: removed again when not indexed
    taken_ids = {doc.id: doc.path for doc in engine.data.documents.values()}
    allowance = MAX_UPLOAD_CHARS
    for path, name in files:
        reason = check_upload(Path(path), name)
        if reason:
            problems.append((name, reason))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = free_target(folder, name, Path(path), taken_ids)
        existed = target.exists()  # these very bytes, uploaded before
        shutil.copyfile(path, target)
        document, reason = _load(load, target, folder)
        cost = _new_text(engine, document)
        reason = reason or text_limit_problem(cost, allowance)
        if reason:
            problems.append((name, reason))
            if not existed:
                target.unlink(missing_ok=True)  # a file that will not be indexed should not linger
            continue
        allowance -= cost
        saved[target.resolve()] = name
        if not existed:
            fresh.add(target.resolve())
        taken_ids[target.stem] = str(target)
    if not saved:
        return UploadResult([], problems)
    try:
        # The build reads the saved files again; next to embedding, reading is cheap.
        summary = engine.add_documents([folder])
    except Exception as error:
        for target in fresh:  # not indexed, so not kept: the next upload would retry it unasked
            target.unlink(missing_ok=True)
        if not isinstance(error, RagError):
            raise
        return UploadResult([], [*problems, *((name, str(error)) for name in saved.values())])
    for skipped_path, reason in summary.skipped:  # loaded above, yet not by the build (memory, say)
        skipped = Path(skipped_path).resolve()
        name = saved.pop(skipped, None)
        if name is not None:
            problems.append((name, reason))
            if skipped in fresh:  # an earlier upload of these bytes keeps its indexed version
                skipped.unlink(missing_ok=True)
    by_path = {Path(d.path).resolve(): d for d in engine.data.documents.values()}
    added = [by_path[p] for p in saved if p in by_path]
    renamed = [(name, path.name) for path, name in saved.items() if path.name != safe_name(name)]
    return UploadResult(added, problems, summary.seconds, renamed)


def _new_text(engine: Engine, document: Document | None) -> int:
    """Characters of `document` that indexing will embed: none when the index already holds these very bytes."""
    if document is None:
        return 0
    indexed = engine.data.documents.get(document.id)
    return 0 if indexed is not None and indexed.content_hash == document.content_hash else len(document.text)
