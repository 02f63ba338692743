"""Keep an index in step with its source folders: notice changes, wait for quiet, update, report.

    watcher = Watcher(lambda: paths, lambda: build_index(paths, index_dir, embedder), index_dir)
    for event in watcher.run():   # until watcher.stop is set
        print(event)              # Ready, Updated, UpdateFailed, SourceMissing, SourceReturned

How changes are noticed: by polling. Every `poll` seconds the sources are listed
the way a build lists them (`discover_files`: the same hidden-file, `.ragignore`
and symlink rules) and each file's (mtime, size, inode) is compared with the last
listing. Polling was chosen over inotify (the `watchdog` package) for robustness:
a comparison of two listings cannot miss an event, whereas inotify drops events
when its queue overflows, needs one kernel watch per folder (a per-user limit),
and sees nothing on network and some container file systems. It also answers
"what changed while a build was running" for free: the listing taken before the
build is the one the next listing is compared with. The cost is one `stat` per
file per poll (docs/sync.md has the figures); the pause between polls is at
least four times the last listing's time, so a large tree never keeps a core busy.

A burst of saves is one update: an update runs once the listing has stayed the
same for `debounce` seconds (or changes have waited `max_wait` seconds, so a file
written without pause still gets indexed). Updates reuse the incremental build
and its atomic swap; what changed is read from the manifests before and after.
Nothing here prints: the caller turns events into lines.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from index.discovery import IGNORE_FILE, discover_files
from index.errors import RagError

if TYPE_CHECKING:  # the builder pulls in the text splitter: not needed to import this module
    from index.builder import IndexSummary

__all__ = [
    "Change",
    "Debouncer",
    "Listing",
    "Ready",
    "Skip",
    "SourceMissing",
    "SourceReturned",
    "UpdateFailed",
    "Updated",
    "WatchEvent",
    "Watcher",
    "diff_documents",
    "list_sources",
]

DEFAULT_DEBOUNCE = 1.0

FileState = tuple[int, int, int]  # mtime_ns, size, inode


# -- events --------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One document that changed in an update; `path` is shown relative to its source folder."""

    kind: Literal["added", "changed", "removed", "renamed"]
    path: str
    chunks: int
    old_path: str | None = None  # for "renamed": where it was


@dataclass(frozen=True)
class Skip:
    """A file an update could not read, and whether its previously indexed version stays."""

    path: str
    reason: str
    kept: bool


@dataclass(frozen=True)
class Ready:
    """The first update, made when watching starts (files may have changed while nobody watched)."""

    summary: IndexSummary


@dataclass(frozen=True)
class Updated:
    """An update that changed the index; `skips` lists only files skipped for a new reason."""

    changes: tuple[Change, ...]
    skips: tuple[Skip, ...]
    summary: IndexSummary


@dataclass(frozen=True)
class UpdateFailed:
    """An update that failed; the index is as it was, and watching goes on."""

    reason: str


@dataclass(frozen=True)
class SourceMissing:
    """A source folder or file is gone; no update runs until it is back, so the index keeps its documents."""

    path: str


@dataclass(frozen=True)
class SourceReturned:
    path: str


WatchEvent = Ready | Updated | UpdateFailed | SourceMissing | SourceReturned


# -- noticing changes ----------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """What the sources hold at one moment: each file's state, each skipped path's reason, missing sources."""

    files: Mapping[str, FileState]
    skipped: Mapping[str, str]
    missing: tuple[str, ...]

    def same_files(self, other: Listing) -> bool:
        return self.files == other.files and self.skipped == other.skipped


def list_sources(sources: Sequence[Path], *, follow_links: bool = False) -> Listing:
    """The files a build would read under `sources` with their (mtime, size, inode), and what it would skip."""
    missing = tuple(str(s) for s in sources if not os.path.lexists(s))
    found, skipped = discover_files([s for s in sources if str(s) not in missing], follow_links=follow_links)
    files: dict[str, FileState] = {}
    candidates = [path for path, _ in found] + [Path(s) / IGNORE_FILE for s in sources]  # .ragignore edits count
    for path in candidates:
        try:
            info = os.stat(path)
        except OSError:  # gone since it was listed, or no .ragignore: the next listing shows what is there
            continue
        files[str(path)] = (info.st_mtime_ns, info.st_size, info.st_ino)
    return Listing(files, dict(skipped), missing)


class Debouncer:
    """Decides when pending changes are due: after `quiet` seconds without a change, or `max_wait` after the first.

    Times are passed in (seconds from any monotonic clock), so it is tested without waiting.
    """

    def __init__(self, quiet: float, max_wait: float) -> None:
        self.quiet = quiet
        self.max_wait = max(max_wait, quiet)
        self._first: float | None = None
        self._last: float | None = None

    @property
    def pending(self) -> bool:
        return self._first is not None

    def changed(self, now: float) -> None:
        if self._first is None:
            self._first = now
        self._last = now

    def due(self, now: float) -> bool:
        if self._first is None or self._last is None:
            return False
        return now - self._last >= self.quiet or now - self._first >= self.max_wait

    def done(self) -> None:
        self._first = self._last = None


# -- what an update changed ----------------------------------------------------


def diff_documents(
    before: Mapping[str, Mapping[str, object]], after: Mapping[str, Mapping[str, object]]
) -> list[Change]:
    """The changes between two manifests' `documents` maps (doc id -> path, hash, chunks), sorted by path.

    A removed and an added document with the same bytes and file type are one rename (the builder
    carries such a document's vectors over instead of embedding it again).
    """
    changes: list[Change] = []
    removed = {doc_id: before[doc_id] for doc_id in before.keys() - after.keys()}
    for doc_id in sorted(after.keys() - before.keys()):
        new = after[doc_id]
        twin = next((old_id for old_id, old in removed.items() if _same_file(old, new)), None)
        if twin is None:
            changes.append(Change("added", _path(new), _chunks(new)))
        else:
            changes.append(Change("renamed", _path(new), _chunks(new), _path(removed.pop(twin))))
    changes.extend(Change("removed", _path(old), _chunks(old)) for old in removed.values())
    for doc_id in before.keys() & after.keys():
        old, new = before[doc_id], after[doc_id]
        if old["hash"] != new["hash"]:
            changes.append(Change("changed", _path(new), _chunks(new)))
        elif old["path"] != new["path"]:  # a.md -> a.txt keeps the id
            changes.append(Change("renamed", _path(new), _chunks(new), _path(old)))
    return sorted(changes, key=lambda change: change.path)


def _path(entry: Mapping[str, object]) -> str:
    return str(entry["path"])


def _chunks(entry: Mapping[str, object]) -> int:
    count = entry["chunks"]
    return count if isinstance(count, int) else 0


def _same_file(old: Mapping[str, object], new: Mapping[str, object]) -> bool:
    return old["hash"] == new["hash"] and Path(_path(old)).suffix == Path(_path(new)).suffix


def _documents(index_dir: Path) -> dict[str, dict[str, object]]:
    from index.store import read_manifest  # numpy: loaded when watching starts, not on import

    try:
        manifest = read_manifest(index_dir)
    except RagError:  # damaged: the update will say so, or rebuild it
        return {}
    return {doc_id: dict(entry) for doc_id, entry in manifest.documents.items()} if manifest else {}


def _under(path: str, folder: Path) -> bool:
    return Path(os.path.abspath(path)).is_relative_to(folder)


def shown_path(path: str, sources: Sequence[Path]) -> str:
    """`path` relative to the source folder it lies in (`notes/a.md`), else as it is."""
    target = Path(os.path.abspath(path))
    for source in sources:
        for root in {Path(os.path.abspath(source)), Path(os.path.realpath(source))}:
            if target == root:
                return target.name
            if target.is_relative_to(root):
                return target.relative_to(root).as_posix()
    return path


# -- the watcher ---------------------------------------------------------------


# A failed update is tried again after this many seconds, doubling with each failure in a row up to RETRY_MOST.
RETRY_FIRST = 5.0
RETRY_MOST = 300.0


class Watcher:
    """Polls `sources()` and calls `update()` (an incremental build) after each quiet burst of changes.

    `sources` is called on every poll, so a caller whose sources grow (the web chat's uploads) stays
    in step. `update` returns the build's `IndexSummary`; a `RagError` or any other exception it
    raises becomes an `UpdateFailed` event and watching goes on: the update is tried again after `retry`
    seconds (doubling with each failure in a row, up to RETRY_MOST), changes or not. Set `stop` to end `run()` after the
    update in progress, if any (a build is never left half-written). `documents` returns the index's
    documents map (the manifest's doc id -> path, hash, chunks) to tell what an update changed; by
    default it is read from the local index in `index_dir` (the web chat passes its engine's, which
    works for any store).
    """

    def __init__(
        self,
        sources: Callable[[], Sequence[Path]],
        update: Callable[[], IndexSummary],
        index_dir: Path,
        *,
        debounce: float = DEFAULT_DEBOUNCE,
        max_wait: float | None = None,
        poll: float | None = None,
        follow_links: bool = False,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        documents: Callable[[], Mapping[str, Mapping[str, object]]] | None = None,
        retry: float = RETRY_FIRST,
    ) -> None:
        self.sources = sources
        self.retry = retry
        self.documents = documents or (lambda: _documents(index_dir))
        self.update = update
        self.index_dir = index_dir
        self.debouncer = Debouncer(debounce, max_wait if max_wait is not None else max(30.0, 10 * debounce))
        self.poll = poll if poll is not None else min(max(debounce / 2, 0.05), 1.0)
        self.follow_links = follow_links
        self.stop = stop or threading.Event()
        self.clock = clock
        self._skips: dict[str, str] = {}

    def run(self, *, initial_update: bool = True) -> Iterator[WatchEvent]:
        """Events until `stop` is set: `Ready` first (with `initial_update`), then one per update or source change."""
        seen = self._list()
        missing = set(seen.missing)
        for path in sorted(missing):
            yield SourceMissing(path)
        if initial_update and not missing:
            yield self._update(first=True)
        elif initial_update:
            self.debouncer.changed(self.clock())  # update once the sources are back
        pause = self.poll
        failures = 0  # failed updates in a row
        while not self.stop.wait(pause):
            started = self.clock()
            now_listed = self._list()
            listing_time = self.clock() - started
            pause = max(self.poll, 4 * listing_time)  # a huge tree's listing uses at most ~1/5 of a core
            for path in sorted(set(now_listed.missing) - missing):
                yield SourceMissing(path)
            for path in sorted(missing - set(now_listed.missing)):
                yield SourceReturned(path)
                self.debouncer.changed(self.clock())
            missing = set(now_listed.missing)
            if not now_listed.same_files(seen):
                self.debouncer.changed(self.clock())
            seen = now_listed
            if self.debouncer.due(self.clock()) and not missing:
                # Changes made from here on show in the next listing, compared with `seen` (taken before this
                # update), so nothing written while the build runs is lost.
                self.debouncer.done()
                event = self._update(first=False)
                if isinstance(event, UpdateFailed):
                    # The changes are still not in the index: try again later, waiting longer each time.
                    failures += 1
                    self.debouncer.changed(self.clock() + min(RETRY_MOST, self.retry * 2 ** (failures - 1)))
                else:
                    failures = 0
                if not isinstance(event, Updated) or event.changes or event.skips:
                    yield event

    def _list(self) -> Listing:
        listing = list_sources(list(self.sources()), follow_links=self.follow_links)
        # An index folder inside a watched folder changes with every update (and the chat's feedback log
        # with every vote): left in, each update would set off the next.
        inside = Path(os.path.abspath(self.index_dir))
        files = {path: state for path, state in listing.files.items() if not _under(path, inside)}
        skipped = {path: reason for path, reason in listing.skipped.items() if not _under(path, inside)}
        return Listing(files, skipped, listing.missing)

    def _update(self, *, first: bool) -> Ready | Updated | UpdateFailed:
        before = dict(self.documents())
        try:
            summary = self.update()
        except RagError as error:
            return UpdateFailed(str(error))
        except Exception as error:  # the point: no build failure may end the watching
            return UpdateFailed(f"{type(error).__name__}: {error}")
        after = dict(self.documents())
        sources = list(self.sources())
        skips = self._new_skips(summary, after, sources)
        if first:
            return Ready(summary)
        changes = tuple(
            Change(
                c.kind,
                shown_path(c.path, sources),
                c.chunks,
                shown_path(c.old_path, sources) if c.old_path else None,
            )
            for c in diff_documents(before, after)
        )
        return Updated(changes, skips, summary)

    def _new_skips(
        self, summary: IndexSummary, after: Mapping[str, Mapping[str, object]], sources: Sequence[Path]
    ) -> tuple[Skip, ...]:
        """The files skipped now that were not skipped for the same reason by the last update."""
        indexed = {_path(entry) for entry in after.values()}  # a file that failed to load keeps its old version
        now = dict(summary.skipped)
        fresh = [(path, reason) for path, reason in now.items() if self._skips.get(path) != reason]
        self._skips = now
        return tuple(Skip(shown_path(path, sources), reason, path in indexed) for path, reason in sorted(fresh))
