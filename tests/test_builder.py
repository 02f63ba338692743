"""Incremental indexing and index compatibility, with a counting fake embedder."""

import json
import time
from pathlib import Path

import pytest

from index.builder import build_index, pipeline_signature
from index.errors import IndexMismatchError, IndexNotFoundError, RagError
from index.store import current_build, read_index
from rag.engine import Engine
from tests.fakes import CountingEmbedder


def write_corpus(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "alpha.txt").write_text("Alpha talks about Geneva. " * 30)
    (folder / "beta.md").write_text("---\ntitle: Beta\n---\nBeta is about troops and reserves. " * 1 + "More. " * 50)
    (folder / "gamma.txt").write_text("Gamma mentions the Arctic region. " * 25)


def test_unchanged_corpus_embeds_nothing_and_a_changed_file_only_its_chunks(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    first = build_index([corpus], index_dir, embedder)
    assert first.documents == 3 and first.embedded == first.chunks > 3
    manifest = json.loads((current_build(index_dir) / "manifest.json").read_text())
    assert manifest["counts"] == {"documents": 3, "chunks": first.chunks}
    assert manifest["model"] == "fake-embedder" and manifest["dimension"] == 64
    assert {d["hash"] for d in manifest["documents"].values()} and manifest["format_version"] >= 1

    embedder.embedded.clear()
    again = build_index([corpus], index_dir, embedder)
    assert (again.embedded, again.removed, embedder.embedded) == (0, 0, [])

    (corpus / "gamma.txt").write_text("Gamma now mentions Svalbard instead. " * 25)
    changed = build_index([corpus], index_dir, embedder)
    data = read_index(index_dir)
    gamma_chunks = [c.text for c in data.chunks if c.doc_id == "gamma"]
    assert changed.embedded == len(gamma_chunks) and sorted(embedder.embedded) == sorted(gamma_chunks)
    assert all("Svalbard" in text for text in embedder.embedded)


def test_deleted_files_are_removed_and_new_ones_added(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    build_index([corpus], index_dir, embedder)
    (corpus / "alpha.txt").unlink()
    (corpus / "delta.txt").write_text("Delta is new.")
    summary = build_index([corpus], index_dir, embedder)
    data = read_index(index_dir)
    assert summary.removed == 1
    assert sorted(data.documents) == ["beta", "delta", "gamma"]
    assert {c.doc_id for c in data.chunks} == {"beta", "delta", "gamma"}
    assert data.vectors.shape[0] == len(data.chunks) == len(data.dense)


def test_a_file_that_turns_unreadable_keeps_its_indexed_version(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    build_index([corpus], index_dir, embedder)
    (corpus / "alpha.txt").write_bytes(b"\x00\x00 corrupted")
    summary = build_index([corpus], index_dir, embedder)
    assert summary.skipped and "binary" in summary.skipped[0][1]
    data = read_index(index_dir)
    assert "alpha" in data.documents and "Geneva" in data.documents["alpha"].text


def test_offsets_hold_for_every_stored_chunk(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    build_index([corpus], index_dir, CountingEmbedder())
    data = read_index(index_dir)
    for chunk in data.chunks:
        document = data.documents[chunk.doc_id]
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert all(chunk.start <= s < e <= chunk.end for s, e in chunk.sentences)


def test_loading_with_another_model_or_format_says_how_to_rebuild(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    build_index([corpus], index_dir, CountingEmbedder(name="model-a"))
    with pytest.raises(IndexMismatchError, match="rag index --rebuild"):
        read_index(index_dir, expect_model="model-b")

    manifest_path = current_build(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 999}))
    with pytest.raises(IndexMismatchError, match="rag index --rebuild"):
        read_index(index_dir)


def test_indexing_with_a_new_model_rebuilds_everything(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    build_index([corpus], index_dir, CountingEmbedder(name="model-a"))
    summary = build_index([corpus], index_dir, CountingEmbedder(name="model-b"))
    assert summary.embedded == summary.chunks and read_index(index_dir, expect_model="model-b")


def test_missing_index_names_the_command(tmp_path: Path):
    with pytest.raises(IndexNotFoundError, match="rag index"):
        read_index(tmp_path / "nothing")


def test_hnsw_is_chosen_by_flag_and_searches(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    build_index([corpus], index_dir, embedder, vector_index="hnsw")
    data = read_index(index_dir)
    assert data.dense.kind == "hnsw" and data.manifest.vector_index == "hnsw"
    query = embedder.embed(["Arctic region"])[0]
    _scores, rows = data.dense.search(query, 3)
    assert data.chunks[int(rows[0])].doc_id == "gamma"


def _record_old_pipeline(index_dir: Path, pipeline: str | None) -> None:
    """Make the current build look as if an older version of rag had written it."""
    manifest_path = current_build(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if pipeline is None:
        manifest.pop("pipeline")  # indexes from before the signature was recorded
    else:
        manifest["pipeline"] = pipeline
    manifest_path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("old", [None, "sentences-v1 chunks-v1 bm25-k1=1.2-b=0.75"])
def test_an_index_split_by_another_version_is_split_and_embedded_again(tmp_path: Path, old: str | None):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    build_index([corpus], index_dir, embedder)
    assert read_index(index_dir).manifest.pipeline == pipeline_signature()
    _record_old_pipeline(index_dir, old)
    assert read_index(index_dir).manifest.pipeline == (old or "")

    embedder.embedded.clear()
    summary = build_index([corpus], index_dir, embedder)
    assert summary.rebuilt and summary.embedded == summary.chunks == len(embedder.embedded)
    assert read_index(index_dir).manifest.pipeline == pipeline_signature()


def test_opening_an_index_split_by_another_version_rebuilds_it_from_its_stored_texts(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    build_index([corpus], index_dir, embedder, chunk_size=30, chunk_overlap=4, vector_index="hnsw")
    _record_old_pipeline(index_dir, None)
    corpus.rename(tmp_path / "moved")  # the sources need not be where they were

    with pytest.raises(IndexMismatchError, match="update it with `rag index`"):
        Engine.open(index_dir, embedder=embedder, build_if_missing=False)

    builds = []
    engine = Engine.open(index_dir, embedder=embedder, on_build=builds.append)
    assert len(builds) == 1 and builds[0].rebuilt and builds[0].documents == 3
    manifest = engine.data.manifest
    assert manifest.pipeline == pipeline_signature()
    assert (manifest.chunk_size, manifest.chunk_overlap, manifest.vector_index) == (30, 4, "hnsw")  # kept
    assert sorted(engine.data.documents) == ["alpha", "beta", "gamma"]  # its documents, not the default corpus
    assert manifest.sources == [str(corpus.resolve())]

    builds.clear()
    Engine.open(index_dir, embedder=embedder, on_build=builds.append)
    assert builds == []  # up to date now: opened as it is


def test_an_index_of_another_model_is_not_rebuilt_on_open_but_explained(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    build_index([corpus], index_dir, CountingEmbedder(name="model-a"))
    _record_old_pipeline(index_dir, None)
    with pytest.raises(IndexMismatchError, match="rag index --rebuild --model model-b"):
        Engine.open(index_dir, embedder=CountingEmbedder(name="model-b"))
    assert read_index(index_dir).manifest.model == "model-a"


def test_a_manifest_key_this_version_does_not_know_is_ignored(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    build_index([corpus], index_dir, CountingEmbedder())
    manifest_path = current_build(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "added_by_a_later_version": {"x": 1}}))
    assert sorted(read_index(index_dir).documents) == ["alpha", "beta", "gamma"]


@pytest.mark.parametrize("damage", ["not json {", "[1, 2]", "drop sources"])
def test_a_damaged_manifest_says_to_rebuild(tmp_path: Path, damage: str):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    build_index([corpus], index_dir, CountingEmbedder())
    manifest_path = current_build(index_dir) / "manifest.json"
    if damage == "drop sources":
        manifest = json.loads(manifest_path.read_text())
        del manifest["sources"]
        manifest_path.write_text(json.dumps(manifest))
    else:
        manifest_path.write_text(damage)
    with pytest.raises(RagError, match=r"is damaged .*rag index --rebuild"):
        read_index(index_dir)


def _build_names(index_dir: Path) -> set[str]:
    return {folder.name for folder in (index_dir / "builds").iterdir()}


def test_a_killed_build_is_never_kept_as_the_fallback_and_is_cleaned_up(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    build_index([corpus], index_dir, embedder)
    good = current_build(index_dir).name
    # What killed builds leave behind, newer than the good build: one of this version (a `.partial`
    # folder), one of an older version (a plain name, half written), and an unswapped CURRENT pointer.
    builds = index_dir / "builds"
    for killed in (f"b{time.time_ns()}-1.partial", f"b{time.time_ns()}-2"):
        (builds / killed).mkdir()
        (builds / killed / "manifest.json").write_text("{}")
    (index_dir / "CURRENT.tmp-3").write_text("b1-3")

    (corpus / "delta.txt").write_text("Delta is new.")
    build_index([corpus], index_dir, embedder)
    current = current_build(index_dir).name
    assert _build_names(index_dir) == {current, good}  # the fallback is the last good build
    assert not list(index_dir.glob("CURRENT.tmp-*"))
    (index_dir / "CURRENT").write_text(good)  # and it loads
    assert sorted(read_index(index_dir).documents) == ["alpha", "beta", "gamma"]


def test_each_build_keeps_exactly_the_one_before_it(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    names = []
    for _ in range(3):
        build_index([corpus], index_dir, embedder)
        names.append(current_build(index_dir).name)
    assert len(set(names)) == 3 and _build_names(index_dir) == set(names[-2:])


def test_an_update_keeps_the_chunk_size_the_index_was_built_with(tmp_path: Path):
    """Uploads and `rag index` without --chunk-size add to an index split at another size without re-embedding it."""
    from index.open import update_sources

    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    embedder = CountingEmbedder()
    first = build_index([corpus], index_dir, embedder, chunk_size=48, chunk_overlap=8)
    (tmp_path / "delta.txt").write_text("Delta is a new file about harbours. " * 10)
    embedder.embedded.clear()
    summary = update_sources(index_dir, embedder, [corpus, tmp_path / "delta.txt"])
    data = read_index(index_dir)
    assert (data.manifest.chunk_size, data.manifest.chunk_overlap) == (48, 8)
    delta = [c.text for c in data.chunks if c.doc_id == "delta"]
    assert summary.embedded == len(delta) and sorted(embedder.embedded) == sorted(delta)
    assert summary.chunks == first.chunks + len(delta)


def test_the_chunking_to_build_with_is_the_index_own_unless_another_size_is_asked(tmp_path: Path):
    from index.builder import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
    from index.open import chunking_of

    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus)
    defaults = {"chunk_size": DEFAULT_CHUNK_SIZE, "chunk_overlap": DEFAULT_CHUNK_OVERLAP}
    assert chunking_of(index_dir) == defaults  # no index yet
    build_index([corpus], index_dir, CountingEmbedder(), chunk_size=48, chunk_overlap=8)
    assert chunking_of(index_dir) == chunking_of(index_dir, None, 48) == {"chunk_size": 48, "chunk_overlap": 8}
    assert chunking_of(index_dir, None, 64) == {"chunk_size": 64, "chunk_overlap": DEFAULT_CHUNK_OVERLAP}
    (current_build(index_dir) / "manifest.json").write_text("{not json")
    assert chunking_of(index_dir) == defaults  # a damaged index is rebuilt afresh, as before
