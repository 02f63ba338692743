"""YAML front matter of Markdown files, read as hostile input.

Anchors and aliases are refused (a few hundred bytes of nested aliases expand
to gigabytes), and so is front matter over 64 KB, nesting deeper than 20
levels, or a shown field (title, authors, ...) over 2,000 characters; other
keys are kept, cut to that length.
"""

from __future__ import annotations

import functools
import re

from index.errors import DocumentLoadError

__all__ = ["MAX_FRONT_MATTER_BYTES", "MAX_FRONT_MATTER_DEPTH", "MAX_FRONT_MATTER_VALUE_CHARS", "read_markdown"]

MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_FRONT_MATTER_VALUE_CHARS = 2_000
MAX_FRONT_MATTER_DEPTH = 20

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.DOTALL)
# Front matter fields shown with a document (titles, citations): too long means broken, not truncated.
_SHOWN_FIELDS = ("title", "authors", "author", "date", "url", "publisher", "source_url")


@functools.cache
def _front_matter_loader() -> type:
    """yaml.SafeLoader that refuses anchors and aliases and deep nesting (made on first use: yaml loads lazily)."""
    import yaml

    class FrontMatterLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise DocumentLoadError(
                    "front matter uses YAML anchors or aliases (&name, *name), which are refused because a few "
                    "lines of them can expand to gigabytes: write each value out in full"
                )
            if self.depth >= MAX_FRONT_MATTER_DEPTH:
                raise DocumentLoadError(f"front matter nests deeper than {MAX_FRONT_MATTER_DEPTH} levels: flatten it")
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return FrontMatterLoader


def _parse_front_matter(source: str) -> dict:
    import yaml  # only Markdown with front matter needs it

    size = len(source.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise DocumentLoadError(
            f"front matter is {size // 1024} KB, over the {MAX_FRONT_MATTER_BYTES // 1024} KB limit: "
            "keep only the metadata there (title, authors, date...) and move the rest into the text"
        )
    try:
        meta = yaml.load(source, Loader=_front_matter_loader()) or {}  # a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as error:  # ValueError: e.g. an integer of 5,000 digits
        raise DocumentLoadError(f"front matter is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise DocumentLoadError("front matter must be a YAML mapping (key: value lines)")
    return meta


def _check_shown_value(key: object, value: object) -> None:
    """A shown field (title, authors, ...) of absurd length means broken front matter: say so, do not cut it."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        length = len(str(item))
        if length > MAX_FRONT_MATTER_VALUE_CHARS:
            raise DocumentLoadError(
                f"front matter value {str(key)!r} is {length:,} characters long, over the "
                f"{MAX_FRONT_MATTER_VALUE_CHARS:,} limit: shorten it (is a quote or a `---` line missing?)"
            )


def _kept_value(value: object) -> str | int | float | bool:
    """Another front matter key's value as stored: a scalar, or text cut to the length limit."""
    if isinstance(value, (str, int, float, bool)) and len(str(value)) <= MAX_FRONT_MATTER_VALUE_CHARS:
        return value
    return str(value)[:MAX_FRONT_MATTER_VALUE_CHARS]


def read_markdown(text: str) -> dict[str, object]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {"text": text}
    # Hostile or broken front matter skips the whole file with its reason, rather than indexing the
    # text without it: the file's title, authors and date would silently be wrong in every citation,
    # and the skip reason is the one place a person is told what to fix.
    meta = _parse_front_matter(match.group(1))
    for key in _SHOWN_FIELDS:
        if key in meta:
            _check_shown_value(key, meta[key])
    fields: dict[str, object] = {"text": text[match.end() :]}
    authors = meta.pop("authors", meta.pop("author", None))
    if authors:
        fields["authors"] = tuple(str(a) for a in (authors if isinstance(authors, list) else [authors]))
    for key in ("title", "date", "url", "publisher"):
        if meta.get(key) is not None:
            fields[key] = str(meta.pop(key))
    if "source_url" in meta and "url" not in fields:
        fields["url"] = str(meta.pop("source_url"))
    fields["extra"] = {str(k)[:200]: _kept_value(v) for k, v in meta.items()}
    return fields
