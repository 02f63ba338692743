"""Consistency checks for the evaluation question set (eval/sets/default.jsonl).

The set is only useful if every evidence span really occurs in the corpus, so
these tests compare each span against the corpus documents after whitespace
normalisation (all whitespace, including U+00A0, collapsed to single spaces).
Every item is in the "dev" or the "heldout" split (issue #13: tune on dev,
report held-out separately); a follow-up is in the split of the item it follows.
"""

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SET_PATH = ROOT / "eval" / "sets" / "default.jsonl"
CORPUS_DIR = ROOT / "corpus"

ANSWERABLE_CATEGORIES = {
    "factual",
    "paraphrase",
    "multi_sentence",
    "comparison",
    "summary",
    "list",
    "followup",
}
UNANSWERABLE_CATEGORIES = {"unanswerable_on_topic", "unanswerable_off_topic"}
CATEGORIES = ANSWERABLE_CATEGORIES | UNANSWERABLE_CATEGORIES

MIN_ITEMS = 80
MIN_UNANSWERABLE = 20

SPLITS = {"dev", "heldout"}
# Issue #13 grew the set past its first 120 items (q001-q120) with at least this many
# new questions in each category where the engine was weak.
ORIGINAL_ITEMS = 120
WEAK_CATEGORIES = ("summary", "comparison", "list", "followup", "unanswerable_on_topic")
MIN_NEW_PER_WEAK_CATEGORY = 9

FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Collapse every run of whitespace (incl. U+00A0) to one space."""
    return WHITESPACE.sub(" ", text.replace("\u00a0", " ")).strip()


def document_body(raw: str) -> str:
    """Return the text after the closing '---' of the YAML front matter."""
    match = FRONT_MATTER.match(raw)
    return raw[match.end() :] if match else raw


@cache
def corpus_text(doc_id: str) -> str | None:
    matches = sorted(CORPUS_DIR.rglob(f"{doc_id}.md"))
    if not matches:
        return None
    return normalise(document_body(matches[0].read_text(encoding="utf-8")))


def load_items() -> list[dict]:
    items = []
    with SET_PATH.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - reported
                pytest.fail(f"{SET_PATH.name} line {number} is not valid JSON: {exc}")
    return items


ITEMS = load_items() if SET_PATH.exists() else []
ANSWERABLE = [it for it in ITEMS if it.get("answerable")]
UNANSWERABLE = [it for it in ITEMS if not it.get("answerable")]
FOLLOWUPS = [it for it in ITEMS if it.get("category") == "followup"]


def item_id(item: dict) -> str:
    return str(item.get("id"))


def test_set_file_exists_and_parses():
    assert SET_PATH.exists(), f"missing {SET_PATH}"
    assert ITEMS, "evaluation set is empty"
    for item in ITEMS:
        assert isinstance(item, dict)


def test_ids_unique_and_present():
    ids = [item.get("id") for item in ITEMS]
    assert all(isinstance(i, str) and i for i in ids), "every item needs a string id"
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"


def test_required_fields_and_types():
    for item in ITEMS:
        iid = item_id(item)
        assert isinstance(item.get("question"), str) and item["question"].strip(), iid
        assert isinstance(item.get("answerable"), bool), iid
        assert isinstance(item.get("evidence"), list), iid
        assert isinstance(item.get("keywords"), list), iid
        assert isinstance(item.get("reference"), str), iid


def test_categories_valid_and_consistent_with_answerable():
    for item in ITEMS:
        category = item.get("category")
        assert category in CATEGORIES, f"{item_id(item)}: bad category {category!r}"
        expected = category in ANSWERABLE_CATEGORIES
        assert item.get("answerable") is expected, f"{item_id(item)}: category {category} needs answerable={expected}"


def test_counts():
    counts = Counter(item.get("category") for item in ITEMS)
    assert len(ITEMS) >= MIN_ITEMS, f"only {len(ITEMS)} items"
    assert len(UNANSWERABLE) >= MIN_UNANSWERABLE, f"only {len(UNANSWERABLE)} unanswerable"
    assert counts["unanswerable_on_topic"] > 0, "no on-topic unanswerable items"
    assert counts["unanswerable_off_topic"] > 0, "no off-topic unanswerable items"
    missing = [c for c in sorted(ANSWERABLE_CATEGORIES) if counts[c] == 0]
    assert not missing, f"answerable categories without items: {missing}"


@pytest.mark.parametrize("item", ANSWERABLE, ids=item_id)
def test_answerable_has_evidence_keywords_reference(item):
    assert len(item["evidence"]) >= 1, "answerable item without evidence"
    assert len(item["keywords"]) >= 1, "answerable item without keywords"
    for keyword in item["keywords"]:
        assert isinstance(keyword, str) and keyword.strip(), f"bad keyword {keyword!r}"
    assert item["reference"].strip(), "answerable item without reference answer"


@pytest.mark.parametrize("item", UNANSWERABLE, ids=item_id)
def test_unanswerable_has_no_evidence(item):
    assert item["evidence"] == [], "unanswerable item must have no evidence"
    assert item["keywords"] == [], "unanswerable item must have no keywords"
    assert item["reference"] == "", "unanswerable item must have an empty reference"
    assert "follows" not in item


@pytest.mark.parametrize("item", ANSWERABLE, ids=item_id)
def test_evidence_spans_occur_in_corpus(item):
    for evidence in item["evidence"]:
        doc_id = evidence.get("doc_id")
        span = evidence.get("text")
        assert isinstance(doc_id, str) and doc_id, f"bad doc_id in {evidence}"
        assert isinstance(span, str) and span.strip(), f"empty span in {evidence}"
        text = corpus_text(doc_id)
        assert text is not None, f"no corpus document {doc_id}.md under {CORPUS_DIR}"
        assert normalise(span) in text, f"span not found in {doc_id}: {span!r}"


@pytest.mark.parametrize("item", ANSWERABLE, ids=item_id)
def test_keywords_occur_in_an_evidence_document(item):
    doc_ids = {ev.get("doc_id") for ev in item["evidence"]}
    texts = [corpus_text(d) for d in doc_ids]
    texts = [t.lower() for t in texts if t is not None]
    assert texts, "no evidence document found"
    for keyword in item["keywords"]:
        needle = normalise(keyword).lower()
        assert any(needle in t for t in texts), f"keyword {keyword!r} not found in any of {sorted(doc_ids)}"


def test_followups_point_to_earlier_answerable_items():
    assert FOLLOWUPS, "no followup items"
    position = {item_id(item): n for n, item in enumerate(ITEMS)}
    for item in FOLLOWUPS:
        iid = item_id(item)
        target = item.get("follows")
        assert isinstance(target, str) and target in position, f"{iid}: bad follows {target!r}"
        assert position[target] < position[iid], f"{iid} follows a later item {target}"
        base = ITEMS[position[target]]
        assert base.get("answerable") is True, f"{iid} follows an unanswerable item"
        standalone = item.get("standalone")
        assert isinstance(standalone, str) and standalone.strip(), f"{iid}: no standalone"


def test_every_item_has_a_valid_split():
    for item in ITEMS:
        assert item.get("split") in SPLITS, f"{item_id(item)}: split {item.get('split')!r} not in {sorted(SPLITS)}"


def test_followups_share_the_split_of_the_item_they_follow():
    by_id = {item_id(item): item for item in ITEMS}
    for item in FOLLOWUPS:
        base = by_id[item["follows"]]
        assert item.get("split") == base.get("split"), f"{item_id(item)} is not in the split of {item['follows']}"


def test_every_category_is_split_about_half_and_half():
    counts = Counter((item.get("category"), item.get("split")) for item in ITEMS)
    for category in sorted({item.get("category") for item in ITEMS}):
        dev, heldout = counts[(category, "dev")], counts[(category, "heldout")]
        assert abs(dev - heldout) <= max(2, (dev + heldout) // 5), f"{category}: dev {dev}, heldout {heldout}"


def test_weak_categories_grew():
    new = [item for item in ITEMS if int(re.sub(r"\D", "", item_id(item)) or 0) > ORIGINAL_ITEMS]
    counts = Counter(item.get("category") for item in new)
    for category in WEAK_CATEGORIES:
        assert counts[category] >= MIN_NEW_PER_WEAK_CATEGORY, f"only {counts[category]} new {category} items"


def test_questions_unique():
    questions = [normalise(item["question"]).lower() for item in ITEMS]
    duplicates = [q for q, n in Counter(questions).items() if n > 1]
    assert not duplicates, f"duplicate questions: {duplicates}"


def test_loader_splits_agree_with_the_file():
    from eval.dataset import assign_splits, load_set, select_items
    from index.errors import RagError

    items = load_set(SET_PATH)
    assert {item.id: item.split for item in items} == {item_id(item): item["split"] for item in ITEMS}
    # Re-running the assignment keeps every split that is already in the file.
    assert assign_splits(items) == {item.id: item.split for item in items}
    dev, heldout = select_items(items, split="dev"), select_items(items, split="heldout")
    assert {i.id for i in dev} | {i.id for i in heldout} == {i.id for i in items}
    assert not {i.id for i in dev} & {i.id for i in heldout}
    with pytest.raises(RagError, match="unknown split"):
        select_items(items, split="test")


def test_assign_splits_balances_categories_and_keeps_conversations_together():
    from dataclasses import replace

    from eval.dataset import assign_splits, load_set

    items = [replace(item, split=None) for item in load_set(SET_PATH)]
    splits = assign_splits(items, seed=7)
    assert splits == assign_splits(items, seed=7), "not reproducible"
    by_id = {item.id: item for item in items}
    for item in items:
        if item.follows:
            assert splits[item.id] == splits[by_id[item.follows].id]
    counts = Counter((item.category, splits[item.id]) for item in items)
    for category in {item.category for item in items}:
        assert abs(counts[(category, "dev")] - counts[(category, "heldout")]) <= 2, category


def test_only_followups_carry_followup_fields():
    for item in ITEMS:
        if item.get("category") != "followup":
            assert "follows" not in item, item_id(item)
            assert "standalone" not in item, item_id(item)
