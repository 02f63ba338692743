"""The web chat's collections and document management without a browser: ui/documents.py and
ui/web_collections.py called directly, on real indexes built with the counting fake embedder."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import gradio as gr
import pytest

from index.collections import collection_dir, collection_names, create_collection
from index.errors import UsageError
from rag.engine import Engine
from tests.fakes import TALKS, two_document_engine
from ui.conversations import ConversationStore
from ui.documents import NotAnUploadError, delete_upload, document_rows, documents_table, rename_upload
from ui.feedback import FeedbackLog
from ui.shelf import Shelf
from ui.uploads import add_uploads
from ui.web_collections import CollectionEvents
from ui.web_conversations import ConversationHandlers
from ui.web_handlers import EMPTY_DOC, Handlers

HARVEST = "Harvest report\n\nThe apple harvest in Normandy was late because of a cold and wet spring."


class Request:
    """What gradio passes as gr.Request, as far as these handlers read it."""

    def __init__(self, session_hash: str) -> None:
        self.session_hash = session_hash


def _file(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return two_document_engine(tmp_path)


def _events(engine: Engine) -> CollectionEvents:
    handlers = Handlers(engine, FeedbackLog(engine.index_dir / "feedback.jsonl"))
    return CollectionEvents(Shelf(engine.index_dir, "default", engine), handlers)


def test_document_rows_give_file_format_size_chunks_and_indexed_at(engine: Engine, tmp_path: Path):
    add_uploads(engine, [(_file(tmp_path / "in", "harvest.txt", HARVEST), "harvest.txt")])
    rows = {row.doc_id: row for row in document_rows(engine)}
    assert set(rows) == {"talks", "peace", "harvest"}
    harvest = rows["harvest"]
    assert (harvest.file_name, harvest.format, harvest.uploaded) == ("harvest.txt", "txt", True)
    assert harvest.size_bytes == len(HARVEST.encode()) and harvest.chunks >= 1
    assert harvest.indexed_at is not None and harvest.indexed_at > rows["talks"].indexed_at
    assert not rows["talks"].uploaded
    table = documents_table(list(rows.values()), "default")
    assert "harvest.txt" in table and "3 documents" in table and "UTC" in table


def test_a_deleted_upload_is_gone_from_the_next_answer(engine: Engine, tmp_path: Path):
    add_uploads(engine, [(_file(tmp_path / "in", "harvest.txt", HARVEST), "harvest.txt")])
    question = "Why was the apple harvest in Normandy late?"
    assert any(c.doc_id == "harvest" for c in engine.ask(question).citations)
    deleted = delete_upload(engine, "harvest")
    assert deleted.id == "harvest" and not Path(deleted.path).exists()
    assert "harvest" not in engine.data.documents
    assert all(c.doc_id != "harvest" for c in engine.ask(question).citations)


def test_a_renamed_upload_is_cited_under_its_new_id_without_embedding_again(engine: Engine, tmp_path: Path):
    add_uploads(engine, [(_file(tmp_path / "in", "harvest.txt", HARVEST), "harvest.txt")])
    embedded = len(engine.embedder.embedded)
    renamed = rename_upload(engine, "harvest", "Normandy apples")
    assert renamed.id == "Normandy apples" and Path(renamed.path).name == "Normandy apples.txt"
    assert set(engine.data.documents) == {"talks", "peace", "Normandy apples"}
    citations = engine.ask("Why was the apple harvest in Normandy late?").citations
    assert {c.doc_id for c in citations} & {"Normandy apples"} and all(c.doc_id != "harvest" for c in citations)
    chunk_texts = {c.text for c in engine.data.chunks if c.doc_id == "Normandy apples"}
    assert not chunk_texts & set(engine.embedder.embedded[embedded:])  # its chunks were not embedded again


def test_an_upload_whose_file_is_gone_from_disk_is_deleted_or_refused_in_words(engine: Engine, tmp_path: Path):
    add_uploads(engine, [(_file(tmp_path / "in", "harvest.txt", HARVEST), "harvest.txt")])
    Path(engine.data.documents["harvest"].path).unlink()  # removed behind the page's back, still indexed
    with pytest.raises(UsageError, match=r"could not rename harvest\.txt"):
        rename_upload(engine, "harvest", "apples")
    assert delete_upload(engine, "harvest").id == "harvest" and "harvest" not in engine.data.documents


def test_only_uploads_are_changed_and_a_taken_name_is_refused(engine: Engine, tmp_path: Path):
    with pytest.raises(NotAnUploadError, match="run `rag index` again"):
        delete_upload(engine, "talks")
    with pytest.raises(NotAnUploadError):
        rename_upload(engine, "talks", "other")
    assert Path(engine.data.documents["talks"].path).exists()
    add_uploads(engine, [(_file(tmp_path / "in", "a.txt", HARVEST), "a.txt")])
    add_uploads(engine, [(_file(tmp_path / "in", "b.txt", TALKS + " More."), "b.txt")])
    with pytest.raises(Exception, match="already named 'b'"):
        rename_upload(engine, "a", "b")
    with pytest.raises(Exception, match="type a new name"):
        rename_upload(engine, "a", "   ")
    assert {"a", "b"} <= set(engine.data.documents)


def test_an_upload_with_a_new_name_makes_the_collection_and_switches_to_it(engine: Engine, tmp_path: Path):
    events = _events(engine)
    request = Request("tab-1")
    upload = _file(tmp_path / "in", "harvest.txt", HARVEST)
    status, _, _, doc_list, header, picker, name_box, table, doc_view = events.upload(
        "default", "Farming", [str(upload)], request
    )
    assert "Made the collection “Farming”" in status and "Added" in status
    assert picker["value"] == "Farming" and "Farming" in picker["choices"] and name_box == ""
    assert doc_view == EMPTY_DOC  # the Documents view follows the session into the new collection
    assert [choice[1] for choice in doc_list["choices"]] == ["harvest"] and "1 document" in header
    assert "harvest.txt" in table
    assert collection_names(engine.index_dir) == ["default", "Farming"]
    # The session now asks the new collection; another session still asks the default one.
    respond = events.scoped(Handlers.respond.__get__(events.base))
    _, _, session = respond("Why was the apple harvest late?", [], 5, [], request)
    assert {c.doc_id for c in session[-1].answer.citations} == {"harvest"}
    _, _, other = respond("Why was the apple harvest late?", [], 5, [], Request("tab-2"))
    assert all(c.doc_id in {"talks", "peace"} for c in other[-1].answer.citations)
    assert "harvest" not in engine.data.documents  # the default collection was not touched


def test_a_bad_new_name_adds_nothing_and_leaves_no_collection(engine: Engine, tmp_path: Path):
    events = _events(engine)
    upload = _file(tmp_path / "in", "harvest.txt", HARVEST)
    status, *_ = events.upload("default", "../escape", [str(upload)], Request("tab"))
    assert "bad collection name" in status
    empty = _file(tmp_path / "in", "empty.txt", "")
    status, *_ = events.upload("default", "Empty", [str(empty)], Request("tab"))
    assert "Nothing was added" in status
    assert collection_names(engine.index_dir) == ["default"]


def test_switching_collections_opens_each_engine_once_and_starts_a_new_conversation(engine: Engine, tmp_path: Path):
    from index.builder import build_index

    build_index(
        [_file(tmp_path / "farm", "harvest.txt", HARVEST).parent],
        collection_dir(engine.index_dir, "farm"),
        engine.embedder,
    )
    create_collection(engine.index_dir, "empty")
    events = _events(engine)
    assert events.shelf.names() == ["default", "farm"]  # an empty collection cannot answer, so it is not offered
    chat, session, _, _, header, _, table, _ = events.switch("farm", Request("tab"))
    assert (chat, session) == ([], []) and "1 document" in header and "harvest.txt" in table
    assert events.handlers("farm") is events.handlers("farm")
    assert events.shelf.engine("farm") is events.handlers("farm").engine
    with pytest.raises(gr.Error, match="no documents yet"):
        events.handlers("empty")


def test_scoped_handlers_keep_what_gradio_reads_from_the_signature(engine: Engine):
    events = _events(engine)
    handlers = events.session_handlers()
    example = handlers.respond_example
    hints = typing.get_type_hints(example)
    assert hints["event"] is gr.SelectData and hints["request"] is gr.Request
    assert list(inspect.signature(example).parameters)[-1] == "request"
    assert inspect.isgeneratorfunction(handlers.respond_generated)
    assert not inspect.isgeneratorfunction(handlers.respond)
    assert handlers.vote == events.base.vote  # votes and other events need no collection


def test_the_only_document_of_a_collection_is_not_deleted(engine: Engine, tmp_path: Path):
    from index.builder import build_index

    uploads = _file(tmp_path / "farm" / "uploads", "only.txt", HARVEST).parent
    build_index([uploads], uploads.parent, engine.embedder)
    alone = Engine.open(uploads.parent, embedder=engine.embedder, build_if_missing=False)
    with pytest.raises(UsageError, match="only document"):
        delete_upload(alone, "only")
    assert (uploads / "only.txt").exists() and "only" in alone.data.documents


def test_a_collection_renamed_from_the_command_line_is_found_under_its_new_name(engine: Engine, tmp_path: Path):
    from index.builder import build_index
    from index.collections import rename_collection

    farm = _file(tmp_path / "farm", "harvest.txt", HARVEST).parent
    build_index([farm], collection_dir(engine.index_dir, "farm"), engine.embedder)
    events = _events(engine)
    assert events.handlers("farm").engine.data.documents.keys() == {"harvest"}
    rename_collection(engine.index_dir, "farm", "orchard")
    with pytest.raises(gr.Error, match="no collection named 'farm'"):
        events.handlers("farm")
    assert events.shelf.names() == ["default", "orchard"]
    assert events.handlers("orchard").engine.index_dir == collection_dir(engine.index_dir, "orchard")


def test_reopening_a_conversation_moves_the_session_to_its_collection(engine: Engine, tmp_path: Path):
    events = _events(engine)
    saved = ConversationHandlers(
        engine,
        ConversationStore(tmp_path / "c.sqlite3"),
        collection_of=events.collection_of,
        engine_of=lambda name: events.handlers(name).engine,
    )
    respond = events.scoped(Handlers.respond.__get__(events.base))
    tab = Request("tab")
    _, _, session = respond("Who was sent to Geneva?", [], 5, [], tab)
    in_default = saved.save(session, None, None, tab)[0]
    assert saved.held_in(in_default, tab) == "default"
    # An upload into a new collection moves the session: the conversation shown gives way to a new one there.
    events.upload("default", "Farming", [str(_file(tmp_path / "in", "harvest.txt", HARVEST))], tab)
    assert saved.restart_if_moved(in_default, tab)[:3] == ([], [], None)
    _, _, session = respond("Why was the apple harvest late?", [], 5, [], tab)
    farming = saved.save(session, None, None, tab)[0]
    events.upload("Farming", "", [str(_file(tmp_path / "in", "bees.txt", "Bees\n\nThe hives moved in July."))], tab)
    assert saved.restart_if_moved(farming, tab) == (gr.skip(),) * 6  # an upload where it is held: it stays
    events.switch("default", tab)  # the user picks the default collection, then reopens the Farming conversation

    picker, _, doc_list, header, doc_view, table = events.reopen(saved.held_in(farming, tab), tab)
    assert picker["value"] == "Farming" and events.collection_of(tab) == "Farming"
    assert [choice[1] for choice in doc_list["choices"]] == ["bees", "harvest"] and "2 documents" in header
    assert "harvest.txt" in table
    assert doc_view == EMPTY_DOC
    _, _, followed = respond("And why was it late?", saved.open(farming, tab)[1], 5, [], tab)
    assert {c.doc_id for c in followed[-1].answer.citations} == {"harvest"}

    # After a reload (a new session hash) the restored conversation brings its collection back.
    reloaded = Request("tab-reloaded")
    assert saved.restore(farming, reloaded)[2] == farming
    assert events.reopen(saved.held_in(farming, reloaded), reloaded)[0]["value"] == "Farming"
    # No conversation, or one saved before collections: the session stays where it is.
    assert events.reopen(None, Request("fresh"))[0]["value"] == "default"


def test_reopening_a_conversation_whose_collection_is_gone_keeps_the_session_and_says_so(engine: Engine):
    events = _events(engine)
    tab = Request("tab")
    with pytest.warns(
        UserWarning, match="held in the collection “Gone”, which is gone: follow-up questions ask “default”"
    ):
        picker, *_ = events.reopen("Gone", tab)
    assert picker["value"] == "default" and events.collection_of(tab) == "default"


def test_an_upload_that_fails_inside_says_so_in_words_and_leaves_no_empty_collection(
    engine: Engine, tmp_path: Path, monkeypatch
):
    import ui.web_collections

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ui.web_collections, "add_uploads", full_disk)
    events = _events(engine)
    upload = _file(tmp_path / "in", "harvest.txt", HARVEST)
    status, *_ = events.upload("default", "Farming", [str(upload)], Request("tab"))
    assert "could not be indexed" in status and "Farming" not in collection_names(engine.index_dir)
