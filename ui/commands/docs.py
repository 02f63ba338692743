"""`rag docs`: the indexed documents and their ids."""

from __future__ import annotations

import argparse
import json
import sys

from rag.options import add_index_options, check_collection, embedder_from, index_dir_from, scorer_from, store_from
from ui.terminal import terminal_safe

NAME = "docs"
HELP = "list the indexed documents"


def register(parser: argparse.ArgumentParser) -> None:
    add_index_options(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON list: doc_id, title, authors, date, chunks")


def run(args: argparse.Namespace) -> int:
    from index.open import read_store

    check_collection(args)
    data = read_store(index_dir_from(args), store_from(args))
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
    scorer = scorer_from(args)
    print(f"evidence scorer: {(scorer or embedder_from(args)).name}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for row in rows:
            fields = [row["doc_id"], row["title"], ", ".join(row["authors"]), row["date"] or ""]
            print("\t".join(terminal_safe(str(field)) for field in fields))
    return 0
