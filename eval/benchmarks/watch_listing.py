"""What watching costs: the time of one listing of the sources (`index.watch.list_sources`), by tree size.

`rag index --watch` lists its folders every poll (see docs/sync.md). This makes
throw-away trees of N small Markdown files (100 per folder) and times a listing
of each, best of a few runs, so the figure is the listing itself rather than
whatever else the machine was doing.

    python -m eval.benchmarks.watch_listing --files 1000 10000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from index.watch import list_sources

FILES_PER_FOLDER = 100


def make_tree(root: Path, files: int) -> None:
    for number in range(files):
        folder = root / f"folder{number // FILES_PER_FOLDER:04d}"
        folder.mkdir(exist_ok=True)
        (folder / f"note{number:06d}.md").write_text(f"Note {number}.\n", encoding="utf-8")


def listing_seconds(root: Path, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        list_sources([root])
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 10000], help="tree sizes to time")
    parser.add_argument("--runs", type=int, default=3, help="listings per size; the fastest is reported")
    args = parser.parse_args(argv)
    print("files\tlisting_ms\tus_per_file")
    for files in args.files:
        with tempfile.TemporaryDirectory() as folder:
            make_tree(Path(folder), files)
            seconds = listing_seconds(Path(folder), args.runs)
        print(f"{files}\t{seconds * 1000:.1f}\t{seconds / files * 1e6:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
