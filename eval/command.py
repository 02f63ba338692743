"""`rag eval`: registered here, in the measurement layer, so `ui` never imports `eval`.

Only `ui.cli` (the `rag` entry point, above both layers) lists this module.
The work itself is in `eval.cli`, imported when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.options import add_generator_options, add_index_options, entailment_from, generator_from, open_engine

NAME = "eval"
HELP = "measure retrieval, citations, refusals and speed"
DESCRIPTION = (
    "Ask every question of an eval set and report. Writes eval.json and eval.html (a self-contained report) "
    "to --out, prints a table, and exits 1 when a metric breaks a limit in the thresholds file."
)


def register(parser: argparse.ArgumentParser) -> None:
    add_index_options(parser)
    parser.add_argument("--set", type=Path, default=None, help="eval set JSONL (default: eval/sets/default.jsonl)")
    parser.add_argument(
        "--split", choices=["dev", "heldout"], default=None, help="only the questions of this split of the set"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: eval/reports/)")
    parser.add_argument("--thresholds", type=Path, default=None, help="gate config (default: eval/thresholds.json)")
    parser.add_argument(
        "--benchmark", choices=["scifact", "clapnq"], default=None, help="run an outside benchmark instead"
    )
    parser.add_argument("--data", type=Path, default=None, help="benchmark data folder")
    parser.add_argument("--limit", type=int, default=None, help="first N questions (--benchmark, --generator)")
    parser.add_argument(
        "--stride", type=int, default=None, help="with --generator: every Nth question (follow-ups keep their 1st turn)"
    )
    parser.add_argument(
        "--trust-model-refusal", action="store_true", help="with --generator: a model refusal stands (no fallback)"
    )
    add_generator_options(parser)


def run(args: argparse.Namespace) -> int:
    from eval.cli import run as run_eval

    generator = generator_from(args)
    return run_eval(args, open_engine, generator, entailment_from(args, generator))
