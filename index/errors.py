"""The project's one error hierarchy.

Every error says what to do next; the CLI and the web app turn them into
friendly messages at the edge, nothing below them prints.
"""

from __future__ import annotations

__all__ = [
    "DocumentLoadError",
    "IndexBusyError",
    "IndexChangedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "InvalidQuestionError",
    "NothingToIndexError",
    "PostgresUnavailableError",
    "RagError",
    "StoreUnavailableError",
    "UsageError",
]


class RagError(Exception):
    """Base class for every error this project raises on purpose."""


class DocumentLoadError(RagError):
    """A file could not be turned into a document (the reason is the message)."""


class IndexNotFoundError(RagError):
    def __init__(self, index_dir: object) -> None:
        super().__init__(f"no index at {index_dir}: run `rag index` to build it")


class IndexMismatchError(RagError):
    """The index on disk was built with another model or format version."""


class IndexBusyError(RagError):
    def __init__(self, index_dir: object) -> None:
        super().__init__(f"another process is building the index at {index_dir}; wait for it to finish and try again")


class IndexChangedError(RagError):
    """The index was rebuilt by another process while this one read it (the engine reloads and asks again)."""


class InvalidQuestionError(RagError):
    """The question cannot be asked (empty, or nothing searchable in it)."""


class NothingToIndexError(RagError):
    """The paths given hold no document that can be read; the index is left as it was."""


class UsageError(RagError):
    """A command was called wrongly (a bad flag value, options that exclude each other); the message says how."""


class StoreUnavailableError(RagError):
    """The PostgreSQL store cannot be reached or used (the message names the server, never the password)."""


class PostgresUnavailableError(RagError):
    """No local PostgreSQL can be started (index.pg_server: the wheel is missing, or no unprivileged user)."""
