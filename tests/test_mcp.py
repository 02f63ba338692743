"""`rag mcp` over stdio, driven by the official `mcp` SDK client (ClientSession + stdio_client), on the real
model and corpus: the tools are listed, `ask` returns verified quotes, `search` passages at their offsets,
`get_document` clamps its offsets, and a bad call is a tool error, not a dead server."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from index.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_rag_mcp_over_stdio(corpus_index, engine):
    from mcp import ClientSession, StdioServerParameters, stdio_client

    # The SDK passes a server only a few environment variables (HOME, PATH, ...) unless given `env`; the test
    # run's own (its scorer choice among them, tests/conftest.py) must reach `rag mcp` to compare answers.
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ui.cli", "mcp", "--index-dir", str(corpus_index)],
        cwd=str(PROJECT_ROOT),
        env=dict(os.environ),
    )

    async def calls():
        async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            ask = await session.call_tool("ask", {"question": "Who was sent to Geneva to negotiate?"})
            refusal = await session.call_tool("ask", {"question": "What is the capital of Australia?"})
            search = await session.call_tool("search", {"query": "army size limit", "k": 3})
            listing = await session.call_tool("list_documents", {})
            span = await session.call_tool(
                "get_document", {"doc_id": "stockton-russian-us-talks", "start": -10, "end": 10**9}
            )
            bad = await session.call_tool("ask", {"question": "   "})
            unknown = await session.call_tool("get_document", {"doc_id": "nope"})
            return tools, ask, refusal, search, listing, span, bad, unknown

    tools, ask, refusal, search, listing, span, bad, unknown = asyncio.run(asyncio.wait_for(calls(), 180))
    assert set(tools) == {"ask", "search", "list_documents", "get_document"}
    assert "question" in tools["ask"].input_schema["properties"]
    documents = engine.data.documents

    answer = ask.structured_content
    assert not ask.is_error and not answer["refused"] and "Geneva" in answer["answer"]
    assert answer == {
        **engine.ask("Who was sent to Geneva to negotiate?").to_json(),
        "timings_ms": answer["timings_ms"],
    }
    for c in answer["citations"]:
        assert documents[c["doc_id"]].text[c["start"] : c["end"]] == c["quote"]
    assert refusal.structured_content["refused"] and not refusal.structured_content["citations"]

    passages = search.structured_content["passages"]
    assert len(passages) == 3
    for p in passages:
        assert documents[p["doc_id"]].text[p["start"] : p["end"]] == p["text"]

    assert {d["doc_id"] for d in listing.structured_content["documents"]} == set(documents)
    text = documents["stockton-russian-us-talks"].text
    assert span.structured_content["start"] == 0 and span.structured_content["end"] == len(text)
    assert span.structured_content["text"] == text

    assert bad.is_error and "empty" in bad.content[0].text
    assert unknown.is_error and "no document with id 'nope'" in unknown.content[0].text
