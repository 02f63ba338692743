"""`rag collections`: list, create, rename and delete the named collections under the index folder."""

from __future__ import annotations

import argparse
import datetime
import json
import shlex

from index.errors import UsageError
from rag.options import index_root_from
from ui.terminal import terminal_safe

NAME = "collections"
HELP = "list, create, rename or delete collections (named indexes under one index folder)"
DESCRIPTION = (
    "Collections are separate indexes under one index folder, each with its own documents, uploads and "
    "settings. Fill one with `rag index --collection NAME PATH`, ask it with `rag ask --collection NAME`. "
    "The index built without --collection is the `default` collection."
)


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="list the collections with their document and chunk counts (default)")
    create = actions.add_parser("create", help="make an empty collection")
    create.add_argument("name")
    rename = actions.add_parser("rename", help="rename a collection")
    rename.add_argument("old")
    rename.add_argument("new")
    delete = actions.add_parser("delete", help="delete a collection with its index and uploaded files")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="really delete (required: this cannot be undone)")
    for sub in (parser, listing, create, rename, delete):
        sub.add_argument(
            "--index-dir",
            default=argparse.SUPPRESS if sub is not parser else None,
            help="index folder holding the collections (default: .rag-index/ in the project, or $RAG_INDEX_DIR)",
        )
        sub.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS if sub is not parser else False,
            help="print JSON",
        )


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def run(args: argparse.Namespace) -> int:
    from index import collections

    root = index_root_from(args)
    action = args.action or "list"
    if action == "list":
        infos = collections.list_collections(root)
        if args.json:
            print(json.dumps([info.to_json() for info in infos], ensure_ascii=False))
            return 0
        print("NAME\tDOCUMENTS\tCHUNKS\tUPDATED")
        for info in infos:
            state = _when(info.updated) if info.indexed else "not indexed yet"
            print(f"{terminal_safe(info.name)}\t{info.documents}\t{info.chunks}\t{state}")
        return 0
    if action == "create":
        path = collections.create_collection(root, args.name)
        _report(
            args,
            {"created": args.name, "path": str(path)},
            f"created collection {args.name!r}: fill it with rag index --collection {args.name} PATH",
        )
    elif action == "rename":
        path = collections.rename_collection(root, args.old, args.new)
        _report(
            args,
            {"renamed": args.old, "to": args.new, "path": str(path)},
            f"renamed collection {args.old!r} to {args.new!r}",
        )
    else:
        if not args.yes:
            info = collections.describe_collection(root, args.name)
            raise UsageError(
                f"deleting the collection {args.name!r} removes its index ({info.documents} documents) and its "
                f"uploaded files for good: run `rag collections delete {shlex.quote(args.name)} --yes` to do it"
            )
        collections.delete_collection(root, args.name)
        _report(args, {"deleted": args.name}, f"deleted collection {args.name!r}")
    return 0


def _report(args: argparse.Namespace, row: dict[str, object], text: str) -> None:
    print(json.dumps(row, ensure_ascii=False) if args.json else terminal_safe(text))
