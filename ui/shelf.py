"""The engines of the collections under one index root, for the web chat: each opened on first use, then kept.

shelf = Shelf(index_root, "default", engine)   # the engine the page started with
shelf.engine("news")                          # opened now (sharing the models), kept for the next session
shelf.new_collection("drafts")                # stands in for an engine until its first upload is indexed
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.collections import collection_dir, collection_names, describe_collection
from index.errors import UsageError
from index.open import update_sources
from index.store import read_index
from index.types import Document
from rag.engine import Engine

__all__ = ["Shelf"]


class Shelf:
    """The engines of the collections under one index root: each opened on first use, then kept."""

    def __init__(self, root: Path, name: str, engine: Engine) -> None:
        self.root = Path(root)
        self.first = name
        self._engines: dict[str, Engine] = {name: engine}
        self._open_lock = threading.Lock()  # one collection opens at a time (it loads an index)

    def names(self) -> list[str]:
        """The collections that can answer: those with an index."""
        return [name for name in collection_names(self.root) if describe_collection(self.root, name).indexed]

    def engine(self, name: str) -> Engine:
        """The engine of collection `name`, opened now if no session has picked it yet. A collection
        renamed or deleted from the command line meanwhile is dropped (and then not found)."""
        engine = self._engines.get(name)
        if engine is not None and engine.index_dir.is_dir():
            return engine
        with self._open_lock:
            engine = self._engines.get(name)
            if engine is not None and not engine.index_dir.is_dir():
                del self._engines[name]
                engine = None
            if engine is None:  # not opened by another session while this one waited
                if not describe_collection(self.root, name).indexed:
                    raise UsageError(f"the collection {name!r} has no documents yet: upload some into it")
                model = self._engines[self.first]
                engine = Engine.open(
                    collection_dir(self.root, name),
                    embedder=model.embedder,
                    settings=model.settings,
                    scorer=model.scorer,
                    build_if_missing=False,
                )
                self._engines[name] = engine
        return engine

    def add(self, name: str, engine: Engine) -> None:
        self._engines[name] = engine

    def new_collection(self, name: str) -> _NewCollection:
        """A collection with no index yet, for `add_uploads`: its first upload builds the index."""
        model = self._engines[self.first]
        return _NewCollection(collection_dir(self.root, name), model)


@dataclass(frozen=True)
class _NoDocuments:
    documents: dict[str, Document] = field(default_factory=dict)


class _NewCollection:
    """Stands in for the engine of a collection that has no index yet, where `add_uploads` takes one:
    adding documents builds the collection's first index, and `engine` is opened on it."""

    def __init__(self, index_dir: Path, model: Engine) -> None:
        self.index_dir = index_dir
        self.model = model
        self.data: object = _NoDocuments()
        self.engine: Engine | None = None

    def add_documents(self, paths: Sequence[Path], *, progress: bool = False):
        summary = update_sources(self.index_dir, self.model.embedder, list(paths), progress=progress)
        data = read_index(self.index_dir, expect_model=self.model.embedder.name)
        self.engine = Engine(data, self.model.embedder, self.index_dir, self.model.settings, self.model.scorer)
        self.data = self.engine.data
        return summary
