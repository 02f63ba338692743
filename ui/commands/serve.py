"""`rag serve`: the HTTP API (answers, search, documents, OpenAI chat completions, MCP at /mcp)."""

from __future__ import annotations

import argparse
import os
import sys

from index.errors import UsageError
from rag.options import (
    add_generator_options,
    add_index_options,
    entailment_from,
    generator_from,
    load_generator_now,
    open_engine,
)

NAME = "serve"
HELP = "serve the HTTP API (OpenAI-compatible chat, MCP at /mcp)"
DESCRIPTION = (
    "One process answers over HTTP with the model and index loaded once: POST /v1/ask, GET /v1/search, "
    "/v1/documents, POST /v1/chat/completions (OpenAI format), /mcp (MCP, streamable HTTP). API docs at /docs."
)
KEY_ENV = "RAG_API_KEY"


def port_number(text: str) -> int:
    """--port: a whole number from 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port takes a whole number from 1 to 65535, not {text!r}")
    return port


def register(parser: argparse.ArgumentParser) -> None:
    add_index_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=port_number, default=8000, help="port (default 8000)")
    # (--api-key-env is the language model's key, from the generator options below)
    parser.add_argument(
        "--server-key-env",
        default=KEY_ENV,
        metavar="VAR",
        help=f"environment variable holding the key clients must send as 'Authorization: Bearer KEY' (default "
        f"{KEY_ENV}); required when --host is not a loopback address, always checked when set",
    )
    add_generator_options(parser)


def api_key(args: argparse.Namespace) -> str | None:
    """The server's API key, or None; a UsageError when a non-loopback host has none."""
    from ui.server import is_loopback

    key = os.environ.get(args.server_key_env, "").strip() or None
    if key is None and not is_loopback(args.host):
        raise UsageError(
            f"refusing to serve on {args.host} without an API key: anyone who can reach it could read and "
            f"delete documents. Set ${args.server_key_env} to a secret (clients send it as "
            "'Authorization: Bearer <key>'), or serve on 127.0.0.1"
        )
    return key


def check_port(host: str, port: int) -> None:
    """A UsageError now when the address cannot be bound, rather than after the model has loaded."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port} ({error.strerror or error}); choose another --port") from None


def run(args: argparse.Namespace) -> int:
    key = api_key(args)  # before anything loads
    check_port(args.host, args.port)
    generator = generator_from(args)
    entailment = entailment_from(args, generator)
    from ui.server import serve
    from ui.server_core import Service

    engine = open_engine(args)
    load_generator_now(generator)
    service = Service(engine, generator, entailment, generator_kind=args.generator)
    where = f"http://{args.host}:{args.port}"
    print(
        f"rag serve: {len(engine.data.documents)} documents; {where}/v1 (API docs {where}/docs, MCP {where}/mcp)"
        + ("; API key required" if key else ""),
        file=sys.stderr,
        flush=True,
    )
    serve(service, host=args.host, port=args.port, api_key=key)
    return 0
