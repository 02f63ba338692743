"""Alias of `rag eval --generator ...`: a language model's verified answers against extractive ones.

    python -m eval.benchmarks.generators --generator local --model-path PATH --stride 3

runs `rag eval --generator local --model-path PATH --stride 3`; every `rag eval`
option works (`--llm-model` names the model of an OpenAI-compatible endpoint).
The comparison itself lives in `eval.compare`; docs/llm.md describes the report.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--generator" or a.startswith("--generator=") for a in args):
        usage = "usage: python -m eval.benchmarks.generators --generator local|openai [rag eval options]"
        print(usage, file=sys.stderr)
        return 2
    import argparse

    from eval import command
    from rag.options import run_command

    parser = argparse.ArgumentParser(prog="python -m eval.benchmarks.generators", description=command.DESCRIPTION)
    command.register(parser)
    return run_command(command.run, parser.parse_args(args), prog="rag eval")


if __name__ == "__main__":
    sys.exit(main())
