"""`rag ask`: one question, or a JSONL file of them, answered with verified quotes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from index.errors import InvalidQuestionError, RagError, UsageError
from rag.options import (
    add_generator_options,
    add_index_options,
    entailment_from,
    generator_from,
    open_engine,
    passage_count,
)
from rag.questions import MAX_K
from ui.terminal import format_answer, printable, terminal_safe

NAME = "ask"
HELP = "answer a question with quotes from the documents"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", nargs="?", help="the question (or use --questions)")
    add_index_options(parser)
    parser.add_argument("--k", type=passage_count, default=5, help=f"passages to retrieve, 1 to {MAX_K} (default 5)")
    parser.add_argument(
        "--doc", action="append", default=[], metavar="DOC_ID", help="only search this document (repeatable)"
    )
    parser.add_argument(
        "--history", type=Path, help='JSON file with earlier turns: [{"role": "user"|"assistant", "content": ...}]'
    )
    parser.add_argument(
        "--questions", type=Path, help='JSONL file of {"id", "question"[, "history"]} lines, answered in one process'
    )
    parser.add_argument("--json", action="store_true", help="print the answer object as JSON (one line per question)")
    parser.add_argument(
        "--server",
        default=os.environ.get("RAG_SERVER") or None,
        metavar="URL",
        help="ask a running `rag serve` at URL instead of loading the model here (or set RAG_SERVER); "
        "its key, if any, from $RAG_API_KEY",
    )
    add_generator_options(parser)


def read_history(raw: object, where: str) -> list:
    """Turns from parsed JSON: a list of {"role": "user"|"assistant", "content": str}."""
    from rag.types import Turn

    if not isinstance(raw, list) or not all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in raw
    ):
        raise InvalidQuestionError(f'{where}: history must be a list of {{"role": "user"|"assistant", "content": str}}')
    return [Turn(t["role"], t["content"]) for t in raw]


def _history_file(path: Path | None) -> list:
    if path is None:
        return []
    try:
        return read_history(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidQuestionError(f"cannot read history file {path}: {error}") from error


def _answerer(engine, generator, entailment, on_token=None) -> Callable:
    """`engine.ask`, or the same call answered by `generator` and verified: (question, history, **options)."""
    if generator is None:
        return engine.ask
    from functools import partial

    from rag.generated import answer_with_generator

    return partial(answer_with_generator, engine, generator=generator, entailment=entailment, on_token=on_token)


def _show(answer, as_json: bool) -> str:
    if as_json:
        return printable(json.dumps(answer.to_json(), ensure_ascii=False))
    return format_answer(answer)


def run(args: argparse.Namespace) -> int:
    if args.questions and args.question:
        raise UsageError("give either a question or --questions FILE, not both")
    if not args.questions and (args.question is None or not args.question.strip()):
        raise InvalidQuestionError('the question is empty: rag ask "your question"')
    history = _history_file(args.history)
    if not args.questions:
        from rag.questions import clean_question

        clean_question(args.question)  # fail on bad input before loading the model
    if args.server:
        return _ask_server(args, history)
    generator = generator_from(args)
    entailment = entailment_from(args, generator)
    engine = open_engine(args)
    if args.questions:
        return _ask_many(_answerer(engine, generator, entailment), args)

    def show_draft(piece: str) -> None:  # a model's draft streams to stderr; the verified answer to stdout
        print(printable(piece), end="", file=sys.stderr, flush=True)

    answer = _answerer(engine, generator, entailment, on_token=show_draft)(
        args.question, history, k=args.k, doc_ids=args.doc or None
    )
    if generator is not None:
        print(file=sys.stderr)
    print(_show(answer, args.json))
    return 0


def _ask_server(args: argparse.Namespace, history: list) -> int:
    """The same output, answered by a running `rag serve` (no model loaded here)."""
    import httpx

    from ui.client import ask_server

    with httpx.Client() as client:

        def answer_one(question, history, **options):
            generator = None if args.generator == "extractive" else args.generator
            return ask_server(args.server, question, history, generator=generator, client=client, **options)

        if args.questions:
            return _ask_many(answer_one, args)
        print(_show(answer_one(args.question, history, k=args.k, doc_ids=args.doc or None), args.json))
    return 0


def _ask_many(answer_one: Callable, args: argparse.Namespace) -> int:
    """Answer every line of --questions in this one process (model loaded once).

    A line that cannot be answered (bad JSON, not UTF-8, no "question", or anything
    that fails while answering it) is reported with its line number on stderr and
    the others are still answered; the exit code is then 2.
    """
    try:
        raw_lines = args.questions.read_bytes().splitlines()
    except OSError as error:
        raise InvalidQuestionError(f"cannot read {args.questions}: {error}") from error
    failures = asked = 0
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")  # one bad line skips only itself
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise InvalidQuestionError('each line must be a JSON object with a "question" string')
            history = read_history(item.get("history", []), "history")
            asked += 1
            answer = answer_one(item["question"], history, k=args.k, doc_ids=args.doc or None, id=item.get("id"))
        except (UnicodeDecodeError, json.JSONDecodeError, RagError) as error:
            failures += 1
            reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else error
            print(printable(f"{args.questions}:{number}: skipped: {reason}"), file=sys.stderr)
            continue
        except Exception as error:
            failures += 1
            print(
                printable(
                    f"{args.questions}:{number}: skipped: could not be answered ({type(error).__name__}: {error})"
                ),
                file=sys.stderr,
            )
            continue
        if args.json:
            print(_show(answer, True), flush=True)
        else:
            label = f"[{item['id']}] " if item.get("id") is not None else ""
            print(terminal_safe(f"== {label}{answer.question}") + "\n" + format_answer(answer) + "\n", flush=True)
    if not asked and not failures:
        raise InvalidQuestionError(f'no questions in {args.questions}: one JSON object per line, with a "question"')
    return 2 if failures else 0
