"""Turn files into Documents: .txt, .md (YAML front matter), .html, .pdf.

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

import errno
import functools
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index.errors import DocumentLoadError
from index.types import Document

__all__ = ["SUPPORTED_SUFFIXES", "LoadReport", "discover_files", "load_documents", "load_file"]

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 50 * 1024 * 1024
IGNORE_FILE = ".ragignore"
MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_FRONT_MATTER_VALUE_CHARS = 2_000
MAX_FRONT_MATTER_DEPTH = 20

OUTSIDE_LINK_REASON = "symlink to a file outside the indexed folders: use --follow-links to include it"
OUTSIDE_FOLDER_LINK_REASON = "symlink to a folder outside the indexed folders: use --follow-links to include it"

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.DOTALL)
# Front matter fields shown with a document (titles, citations): too long means broken, not truncated.
_SHOWN_FIELDS = ("title", "authors", "author", "date", "url", "publisher", "source_url")


@dataclass(frozen=True)
class LoadReport:
    documents: list[Document]
    skipped: list[tuple[str, str]]  # (path, reason)
    # The skipped paths that are files which failed to load (as opposed to paths left out when
    # discovering: symlinks out, loops, broken links, FIFOs, missing paths). A build keeps the indexed
    # version of these only: the others are not part of the sources any more.
    unreadable: frozenset[str] = frozenset()


def _ignore_patterns(root: Path) -> list[str]:
    """Glob patterns from ROOT/.ragignore (one per line, # comments), relative to ROOT."""
    ignore_file = root / IGNORE_FILE
    if not ignore_file.is_file():
        return []
    lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _kind(mode: int) -> str:
    """What a non-regular, non-folder file is, in words a person knows."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "an unknown kind of file"


def _not_regular(mode: int) -> str:
    return f"{_kind(mode)}, not a regular file: left unread"


def _stat(path: Path) -> tuple[os.stat_result | None, str | None]:
    """The stat of what `path` leads to (links followed), or why there is nothing to read there."""
    try:
        return os.stat(path), None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, "symlink loop: the link never reaches a file"
        if error.errno == errno.ENOENT and path.is_symlink():
            return None, f"broken symlink: its target {_link_text(path)} does not exist"
        if error.errno == errno.ENOENT:
            return None, "no such file or folder"
        return None, f"cannot read: {error.strerror or error}"


def _link_text(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # replaced since the stat
        return "(unknown)"


def _inside(target: Path, allowed: list[Path]) -> bool:
    return any(target == root or target.is_relative_to(root) for root in allowed)


@dataclass
class _Walk:
    """One discovery: what was found and skipped, and the folders already walked (against link cycles)."""

    allowed: list[Path]
    follow_links: bool
    found: list[tuple[Path, Path]]
    skipped: list[tuple[str, str]]
    walked: set[tuple[int, int]]

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append((str(path), reason))

    def entry(self, path: Path, root: Path, ignored: list[str]) -> None:
        """Classify one folder entry: index it, walk into it, pass over it or skip it with a reason."""
        ignored_here = any(path.relative_to(root).match(pattern) for pattern in ignored)
        info, reason = _stat(path)
        if info is None:
            if not ignored_here:
                self.skip(path, reason or "cannot read")
            return
        is_link = path.is_symlink()
        outside = is_link and not _inside(Path(os.path.realpath(path)), self.allowed)
        if stat.S_ISDIR(info.st_mode):
            if is_link and not outside:
                return  # its files are found under their own path already: no duplicates
            if outside and not self.follow_links:
                self.skip(path, OUTSIDE_FOLDER_LINK_REASON)
                return
            self.folder(path, root, ignored)
            return
        if ignored_here:  # patterns name files, as before: a folder is walked, its matching files left out
            return
        if outside and not self.follow_links:
            self.skip(path, OUTSIDE_LINK_REASON)
        elif not stat.S_ISREG(info.st_mode):
            self.skip(path, _not_regular(info.st_mode))  # only stat'ed: a FIFO is never opened
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            self.found.append((path, root))
        else:
            self.skip(path, f"unsupported file type {path.suffix or '(none)'}")

    def folder(self, folder: Path, root: Path, ignored: list[str]) -> None:
        """Walk `folder` (under `root`) depth-first in name order; hidden entries are passed over."""
        try:
            info = os.stat(folder)
            names = sorted(os.listdir(folder))
        except OSError as error:
            self.skip(folder, f"cannot list the folder: {error.strerror or error}")
            return
        key = (info.st_dev, info.st_ino)
        if key in self.walked:
            self.skip(folder, "symlink loop: this folder is already being indexed through another path")
            return
        self.walked.add(key)
        for name in names:
            if not name.startswith("."):  # hidden files and folders (.git, editor swap files)
                self.entry(folder / name, root, ignored)


def discover_files(
    paths: Iterable[Path], *, follow_links: bool = False
) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Supported files under `paths`, each with the root it was found under, and what was skipped, with why.

    Hidden files and folders are passed over, and so is anything matching a
    pattern in the folder's `.ragignore` file. A symlink whose target lies
    outside every path given is skipped with a reason unless `follow_links` is
    true (then linked folders are walked too, each once); a path given here
    directly is always followed, since it was named. Symlink loops, broken
    links, named pipes, sockets and devices are skipped with a reason each and
    never opened.
    """
    roots = [Path(p) for p in paths]
    walk = _Walk([Path(os.path.realpath(r)) for r in roots], follow_links, [], [], set())
    for root in roots:
        info, reason = _stat(root)
        if info is None:
            walk.skip(root, reason or "cannot read")
        elif stat.S_ISDIR(info.st_mode):
            walk.walked = set()  # against cycles within one root; overlapping roots are read as before
            walk.folder(root, root, _ignore_patterns(root))
        elif stat.S_ISREG(info.st_mode):
            walk.found.append((root, root.parent))
        else:
            walk.skip(root, _not_regular(info.st_mode))
    return walk.found, walk.skipped


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


def _too_large() -> DocumentLoadError:
    return DocumentLoadError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, for a regular file of at most MAX_FILE_BYTES; nothing else is ever opened."""
    info, reason = _stat(path)
    if info is None:
        raise DocumentLoadError(reason or "cannot read file")
    if not stat.S_ISREG(info.st_mode):
        raise DocumentLoadError(_not_regular(info.st_mode))
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
            raise DocumentLoadError(_not_regular(mode))
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


def _looks_like_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: mostly NUL bytes at every other position (Latin text)."""
    sample = data[:4096]
    if len(sample) < 16:
        return False
    even, odd = sample[0::2], sample[1::2]
    for zeros, other in ((odd, even), (even, odd)):
        if zeros.count(0) >= 0.4 * len(zeros) and other.count(0) <= 0.05 * len(other):
            return True
    return False


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_like_utf16(data):
        raise DocumentLoadError("UTF-16 text, not UTF-8; re-save the file as UTF-8")
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


@functools.cache
def _front_matter_loader() -> type:
    """yaml.SafeLoader that refuses anchors and aliases and deep nesting (made on first use: yaml loads lazily)."""
    import yaml

    class FrontMatterLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise DocumentLoadError(
                    "front matter uses YAML anchors or aliases (&name, *name), which are refused because a few "
                    "lines of them can expand to gigabytes: write each value out in full"
                )
            if self.depth >= MAX_FRONT_MATTER_DEPTH:
                raise DocumentLoadError(f"front matter nests deeper than {MAX_FRONT_MATTER_DEPTH} levels: flatten it")
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return FrontMatterLoader


def _parse_front_matter(source: str) -> dict:
    import yaml  # only Markdown with front matter needs it

    size = len(source.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise DocumentLoadError(
            f"front matter is {size // 1024} KB, over the {MAX_FRONT_MATTER_BYTES // 1024} KB limit: "
            "keep only the metadata there (title, authors, date...) and move the rest into the text"
        )
    try:
        meta = yaml.load(source, Loader=_front_matter_loader()) or {}  # a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as error:  # ValueError: e.g. an integer of 5,000 digits
        raise DocumentLoadError(f"front matter is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise DocumentLoadError("front matter must be a YAML mapping (key: value lines)")
    return meta


def _check_shown_value(key: object, value: object) -> None:
    """A shown field (title, authors, ...) of absurd length means broken front matter: say so, do not cut it."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        length = len(str(item))
        if length > MAX_FRONT_MATTER_VALUE_CHARS:
            raise DocumentLoadError(
                f"front matter value {str(key)!r} is {length:,} characters long, over the "
                f"{MAX_FRONT_MATTER_VALUE_CHARS:,} limit: shorten it (is a quote or a `---` line missing?)"
            )


def _kept_value(value: object) -> str | int | float | bool:
    """Another front matter key's value as stored: a scalar, or text cut to the length limit."""
    if isinstance(value, (str, int, float, bool)) and len(str(value)) <= MAX_FRONT_MATTER_VALUE_CHARS:
        return value
    return str(value)[:MAX_FRONT_MATTER_VALUE_CHARS]


def _read_markdown(text: str) -> dict[str, object]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {"text": text}
    # Hostile or broken front matter skips the whole file with its reason, rather than indexing the
    # text without it: the file's title, authors and date would silently be wrong in every citation,
    # and the skip reason is the one place a person is told what to fix.
    meta = _parse_front_matter(match.group(1))
    for key in _SHOWN_FIELDS:
        if key in meta:
            _check_shown_value(key, meta[key])
    fields: dict[str, object] = {"text": text[match.end() :]}
    authors = meta.pop("authors", meta.pop("author", None))
    if authors:
        fields["authors"] = tuple(str(a) for a in (authors if isinstance(authors, list) else [authors]))
    for key in ("title", "date", "url", "publisher"):
        if meta.get(key) is not None:
            fields[key] = str(meta.pop(key))
    if "source_url" in meta and "url" not in fields:
        fields["url"] = str(meta.pop("source_url"))
    fields["extra"] = {str(k)[:200]: _kept_value(v) for k, v in meta.items()}
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
