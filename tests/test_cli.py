"""The `rag` command as a user runs it: real subprocesses, the JSON contracts, exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ANSWER_FIELDS = {"id", "question", "answer", "refused", "citations", "passages", "timings_ms"}
CITATION_FIELDS = {"n", "doc_id", "title", "quote", "start", "end", "page", "score"}
PASSAGE_FIELDS = {"doc_id", "chunk_id", "title", "text", "start", "end", "score"}


def rag(*args: str, index_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir)}
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, env=env, timeout=300, input=stdin
    )


def test_index_json_contract_and_incremental_rerun(tmp_path: Path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The summit took place in Geneva. Rubio attended.")
    (corpus / "b.bin").write_bytes(b"\x00")
    first = rag("index", str(corpus), "--json", index_dir=tmp_path / "idx")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert set(summary) == {
        "documents",
        "chunks",
        "embedded",
        "removed",
        "skipped",
        "seconds",
        "reused",
        "resumed",
        "embed_backend",
    }
    assert summary["documents"] == 1 and summary["embedded"] == summary["chunks"] >= 1
    assert summary["skipped"] == [{"path": str(corpus / "b.bin"), "reason": "unsupported file type .bin"}]
    again = json.loads(rag("index", "--json", index_dir=tmp_path / "idx").stdout)  # sources remembered
    assert again["embedded"] == 0 and again["documents"] == 1


def test_ask_json_contract(corpus_index: Path):
    result = rag("ask", "Who was dispatched to Geneva?", "--json", "--k", "3", index_dir=corpus_index)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= ANSWER_FIELDS
    assert set(answer["timings_ms"]) == {"retrieve", "select", "compose", "total"}
    assert len(answer["passages"]) == 3 and all(set(p) >= PASSAGE_FIELDS for p in answer["passages"])
    assert answer["citations"] and all(set(c) >= CITATION_FIELDS for c in answer["citations"])
    assert answer["citations"][0]["n"] == 1 and "[1]" in answer["answer"]


def test_readable_answer_and_history_file(corpus_index: Path, tmp_path: Path):
    plain = rag("ask", "What share of Russians say they are tired of the war?", index_dir=corpus_index)
    assert plain.returncode == 0 and "57 percent" in plain.stdout and "[1] For a Peace From Below" in plain.stdout
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "What did Yuri Ushakov say about the texts?"},
                {"role": "assistant", "content": "Russian diplomat Yuri Ushakov had already said that ... [1]"},
            ]
        )
    )
    follow = rag("ask", "Who said that?", "--history", str(history), "--json", index_dir=corpus_index)
    assert "Ushakov" in json.loads(follow.stdout)["answer"]


def test_many_questions_in_one_process_with_a_bad_line(corpus_index: Path, tmp_path: Path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"id": "a", "question": "Who was dispatched to Geneva?"}\n'
        "this is not json\n"
        '{"id": 7, "question": "What is a good banana bread recipe?"}\n'
        '{"id": "c", "question": "   "}\n'
    )
    result = rag("ask", "--questions", str(questions), "--json", index_dir=corpus_index)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7]
    assert lines[1]["refused"] is True
    assert f"{questions}:2:" in result.stderr and f"{questions}:4:" in result.stderr
    assert result.returncode == 2


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_2_with_a_message(corpus_index: Path, question: str):
    result = rag("ask", question, index_dir=corpus_index)
    assert result.returncode == 2 and "empty" in result.stderr and "Traceback" not in result.stderr


def test_huge_question_is_a_message_not_a_traceback(corpus_index: Path, tmp_path: Path):
    questions = tmp_path / "big.jsonl"
    questions.write_text(json.dumps({"id": "big", "question": "x" * 100_000}) + "\n")
    result = rag("ask", "--questions", str(questions), "--json", index_dir=corpus_index)
    assert "characters" in result.stderr and "Traceback" not in result.stderr


def test_docs_lists_the_corpus(corpus_index: Path):
    rows = json.loads(rag("docs", "--json", index_dir=corpus_index).stdout)
    assert {r["doc_id"] for r in rows} == {
        "stockton-russian-us-talks",
        "smirnova-sakhnin-peace-from-below",
        "heinonen-least-bad-option",
    }


def test_help_is_fast_and_lists_commands():
    result = subprocess.run([sys.executable, "-m", "ui.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert all(word in result.stdout for word in ("index", "ask", "chat", "eval"))
    probe = "import sys, ui.cli; ui.cli._parser(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"


class _CannedChatServer:
    """A tiny OpenAI-compatible endpoint on 127.0.0.1 that streams one canned reply (a fake model)."""

    def __init__(self, reply: str) -> None:
        import http.server
        import threading

        pieces = [word + " " for word in reply.split(" ")]
        body = "".join(f"data: {json.dumps({'choices': [{'delta': {'content': p}}]})}\n\n" for p in pieces)
        body += "data: [DONE]\n\n"
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def test_many_questions_answered_by_a_generator(corpus_index: Path, tmp_path: Path):
    server = _CannedChatServer("Marco Rubio was dispatched to Geneva to negotiate with President Zelensky [1].")
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "geneva", "question": "Who was dispatched to Geneva?"})
        + "\n"
        + json.dumps({"id": "bread", "question": "What is a good banana bread recipe?"})
        + "\n"
    )
    result = rag(
        "ask", "--questions", str(questions), "--json", "--generator", "openai", "--base-url", server.url,
        index_dir=corpus_index,
    )  # fmt: skip
    server.httpd.shutdown()
    assert result.returncode == 0, result.stderr
    geneva, bread = (json.loads(line) for line in result.stdout.splitlines())
    assert geneva["id"] == "geneva" and geneva["generation"]["generator"].startswith("openai")
    assert "Rubio" in geneva["answer"] and geneva["citations"] and "Rubio" in geneva["citations"][0]["quote"]
    assert bread["id"] == "bread" and bread["refused"]
    assert server.requests == 1  # the refused question never reached the model


def test_llm_verify_needs_a_generator(corpus_index: Path):
    result = rag("ask", "Who was dispatched to Geneva?", "--llm-verify", index_dir=corpus_index)
    assert result.returncode == 2 and "--llm-verify needs --generator" in result.stderr


def test_indexing_nothing_readable_exits_2_and_keeps_the_index(tmp_path: Path):
    corpus, empty = tmp_path / "docs", tmp_path / "empty"
    corpus.mkdir()
    empty.mkdir()
    (corpus / "a.txt").write_text("The summit took place in Geneva. Rubio attended.")
    (empty / "sheet.xls").write_text("a,b")  # old binary Excel: not read
    assert rag("index", str(corpus), index_dir=tmp_path / "idx").returncode == 0
    for target in (empty, tmp_path / "missing"):
        result = rag("index", str(target), index_dir=tmp_path / "idx")
        assert result.returncode == 2, result.stderr
        assert "nothing to index" in result.stderr and "Traceback" not in result.stderr
    docs = json.loads(rag("docs", "--json", index_dir=tmp_path / "idx").stdout)
    assert [d["doc_id"] for d in docs] == ["a"]  # the index was left as it was


def test_indexing_other_paths_says_the_earlier_sources_were_dropped(tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "a.txt").write_text("The summit took place in Geneva.")
    (second / "b.txt").write_text("The harbour has nine cranes.")
    rag("index", str(first), index_dir=tmp_path / "idx")
    result = rag("index", str(second), index_dir=tmp_path / "idx")
    assert result.returncode == 0
    assert f"this source, indexed before, is no longer read: {first} (1 document removed)" in result.stderr
    assert f"rag index {first} {second}" in result.stderr


def test_undecodable_bytes_in_questions_are_answered_or_skipped_by_line(corpus_index: Path, tmp_path: Path):
    env = {**os.environ, "RAG_INDEX_DIR": str(corpus_index)}
    argv = [sys.executable.encode(), b"-m", b"ui.cli", b"ask", b"Who was sent to Geneva? \xff\xfe", b"--json"]
    one = subprocess.run(argv, capture_output=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr
    assert "Rubio" in json.loads(one.stdout)["answer"]

    questions = tmp_path / "mixed.jsonl"
    questions.write_bytes(
        b'\xef\xbb\xbf{"id": "bom", "question": "Who was dispatched to Geneva?"}\n'
        + '{"id": "latin", "question": "Caf\u00e9 in Geneva?"}\n'.encode("latin-1")
        + b'{"id": "surrogate", "question": "Who was sent to Geneva? \\ud83d"}\n'
    )
    result = rag("ask", "--questions", str(questions), "--json", index_dir=corpus_index)
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["bom", "surrogate"]
    assert f"{questions}:2: skipped: not UTF-8 text" in result.stderr
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_bad_k_history_and_empty_question_files_are_messages(corpus_index: Path, tmp_path: Path):
    for k in ("0", "-3", "51", "abc"):
        result = rag("ask", "Who was sent to Geneva?", "--k", k, index_dir=corpus_index)
        assert result.returncode == 2 and "--k takes a whole number from 1 to 50" in result.stderr
    history = tmp_path / "history.json"
    history.write_bytes(b"\xff\xfe\x00bin")
    result = rag("ask", "Who said that?", "--history", str(history), index_dir=corpus_index)
    assert result.returncode == 2 and "cannot read history file" in result.stderr
    assert "Traceback" not in result.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    result = rag("ask", "--questions", str(empty), index_dir=corpus_index)
    assert result.returncode == 2 and f"no questions in {empty}" in result.stderr


def test_readable_batch_answers_say_which_question_they_answer(corpus_index: Path, tmp_path: Path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "geneva", "question": "Who was dispatched to Geneva?"}\n')
    result = rag("ask", "--questions", str(questions), index_dir=corpus_index)
    assert result.stdout.startswith("== [geneva] Who was dispatched to Geneva?\n")


def test_terminal_output_never_carries_a_documents_control_characters(tmp_path: Path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "ansi.txt").write_text("Red \x1b[31mtitle\x1b[0m\n\nThe harbour \x1b]0;pwned\x07has nine cranes.\n")
    index_dir = tmp_path / "idx"
    assert rag("index", str(corpus), index_dir=index_dir).returncode == 0
    listing = rag("docs", index_dir=index_dir).stdout
    answer = rag("ask", "How many cranes does the harbour have?", index_dir=index_dir).stdout
    for output in (listing, answer):
        assert "\x1b" not in output and "\x07" not in output
    assert "cranes" in answer


def test_a_reader_that_stops_early_is_no_traceback(corpus_index: Path):
    env = {**os.environ, "RAG_INDEX_DIR": str(corpus_index)}
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "ask", "Who was sent to Geneva?", "--k", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    process.stdout.close()  # like `| head -0`: nobody reads the answer
    _, errors = process.communicate(timeout=300)
    assert b"Traceback" not in errors and process.returncode == 141


def test_index_follows_links_outside_the_folder_only_when_asked(tmp_path: Path):
    corpus, outside = tmp_path / "docs", tmp_path / "elsewhere"
    corpus.mkdir()
    outside.mkdir()
    (corpus / "inside.txt").write_text("The summit took place in Geneva. Rubio attended.")
    (outside / "secret.txt").write_text("A private note that lives outside the indexed folder.")
    (corpus / "link.txt").symlink_to(outside / "secret.txt")
    plain = rag("index", str(corpus), "--json", index_dir=tmp_path / "idx")
    assert plain.returncode == 0, plain.stderr
    skipped = json.loads(plain.stdout)["skipped"]
    assert [s["path"] for s in skipped] == [str(corpus / "link.txt")]
    assert "--follow-links" in skipped[0]["reason"]
    followed = rag("index", str(corpus), "--follow-links", "--json", index_dir=tmp_path / "idx")
    assert followed.returncode == 0, followed.stderr
    assert json.loads(followed.stdout)["documents"] == 2 and json.loads(followed.stdout)["skipped"] == []


def test_a_questions_batch_answers_every_line_around_bad_history(corpus_index: Path, tmp_path: Path):
    lines = [
        json.dumps(
            {
                "id": 1,
                "question": "Who said that?",
                "history": [{"role": "user", "content": "\ud800 who went?"}, {"role": "assistant", "content": "x\x07"}],
            }
        ),
        json.dumps({"id": 2, "question": "Who was sent to Geneva?"}),
        '{"id": 3, "history": []}',
    ]
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = rag("ask", "--questions", str(questions), "--json", index_dir=corpus_index)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == [1, 2]  # a lone surrogate in history is cleaned, not a crash
    assert result.returncode == 2 and "q.jsonl:3: skipped" in result.stderr and "Traceback" not in result.stderr
