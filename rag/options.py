"""The command-line options every `rag` subcommand shares, and what they turn into.

    add_index_options(parser); add_generator_options(parser)   # when a subcommand registers
    engine = open_engine(args); generator = generator_from(args)  # when it runs
    return run_command(command.run, args)                       # errors -> one line and an exit code

They live on the query side, not in `ui/`, because both `ui` commands and the
`eval` command use them and those two layers never import each other. Light at
import time (argparse only): heavy modules load inside the functions that need
them, so `rag --help` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from index.errors import InvalidQuestionError, NothingToIndexError, RagError, UsageError
from rag.questions import MAX_K
from rag.types import GENERATOR_KINDS

__all__ = [
    "GENERATOR_KINDS",
    "add_generator_options",
    "add_index_options",
    "check_collection",
    "embed_backend_from",
    "embedder_from",
    "entailment_from",
    "generator_from",
    "index_dir_from",
    "index_root_from",
    "load_generator_now",
    "open_engine",
    "passage_count",
    "run_command",
    "scorer_from",
    "store_from",
]


def add_index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="index folder (default: .rag-index/ in the project, or $RAG_INDEX_DIR)",
    )
    parser.add_argument(
        "--store",
        default=os.environ.get("RAG_STORE") or None,
        metavar="URL",
        help="keep the index in PostgreSQL + pgvector instead of --index-dir: a postgresql:// URL (or $RAG_STORE); "
        "readers may list a primary and replicas with target_session_attrs=prefer-standby (docs/scaling.md)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="sentence-transformers model name or path (default: packaged all-MiniLM-L6-v2, or $RAG_MODEL)",
    )
    parser.add_argument(
        "--embed-backend",
        choices=EMBED_BACKENDS,
        default=None,
        help="what runs the embedding model: torch, onnx (ONNX Runtime, the same vectors) or onnx-int8 (quantized, "
        "faster, vectors within ~0.02 cosine); default: $RAG_EMBED_BACKEND, else the one the index was built with, "
        "else onnx for the packaged model and torch for others (docs/benchmarks.md, 'Embedding backends')",
    )
    parser.add_argument(
        "--collection",
        default=os.environ.get("RAG_COLLECTION") or None,
        metavar="NAME",
        help="a named collection under the index folder (default: the `default` collection, or "
        "$RAG_COLLECTION); `rag collections` lists them (docs/collections.md)",
    )
    parser.add_argument(
        "--scorer",
        choices=SCORERS,
        default=os.environ.get("RAG_EVIDENCE_SCORER", "auto"),
        help="the model that scores evidence sentences: auto (default: embeddinggemma when it is installed, else "
        "minilm), minilm (the index's own model) or embeddinggemma (EmbeddingGemma-300M, fetched by "
        "scripts/fetch_scorer.sh; better evidence, about 45 ms more per answer: docs/scorer.md)",
    )


def passage_count(text: str) -> int:
    """--k: a whole number of passages from 1 to MAX_K."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes a whole number from 1 to {MAX_K}, not {text!r}") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"--k takes a whole number from 1 to {MAX_K}, not {k}")
    return k


def add_generator_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("LLM answers (every generated sentence is verified against a quote)")
    group.add_argument(
        "--generator",
        choices=GENERATOR_KINDS,
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


SCORERS = ("auto", "minilm", "embeddinggemma")
# index.onnx_embedder.EMBED_BACKENDS, spelled out so that importing the options stays light (tests check they agree)
EMBED_BACKENDS = ("torch", "onnx", "onnx-int8")


def scorer_from(args: argparse.Namespace):
    """The evidence scorer --scorer names, or None for the index's own model.

    "auto" takes EmbeddingGemma when it is installed: it finds better evidence on every answerable
    category of the eval set at about 45 ms more per answer on ONNX Runtime (docs/scorer.md); else MiniLM.
    """
    choice = getattr(args, "scorer", "auto")
    if choice not in ("auto", "embeddinggemma"):
        return None
    from index.embedder import installed_scorer_path
    from index.onnx_embedder import make_scorer

    if installed_scorer_path() is None:
        if choice == "auto":
            return None
        raise UsageError("--scorer embeddinggemma needs the model: run `bash scripts/fetch_scorer.sh` first")
    return make_scorer()


def embedder_from(args: argparse.Namespace):
    """The embedding model --model names, run by `embed_backend_from(args)`."""
    from index.onnx_embedder import make_embedder

    return make_embedder(args.model, embed_backend_from(args))


def embed_backend_from(args: argparse.Namespace) -> str:
    """--embed-backend, else $RAG_EMBED_BACKEND, else the backend the index was built with (so questions are
    embedded as its chunks were, and an update does not re-embed it with another), else the default (onnx for
    the packaged model: index.onnx_embedder.default_backend)."""
    from index.onnx_embedder import BACKEND_ENV, default_backend
    from index.open import stored_manifest

    chosen = getattr(args, "embed_backend", None)
    if chosen or os.environ.get(BACKEND_ENV):
        return chosen or default_backend(getattr(args, "model", None))
    try:
        manifest = stored_manifest(index_dir_from(args), store_from(args))  # the PostgreSQL index's, with --store
    except RagError:  # a damaged or older index: its own command reports that
        manifest = None
    return manifest.embed_backend if manifest is not None else default_backend(getattr(args, "model", None))


def index_root_from(args: argparse.Namespace) -> Path:
    """The index root: --index-dir, else $RAG_INDEX_DIR or .rag-index/ (it holds every collection)."""
    from index.paths import default_index_dir

    return Path(args.index_dir) if args.index_dir else default_index_dir()


def index_dir_from(args: argparse.Namespace) -> Path:
    """The index folder of --collection under the index root (the root itself for the default collection)."""
    from index.collections import collection_dir

    return collection_dir(index_root_from(args), getattr(args, "collection", None))


def check_collection(args: argparse.Namespace) -> None:
    """A named --collection must exist and hold an index before it can answer (only `default` builds itself)."""
    from index.collections import DEFAULT_COLLECTION, describe_collection

    name = getattr(args, "collection", None)
    if name is None or name == DEFAULT_COLLECTION:
        return
    if not describe_collection(index_root_from(args), name).indexed:
        # (an unknown name is a CollectionNotFoundError from describe_collection)
        raise UsageError(f"the collection {name!r} has no documents yet: rag index --collection {name} PATH")


def store_from(args: argparse.Namespace) -> str | None:
    """--store (or $RAG_STORE): the PostgreSQL URL holding the index, or None for the local --index-dir."""
    store = getattr(args, "store", None)
    if not store:
        return None
    if not store.startswith(("postgresql://", "postgres://")):
        raise UsageError("--store takes a postgresql:// URL, like postgresql://user@host:5432/db")
    if getattr(args, "collection", None) not in (None, "default"):
        raise UsageError(
            "--collection works with the local index only; with --store, use one database per collection (a URL each)"
        )
    return store


def open_engine(args: argparse.Namespace):
    """The Engine on --index-dir, built first when there is none (saying so on stderr)."""
    from rag.engine import Engine

    def announce(summary) -> None:
        print(f"indexed {summary.documents} documents ({summary.chunks} chunks) before answering", file=sys.stderr)

    check_collection(args)
    return Engine.open(
        index_dir_from(args),
        embedder=embedder_from(args),
        progress=sys.stderr.isatty(),
        on_build=announce,
        scorer=scorer_from(args),
        store=store_from(args),
    )


def generator_from(args: argparse.Namespace):
    """The generator --generator names (None for extractive); a missing option is a UsageError."""
    from rag.generators import GenerationError, make_generator

    try:
        return make_generator(
            args.generator,
            model_path=args.model_path,
            base_url=args.base_url,
            llm_model=args.llm_model,
            api_key_env=args.api_key_env,
        )
    except GenerationError as error:
        raise UsageError(str(error)) from error


def entailment_from(args: argparse.Namespace, generator):
    """The yes/no judge of --llm-verify (the same model), or None."""
    if not getattr(args, "llm_verify", False):
        return None
    if generator is None:
        raise UsageError("--llm-verify needs --generator local or --generator openai")
    from rag.entailment import LlmJudge

    return LlmJudge(generator)


def load_generator_now(generator) -> None:
    """A local model loads now (a bad file fails at start, not at the first question); others need nothing."""
    load = getattr(generator, "load", None)
    if callable(load):
        print(f"loading {generator.name}...", file=sys.stderr, flush=True)
        load()


def run_command(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace, prog: str = "rag") -> int:
    """Run a subcommand; a RagError leaves as one line on stderr, never a traceback.

    Exit codes: 2 for input that cannot be used (a bad question, flag or path), 1 for
    anything else that went wrong, 141 when the reader of stdout went away, 130 on Ctrl-C.
    """
    try:
        return handler(args)
    except (InvalidQuestionError, NothingToIndexError, UsageError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`rag ask ... | head -1`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again
        return 141
    except RagError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
