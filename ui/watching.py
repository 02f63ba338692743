"""Watch mode on the command line: the lines `rag index --watch` and `rag chat --watch` print, and their loops.

    rag index --watch notes/      # update the index whenever notes/ changes, until Ctrl-C or SIGTERM
    rag chat --watch              # the same beside the web chat; the chat answers from each update

The watching itself (polling, debouncing, updating) is index/watch.py; this
module only turns its events into lines and runs it in the foreground (with
signal handling) or in a background thread.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from index.watch import (
    Change,
    Ready,
    SourceMissing,
    SourceReturned,
    UpdateFailed,
    Watcher,
    WatchEvent,
)

if TYPE_CHECKING:  # the builder pulls in the text splitter: `rag --help` does not need it
    from index.builder import IndexSummary
    from rag.engine import Engine

__all__ = [
    "add_watch_options",
    "event_json",
    "event_lines",
    "watch_in_background",
    "watch_index",
    "watch_until_stopped",
]


def add_watch_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--watch",
        action="store_true",
        help=f"{what}: keep the index in step with its source folders (new, changed, removed, renamed files); "
        "in the web chat, the collection it starts on",
    )
    parser.add_argument(
        "--debounce",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="with --watch: update once the files have been quiet this long (default 1)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--debounce takes a number of seconds, not {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"--debounce takes seconds between 0 and 3600, not {value:g}")
    return value


_SIGNS = {"added": "+", "changed": "~", "removed": "-", "renamed": ">"}


def _change_line(change: Change) -> str:
    chunks = f"{change.chunks} chunk{'s' if change.chunks != 1 else ''}"
    if change.kind == "renamed":
        return f"> renamed {change.old_path} -> {change.path} (no re-embedding)"
    if change.kind == "removed":
        return f"- removed {change.path}"
    return f"{_SIGNS[change.kind]} {change.kind} {change.path} ({chunks})"


def event_lines(event: WatchEvent) -> list[str]:
    """What one event prints: a line per change and per newly skipped file, then a summary line."""
    if isinstance(event, Ready):
        s = event.summary
        return [f"watching: {s.documents} documents, {s.chunks} chunks indexed; changes are indexed as they happen"]
    if isinstance(event, UpdateFailed):
        return [f"! update failed: {event.reason} (the index is as it was; still watching)"]
    if isinstance(event, SourceMissing):
        return [f"! {event.path} is gone: its documents stay indexed until it is back (still watching)"]
    if isinstance(event, SourceReturned):
        return [f"+ {event.path} is back"]
    lines = [_change_line(change) for change in event.changes]
    for skip in event.skips:
        kept = " (its previous version stays indexed)" if skip.kept else ""
        lines.append(f"! skipped {skip.path}: {skip.reason}{kept}")
    s = event.summary
    lines.append(
        f"  index updated: {s.documents} documents, {s.chunks} chunks "
        f"({s.embedded} embedded, {s.reused} reused) in {s.seconds:.1f}s"
    )
    return lines


def event_json(event: WatchEvent) -> dict[str, object]:
    """One JSON object per event (`rag index --watch --json`); `Ready` is the `rag index --json` summary."""
    if isinstance(event, Ready):
        return event.summary.to_json()
    if isinstance(event, UpdateFailed):
        return {"error": event.reason}
    if isinstance(event, SourceMissing):
        return {"missing": event.path}
    if isinstance(event, SourceReturned):
        return {"returned": event.path}
    changes = [{"kind": c.kind, "path": c.path, "chunks": c.chunks, "from": c.old_path} for c in event.changes]
    skips = [{"path": s.path, "reason": s.reason, "kept": s.kept} for s in event.skips]
    return {**event.summary.to_json(), "changes": changes, "new_skips": skips}


def watch_until_stopped(watcher: Watcher, show: Callable[[WatchEvent], None]) -> int:
    """Run `watcher` in this (main) thread until Ctrl-C or SIGTERM; 0 once the update in progress is done.

    The first signal lets the update in progress finish (the new build is swapped in whole or not at
    all either way); a second Ctrl-C stops at once, which the atomic swap also keeps safe.
    """

    def on_signal(signum: int, frame: object) -> None:
        if watcher.stop.is_set():
            raise KeyboardInterrupt
        watcher.stop.set()

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        for event in watcher.run():
            show(event)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    print("stopped watching", file=sys.stderr, flush=True)
    return 0


def print_lines(event: WatchEvent) -> None:
    for line in event_lines(event):
        print(line, flush=True)


def watch_in_background(
    sources: Callable[[], Sequence[Path]],
    update: Callable[[], IndexSummary],
    index_dir: Path,
    debounce: float,
    documents: Callable[[], Mapping[str, Mapping[str, object]]] | None = None,
) -> tuple[Watcher, threading.Thread]:
    """Start a watcher in a daemon thread printing its lines; set `watcher.stop` and join the thread to end it."""
    watcher = Watcher(sources, update, index_dir, debounce=debounce, documents=documents)

    def watch() -> None:
        for event in watcher.run():
            print_lines(event)

    thread = threading.Thread(target=watch, name="rag-watch", daemon=True)
    thread.start()
    return watcher, thread


@contextlib.contextmanager
def engine_watching(engine: Engine, debounce: float, *, enabled: bool = True) -> Iterator[Watcher | None]:
    """`rag chat --watch`: while inside, a background watcher updates the engine's index and reloads it.

    The update is `Engine.add_documents([])`: an incremental build of the index's own sources (uploads
    included, as they are added to the sources) under the engine's update lock, then a reload, so the
    next question sees the change. On leaving, the update in progress finishes and watching stops.
    """
    if not enabled:
        yield None
        return

    def sources() -> list[Path]:
        return [Path(p) for p in engine.data.manifest.sources]

    def documents() -> Mapping[str, Mapping[str, object]]:
        return engine.data.manifest.documents  # the engine's store, local or PostgreSQL

    def update() -> IndexSummary:
        return engine.add_documents([])

    watcher, thread = watch_in_background(sources, update, engine.index_dir, debounce, documents)
    try:
        yield watcher
    finally:
        watcher.stop.set()
        thread.join()


def watch_index(
    args: argparse.Namespace,
    paths: Sequence[Path],
    index_dir: Path,
    embedder: object,
    show_summary: Callable[[IndexSummary], None],
) -> int:
    """`rag index --watch`: index `paths` now (`show_summary` prints it as `rag index` would), then on every change."""
    from index.builder import build_index
    from index.open import chunking_of

    rebuild = args.rebuild  # only the first update ignores the existing index
    chunking = chunking_of(index_dir, None, args.chunk_size)  # the index's own unless --chunk-size says otherwise

    def update() -> IndexSummary:
        nonlocal rebuild
        summary = build_index(
            paths,
            index_dir,
            embedder,  # type: ignore[arg-type]
            **chunking,
            vector_index=args.vector_index,
            rebuild=rebuild,
            follow_links=args.follow_links,
        )
        rebuild = False
        return summary

    def show(event: WatchEvent) -> None:
        if isinstance(event, Ready):
            show_summary(event.summary)
            where = ", ".join(str(p) for p in paths)
            print(f"watching {where} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        elif args.json:
            print(json.dumps(event_json(event)), flush=True)
        else:
            print_lines(event)

    watcher = Watcher(lambda: paths, update, index_dir, debounce=args.debounce, follow_links=args.follow_links)
    return watch_until_stopped(watcher, show)
