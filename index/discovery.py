"""Which files under the given paths are documents, and which are left out and why.

Files are hostile until read: symlinks that lead outside the folders being
indexed are not followed unless asked (`follow_links`); link loops, broken
links, named pipes, sockets and devices are listed with a reason and never
opened (a FIFO would block the run forever); hidden files and `.ragignore`
patterns are passed over.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index.readers import READERS

__all__ = [
    "IGNORE_FILE",
    "OUTSIDE_FOLDER_LINK_REASON",
    "OUTSIDE_LINK_REASON",
    "SUPPORTED_SUFFIXES",
    "discover_files",
    "file_status",
    "not_regular_reason",
]

SUPPORTED_SUFFIXES = tuple(READERS)
IGNORE_FILE = ".ragignore"
OUTSIDE_LINK_REASON = "symlink to a file outside the indexed folders: use --follow-links to include it"
OUTSIDE_FOLDER_LINK_REASON = "symlink to a folder outside the indexed folders: use --follow-links to include it"


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


def not_regular_reason(mode: int) -> str:
    return f"{_kind(mode)}, not a regular file: left unread"


def file_status(path: Path) -> tuple[os.stat_result | None, str | None]:
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
        info, reason = file_status(path)
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
            self.skip(path, not_regular_reason(info.st_mode))  # only stat'ed: a FIFO is never opened
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
        info, reason = file_status(root)
        if info is None:
            walk.skip(root, reason or "cannot read")
        elif stat.S_ISDIR(info.st_mode):
            walk.walked = set()  # against cycles within one root; overlapping roots are read as before
            walk.folder(root, root, _ignore_patterns(root))
        elif stat.S_ISREG(info.st_mode):
            walk.found.append((root, root.parent))
        else:
            walk.skip(root, not_regular_reason(info.st_mode))
    return walk.found, walk.skipped
