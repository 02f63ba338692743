"""`rag chat`: the web chat."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from index.collections import DEFAULT_COLLECTION
from index.errors import UsageError
from rag.options import (
    add_generator_options,
    add_index_options,
    entailment_from,
    generator_from,
    index_root_from,
    load_generator_now,
    open_engine,
    store_from,
)
from ui.watching import add_watch_options

NAME = "chat"
HELP = "start the web chat"


def register(parser: argparse.ArgumentParser) -> None:
    add_index_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--auth", default=None, help="require a login, as user:password (or set RAG_AUTH)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    parser.add_argument("--feedback-log", type=Path, default=None, help="where thumbs up/down are appended (JSONL)")
    add_generator_options(parser)
    add_watch_options(parser, "while the chat runs")


def run(args: argparse.Namespace) -> int:
    from ui.watching import engine_watching
    from ui.web import serve

    auth = args.auth or os.environ.get("RAG_AUTH")
    if auth and ":" not in auth:
        raise UsageError("--auth must look like user:password")
    if args.watch and store_from(args):
        raise UsageError("--watch keeps a local index up to date; with --store, run `rag index --store URL` instead")
    generator = generator_from(args)  # a missing --model-path or --base-url fails before anything loads
    entailment = entailment_from(args, generator)
    engine = open_engine(args)
    load_generator_now(generator)
    with engine_watching(engine, args.debounce, enabled=args.watch):
        serve(
            engine,
            host=args.host,
            port=args.port,
            auth=auth,
            share=args.share,
            feedback_log=args.feedback_log,
            generator=generator,
            entailment=entailment,
            index_root=index_root_from(args),
            collection=args.collection or DEFAULT_COLLECTION,
        )
    return 0
