"""Turn files into Documents: .txt, .md (YAML front matter), .html, .pdf.

Each loader either returns a Document or raises DocumentLoadError with a reason
a person can act on; `load_documents` collects those reasons instead of
stopping, so one bad file never aborts an indexing run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index.errors import DocumentLoadError
from index.types import Document

__all__ = ["SUPPORTED_SUFFIXES", "LoadReport", "discover_files", "load_documents", "load_file"]

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 50 * 1024 * 1024
IGNORE_FILE = ".ragignore"

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.DOTALL)


@dataclass(frozen=True)
class LoadReport:
    documents: list[Document]
    skipped: list[tuple[str, str]]  # (path, reason)


def _ignore_patterns(root: Path) -> list[str]:
    """Glob patterns from ROOT/.ragignore (one per line, # comments), relative to ROOT."""
    ignore_file = root / IGNORE_FILE
    if not ignore_file.is_file():
        return []
    lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def discover_files(paths: Iterable[Path]) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Supported files under `paths`, each with the root it was found under.

    Hidden files and folders are passed over, and so is anything matching a
    pattern in the folder's `.ragignore` file.
    """
    found: list[tuple[Path, Path]] = []
    skipped: list[tuple[str, str]] = []
    for root in paths:
        root = Path(root)
        if root.is_file():
            found.append((root, root.parent))
        elif root.is_dir():
            ignored = _ignore_patterns(root)
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if any(part.startswith(".") for part in relative.parts):
                    continue  # hidden files and folders (.git, editor swap files)
                if any(relative.match(pattern) for pattern in ignored):
                    continue
                if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append((path, root))
                elif path.is_file():
                    skipped.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
        else:
            skipped.append((str(root), "no such file or folder"))
    return found, skipped


def document_id(path: Path, root: Path) -> str:
    """A stable id from the path under its root: `notes/plan.md` -> `notes/plan`."""
    return path.relative_to(root).with_suffix("").as_posix()


def load_file(path: Path, doc_id: str) -> Document:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentLoadError(f"unsupported file type {suffix or '(none)'}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DocumentLoadError(f"cannot read file: {error.strerror or error}") from error
    if len(data) > MAX_FILE_BYTES:
        raise DocumentLoadError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    content_hash = hashlib.sha256(data).hexdigest()
    if suffix == ".pdf":
        fields = _read_pdf(data)
    else:
        text = _decode(data)
        if suffix in (".html", ".htm"):
            fields = _read_html(text)
        elif suffix in (".md", ".markdown"):
            fields = _read_markdown(text)
        else:
            fields = {"text": text}
    text = fields.pop("text")
    if not text.strip():
        raise DocumentLoadError("no text in file (empty, or only markup/images)")
    title = str(fields.pop("title", None) or _first_line(text) or path.stem)
    return Document(
        id=doc_id,
        text=text,
        title=title,
        path=str(path),
        format=suffix.lstrip("."),
        content_hash=content_hash,
        **fields,
    )


def load_documents(paths: Iterable[Path]) -> LoadReport:
    files, skipped = discover_files(paths)
    documents: list[Document] = []
    seen: dict[str, str] = {}
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
    return LoadReport(documents, skipped)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentLoadError("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentLoadError(f"not valid UTF-8 (byte {error.start}); re-save the file as UTF-8") from error
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def _read_markdown(text: str) -> dict[str, object]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {"text": text}
    import yaml  # only Markdown with front matter needs it

    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        raise DocumentLoadError(f"front matter is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise DocumentLoadError("front matter must be a YAML mapping (key: value lines)")
    fields: dict[str, object] = {"text": text[match.end() :]}
    authors = meta.pop("authors", meta.pop("author", None))
    if authors:
        fields["authors"] = tuple(str(a) for a in (authors if isinstance(authors, list) else [authors]))
    for key in ("title", "date", "url", "publisher"):
        if meta.get(key) is not None:
            fields[key] = str(meta.pop(key))
    if "source_url" in meta and "url" not in fields:
        fields["url"] = str(meta.pop("source_url"))
    fields["extra"] = {str(k): v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in meta.items()}
    return fields


def _read_html(html: str) -> dict[str, object]:
    # trafilatura finds the main text of a page and drops menus, footers and ads.
    import trafilatura

    extracted = trafilatura.bare_extraction(html, include_comments=False, include_tables=True, with_metadata=True)
    if extracted is None or not (extracted.text or "").strip():
        raise DocumentLoadError("no main text found in the HTML page")
    fields: dict[str, object] = {"text": extracted.text}
    if extracted.title:
        fields["title"] = extracted.title
    if extracted.author:
        fields["authors"] = tuple(a.strip() for a in extracted.author.split(";") if a.strip())
    if extracted.date:
        fields["date"] = extracted.date
    if extracted.url:
        fields["url"] = extracted.url
    if extracted.sitename:
        fields["publisher"] = extracted.sitename
    return fields


def _read_pdf(data: bytes) -> dict[str, object]:
    import io

    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except Exception as error:  # pypdf raises many types for a damaged file
        raise DocumentLoadError(f"cannot read PDF ({type(error).__name__}: {error})") from error
    text = ""
    page_starts: list[int] = []
    for page_text in pages:
        page_starts.append(len(text))
        text += page_text.strip() + "\n\n"
    fields: dict[str, object] = {"text": text, "page_starts": tuple(page_starts)}
    if title:
        fields["title"] = str(title)
    return fields
