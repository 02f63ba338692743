"""`rag mcp`: the MCP tools (ask, search, list_documents, get_document) over stdio, for MCP clients."""

from __future__ import annotations

import argparse
import sys

from rag.options import add_generator_options, add_index_options, entailment_from, generator_from, open_engine

NAME = "mcp"
HELP = "serve the MCP tools over stdio (for Claude Desktop and other MCP clients)"
DESCRIPTION = (
    "An MCP server on stdin/stdout with the tools ask, search, list_documents and get_document. "
    'Configure a client with command "rag" and args ["mcp", "--index-dir", "/path/to/.rag-index"].'
)


def register(parser: argparse.ArgumentParser) -> None:
    add_index_options(parser)
    add_generator_options(parser)


def run(args: argparse.Namespace) -> int:
    generator = generator_from(args)
    entailment = entailment_from(args, generator)
    from ui.mcp_server import build_mcp
    from ui.server_core import Service

    # stdout carries the protocol: everything else (build progress, notes) goes to stderr.
    engine = open_engine(args)
    load = getattr(generator, "load", None)
    if callable(load):
        print(f"loading {generator.name}...", file=sys.stderr, flush=True)
        load()
    build_mcp(Service(engine, generator, entailment, generator_kind=args.generator)).run("stdio")
    return 0
