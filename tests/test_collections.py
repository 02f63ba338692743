"""Collections under one index root (index/collections.py), with the counting fake embedder: no model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.builder import build_index
from index.collections import (
    DEFAULT_COLLECTION,
    MAX_NAME_CHARS,
    CollectionNotFoundError,
    collection_dir,
    collection_names,
    create_collection,
    delete_collection,
    describe_collection,
    list_collections,
    remove_deleted,
    rename_collection,
    validate_name,
)
from index.errors import UsageError
from index.store import read_manifest
from rag.engine import Engine
from tests.fakes import PEACE, TALKS, CountingEmbedder


def _corpus(folder: Path, **texts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, text in texts.items():
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "../up", "a/b", "a\\b", ".hidden", " padded", "padded ", "tab\there", "nul\x00", "x" * 65, "a:b"],
)
def test_bad_names_are_refused_with_the_rule(name: str):
    with pytest.raises(UsageError, match="collection name is 1 to 64 characters"):
        validate_name(name)


@pytest.mark.parametrize("name", ["notes", "Team notes 2026", "a.b-c_d", "Статьи", "x" * MAX_NAME_CHARS])
def test_good_names_pass(name: str):
    assert validate_name(name) == name


def test_layout_default_is_the_root_and_others_are_folders(tmp_path: Path):
    assert collection_dir(tmp_path, None) == tmp_path
    assert collection_dir(tmp_path, DEFAULT_COLLECTION) == tmp_path
    assert collection_dir(tmp_path, "notes") == tmp_path / "collections" / "notes"
    with pytest.raises(UsageError):
        collection_dir(tmp_path, "../escape")
    assert collection_names(tmp_path) == [DEFAULT_COLLECTION]  # always there, even before anything is indexed
    create_collection(tmp_path, "zeta")
    create_collection(tmp_path, "Alpha")
    assert collection_names(tmp_path) == [DEFAULT_COLLECTION, "Alpha", "zeta"]


def test_create_refuses_a_taken_name(tmp_path: Path):
    create_collection(tmp_path, "notes")
    with pytest.raises(UsageError, match="already exists"):
        create_collection(tmp_path, "notes")
    with pytest.raises(UsageError, match="already exists"):
        create_collection(tmp_path, DEFAULT_COLLECTION)


def test_each_collection_keeps_its_own_manifest_and_counts(tmp_path: Path):
    embedder = CountingEmbedder()
    build_index([_corpus(tmp_path / "a", talks=TALKS)], collection_dir(tmp_path, "talks"), embedder)
    build_index([_corpus(tmp_path / "b", talks=TALKS, peace=PEACE)], collection_dir(tmp_path, "both"), embedder)
    create_collection(tmp_path, "empty")
    infos = {info.name: info for info in list_collections(tmp_path)}
    assert list(infos) == [DEFAULT_COLLECTION, "both", "empty", "talks"]
    assert (infos["talks"].documents, infos["both"].documents) == (1, 2)
    assert infos["both"].chunks > infos["talks"].chunks > 0
    assert not infos["empty"].indexed and infos["empty"].updated is None
    assert not infos[DEFAULT_COLLECTION].indexed
    talks = read_manifest(collection_dir(tmp_path, "talks"))
    assert talks is not None and talks.sources == [str((tmp_path / "a").resolve())]  # its own sources
    assert infos["talks"].to_json()["documents"] == 1


def test_an_index_of_the_old_layout_is_the_default_collection_without_embedding_again(tmp_path: Path):
    embedder = CountingEmbedder()
    build_index([_corpus(tmp_path / "docs", talks=TALKS, peace=PEACE)], tmp_path / "root", embedder)  # the old way
    embedded_by_build = len(embedder.embedded)
    root = tmp_path / "root"

    (info,) = [i for i in list_collections(root) if i.name == DEFAULT_COLLECTION]
    assert (info.documents, info.indexed) == (2, True)
    engine = Engine.open(collection_dir(root, DEFAULT_COLLECTION), embedder=embedder, build_if_missing=False)
    answer = engine.ask("Who was dispatched to Geneva?")
    # Opening and asking embed the question (and evidence sentences), never the chunks again.
    chunks = {c.text for c in engine.data.chunks}
    assert not chunks & set(embedder.embedded[embedded_by_build:])
    assert any(c.doc_id == "talks" for c in answer.citations)
    again = build_index([tmp_path / "docs"], collection_dir(root, None), embedder)
    assert again.embedded == 0  # an update through the collections path reuses every vector


def test_rename_moves_the_whole_collection_atomically(tmp_path: Path):
    embedder = CountingEmbedder()
    build_index([_corpus(tmp_path / "a", talks=TALKS)], collection_dir(tmp_path, "old"), embedder)
    new_path = rename_collection(tmp_path, "old", "new name")
    assert new_path == collection_dir(tmp_path, "new name") and not collection_dir(tmp_path, "old").exists()
    assert describe_collection(tmp_path, "new name").documents == 1
    engine = Engine.open(new_path, embedder=embedder, build_if_missing=False)  # still a working index
    assert engine.data.documents.keys() == {"talks"}


def test_rename_refuses_what_would_lose_or_replace_something(tmp_path: Path):
    create_collection(tmp_path, "a")
    create_collection(tmp_path, "b")  # an empty folder: os.rename alone would replace it silently
    with pytest.raises(UsageError, match="already exists"):
        rename_collection(tmp_path, "a", "b")
    with pytest.raises(CollectionNotFoundError, match="no collection named 'missing'"):
        rename_collection(tmp_path, "missing", "c")
    with pytest.raises(UsageError, match="default collection is the index root"):
        rename_collection(tmp_path, DEFAULT_COLLECTION, "c")
    with pytest.raises(UsageError, match="collection name"):
        rename_collection(tmp_path, "a", "../c")
    assert collection_names(tmp_path) == [DEFAULT_COLLECTION, "a", "b"]


def test_delete_removes_one_collection_and_leaves_the_others(tmp_path: Path):
    embedder = CountingEmbedder()
    build_index([_corpus(tmp_path / "a", talks=TALKS)], collection_dir(tmp_path, "gone"), embedder)
    build_index([_corpus(tmp_path / "b", peace=PEACE)], collection_dir(tmp_path, "kept"), embedder)
    build_index([tmp_path / "b"], tmp_path, embedder)  # the default collection, at the root
    delete_collection(tmp_path, "gone")
    assert collection_names(tmp_path) == [DEFAULT_COLLECTION, "kept"]
    assert not any(p.name.startswith(".") for p in (tmp_path / "collections").iterdir())
    with pytest.raises(CollectionNotFoundError):
        delete_collection(tmp_path, "gone")

    delete_collection(tmp_path, DEFAULT_COLLECTION)
    assert not describe_collection(tmp_path, DEFAULT_COLLECTION).indexed
    assert describe_collection(tmp_path, "kept").documents == 1  # under the root, yet untouched


def test_a_delete_interrupted_after_its_rename_is_not_listed_and_is_cleaned_up(tmp_path: Path):
    create_collection(tmp_path, "doomed")
    # What a crash right after delete's rename leaves: the folder under its hidden name.
    os.rename(collection_dir(tmp_path, "doomed"), tmp_path / "collections" / ".deleted-doomed-1")
    assert collection_names(tmp_path) == [DEFAULT_COLLECTION]
    remove_deleted(tmp_path)
    assert list((tmp_path / "collections").iterdir()) == []


def test_describe_an_unknown_collection_says_how_to_make_it(tmp_path: Path):
    with pytest.raises(CollectionNotFoundError, match="rag index --collection nope PATH"):
        describe_collection(tmp_path, "nope")


def test_the_manifest_records_when_each_document_was_indexed(tmp_path: Path):
    embedder = CountingEmbedder()
    corpus = _corpus(tmp_path / "a", talks=TALKS)
    build_index([corpus], tmp_path / "idx", embedder)
    first = read_manifest(tmp_path / "idx")
    assert first is not None
    talks_at = first.documents["talks"]["indexed"]
    assert isinstance(talks_at, float) and talks_at <= first.created
    (corpus / "peace.txt").write_text(PEACE, encoding="utf-8")
    build_index([corpus], tmp_path / "idx", embedder)
    second = read_manifest(tmp_path / "idx")
    assert second is not None
    assert second.documents["talks"]["indexed"] == talks_at  # unchanged bytes keep their time
    assert second.documents["peace"]["indexed"] > talks_at


def test_a_folder_made_by_hand_with_a_refused_name_is_not_listed(tmp_path: Path) -> None:
    create_collection(tmp_path, "news")
    (tmp_path / "collections" / "bad:name").mkdir()
    assert collection_names(tmp_path) == ["default", "news"]


def test_a_named_collection_with_a_postgresql_store_is_refused_in_words() -> None:
    import argparse

    from rag.options import store_from

    url = "postgresql://rag@127.0.0.1:5433/rag"
    assert store_from(argparse.Namespace(store=url, collection=None)) == url
    with pytest.raises(UsageError, match="one database per collection"):
        store_from(argparse.Namespace(store=url, collection="news"))
