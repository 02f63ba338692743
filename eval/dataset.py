"""Load an eval set (JSONL; the format is documented in eval/sets/README.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import RagError
from index.paths import PROJECT_ROOT

__all__ = ["ALL_EVIDENCE_CATEGORIES", "DEFAULT_SET", "EvalItem", "Evidence", "load_set", "select_items"]

DEFAULT_SET = PROJECT_ROOT / "eval" / "sets" / "default.jsonl"
# In these categories every evidence span is needed; elsewhere any one will do.
ALL_EVIDENCE_CATEGORIES = frozenset({"multi_sentence", "comparison"})


@dataclass(frozen=True)
class Evidence:
    doc_id: str
    text: str


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    category: str
    answerable: bool
    evidence: tuple[Evidence, ...] = ()
    keywords: tuple[str, ...] = ()
    reference: str = ""
    follows: str | None = None
    standalone: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def needs_all_evidence(self) -> bool:
        return self.category in ALL_EVIDENCE_CATEGORIES


def load_set(path: Path) -> list[EvalItem]:
    """Parse an eval set; a malformed line stops with its line number."""
    items: list[EvalItem] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise RagError(f"cannot read eval set {path}: {error.strerror or error}") from error
    known: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            item = EvalItem(
                id=str(raw["id"]),
                question=raw["question"],
                category=raw.get("category", "factual" if raw.get("answerable", True) else "unanswerable"),
                answerable=bool(raw.get("answerable", True)),
                evidence=tuple(Evidence(e["doc_id"], e["text"]) for e in raw.get("evidence", [])),
                keywords=tuple(raw.get("keywords", [])),
                reference=raw.get("reference", ""),
                follows=raw.get("follows"),
                standalone=raw.get("standalone"),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise RagError(f"{path}:{number}: not a valid eval item ({error}); see eval/sets/README.md") from error
        if item.follows and item.follows not in known:
            raise RagError(f"{path}:{number}: follows {item.follows!r}, which is not an earlier item")
        known.add(item.id)
        items.append(item)
    if not items:
        raise RagError(f"eval set {path} has no questions")
    return items


def select_items(items: Sequence[EvalItem], limit: int | None = None, stride: int = 1) -> list[EvalItem]:
    """Every `stride`-th item, then the first `limit` of those, with the earlier turn of any follow-up kept."""
    if stride < 1 or (limit is not None and limit < 1):
        raise RagError("--stride and --limit must be at least 1")
    by_id = {item.id: item for item in items}
    picked = {item.id for item in list(items)[::stride][:limit]}
    for item_id in list(picked):
        while by_id[item_id].follows:
            item_id = by_id[item_id].follows  # type: ignore[assignment]
            picked.add(item_id)
    return [item for item in items if item.id in picked]
