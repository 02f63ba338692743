"""The PostgreSQL store against a real server, with the real model on the real default corpus.

The engine's own retrieval, evidence, refusal and citation tests (tests/test_engine.py) run again
here on an Engine that reads PostgreSQL; and both stores must give the same answer to every
question of the eval set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.pg_store import PgIndex, is_store_url, redacted
from index.store import read_index
from rag.retriever import HybridRetriever
from tests import test_engine

EVAL_SET = Path(__file__).resolve().parents[1] / "eval" / "sets" / "default.jsonl"

# The engine tests that take only the engine (and a question): run as they are, on PostgreSQL.
_ENGINE_TESTS = [
    test_engine.test_answers_with_a_verbatim_numbered_citation,
    test_engine.test_retrieval_finds_the_passage_and_collapses_overlaps,
    test_engine.test_document_filter_limits_the_sources,
    test_engine.test_refuses_off_topic_and_on_topic_absent_questions,
    test_engine.test_a_figure_the_documents_never_mention_is_refused_however_close_the_words,
    test_engine.test_a_comparison_quotes_both_named_articles,
    test_engine.test_who_said_that_follows_the_previous_answer,
    test_engine.test_follow_ups_retrieve_the_same_evidence_as_their_standalone_questions,
    test_engine.test_a_how_many_question_the_passages_give_no_number_for_is_refused,
]


def _cases():
    """(test, extra arguments) for every engine test, a parametrized one once per parameter."""
    for check in _ENGINE_TESTS:
        marks = [m for m in getattr(check, "pytestmark", []) if m.name == "parametrize"]
        if not marks:
            yield pytest.param(check, (), id=check.__name__)
            continue
        for number, value in enumerate(marks[0].args[1]):
            yield pytest.param(check, (value,), id=f"{check.__name__}[{number}]")


@pytest.mark.parametrize(("check", "arguments"), list(_cases()))
def test_the_engine_tests_pass_on_postgresql(pg_engine, check, arguments) -> None:
    check(pg_engine, *arguments)


def _questions() -> list[dict]:
    return [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]


def _answer_key(answer) -> tuple:
    return (
        answer.refused,
        answer.answer,
        [(c.doc_id, c.start, c.end, c.quote) for c in answer.citations],
    )


def test_both_stores_give_the_same_answer_to_every_eval_question(engine, pg_engine) -> None:
    questions = _questions()
    assert len(questions) > 20
    for item in questions:  # follow-ups asked on their own: the same input to both stores
        assert _answer_key(pg_engine.ask(item["question"])) == _answer_key(engine.ask(item["question"])), item["id"]


def test_every_quote_from_postgresql_is_cut_from_its_document(pg_engine) -> None:
    for item in _questions()[:30]:
        answer = pg_engine.ask(item["question"])
        for citation in answer.citations:
            document = pg_engine.data.documents[citation.doc_id]
            assert document.text[citation.start : citation.end] == citation.quote


def test_bm25_in_tables_equals_the_local_bm25(corpus_index, pg_corpus) -> None:
    local = read_index(corpus_index)
    remote = PgIndex.open(pg_corpus)
    assert [c.id for c in remote.chunks] == [c.id for c in local.chunks]
    rows = np.arange(len(local.chunks))
    for item in _questions()[:25]:
        question = item["question"]
        np.testing.assert_allclose(
            remote.lexical_scores(question, rows), local.lexical_scores(question, rows), atol=1e-4
        )
        local_scores, _ = local.lexical_top(question, 10)
        remote_scores, _ = remote.lexical_top(question, 10)
        np.testing.assert_allclose(remote_scores, local_scores, atol=1e-4)


def test_dense_search_and_vectors_match_the_local_store(corpus_index, pg_corpus, embedder) -> None:
    local = read_index(corpus_index)
    remote = PgIndex.open(pg_corpus)
    some_doc = sorted(local.documents)[0]
    for item in _questions()[:10]:
        vector = embedder.embed([item["question"]])[0]
        for doc_ids in (None, [some_doc]):
            local_scores, local_rows = local.dense_top(vector, 8, doc_ids)
            remote_scores, remote_rows = remote.dense_top(vector, 8, doc_ids)
            assert remote_rows.tolist() == local_rows.tolist()
            np.testing.assert_allclose(remote_scores, local_scores, atol=1e-5)
    rows = np.array([3, 0, 7])
    np.testing.assert_allclose(remote.vectors_of(rows), local.vectors_of(rows), atol=1e-6)
    assert remote.rows_of([some_doc]).tolist() == local.rows_of([some_doc]).tolist()


def test_both_stores_rank_the_same_chunks(corpus_index, pg_corpus, embedder) -> None:
    local = read_index(corpus_index)
    remote = PgIndex.open(pg_corpus)
    for item in _questions()[:20]:
        vector = embedder.embed([item["question"]])[0]
        mine = HybridRetriever(local).rank(item["question"], vector, None, 12)
        theirs = HybridRetriever(remote).rank(item["question"], vector, None, 12)
        assert [h.row for h in theirs] == [h.row for h in mine]
        np.testing.assert_allclose([h.score for h in theirs], [h.score for h in mine], atol=1e-4)


def test_an_update_embeds_only_changed_files_and_removes_deleted_ones(tmp_path, pg_database, embedder) -> None:
    from index.pg_build import build_pg

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbour cranes lift containers.\n\nThe harbour has nine cranes.")
    (folder / "b.txt").write_text("Bread is baked every morning in the village bakery.")
    first = build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    assert (first.documents, first.removed) == (2, 0) and first.embedded >= 2

    unchanged = build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    assert unchanged.embedded == 0

    (folder / "b.txt").unlink()
    (folder / "c.txt").write_text("Tide charts are kept in the library.")
    changed = build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    assert (changed.documents, changed.removed, changed.embedded) == (2, 1, 1)
    index = PgIndex.open(pg_database)
    assert sorted(index.documents) == sorted(d for d in index.manifest.documents)
    assert {c.doc_id for c in index.chunks} == set(index.documents)
    # The postings of the removed document went with it: its words score nothing.
    assert index.lexical_top("bakery bread", 5)[1].size == 0


def test_nul_characters_are_stored_as_spaces_keeping_every_offset(tmp_path, pg_database, embedder) -> None:
    """The loaders reject files with NUL bytes, but a document can reach the store by other ways (the
    texts an older index stored, a reader's output); PostgreSQL text cannot hold NUL."""
    from index.pg_build import build_pg
    from index.types import Document

    text = "Tides\n\nThe tide\x00 turns twice a day. Charts are kept in the library.\n"
    document = Document("tides", text, "Tides\x00", str(tmp_path / "tides.md"), "md", "hash-1")
    build_pg([tmp_path], pg_database, embedder, chunk_size=128, chunk_overlap=32, documents=[document])
    index = PgIndex.open(pg_database)
    stored = index.documents["tides"]
    assert "\x00" not in stored.text + stored.title
    assert len(stored.text) == len(text)
    for chunk in index.chunks:
        assert stored.text[chunk.start : chunk.end] == chunk.text
        assert "\x00" not in chunk.text
    assert index.lexical_top("tide charts", 3)[1].size > 0


def test_a_process_that_opened_the_index_before_a_rebuild_is_told_to_reload(tmp_path, pg_database, embedder) -> None:
    from index.errors import IndexChangedError
    from index.pg_build import build_pg

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbour cranes lift containers. The harbour has nine cranes.")
    build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32)
    opened = PgIndex.open(pg_database)
    vector = embedder.embed(["cranes in the harbour"])[0]
    assert opened.dense_top(vector, 3)[1].size == 1
    assert opened.is_current()
    build_pg([folder], pg_database, embedder, chunk_size=128, chunk_overlap=32, rebuild=True)
    assert not opened.is_current()
    with pytest.raises(IndexChangedError, match="rebuilt after this process opened it"):
        opened.dense_top(vector, 3)
    assert PgIndex.open(pg_database).dense_top(vector, 3)[1].size == 1


def test_a_missing_database_index_names_the_command(pg_database) -> None:
    from index.errors import IndexNotFoundError

    with pytest.raises(IndexNotFoundError, match="rag index"):
        PgIndex.open(pg_database)


def test_store_urls_are_recognised_and_passwords_kept_out_of_messages() -> None:
    assert is_store_url("postgresql://u@h/db") and is_store_url("postgres://h/db")
    assert not is_store_url("/var/index") and not is_store_url(Path("postgresql:"))
    assert redacted("postgresql://me:secret@h:5432/db") == "postgresql://me:***@h:5432/db"
    assert redacted("postgresql://h/db") == "postgresql://h/db"
