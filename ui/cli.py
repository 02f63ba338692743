"""The `rag` command: index, ask, chat, docs, eval.

Heavy modules are imported inside each command so `rag --help` is instant.
Errors from below arrive as RagError and leave as one readable line on stderr
with exit code 2 (bad input) or 1 (anything else that went wrong).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from index.errors import InvalidQuestionError, NothingToIndexError, RagError

__all__ = ["main"]


def _add_index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="index folder (default: .rag-index/ in the project, or $RAG_INDEX_DIR)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="sentence-transformers model name or path (default: packaged all-MiniLM-L6-v2, or $RAG_MODEL)",
    )


MAX_K = 50  # as rag.engine clamps it


def _passage_count(text: str) -> int:
    """--k: a whole number of passages from 1 to MAX_K."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes a whole number from 1 to {MAX_K}, not {text!r}") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"--k takes a whole number from 1 to {MAX_K}, not {k}")
    return k


def _add_generator_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("LLM answers (every generated sentence is verified against a quote)")
    group.add_argument(
        "--generator",
        choices=["extractive", "local", "openai"],  # rag.generators.GENERATOR_KINDS (imported lazily)
        default="extractive",
        help="extractive (default, no model), local (a GGUF file via llama-cpp-python) or openai (any "
        "OpenAI-compatible endpoint)",
    )
    group.add_argument("--model-path", default=os.environ.get("RAG_GGUF"), help="GGUF file for --generator local")
    group.add_argument("--base-url", default=os.environ.get("RAG_LLM_URL"), help="API root for --generator openai")
    group.add_argument("--llm-model", default=os.environ.get("RAG_LLM_MODEL", "default"), help="model name to request")
    group.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    group.add_argument(
        "--llm-verify",
        action="store_true",
        help="also ask the model to confirm (yes/no) every sentence the support score kept; slower, stricter",
    )


def _generator(args: argparse.Namespace):
    from rag.generators import GenerationError, make_generator

    try:
        return make_generator(
            args.generator,
            model_path=args.model_path,
            base_url=args.base_url,
            llm_model=args.llm_model,
            api_key_env=args.api_key_env,
        )
    except GenerationError as error:  # a missing option is bad input (exit code 2)
        raise InvalidQuestionError(str(error)) from error


def _entailment(args: argparse.Namespace, generator):
    """The yes/no judge of --llm-verify (the same model), or None."""
    if not getattr(args, "llm_verify", False):
        return None
    if generator is None:
        raise InvalidQuestionError("--llm-verify needs --generator local or --generator openai")
    from rag.entailment import LlmJudge

    return LlmJudge(generator)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Grounded answers with verbatim quotes from your documents."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="build or update the index (only new or changed files are embedded)")
    index.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="files or folders (default: the last indexed sources, else the shipped corpus/)",
    )
    _add_index_options(index)
    index.add_argument("--json", action="store_true", help="print one JSON summary object")
    index.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything again")
    index.add_argument(
        "--vector-index",
        choices=["auto", "flat", "hnsw"],
        default="auto",
        help="FAISS index type (auto: flat up to 50,000 chunks, HNSW above)",
    )
    index.add_argument("--chunk-size", type=int, default=None, help="chunk size in model tokens (default 128)")

    ask = commands.add_parser("ask", help="answer a question with quotes from the documents")
    ask.add_argument("question", nargs="?", help="the question (or use --questions)")
    _add_index_options(ask)
    ask.add_argument("--k", type=_passage_count, default=5, help=f"passages to retrieve, 1 to {MAX_K} (default 5)")
    ask.add_argument(
        "--doc", action="append", default=[], metavar="DOC_ID", help="only search this document (repeatable)"
    )
    ask.add_argument(
        "--history", type=Path, help='JSON file with earlier turns: [{"role": "user"|"assistant", "content": ...}]'
    )
    ask.add_argument(
        "--questions", type=Path, help='JSONL file of {"id", "question"[, "history"]} lines, answered in one process'
    )
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON (one line per question)")
    _add_generator_options(ask)

    chat = commands.add_parser("chat", help="start the web chat")
    _add_index_options(chat)
    chat.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    chat.add_argument("--port", type=int, default=7860)
    chat.add_argument("--auth", default=None, help="require a login, as user:password (or set RAG_AUTH)")
    chat.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    chat.add_argument("--feedback-log", type=Path, default=None, help="where thumbs up/down are appended (JSONL)")
    _add_generator_options(chat)

    docs = commands.add_parser("docs", help="list the indexed documents")
    _add_index_options(docs)
    docs.add_argument("--json", action="store_true", help="print a JSON list: doc_id, title, authors, date, chunks")

    evaluate = commands.add_parser(
        "eval",
        help="measure retrieval, citations, refusals and speed",
        description="Ask every question of an eval set and report. Writes eval.json and eval.html (a "
        "self-contained report) to --out, prints a table, and exits 1 when a metric breaks a limit in the "
        "thresholds file.",
    )
    _add_index_options(evaluate)
    evaluate.add_argument("--set", type=Path, default=None, help="eval set JSONL (default: eval/sets/default.jsonl)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--out", type=Path, default=None, help="report folder (default: eval/reports/)")
    evaluate.add_argument("--thresholds", type=Path, default=None, help="gate config (default: eval/thresholds.json)")
    evaluate.add_argument(
        "--benchmark", choices=["scifact", "clapnq"], default=None, help="run an outside benchmark instead"
    )
    evaluate.add_argument("--data", type=Path, default=None, help="benchmark data folder")
    evaluate.add_argument("--limit", type=int, default=None, help="first N questions (--benchmark, --generator)")
    evaluate.add_argument(
        "--stride", type=int, default=None, help="with --generator: every Nth question (follow-ups keep their 1st turn)"
    )
    evaluate.add_argument(
        "--trust-model-refusal", action="store_true", help="with --generator: a model refusal stands (no fallback)"
    )
    _add_generator_options(evaluate)
    return parser


def _embedder(args: argparse.Namespace):
    from index.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(args.model)


def _index_dir(args: argparse.Namespace) -> Path:
    from index.paths import default_index_dir

    return Path(args.index_dir) if args.index_dir else default_index_dir()


def _print_summary(summary, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.to_json()))
        return
    print(
        f"indexed {summary.documents} documents, {summary.chunks} chunks "
        f"({summary.embedded} embedded, {summary.removed} removed) in {summary.seconds:.1f}s"
    )
    for path, reason in summary.skipped:
        print(f"  skipped {path}: {reason}")


def cmd_index(args: argparse.Namespace) -> int:
    from index.builder import DEFAULT_CHUNK_SIZE, build_index
    from index.paths import DEFAULT_CORPUS
    from index.store import read_manifest

    index_dir = _index_dir(args)
    paths = list(args.paths)
    try:
        manifest = read_manifest(index_dir)
    except RagError:
        manifest = None
    earlier = [Path(p) for p in manifest.sources] if manifest else []
    if not paths:
        paths = earlier or [DEFAULT_CORPUS]
    summary = build_index(
        paths,
        index_dir,
        _embedder(args),
        chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE,
        vector_index=args.vector_index,
        rebuild=args.rebuild,
        progress=(not args.json and sys.stderr.isatty()) or os.environ.get("RAG_PROGRESS") == "1",
    )
    _print_summary(summary, args.json)
    dropped = [str(p) for p in earlier if p.resolve() not in {Path(q).resolve() for q in paths}]
    if dropped and summary.removed:
        import shlex

        sources = "these sources, indexed before, are" if len(dropped) > 1 else "this source, indexed before, is"
        documents = "1 document" if summary.removed == 1 else f"{summary.removed} documents"
        keep = " ".join(shlex.quote(p) for p in [*dropped, *(str(q) for q in paths)])
        print(
            f"note: the index now holds only the paths given; {sources} no longer read: {', '.join(dropped)} "
            f"({documents} removed). To keep them, name every source: rag index {keep}",
            file=sys.stderr,
        )
    return 0


def _open_engine(args: argparse.Namespace):
    from rag.engine import Engine

    def announce(summary) -> None:
        print(f"indexed {summary.documents} documents ({summary.chunks} chunks) before answering", file=sys.stderr)

    return Engine.open(_index_dir(args), embedder=_embedder(args), progress=sys.stderr.isatty(), on_build=announce)


def _read_history(raw: object, where: str) -> list:
    from rag.types import Turn

    if not isinstance(raw, list) or not all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in raw
    ):
        raise InvalidQuestionError(f'{where}: history must be a list of {{"role": "user"|"assistant", "content": str}}')
    return [Turn(t["role"], t["content"]) for t in raw]


_TERMINAL_CONTROLS = str.maketrans({code: "\ufffd" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]})


def terminal_safe(text: str) -> str:
    """Document text for a terminal: control characters (escape sequences that recolour or retitle the
    terminal, say) shown as U+FFFD, so a document cannot drive the terminal it is read in."""
    return text.translate(_TERMINAL_CONTROLS)


def format_answer(answer) -> str:
    """The readable (non-JSON) form of an answer for a terminal."""
    lines = [answer.answer, ""]
    if answer.refused:
        if answer.passages:
            lines.append("Closest passages (they do not answer the question):")
            for p in answer.passages[:3]:
                lines.append(f"  - {p.title}: {' '.join(p.text.split())[:200]}...")
    else:
        for c in answer.citations:
            page = f", page {c.page}" if c.page else ""
            lines.append(f"[{c.n}] {c.title}{page}")
            lines.append(f"    “{' '.join(c.quote.split())}”")
    return "\n".join(terminal_safe(line) for line in lines).rstrip()


def cmd_ask(args: argparse.Namespace) -> int:
    if args.questions and args.question:
        raise InvalidQuestionError("give either a question or --questions FILE, not both")
    if not args.questions and (args.question is None or not args.question.strip()):
        raise InvalidQuestionError('the question is empty: rag ask "your question"')
    history = []
    if args.history:
        try:
            history = _read_history(json.loads(args.history.read_text(encoding="utf-8")), str(args.history))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidQuestionError(f"cannot read history file {args.history}: {error}") from error
    if not args.questions:
        from rag.engine import clean_question

        clean_question(args.question)  # fail on bad input before loading the model
    generator = _generator(args)
    entailment = _entailment(args, generator)
    engine = _open_engine(args)
    if args.questions:
        return _ask_many(_answerer(engine, generator, entailment), args)

    def show_draft(piece: str) -> None:  # a model's draft streams to stderr; the verified answer to stdout
        print(piece, end="", file=sys.stderr, flush=True)

    answer = _answerer(engine, generator, entailment, on_token=show_draft)(
        args.question, history, k=args.k, doc_ids=args.doc or None
    )
    if generator is not None:
        print(file=sys.stderr)
    print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else format_answer(answer))
    return 0


def _answerer(engine, generator, entailment, on_token=None):
    """`engine.ask`, or the same call answered by `generator` and verified: (question, history, **options)."""
    if generator is None:
        return engine.ask
    from functools import partial

    from rag.generated import answer_with_generator

    return partial(answer_with_generator, engine, generator=generator, entailment=entailment, on_token=on_token)


def _ask_many(answer_one, args: argparse.Namespace) -> int:
    """Answer every line of --questions in this one process (model loaded once)."""
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
            history = _read_history(item.get("history", []), "history")
            asked += 1
            answer = answer_one(item["question"], history, k=args.k, doc_ids=args.doc or None, id=item.get("id"))
        except (UnicodeDecodeError, json.JSONDecodeError, RagError) as error:
            failures += 1
            reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else error
            print(f"{args.questions}:{number}: skipped: {reason}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            label = f"[{item['id']}] " if item.get("id") is not None else ""
            print(terminal_safe(f"== {label}{answer.question}") + "\n" + format_answer(answer) + "\n", flush=True)
    if not asked and not failures:
        raise InvalidQuestionError(f'no questions in {args.questions}: one JSON object per line, with a "question"')
    return 2 if failures else 0


def cmd_docs(args: argparse.Namespace) -> int:
    from index.store import read_index

    data = read_index(_index_dir(args))
    rows = [
        {
            "doc_id": d.id,
            "title": d.title,
            "authors": list(d.authors),
            "date": d.date,
            "chunks": data.manifest.documents[d.id]["chunks"],
        }
        for d in data.documents.values()
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for row in rows:
            fields = [row["doc_id"], row["title"], ", ".join(row["authors"]), row["date"] or ""]
            print("\t".join(terminal_safe(str(field)) for field in fields))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from ui.web import serve

    auth = args.auth or os.environ.get("RAG_AUTH")
    if auth and ":" not in auth:
        raise InvalidQuestionError("--auth must look like user:password")
    generator = _generator(args)  # a missing --model-path or --base-url fails before anything loads
    entailment = _entailment(args, generator)
    engine = _open_engine(args)
    load = getattr(generator, "load", None)
    if callable(load):  # a local model: load it now, so a bad file fails here and not at the first question
        print(f"loading {generator.name}...", file=sys.stderr, flush=True)
        load()
    serve(
        engine,
        host=args.host,
        port=args.port,
        auth=auth,
        share=args.share,
        feedback_log=args.feedback_log,
        generator=generator,
        entailment=entailment,
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.cli import run

    generator = _generator(args)
    return run(args, _open_engine, generator, _entailment(args, generator))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"index": cmd_index, "ask": cmd_ask, "chat": cmd_chat, "docs": cmd_docs, "eval": cmd_eval}[args.command]
    try:
        return handler(args)
    except (InvalidQuestionError, NothingToIndexError) as error:
        print(f"rag: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`rag ask ... | head -1`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again
        return 141
    except RagError as error:
        print(f"rag: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
