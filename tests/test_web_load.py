"""Twenty people asking at once: the web app's `/ask` API under concurrent gradio_client calls.

Every question is answerable from the default corpus; each must come back as a
grounded answer (not refused, at least one citation, every quote verbatim in
its document) from the article that holds the fact, and none may fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.web_fixtures import RunningApp, running_app

pytestmark = pytest.mark.slow

STOCKTON, SMIRNOVA, HEINONEN = (
    "stockton-russian-us-talks",
    "smirnova-sakhnin-peace-from-below",
    "heinonen-least-bad-option",
)

# (question, the document that answers it, a word the answer must contain)
QUESTIONS = [
    ("Who was sent to Geneva to negotiate?", STOCKTON, "Rubio"),
    ("Who was dispatched to Geneva?", STOCKTON, "Rubio"),
    ("Which Secretary of State went to Geneva?", STOCKTON, "Rubio"),
    ("Who did Marco Rubio negotiate with in Geneva?", STOCKTON, "Zelensky"),
    ("How large an army would Ukraine be allowed under the plan?", HEINONEN, "600"),
    ("How big a standing army could Ukraine keep under Trump's plan?", HEINONEN, "standing army"),
    ("To how many personnel would Ukraine have to cut its armed forces?", STOCKTON, "600,000"),
    ("How many active troops does Ukraine have now?", STOCKTON, "900,000"),
    ("What share of Russians say they are tired of the war?", SMIRNOVA, "57 percent"),
    ("What percentage of Russians are tired of the war according to VTsIOM?", SMIRNOVA, "57 percent"),
    ("How many Russians favor immediate peace talks?", SMIRNOVA, "Twice as many"),
    ("How many convictions for unauthorized absence have been issued in Russia?", SMIRNOVA, "18,500"),
    ("How many deserters are there estimated to be?", SMIRNOVA, "50,000"),
    ("Within how many days would Ukraine have to hold elections?", STOCKTON, "100 days"),
    ("How much of the frozen Russian assets would be invested in Ukraine?", STOCKTON, "$100 billion"),
    ("What share of the profits would the United States claim?", STOCKTON, "50%"),
    ("Who negotiated the terms with Russian officials?", STOCKTON, "Witkoff"),
    ("Would Russia be readmitted to the G8?", STOCKTON, "G8"),
    ("What would happen to war crimes under the amnesty?", STOCKTON, "unpunished"),
    ("Where did Noel Heinonen study?", HEINONEN, "Helsinki"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with running_app(tmp_path_factory.mktemp("load")) as app:
        yield app


def ask_over_api(url: str, question: str) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)  # one client per simulated person
    try:
        return client.predict(question, api_name="/ask")
    finally:
        client.close()


def test_twenty_concurrent_questions_all_get_grounded_answers(server: RunningApp) -> None:
    assert len(QUESTIONS) == 20
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:
        futures = [pool.submit(ask_over_api, server.url, q) for q, _, _ in QUESTIONS]
        results = [f.result(timeout=120) for f in futures]  # an error in any call fails here
    elapsed = time.perf_counter() - started
    documents = server.engine.data.documents
    for (question, doc_id, word), answer in zip(QUESTIONS, results, strict=True):
        assert answer["question"] == question
        assert not answer["refused"], f"{question!r} was refused"
        assert answer["citations"], f"{question!r} has no citation"
        for citation in answer["citations"]:
            text = documents[citation["doc_id"]].text
            assert text[citation["start"] : citation["end"]] == citation["quote"], f"{question!r}: quote not verbatim"
            assert f"[{citation['n']}]" in answer["answer"]
        assert doc_id in {c["doc_id"] for c in answer["citations"]}, f"{question!r} not answered from {doc_id}"
        assert word in answer["answer"], f"{question!r}: {answer['answer']!r} lacks {word!r}"
    assert elapsed < 60, f"20 concurrent questions took {elapsed:.1f}s"


def test_api_reports_a_bad_question_as_an_error(server: RunningApp) -> None:
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    try:
        with pytest.raises(Exception, match="question is empty"):
            client.predict("   ", api_name="/ask")
        assert not client.predict("Who was sent to Geneva to negotiate?", api_name="/ask")["refused"]
    finally:
        client.close()
