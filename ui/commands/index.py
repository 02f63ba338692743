"""`rag index`: build or update the index from files and folders."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from index.errors import RagError, UsageError
from rag.options import add_index_options, embedder_from, index_dir_from, scorer_from, store_from
from ui.watching import add_watch_options

NAME = "index"
HELP = "build or update the index (only new or changed files are embedded)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="files or folders (default: the last indexed sources, else the shipped corpus/)",
    )
    add_index_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON summary object")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show a progress bar (chunks/s, ETA) on stderr while embedding; shown anyway on a terminal without --json",
    )
    parser.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything again")
    parser.add_argument(
        "--vector-index",
        choices=["auto", "flat", "hnsw"],
        default="auto",
        help="vector index (auto: exact up to 50,000 chunks, HNSW above; with --store, exact up to 10,000)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="chunk size in model tokens (default: the index's own; 128 for a new one)",
    )
    parser.add_argument(
        "--follow-links",
        action="store_true",
        help="also index files that symbolic links point to outside the folders given (skipped by default)",
    )
    add_watch_options(parser, "after indexing, watch the paths until Ctrl-C")


def print_summary(summary, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.to_json()))
        return
    print(
        f"indexed {summary.documents} documents, {summary.chunks} chunks "
        f"({summary.embedded} embedded, {summary.removed} removed) in {summary.seconds:.1f}s"
    )
    if getattr(summary, "resumed", 0):
        print(f"  {summary.resumed} chunks' vectors were kept from an interrupted build")
    for path, reason in summary.skipped:
        print(f"  skipped {path}: {reason}")


def _dropped_sources_note(earlier: list[Path], paths: list[Path], removed: int) -> str | None:
    """When the paths given leave out earlier sources: what was dropped, and the command that keeps both."""
    dropped = [str(p) for p in earlier if p.resolve() not in {Path(q).resolve() for q in paths}]
    if not dropped or not removed:
        return None
    sources = "these sources, indexed before, are" if len(dropped) > 1 else "this source, indexed before, is"
    documents = "1 document" if removed == 1 else f"{removed} documents"
    keep = " ".join(shlex.quote(p) for p in [*dropped, *(str(q) for q in paths)])
    return (
        f"note: the index now holds only the paths given; {sources} no longer read: {', '.join(dropped)} "
        f"({documents} removed). To keep them, name every source: rag index {keep}"
    )


def run(args: argparse.Namespace) -> int:
    from index.open import build, chunking_of, stored_manifest
    from index.paths import DEFAULT_CORPUS

    index_dir = index_dir_from(args)
    store = store_from(args)
    paths = list(args.paths)
    try:
        manifest = stored_manifest(index_dir, store)
    except RagError:
        manifest = None
    earlier = [Path(p) for p in manifest.sources] if manifest else []
    if not paths:
        paths = earlier or [DEFAULT_CORPUS]
    if args.watch and store:
        raise UsageError("--watch keeps a local index up to date; with --store, run `rag index --store URL` instead")
    if args.watch:
        from ui.watching import watch_index

        return watch_index(args, paths, index_dir, embedder_from(args), lambda s: print_summary(s, args.json))
    summary = build(
        paths,
        index_dir,
        embedder_from(args),
        store=store,
        **chunking_of(index_dir, store, args.chunk_size),  # the index's own unless --chunk-size says otherwise
        vector_index=args.vector_index,
        rebuild=args.rebuild,
        follow_links=args.follow_links,
        progress=args.progress or (not args.json and sys.stderr.isatty()) or os.environ.get("RAG_PROGRESS") == "1",
    )
    print_summary(summary, args.json)
    note = _dropped_sources_note(earlier, paths, summary.removed)
    if note:
        print(note, file=sys.stderr)
    _score_sentences(args, index_dir, store)
    return 0


def _score_sentences(args: argparse.Namespace, index_dir: Path, store: str | None) -> None:
    """With a separate evidence scorer (--scorer, "auto" when EmbeddingGemma is installed), embed the
    sentences it has not seen now, at build time, so that answering embeds only the question."""
    from index.open import read_store
    from index.sentence_vectors import prepare_sentence_vectors

    scorer = scorer_from(args)
    if scorer is None:
        return
    show = not args.json and sys.stderr.isatty()
    _, added = prepare_sentence_vectors(index_dir, read_store(index_dir, store), scorer, progress=show)
    print(f"evidence scorer {scorer.name}: {added} new sentences embedded", file=sys.stderr)
