"""`rag serve` end to end: a real uvicorn server in a thread over the real model and corpus, and real clients
(httpx for every route and bad input, the official `openai` SDK, the `mcp` SDK over streamable HTTP).

The server runs on a copy of the session's corpus index, because uploads and deletes change the index.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from index.paths import PROJECT_ROOT
from ui.server import MAX_JSON_BYTES, build_app
from ui.server_core import Service

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Who was sent to Geneva to negotiate?",
    "How large an army would Ukraine be allowed under the plan?",
    "What share of Russians say they are tired of the war?",
    "What does Heinonen call the least bad option?",
    "Who wrote about a peace from below?",
    "What is the capital of Australia?",
    "Which territories would Ukraine give up?",
    "What did Witkoff do?",
]
KEY = "s3cret-test-key"


@contextmanager
def running(app):
    """Serve `app` with uvicorn on a free loopback port in a thread; stopped on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture(scope="module")
def index_copy(corpus_index, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("served") / "index"
    shutil.copytree(corpus_index, target, symlinks=True)
    return target


@pytest.fixture(scope="module")
def service(index_copy, embedder) -> Service:
    from rag.engine import Engine

    return Service(Engine.open(index_copy, embedder=embedder, build_if_missing=False))


@pytest.fixture(scope="module")
def url(service):
    with running(build_app(service)) as base:
        yield base


@pytest.fixture(scope="module")
def keyed_url(service):
    with running(build_app(service, api_key=KEY, mcp=False)) as base:
        yield base


@pytest.fixture(scope="module")
def http(url):
    with httpx.Client(base_url=url, timeout=120) as client:
        yield client


def without_timings(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "timings_ms"}


def assert_verbatim(citations, documents) -> None:
    for c in citations:
        c = c if isinstance(c, dict) else dict(c)
        assert documents[c["doc_id"]].text[c["start"] : c["end"]] == c["quote"]


# -- routes ------------------------------------------------------------------


def test_health_models_and_openapi(http, service):
    health = http.get("/healthz").json()
    assert health == {
        "status": "ok",
        "documents": 3,
        "chunks": len(service.engine.data.chunks),
        "models": ["grounded-extractive"],
    }
    assert http.get("/v1/models").json()["data"][0]["id"] == "grounded-extractive"
    spec = http.get("/openapi.json").json()
    for path in ("/v1/ask", "/v1/search", "/v1/documents", "/v1/documents/{doc_id}", "/v1/chat/completions"):
        assert path in spec["paths"], path
    assert "AskRequest" in spec["components"]["schemas"]


def test_ask_returns_the_rag_ask_json_object(http, service):
    response = http.post("/v1/ask", json={"question": QUESTIONS[0], "k": 5, "id": "q1"})
    assert response.status_code == 200
    served = response.json()
    local = service.engine.ask(QUESTIONS[0], k=5, id="q1").to_json()
    assert list(served) == list(local)
    assert without_timings(served) == without_timings(local)
    assert not served["refused"] and "[1]" in served["answer"] and "Geneva" in served["answer"]
    assert_verbatim(served["citations"], service.engine.data.documents)


def test_ask_with_history_and_document_filter(http, service):
    history = [{"role": "user", "content": QUESTIONS[0]}, {"role": "assistant", "content": "Marco Rubio. [1]"}]
    body = {"question": "Who sent him?", "history": history, "doc_ids": ["stockton-russian-us-talks"]}
    served = http.post("/v1/ask", json=body).json()
    assert served["search_query"] != "Who sent him?"
    assert {c["doc_id"] for c in served["citations"]} <= {"stockton-russian-us-talks"}
    assert {p["doc_id"] for p in served["passages"]} == {"stockton-russian-us-talks"}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"question": ""}, 400, "empty"),
        ({"question": "   "}, 400, "empty"),
        ({"question": "?!"}, 400, "no words"),
        ({"question": "x" * 3000}, 400, "2,000"),
        ({"question": "Who?", "doc_ids": ["no-such-doc"]}, 400, "no-such-doc"),
        ({"question": "Who?", "generator": "local"}, 400, "no 'local' model"),
        ({"question": "Who?", "generator": "gpt-4"}, 400, "available: extractive"),
        ({"question": 5}, 422, "question"),
        ({"question": "Who?", "k": "five"}, 422, "k"),
        ({"question": "Who?", "k": 0}, 422, "k"),
        ({"question": "Who?", "history": [{"role": "system", "content": "x"}]}, 422, "history"),
        ({"question": "Who?", "history": "not a list"}, 422, "history"),
        ({"question": "Who?", "surprise": 1}, 422, "surprise"),
        ({}, 422, "question"),
    ],
)
def test_bad_questions_are_json_errors(http, body, status, says):
    response = http.post("/v1/ask", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert says in error["message"] and error["type"]
    assert "Traceback" not in response.text


def test_malformed_and_oversized_bodies(http):
    response = http.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "error" in response.json()
    big = json.dumps({"question": "Who? " + "x" * (10 * 1024 * 1024)}).encode()
    response = http.post("/v1/ask", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == {"message": "a request body may be at most 1 MB", "type": "request_too_large"}

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(12):
            yield b"x" * (MAX_JSON_BYTES // 10)

    response = http.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert http.get("/healthz").status_code == 200  # and the server is fine


def test_search_returns_scored_passages_with_offsets(http, service):
    data = http.get("/v1/search", params={"q": "Geneva negotiations", "k": 3}).json()
    assert data["query"] == "Geneva negotiations" and len(data["passages"]) == 3
    documents = service.engine.data.documents
    for p in data["passages"]:
        assert {"doc_id", "chunk_id", "title", "text", "start", "end", "score", "page"} <= set(p)
        assert documents[p["doc_id"]].text[p["start"] : p["end"]] == p["text"]
    assert [p["score"] for p in data["passages"]] == sorted((p["score"] for p in data["passages"]), reverse=True)
    assert http.get("/v1/search", params={"q": " "}).status_code == 400
    assert http.get("/v1/search", params={"q": "x", "k": "many"}).status_code == 422
    assert http.get("/v1/search").status_code == 422


def test_documents_list_and_text(http, service):
    rows = http.get("/v1/documents").json()["documents"]
    assert sorted(r["doc_id"] for r in rows) == sorted(service.engine.data.documents)
    assert not any(r["uploaded"] for r in rows)
    one = http.get(f"/v1/documents/{rows[0]['doc_id']}").json()
    assert one["text"] == service.engine.data.documents[rows[0]["doc_id"]].text
    missing = http.get("/v1/documents/folder/no-such-doc")
    assert missing.status_code == 404 and "'folder/no-such-doc'" in missing.json()["error"]["message"]


def test_upload_ask_and_delete(http, service, tmp_path):
    note = tmp_path / "zebra.txt"
    note.write_text("The zebra project was led by Alice Moreau in Lyon.\n\nIt began in 2019.\n", encoding="utf-8")
    with note.open("rb") as handle:
        response = http.post("/v1/documents", files={"files": ("../../escape/zebra notes.txt", handle)})
    assert response.status_code == 201, response.text
    added = response.json()["added"]
    assert [d["doc_id"] for d in added] == ["zebra notes"] and added[0]["uploaded"]
    saved = service.uploads_folder / "zebra notes.txt"
    assert saved.is_file() and not (service.engine.index_dir.parent / "escape").exists()

    answer = http.post("/v1/ask", json={"question": "Who led the zebra project?"}).json()
    assert answer["citations"][0]["doc_id"] == "zebra notes" and "Alice Moreau" in answer["answer"]

    response = http.delete("/v1/documents/zebra notes")
    assert response.status_code == 200 and response.json()["deleted"] == "zebra notes"
    assert not saved.exists()
    assert http.get("/v1/documents/zebra notes").status_code == 404
    assert "zebra notes" not in service.engine.data.documents
    assert http.delete("/v1/documents/zebra notes").status_code == 404


def test_upload_refusals(http, tmp_path):
    response = http.post("/v1/documents", files={"files": ("run.exe", b"MZ\x00binary")})
    assert response.status_code == 400 and "unsupported file type .exe" in response.json()["error"]["message"]
    response = http.post("/v1/documents", files={"files": ("empty.txt", b"")})
    assert response.status_code == 400 and "empty" in response.json()["error"]["message"]
    assert http.post("/v1/documents").status_code == 422


def test_deleting_an_indexed_document_is_refused(http, service):
    doc_id = "stockton-russian-us-talks"
    response = http.delete(f"/v1/documents/{doc_id}")
    assert response.status_code == 409
    message = response.json()["error"]["message"]
    assert ".ragignore" in message and "rag index" in message
    assert doc_id in service.engine.data.documents


def test_concurrent_asks_match_one_at_a_time(http, url):
    sequential = [without_timings(http.post("/v1/ask", json={"question": q}).json()) for q in QUESTIONS]
    work = [QUESTIONS[i % len(QUESTIONS)] for i in range(32)]
    with httpx.Client(base_url=url, timeout=120) as client, ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(lambda q: client.post("/v1/ask", json={"question": q}), work))
    assert all(r.status_code == 200 for r in replies)
    for i, reply in enumerate(replies):
        assert without_timings(reply.json()) == sequential[i % len(QUESTIONS)]


# -- the API key ---------------------------------------------------------------


def test_api_key_is_checked(keyed_url):
    with httpx.Client(base_url=keyed_url, timeout=60) as client:
        assert client.get("/healthz").status_code == 200  # open: no data behind it
        missing = client.post("/v1/ask", json={"question": "Who?"})
        assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
        wrong = client.get("/v1/documents", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "wrong API key" in wrong.json()["error"]["message"]
        assert client.get("/v1/documents", headers={"Authorization": KEY}).status_code == 401  # no scheme
        big = client.post("/v1/ask", content=b"x" * (2 * MAX_JSON_BYTES))
        assert big.status_code == 401  # the key is checked before the body is read
        ok = client.get("/v1/documents", headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200


def test_a_public_host_needs_a_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAG_API_KEY"}
    command = [sys.executable, "-m", "ui.cli", "serve", "--host", "0.0.0.0", "--index-dir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=60)
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without an API key" in result.stderr and "RAG_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_refused_before_loading(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = _rag("serve", "--port", port, "--index-dir", str(tmp_path))
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / "CURRENT").exists()  # refused before building or loading anything


# -- the official openai SDK ---------------------------------------------------


def test_openai_sdk_non_streaming(keyed_url, service):
    from openai import BadRequestError, OpenAI

    client = OpenAI(base_url=f"{keyed_url}/v1", api_key=KEY)
    assert [m.id for m in client.models.list()] == ["grounded-extractive"]
    reply = client.chat.completions.create(
        model="grounded-extractive",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTIONS[0]}],
    )
    message = reply.choices[0].message
    assert "[1]" in message.content and "\n\nSources:\n[1] " in message.content
    citations = message.model_extra["citations"]
    assert citations and citations[0]["n"] == 1
    assert_verbatim(citations, service.engine.data.documents)
    assert citations[0]["quote"] in message.content
    with pytest.raises(BadRequestError, match="available"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Who?"}])


def test_openai_sdk_streaming_and_follow_up(url, service):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    messages = [
        {"role": "user", "content": QUESTIONS[0]},
        {"role": "assistant", "content": "Consequently, Secretary of State Marco Rubio has been dispatched. [1]"},
        {"role": "user", "content": [{"type": "text", "text": "Who did he negotiate with?"}]},
    ]
    stream = client.chat.completions.create(model="grounded-extractive", messages=messages, stream=True)
    text, final = "", None
    for chunk in stream:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        if chunk.choices[0].finish_reason == "stop":
            final = delta
    assert final is not None and "[1]" in text and "Sources:" in text
    citations = final.model_extra["citations"]
    assert citations and all(f"[{c['n']}]" in text for c in citations)
    assert_verbatim(citations, service.engine.data.documents)
    local = service.engine.ask("Who did he negotiate with?", _turns(messages[:2]))
    assert [c["quote"] for c in citations] == [c.quote for c in local.citations]


def _turns(messages):
    from rag.types import Turn

    return [Turn(m["role"], m["content"]) for m in messages]


def test_chat_completions_bad_input(http):
    base = {"model": "grounded-extractive"}
    last_assistant = {**base, "messages": [{"role": "assistant", "content": "hi"}]}
    assert http.post("/v1/chat/completions", json=last_assistant).status_code == 400
    assert http.post("/v1/chat/completions", json={**base, "messages": []}).status_code == 422
    empty = http.post("/v1/chat/completions", json={**base, "messages": [{"role": "user", "content": " "}]})
    assert empty.status_code == 400 and "empty" in empty.json()["error"]["message"]
    streamed_empty = {**base, "stream": True, "messages": [{"role": "user", "content": ""}]}
    assert http.post("/v1/chat/completions", json=streamed_empty).status_code == 400


# -- MCP over streamable HTTP, mounted at /mcp ---------------------------------


def test_mcp_over_streamable_http(url, service):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def session_calls():
        async with streamable_http_client(f"{url}/mcp") as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            answer = await session.call_tool("ask", {"question": QUESTIONS[0]})
            return tools, answer

    tools, answer = asyncio.run(asyncio.wait_for(session_calls(), 60))
    assert tools == {"ask", "search", "list_documents", "get_document"}
    assert not answer.is_error
    assert_verbatim(answer.structured_content["citations"], service.engine.data.documents)


# -- rag ask --server ----------------------------------------------------------


def _rag(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ui.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=120)


def test_rag_ask_server_prints_what_local_rag_ask_prints(url, service, tmp_path):
    from ui.terminal import format_answer

    question = QUESTIONS[0]
    result = _rag("ask", "--server", url, "--json", question)
    assert result.returncode == 0, result.stderr
    assert without_timings(json.loads(result.stdout)) == without_timings(service.engine.ask(question).to_json())

    env = {**os.environ, "RAG_SERVER": url}
    readable = _rag("ask", question, env=env)
    assert readable.returncode == 0 and readable.stdout.rstrip("\n") == format_answer(service.engine.ask(question))

    lines = tmp_path / "questions.jsonl"
    lines.write_text(json.dumps({"id": 7, "question": QUESTIONS[1]}) + "\n{bad json\n", encoding="utf-8")
    many = _rag("ask", "--server", url, "--questions", str(lines), "--json")
    assert many.returncode == 2 and json.loads(many.stdout)["id"] == 7 and ":2: skipped" in many.stderr


def test_rag_ask_server_errors(url, tmp_path):
    unreachable = _rag("ask", "--server", "http://127.0.0.1:9", "Who was sent to Geneva?")
    assert unreachable.returncode == 1 and "cannot reach the rag server at http://127.0.0.1:9" in unreachable.stderr
    refused = _rag("ask", "--server", url, "--doc", "no-such-doc", "Who was sent?")
    assert refused.returncode == 2 and "no-such-doc" in refused.stderr
    assert "Traceback" not in unreachable.stderr + refused.stderr


# -- a configured language model (scripted: no model needed) ---------------------


class ScriptedGenerator:
    """Always writes the same sentence with a passage marker, a few characters at a time."""

    name = "openai:scripted"
    reply = "Marco Rubio was dispatched to Geneva to negotiate with President Zelensky and European leaders [1]."

    def stream(self, messages):
        for i in range(0, len(self.reply), 4):
            yield self.reply[i : i + 4]


@pytest.fixture(scope="module")
def model_url(service):
    with_model = Service(service.engine, ScriptedGenerator(), generator_kind="openai")
    with running(build_app(with_model, mcp=False)) as base:
        yield base


def test_generator_modes(model_url, service):
    from openai import OpenAI

    with httpx.Client(base_url=model_url, timeout=120) as client:
        models = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert models == ["grounded-extractive", "grounded-openai"]
        generated = client.post("/v1/ask", json={"question": QUESTIONS[0], "generator": "openai"}).json()
        assert generated["generation"]["generator"] == "openai:scripted" and "Rubio" in generated["answer"]
        assert_verbatim(generated["citations"], service.engine.data.documents)
        extractive = client.post("/v1/ask", json={"question": QUESTIONS[0]}).json()
        assert "generation" not in extractive
        local = client.post("/v1/ask", json={"question": QUESTIONS[0], "generator": "local"})
        assert local.status_code == 400 and "no 'local' model" in local.json()["error"]["message"]

    chat = OpenAI(base_url=f"{model_url}/v1", api_key="unused")
    messages = [{"role": "user", "content": QUESTIONS[0]}]
    reply = chat.chat.completions.create(model="grounded-openai", messages=messages).choices[0].message
    assert "[1]" in reply.content and reply.model_extra["citations"]
    assert_verbatim(reply.model_extra["citations"], service.engine.data.documents)
    chunks = list(chat.chat.completions.create(model="grounded-openai", messages=messages, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == reply.content
    assert chunks[-1].choices[0].delta.model_extra["citations"] == reply.model_extra["citations"]
