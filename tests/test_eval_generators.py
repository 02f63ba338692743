"""`rag eval --generator`: both modes side by side, the report, the gate and the options.

A tiny corpus indexed with the hashed bag-of-words fake embedder, a scripted
generator for the answers and another for the LLM judge: no model, a few seconds.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from eval.benchmarks import generators as alias
from eval.cli import run, run_generator
from eval.compare import report_table, run_comparison
from eval.dataset import load_set
from index.builder import build_index
from index.errors import UsageError
from index.loaders import load_documents
from rag.engine import Engine
from rag.entailment import LlmJudge
from tests.fakes import PEACE, TALKS, CountingEmbedder
from ui.cli import main as rag_main

RUBIO = "Marco Rubio has been dispatched to Geneva to negotiate with President Zelensky"
ITEMS = [
    {
        "id": "geneva",
        "question": "Who was dispatched to Geneva?",
        "category": "factual",
        "answerable": True,
        "evidence": [{"doc_id": "talks", "text": RUBIO}],
        "keywords": ["Rubio"],
        "reference": "Marco Rubio was dispatched to Geneva.",
    },
    {
        "id": "polls",
        "question": "What share of Russians are tired of the war, according to opinion polls?",
        "category": "factual",
        "answerable": True,
        "evidence": [{"doc_id": "peace", "text": "57 percent of Russians are tired of the war"}],
        "keywords": ["57"],
        "reference": "57 percent.",
    },
    {
        "id": "bread",
        "question": "What is a good recipe for banana bread?",
        "category": "unanswerable_off_topic",
        "answerable": False,
    },
]


class ScriptedGenerator:
    """Replies with a fixed text, a few characters at a time; counts its calls."""

    def __init__(self, reply: str, name: str = "scripted") -> None:
        self.name = name
        self.reply = reply
        self.calls = 0

    def stream(self, messages) -> Iterator[str]:
        self.calls += 1
        for i in range(0, len(self.reply), 3):
            yield self.reply[i : i + 3]


def _engine(root: Path) -> Engine:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "talks.txt").write_text(TALKS, encoding="utf-8")
    (corpus / "peace.txt").write_text(PEACE, encoding="utf-8")
    embedder = CountingEmbedder()
    build_index([corpus], root / "index", embedder)
    return Engine.open(root / "index", embedder=embedder, build_if_missing=False)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    return _engine(tmp_path_factory.mktemp("eval-generators"))


@pytest.fixture
def set_path(tmp_path) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in ITEMS) + "\n", encoding="utf-8")
    return path


def _args(out: Path, set_path: Path, **options) -> argparse.Namespace:
    defaults = {"json": False, "thresholds": None, "limit": None, "stride": None, "trust_model_refusal": False}
    return argparse.Namespace(out=out, set=set_path, benchmark=None, data=None, **{**defaults, **options})


def _documents(engine: Engine) -> dict:
    return {d.id: d for d in load_documents([Path(s) for s in engine.data.manifest.sources]).documents}


def test_both_modes_side_by_side_with_both_judges(engine, set_path):
    generator = ScriptedGenerator(
        "Marco Rubio has been dispatched to Geneva to negotiate [1]. He also won an Oscar [1]."
    )
    judge_model = ScriptedGenerator("Yes", name="judge")
    seen: list[tuple[str, str]] = []
    result = run_comparison(
        engine,
        generator,
        load_set(set_path),
        _documents(engine),
        llm_judge=LlmJudge(judge_model),
        on_item=lambda mode, r: seen.append((mode, r.item.id)),
    )
    assert seen == [(mode, i["id"]) for mode in ("extractive", "generated") for i in ITEMS]
    assert generator.calls == 2  # the banana-bread question is refused below the threshold, without a call
    generation = result["generation"]
    assert generation["model_calls"] == 2 and generation["skipped_below_threshold"] == 1
    assert generation["sentences_removed"] == 2  # the Oscar, in both answered questions
    assert result["generated"]["quote_validity"] == 1.0 and result["extractive"]["quote_validity"] == 1.0
    geneva = result["items"][0]
    assert geneva["generated"]["raw_answer"] == generator.reply
    assert [s["text"] for s in geneva["generated"]["removed_sentences"]] == ["He also won an Oscar."]
    assert geneva["generated"]["judgments"][0]["gold"] is True
    assert set(geneva["generated"]["judgments"][0]) == {"statement", "n", "gold", "lexical", "llm"}
    assert set(result["judges"]) == {"lexical", "llm"}
    llm = result["judges"]["llm"]
    assert llm["generated"]["yes_rate"] == 1.0 and llm["unparsed"] == 0
    assert llm["generated"]["agreement"] == llm["generated"]["gold_rate"]  # a judge that always says yes
    assert 0 < llm["calls"] <= 8  # every distinct (statement, quotes) question asked once
    table = report_table(result)
    for row in ("citation precision (ALCE)", "time to first token", "sentences kept / removed", "LLM judge: agrees"):
        assert row in table


def test_generator_run_writes_the_report_and_passes_the_quote_gate(engine, set_path, tmp_path, capsys):
    generator = ScriptedGenerator("Marco Rubio has been dispatched to Geneva [1].")
    code = run_generator(_args(tmp_path / "out", set_path, stride=2), engine, generator, load_set(set_path))
    assert code == 0
    report = json.loads((tmp_path / "out" / "generators.json").read_text())
    assert [i["id"] for i in report["items"]] == ["geneva", "bread"]  # --stride 2
    assert report["passed"] and [g["metric"] for g in report["gate"]] == ["quote_validity"]
    assert "llm" not in report["judges"]  # the judge model is used only when a local model is loaded
    output = capsys.readouterr().out
    assert "| metric | extractive | scripted |" in output and "gate (generated answers): passed" in output
    assert "| refusal rate (unanswerable) | 100.0% | 100.0% |" in output


def test_a_rate_over_no_questions_is_not_reported_as_zero(engine, set_path, tmp_path, capsys):
    generator = ScriptedGenerator("Marco Rubio has been dispatched to Geneva [1].")
    answerable_only = [item for item in load_set(set_path) if item.answerable]
    assert run_generator(_args(tmp_path / "out", set_path), engine, generator, answerable_only) == 0
    assert "| refusal rate (unanswerable) | n/a (no unanswerable questions) |" in capsys.readouterr().out


def test_the_gate_fails_when_a_quote_no_longer_matches_the_file(tmp_path, set_path):
    engine = _engine(tmp_path / "changed")
    talks = tmp_path / "changed" / "corpus" / "talks.txt"
    talks.write_text(TALKS.replace("Russian-US talks", "Russian-American talks"), encoding="utf-8")
    generator = ScriptedGenerator("Marco Rubio has been dispatched to Geneva [1].")
    code = run_generator(_args(tmp_path / "out", set_path, json=True), engine, generator, load_set(set_path))
    assert code == 1
    report = json.loads((tmp_path / "out" / "generators.json").read_text())
    assert not report["passed"] and report["generated"]["quote_validity"] < 1.0


def test_explicit_thresholds_apply_to_the_generated_answers(engine, set_path, tmp_path):
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"keyword_accuracy": {"min": 1.0}}))
    generator = ScriptedGenerator("The plan has 28 points [1].")  # answers neither question's keyword
    args = _args(tmp_path / "out", set_path, json=True, thresholds=thresholds)
    assert run_generator(args, engine, generator, load_set(set_path)) == 1


def _never_open(args):
    raise AssertionError("the engine must not be opened for a bad option")


@pytest.mark.parametrize(
    ("options", "generator", "message"),
    [
        ({"limit": 5}, None, "--limit and --stride select questions"),
        ({"stride": 3}, None, "--limit and --stride select questions"),
        ({"benchmark": "scifact"}, ScriptedGenerator(""), "--benchmark measures the extractive engine"),
        ({"benchmark": "scifact", "stride": 2}, None, "benchmarks take --limit"),
    ],
)
def test_options_that_would_mean_nothing_are_refused(tmp_path, set_path, options, generator, message):
    args = _args(tmp_path, set_path)
    vars(args).update(options)
    with pytest.raises(UsageError, match=message):
        run(args, _never_open, generator)


def test_the_command_line_reports_bad_generator_options(monkeypatch, capsys):
    monkeypatch.delenv("RAG_GGUF", raising=False)
    assert rag_main(["eval", "--generator", "local"]) == 2
    assert "--model-path" in capsys.readouterr().err
    assert rag_main(["eval", "--stride", "2"]) == 2
    assert alias.main(["--stride", "2"]) == 2
