"""`rag collections` and `--collection` as a user runs them: real subprocesses, the real model, tiny corpora."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GENEVA = "Secretary of State Marco Rubio was sent to Geneva to negotiate with President Zelensky."
HARVEST = "The apple harvest in Normandy was late this year because of a cold and wet spring."


def rag(*args: str, root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_INDEX_DIR": str(root)}
    env.pop("RAG_COLLECTION", None)
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def _folder(path: Path, name: str, text: str) -> Path:
    path.mkdir(parents=True)
    (path / f"{name}.txt").write_text(f"{name.title()}\n\n{text}\n", encoding="utf-8")
    return path


def test_collections_are_indexed_asked_listed_renamed_and_deleted_separately(tmp_path: Path):
    root = tmp_path / "root"
    talks = _folder(tmp_path / "talks", "talks", GENEVA)
    farming = _folder(tmp_path / "farming", "harvest", HARVEST)

    built = rag("index", "--collection", "news", str(talks), "--json", root=root)
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["documents"] == 1
    assert rag("index", "--collection", "farm", str(farming), root=root).returncode == 0

    listed = rag("collections", "--json", root=root)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert list(rows) == ["default", "farm", "news"]
    assert (rows["news"]["documents"], rows["farm"]["documents"], rows["default"]["indexed"]) == (1, 1, False)
    assert rows["news"]["chunks"] >= 1 and rows["news"]["path"] == str(root / "collections" / "news")

    # Each collection answers from its own documents only.
    asked = rag("ask", "--collection", "news", "Who was sent to Geneva?", "--json", root=root)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["refused"] and {c["doc_id"] for c in answer["citations"]} == {"talks"}
    elsewhere = json.loads(rag("ask", "--collection", "farm", "Who was sent to Geneva?", "--json", root=root).stdout)
    assert all(c["doc_id"] == "harvest" for c in elsewhere["citations"])

    renamed = rag("collections", "rename", "news", "world news", root=root)
    assert renamed.returncode == 0, renamed.stderr
    moved = rag("ask", "--collection", "world news", "Who was sent to Geneva?", "--json", root=root)
    assert {c["doc_id"] for c in json.loads(moved.stdout)["citations"]} == {"talks"}

    refused = rag("collections", "delete", "farm", root=root)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert (root / "collections" / "farm").is_dir()
    deleted = rag("collections", "delete", "farm", "--yes", "--json", root=root)
    assert deleted.returncode == 0 and json.loads(deleted.stdout) == {"deleted": "farm"}
    names = [row["name"] for row in json.loads(rag("collections", "--json", root=root).stdout)]
    assert names == ["default", "world news"]


def test_bad_and_unknown_names_are_one_line_usage_errors(tmp_path: Path):
    root = tmp_path / "root"
    bad = rag("collections", "create", "../up", root=root)
    assert bad.returncode == 2 and "bad collection name" in bad.stderr and "Traceback" not in bad.stderr
    unknown = rag("ask", "--collection", "nowhere", "Who?", root=root)
    assert unknown.returncode == 2 and "rag index --collection nowhere PATH" in unknown.stderr
    assert rag("collections", "create", "empty", root=root).returncode == 0
    empty = rag("ask", "--collection", "empty", "Who?", root=root)
    assert empty.returncode == 2 and "has no documents yet" in empty.stderr
    assert not (root / "collections" / "empty" / "CURRENT").exists()  # asking did not build the shipped corpus
    taken = rag("collections", "create", "empty", root=root)
    assert taken.returncode == 2 and "already exists" in taken.stderr


def test_an_index_built_without_collections_is_the_default_collection_as_it_is(tmp_path: Path):
    root = tmp_path / "root"
    talks = _folder(tmp_path / "talks", "talks", GENEVA)
    assert rag("index", str(talks), root=root).returncode == 0  # the way earlier versions built it
    rows = json.loads(rag("collections", "--json", root=root).stdout)
    assert rows == [
        {
            "name": "default",
            "path": str(root),
            "documents": 1,
            "chunks": rows[0]["chunks"],
            "indexed": True,
            "updated": rows[0]["updated"],
        }
    ]
    again = rag("index", "--collection", "default", "--json", root=root)  # its sources, through the collections path
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["embedded"] == 0
    asked = rag("ask", "--collection", "default", "Who was sent to Geneva?", "--json", root=root)
    assert {c["doc_id"] for c in json.loads(asked.stdout)["citations"]} == {"talks"}
