"""The `rag` command: the entry point, above the `ui` and `eval` layers; it only dispatches.

Each subcommand is a module with `NAME`, `HELP`, `register(parser)` and
`run(args)`: the interface commands in `ui/commands/`, and `rag eval` in
`eval.command` (this module is the one place allowed to import both layers;
tests/test_layers.py checks that). Errors from below arrive as RagError and
leave as one readable line on stderr (`rag.options.run_command`).
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from eval import command as eval_command
from rag.options import run_command
from ui.commands import ask, chat, collections, docs, mcp, serve
from ui.commands import index as index_command

__all__ = ["COMMANDS", "main"]

COMMANDS: tuple[ModuleType, ...] = (index_command, ask, chat, docs, collections, serve, mcp, eval_command)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Grounded answers with verbatim quotes from your documents."
    )
    subcommands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = subcommands.add_parser(command.NAME, help=command.HELP, description=getattr(command, "DESCRIPTION", None))
        command.register(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(args.run, args)


if __name__ == "__main__":
    sys.exit(main())
