"""Broken and hostile files never break a run or the index (issue #12, the index side).

Each hostile file is real: a YAML alias bomb, symlinks out of the folder, in a
loop and dangling, a FIFO, a sparse file just over the size limit. Anything that
could hang or eat memory if a fix regressed runs bounded: in a subprocess with
an address-space limit and a timeout.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from index.builder import build_index
from index.discovery import OUTSIDE_FOLDER_LINK_REASON, OUTSIDE_LINK_REASON, discover_files
from index.errors import DocumentLoadError
from index.front_matter import MAX_FRONT_MATTER_BYTES
from index.loaders import MAX_FILE_BYTES, load_documents, load_file
from index.paths import PROJECT_ROOT
from index.store import read_index
from tests.fakes import CountingEmbedder

SEED = 12


def alias_bomb() -> str:
    """~370 bytes of Markdown whose front matter expands to 9**9 (387 million) strings: the billion laughs."""
    lines = ["---", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    lines += ["title: *i", "---", "The body of a harmless-looking note."]
    return "\n".join(lines) + "\n"


def _limit_address_space(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def load_in_a_bounded_process(path: Path) -> str:
    """`load_file(path)` in a child limited to 512 MB and 60 s; what it printed ("loaded" or the skip reason)."""
    code = (
        "import sys\n"
        "from index.loaders import load_file, DocumentLoadError\n"
        "try:\n"
        "    load_file(__import__('pathlib').Path(sys.argv[1]), 'x')\n"
        "    print('loaded')\n"
        "except DocumentLoadError as error:\n"
        "    print('skipped:', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=PROJECT_ROOT,
        preexec_fn=lambda: _limit_address_space(512 * 1024**2),  # the loader needs ~30 MB, the bomb gigabytes
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"the loader crashed: {done.stderr[-2000:]}"
    return done.stdout.strip()


def test_a_yaml_alias_bomb_is_refused_in_bounded_memory(tmp_path: Path):
    path = tmp_path / "bomb.md"
    path.write_text(alias_bomb())
    assert path.stat().st_size < 600
    outcome = load_in_a_bounded_process(path)
    assert outcome.startswith("skipped:") and "anchors or aliases" in outcome


def test_a_single_harmless_alias_is_refused_too(tmp_path: Path):
    # Refusing only big expansions would need a size guess; aliases in front matter are rare, so all go.
    path = tmp_path / "alias.md"
    path.write_text("---\nname: &n Ann\nauthors: [*n]\n---\nBody.\n")
    with pytest.raises(DocumentLoadError, match="anchors or aliases"):
        load_file(path, "alias")


def test_front_matter_size_and_value_length_are_capped(tmp_path: Path):
    big = tmp_path / "big.md"
    big.write_text("---\n" + "".join(f"k{i}: {'v' * 60}\n" for i in range(1200)) + "---\nBody.\n")
    with pytest.raises(DocumentLoadError, match=f"{MAX_FRONT_MATTER_BYTES // 1024} KB limit"):
        load_file(big, "big")

    long_title = tmp_path / "title.md"
    long_title.write_text(f"---\ntitle: {'T' * 2500}\n---\nBody.\n")
    with pytest.raises(DocumentLoadError, match=r"'title' is 2,500 characters long"):
        load_file(long_title, "title")

    long_author = tmp_path / "author.md"
    long_author.write_text(f"---\nauthors: [Ann, {'B' * 3000}]\n---\nBody.\n")
    with pytest.raises(DocumentLoadError, match=r"'authors' is 3,000 characters long"):
        load_file(long_author, "author")

    # Other keys are only kept, never shown: a long one is cut, not a reason to lose the document.
    long_extra = tmp_path / "extra.md"
    long_extra.write_text(f"---\ntitle: Fine\nsummary: {'s' * 5000}\n---\nBody.\n")
    document = load_file(long_extra, "extra")
    assert document.title == "Fine" and len(document.extra["summary"]) == 2000


def test_deeply_nested_front_matter_is_refused_with_a_reason(tmp_path: Path):
    path = tmp_path / "deep.md"
    path.write_text("---\nx: " + "[" * 3000 + "]" * 3000 + "\n---\nBody.\n")
    with pytest.raises(DocumentLoadError, match="nests deeper than"):
        load_file(path, "deep")


def test_any_failure_inside_a_loader_skips_that_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The real failure of issue #12: the HTML loader's import fails (there, lxml_html_clean was missing).
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # `import trafilatura` now raises ImportError
    (tmp_path / "page.html").write_text("<html><body><p>Some page.</p></body></html>")
    (tmp_path / "note.txt").write_text("A fine note.")
    report = load_documents([tmp_path])
    assert [d.id for d in report.documents] == ["note"]
    assert len(report.skipped) == 1
    path, reason = report.skipped[0]
    assert path == str(tmp_path / "page.html")
    assert re.fullmatch(r"could not be read: (ModuleNotFound|Import)Error: .*trafilatura.*", reason)


def test_the_build_goes_on_past_a_file_whose_loader_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "page.html").write_text("<html><body><p>Some page.</p></body></html>")
    (corpus / "note.txt").write_text("A fine note about Geneva.")
    summary = build_index([corpus], tmp_path / "index", CountingEmbedder())
    assert summary.documents == 1 and "could not be read" in summary.skipped[0][1]


def test_symlinks_outside_the_folder_are_skipped_unless_followed(tmp_path: Path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    corpus.mkdir()
    (outside / "secret.txt").write_text("A secret outside the corpus.")
    (outside / "folder" / "more.txt").write_text("More outside text.")
    (corpus / "inside.txt").write_text("Inside text.")
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "linked").symlink_to(outside / "folder")
    (corpus / "again.txt").symlink_to(corpus / "inside.txt")  # inside: read as before

    report = load_documents([corpus])
    assert sorted(d.id for d in report.documents) == ["again", "inside"]
    assert sorted(report.skipped) == [
        (str(corpus / "linked"), OUTSIDE_FOLDER_LINK_REASON),
        (str(corpus / "secret.txt"), OUTSIDE_LINK_REASON),
    ]
    followed = load_documents([corpus], follow_links=True)
    assert sorted(d.id for d in followed.documents) == ["again", "inside", "linked/more", "secret"]
    assert followed.skipped == []
    # Both folders given: the link leads inside the indexed folders, so it needs no flag.
    both = load_documents([corpus, outside])
    assert "secret" in {d.id for d in both.documents}
    assert OUTSIDE_LINK_REASON not in {reason for _, reason in both.skipped}


def test_a_folder_link_cycle_is_walked_once_when_following_links(tmp_path: Path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    (outside / "text.txt").write_text("Outside text.")
    (outside / "back").symlink_to(outside)
    (corpus / "out").symlink_to(outside)
    found, skipped = discover_files([corpus], follow_links=True)
    assert [path.name for path, _ in found] == ["text.txt"]
    assert [(Path(p).name, "symlink loop" in reason) for p, reason in skipped] == [("back", True)]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A FIFO in the corpus folder: opening it for reading would block until a writer comes, i.e. forever."""
    path = tmp_path / "corpus" / "pipe.txt"
    path.parent.mkdir(exist_ok=True)
    os.mkfifo(path)
    return path


def _write_hostile_corpus(corpus: Path, outside: Path) -> dict[str, str | None]:
    """The bad files and two good ones; each name -> the words its skip reason must hold (None: indexed)."""
    rng = random.Random(SEED)
    corpus.mkdir(exist_ok=True)
    outside.mkdir(exist_ok=True)
    (corpus / "good.txt").write_text("The delegation met in Geneva on Sunday.\n")
    (corpus / "note.md").write_text("---\ntitle: Good Note\nauthors: [Ann]\n---\nTroops were counted in Miami.\n")
    (corpus / "binary.txt").write_bytes(bytes([0, 1, 2]) + rng.randbytes(4096))
    (corpus / "utf16.txt").write_bytes("A note saved by an old editor, in UTF-16.\n".encode("utf-16-le"))
    (corpus / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me and na\u00efve r\u00e9sum\u00e9s.".encode("latin-1"))
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + rng.randbytes(2048))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "bomb.md").write_text(alias_bomb())
    (outside / "secret.txt").write_text("A secret outside the corpus.\n")
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "loop-a.txt").symlink_to(corpus / "loop-b.txt")
    (corpus / "loop-b.txt").symlink_to(corpus / "loop-a.txt")
    (corpus / "dangling.txt").symlink_to(corpus / "gone.txt")
    with open(corpus / "huge.txt", "wb") as handle:  # sparse: no disk used, one byte over the limit
        handle.truncate(MAX_FILE_BYTES + 1)
    return {
        "good.txt": None,
        "note.md": None,
        "binary.txt": "binary file",
        "utf16.txt": "UTF-16",
        "latin1.txt": "not valid UTF-8",
        "corrupt.pdf": "cannot read PDF",
        "empty.txt": "no text in file",
        "bomb.md": "anchors or aliases",
        "secret.txt": OUTSIDE_LINK_REASON,
        "loop-a.txt": "symlink loop",
        "loop-b.txt": "symlink loop",
        "dangling.txt": "broken symlink",
        "pipe.txt": "named pipe (FIFO)",
        "huge.txt": "larger than 50 MB",
    }


def _assert_outcomes(expected: dict[str, str | None], indexed: set[str], skipped: dict[str, str]) -> None:
    assert indexed == {name for name, reason in expected.items() if reason is None}
    assert set(skipped) == {name for name, reason in expected.items() if reason is not None}
    for name, reason in skipped.items():
        assert expected[name] in reason, f"{name}: {reason}"


def test_a_folder_of_hostile_files_indexes_the_good_ones(tmp_path: Path, fifo: Path):
    # build_index runs in a child with 1 GB and 60 s: a regression (a FIFO opened, the bomb expanded) fails, bounded.
    corpus, index_dir = fifo.parent, tmp_path / "index"
    expected = _write_hostile_corpus(corpus, tmp_path / "outside")
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from index.builder import build_index\n"
        "from tests.fakes import CountingEmbedder\n"
        "summary = build_index([Path(sys.argv[1])], Path(sys.argv[2]), CountingEmbedder())\n"
        "print(json.dumps(summary.to_json()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(corpus), str(index_dir)],
        cwd=PROJECT_ROOT,
        preexec_fn=lambda: _limit_address_space(1024**3),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    indexed = {Path(d.path).name for d in read_index(index_dir).documents.values()}
    _assert_outcomes(expected, indexed, {Path(i["path"]).name: i["reason"] for i in summary["skipped"]})
    assert summary["documents"] == 2


@pytest.mark.slow
def test_rag_index_json_lists_every_hostile_file_with_its_reason(tmp_path: Path, fifo: Path):
    corpus, index_dir = fifo.parent, tmp_path / "index"
    expected = _write_hostile_corpus(corpus, tmp_path / "outside")
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "index", str(corpus), "--index-dir", str(index_dir), "--json"],
        cwd=PROJECT_ROOT,
        preexec_fn=lambda: _limit_address_space(8 * 1024**3),  # torch and the model fit, an expanded bomb not
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert {"documents", "chunks", "embedded", "removed", "skipped", "seconds"} <= set(result)
    assert result["documents"] == 2 and result["removed"] == 0
    assert all(set(item) >= {"path", "reason"} for item in result["skipped"])
    skipped = {Path(item["path"]).name: item["reason"] for item in result["skipped"]}
    indexed = {Path(d.path).name for d in read_index(index_dir).documents.values()}
    _assert_outcomes(expected, indexed, skipped)


def test_a_file_indexed_through_a_followed_link_leaves_when_links_are_not_followed(tmp_path: Path):
    # A file that fails to load keeps its indexed version; a link no longer followed is no source at all.
    corpus, outside, index_dir = tmp_path / "corpus", tmp_path / "outside", tmp_path / "index"
    corpus.mkdir()
    outside.mkdir()
    (corpus / "inside.txt").write_text("Inside text about Geneva.")
    (outside / "secret.txt").write_text("A secret outside the corpus.")
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    embedder = CountingEmbedder()
    build_index([corpus], index_dir, embedder, follow_links=True)
    assert sorted(read_index(index_dir).documents) == ["inside", "secret"]

    summary = build_index([corpus], index_dir, embedder)
    assert summary.removed == 1 and summary.skipped == [(str(corpus / "secret.txt"), OUTSIDE_LINK_REASON)]
    assert sorted(read_index(index_dir).documents) == ["inside"]


def test_a_folder_given_inside_another_is_not_taken_for_a_symlink_loop(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("A note.")
    found, skipped = discover_files([tmp_path, tmp_path / "sub"])
    assert [(path.name, root) for path, root in found] == [("a.txt", tmp_path), ("a.txt", tmp_path / "sub")]
    assert skipped == []
