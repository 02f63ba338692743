"""Load an eval set (JSONL; the format is documented in eval/sets/README.md).

`python -m eval.dataset assign-splits [PATH]` gives every item of a set that has
no `split` yet one (see `assign_splits`) and rewrites the file in place.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import RagError
from index.paths import PROJECT_ROOT

__all__ = [
    "ALL_EVIDENCE_CATEGORIES",
    "DEFAULT_SET",
    "SPLITS",
    "SPLIT_SEED",
    "EvalItem",
    "Evidence",
    "assign_splits",
    "load_set",
    "select_items",
    "write_splits",
]

DEFAULT_SET = PROJECT_ROOT / "eval" / "sets" / "default.jsonl"
# In these categories every evidence span is needed; elsewhere any one will do.
ALL_EVIDENCE_CATEGORIES = frozenset({"multi_sentence", "comparison", "summary", "list"})
# Tune on "dev"; report "heldout" separately and never tune on it (issue #13).
SPLITS = ("dev", "heldout")
SPLIT_SEED = 13


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
    split: str | None = None  # "dev" or "heldout"; None in sets that have no splits
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
    known: dict[str, EvalItem] = {}
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
                split=raw.get("split"),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise RagError(f"{path}:{number}: not a valid eval item ({error}); see eval/sets/README.md") from error
        if item.follows and item.follows not in known:
            raise RagError(f"{path}:{number}: follows {item.follows!r}, which is not an earlier item")
        if item.split is not None and item.split not in SPLITS:
            raise RagError(f"{path}:{number}: split {item.split!r} is not one of {', '.join(SPLITS)}")
        earlier = known[item.follows].split if item.follows else None
        if item.split is not None and earlier is not None and item.split != earlier:
            raise RagError(
                f"{path}:{number}: split {item.split!r} differs from {earlier!r} "
                f"of {item.follows!r}, the item it follows"
            )
        known[item.id] = item
        items.append(item)
    if not items:
        raise RagError(f"eval set {path} has no questions")
    return items


def select_items(
    items: Sequence[EvalItem], limit: int | None = None, stride: int = 1, split: str | None = None
) -> list[EvalItem]:
    """The items of `split` (all when None), then every `stride`-th, then the first `limit` of those,
    with the earlier turn of any follow-up kept (a follow-up is always in its earlier turn's split)."""
    if stride < 1 or (limit is not None and limit < 1):
        raise RagError("--stride and --limit must be at least 1")
    if split is not None:
        if split not in SPLITS:
            raise RagError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        missing = [item.id for item in items if item.split is None]
        if missing:
            raise RagError(
                f"--split {split}: {len(missing)} item(s) of the set have no split (first: {missing[0]}); "
                "run `python -m eval.dataset assign-splits PATH` (eval/sets/README.md)"
            )
        items = [item for item in items if item.split == split]
    by_id = {item.id: item for item in items}
    picked = {item.id for item in list(items)[::stride][:limit]}
    for item_id in list(picked):
        while by_id[item_id].follows:
            item_id = by_id[item_id].follows  # type: ignore[assignment]
            picked.add(item_id)
    return [item for item in items if item.id in picked]


def _first_turn(item: EvalItem, by_id: dict[str, EvalItem]) -> EvalItem:
    while item.follows:
        item = by_id[item.follows]
    return item


def _imbalance(counts: Counter[tuple[str, str]], added: Counter[str], split: str) -> int:
    """Sum over the categories of `added` of |dev - heldout| once `added` is put in `split`."""
    after = Counter({(category, split): n for category, n in added.items()})
    return sum(
        abs(counts[(c, "dev")] + after[(c, "dev")] - counts[(c, "heldout")] - after[(c, "heldout")]) for c in added
    )


def assign_splits(items: Sequence[EvalItem], seed: int = SPLIT_SEED) -> dict[str, str]:
    """Every item's split: its own when it has one, else a seeded choice balanced per category.

    A conversation (a first turn and the follow-ups on it) is one unit and gets
    one split. The units without a split are taken in a seeded shuffle
    (`random.Random(seed)` over the units in id order), and each goes to the
    split that leaves the per-category dev/held-out counts closest to even
    (ties: the split with fewer items overall, then "dev"). So every category
    is split about half and half, which items land where is random, and splits
    already in the file never change: adding questions later cannot move an
    old question between dev and held-out.
    """
    by_id = {item.id: item for item in items}
    units: dict[str, list[EvalItem]] = {}
    for item in items:
        units.setdefault(_first_turn(item, by_id).id, []).append(item)
    split_of: dict[str, str] = {}
    for root, members in units.items():
        given = {m.split for m in members if m.split is not None}
        if len(given) > 1:
            raise RagError(f"the conversation starting at {root!r} has items in both splits")
        if given:
            split_of[root] = given.pop()
    counts: Counter[tuple[str, str]] = Counter()  # (category, split) -> items
    total: Counter[str] = Counter()
    for root, split in split_of.items():
        for member in units[root]:
            counts[(member.category, split)] += 1
            total[split] += 1
    todo = sorted(root for root in units if root not in split_of)
    random.Random(seed).shuffle(todo)
    for root in todo:
        added = Counter(member.category for member in units[root])
        split = min(SPLITS, key=lambda name: (_imbalance(counts, added, name), total[name], SPLITS.index(name)))
        split_of[root] = split
        for category, n in added.items():
            counts[(category, split)] += n
        total[split] += len(units[root])
    return {item.id: split_of[_first_turn(item, by_id).id] for item in items}


def write_splits(path: Path, seed: int = SPLIT_SEED) -> Counter[tuple[str, str]]:
    """Add a `split` to every item of the set at `path` that lacks one, in place; (category, split) counts.

    Only the `split` key is added (as the last key of the line); every other byte of a line is kept.
    """
    items = load_set(path)
    splits = assign_splits(items, seed)
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        if not line.strip():
            continue
        raw = json.loads(line)
        if "split" not in raw:
            raw["split"] = splits[str(raw["id"])]
            line = json.dumps(raw, ensure_ascii=False)
        out.append(line)
    Path(path).write_text("\n".join(out) + "\n", encoding="utf-8")
    return Counter((item.category, splits[item.id]) for item in items)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "assign-splits" or len(args) > 2:
        print("usage: python -m eval.dataset assign-splits [PATH]  (default: eval/sets/default.jsonl)", file=sys.stderr)
        return 2
    path = Path(args[1]) if len(args) == 2 else DEFAULT_SET
    counts = write_splits(path)
    for category in sorted({c for c, _ in counts}):
        print(f"{category:24} " + "  ".join(f"{name} {counts[(category, name)]:3}" for name in SPLITS))
    print(
        f"{'total':24} "
        + "  ".join(f"{name} {sum(n for (_, s), n in counts.items() if s == name):3}" for name in SPLITS)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
