"""ClapNQ dev: grounded answers, citations and refusals on Wikipedia passages.

The 600 gold passages (300 answerable + 300 unanswerable questions) are indexed
as one collection (title, blank line, text; doc id = row id) and every
question is asked through `rag.Engine`. Reported:

- passage recall@1 / @5: the question's own passage among the top passages;
- sentence precision / recall / F1 of the cited quotes against the annotated
  `selected_sentences` of the answerable questions (per question, the
  annotation that fits best; counts summed over questions, so refusals cost
  recall). A quote matches a gold sentence when their word sequences overlap
  on at least 80% of the shorter one;
- refusal rate on the unanswerable and false-refusal rate on the answerable;
- p50 / p95 latency per stage.

ClapNQ's text is tokenized Penn-Treebank style ("year ." , "`` season ''"),
which no real document looks like and which the sentence splitter does not
cut ("." after a space is not a sentence end). By default the punctuation
spacing is undone before indexing (`detokenize`); `--raw-text` indexes the
text exactly as distributed.

    python -m eval.benchmarks.clapnq --data /work/shared/data/clapnq
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from eval.benchmarks.common import default_out, latency_summary, percentile, table, write_json
from index.builder import IndexSummary, build_index
from index.embedder import Embedder, SentenceTransformerEmbedder
from index.store import read_index
from index.text import normalize
from rag import Answer, Engine

__all__ = ["detokenize", "main", "match_counts", "overlap", "run", "sentences_match", "words"]

MATCH_THRESHOLD = 0.8
CURVE_THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
FILES = {"answerable": "clapnq_dev_answerable.jsonl", "unanswerable": "clapnq_dev_unanswerable.jsonl"}
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)


# -- matching ---------------------------------------------------------------------


def detokenize(text: str) -> str:
    """Undo Penn-Treebank spacing: `year .` -> `year.`, `( a )` -> `(a)`, `` `` x '' `` -> `"x"`."""
    text = text.replace("`` ", '"').replace(" ''", '"')
    text = re.sub(r" ([.,;:!?%)\]}])", r"\1", text)
    text = re.sub(r"([(\[{$]) ", r"\1", text)
    return re.sub(r" ('s|n't|'re|'ve|'ll|'d|'m)\b", r"\1", text)


def words(text: str) -> list[str]:
    """Lower-cased words of the whitespace- and Unicode-normalised text (punctuation dropped)."""
    return _WORDS.findall(normalize(text).lower())


def overlap(a: str, b: str) -> float:
    """Share of the shorter text's words that the two texts have in common, in order."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    blocks = SequenceMatcher(None, wa, wb, autojunk=False).get_matching_blocks()
    return sum(block.size for block in blocks) / min(len(wa), len(wb))


def sentences_match(cited: str, gold: str, threshold: float = MATCH_THRESHOLD) -> bool:
    return overlap(cited, gold) >= threshold


@dataclass(frozen=True)
class MatchCounts:
    cited_correct: int  # cited quotes matching some gold sentence
    cited: int
    gold_found: int  # gold sentences matched by some cited quote
    gold: int

    @property
    def f1(self) -> float:
        p = self.cited_correct / self.cited if self.cited else 0.0
        r = self.gold_found / self.gold if self.gold else 0.0
        return 2 * p * r / (p + r) if p + r else 0.0


def match_counts(cited: Sequence[str], gold: Sequence[str]) -> MatchCounts:
    hits = [[sentences_match(c, g) for g in gold] for c in cited]
    return MatchCounts(
        cited_correct=sum(any(row) for row in hits),
        cited=len(cited),
        gold_found=sum(any(row[j] for row in hits) for j in range(len(gold))),
        gold=len(gold),
    )


def best_annotation(cited: Sequence[str], annotations: Sequence[Sequence[str]]) -> MatchCounts | None:
    """Counts against the annotation with the best F1 (None when no annotation selected sentences)."""
    scored = [match_counts(cited, gold) for gold in annotations if gold]
    return max(scored, key=lambda m: m.f1) if scored else None


def prf(counts: Sequence[MatchCounts]) -> dict[str, float]:
    """Micro precision / recall / F1 over questions."""
    cited = sum(c.cited for c in counts)
    gold = sum(c.gold for c in counts)
    p = sum(c.cited_correct for c in counts) / cited if cited else 0.0
    r = sum(c.gold_found for c in counts) / gold if gold else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "questions": len(counts)}


# -- the run ----------------------------------------------------------------------


def load_rows(data_dir: Path, limit: int | None = None) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for kind, name in FILES.items():
        with open(data_dir / name, encoding="utf-8") as lines:
            rows[kind] = [json.loads(line) for line in lines if line.strip()][:limit]
    return rows


def write_passages(rows: dict[str, list[dict]], folder: Path, raw_text: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for row in (r for kind in rows.values() for r in kind):
        passage = row["passages"][0]
        body = passage["text"].strip() if raw_text else detokenize(passage["text"].strip())
        text = f"{passage['title']}\n\n{body}"
        path = folder / f"{row['id']}.txt"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder


def index_passages(
    rows: dict[str, list[dict]], work_dir: Path, embedder: Embedder, raw_text: bool = False
) -> tuple[Path, IndexSummary]:
    """Write the passages of `rows` under `work_dir` and index them there (incrementally: a second run, or
    another benchmark with the same `work_dir`, reuses the embeddings); the index folder and the summary."""
    variant = "raw" if raw_text else "detokenized"
    docs = write_passages(rows, work_dir / f"docs-{variant}", raw_text)
    index_dir = work_dir / f"index-{variant}"
    return index_dir, build_index([docs], index_dir, embedder)


def _recall(answers: Sequence[tuple[dict, Answer]], k: int) -> float:
    found = [row["id"] in [p.doc_id for p in answer.passages[:k]] for row, answer in answers]
    return round(sum(found) / len(found), 4) if found else 0.0


def refusal_curve(asked: dict[str, list[tuple[dict, Answer]]], thresholds: Sequence[float]) -> list[dict]:
    """Refusal rates had the engine refused below each support threshold.

    The engine refuses exactly when the best evidence's support is below
    `ComposeSettings.refuse_below`, and `Answer.support` is that support, so one
    run answers "what if the threshold were t" for every t.
    """
    curve = []
    for t in thresholds:
        rates = {kind: sum(a.support < t for _, a in group) / max(1, len(group)) for kind, group in asked.items()}
        curve.append(
            {
                "refuse_below": t,
                "refusal_rate_unanswerable": round(rates["unanswerable"], 4),
                "false_refusal_rate_answerable": round(rates["answerable"], 4),
            }
        )
    return curve


def summarize(asked: dict[str, list[tuple[dict, Answer]]]) -> dict:
    answerable, unanswerable = asked["answerable"], asked["unanswerable"]
    counts = []
    own = cited = 0
    for row, answer in answerable:
        quotes = [c.quote for c in answer.citations]
        result = best_annotation(quotes, [a["selected_sentences"] for a in row["output"]])
        if result is not None:
            counts.append(result)
        own += sum(c.doc_id == row["id"] for c in answer.citations)
        cited += len(quotes)
    everything = answerable + unanswerable
    stages = ("retrieve", "select", "compose", "total")
    quote_words = [len(c.quote.split()) for _, a in everything for c in a.citations]
    titles = {row["passages"][0]["title"].strip() for group in asked.values() for row, _ in group}
    first_quotes = [(kind, a.citations[0].quote.strip()) for kind, g in asked.items() for _, a in g if a.citations]
    return {
        "questions": {"answerable": len(answerable), "unanswerable": len(unanswerable)},
        "passage_recall": {
            f"{name}@{k}": _recall(group, k)
            for name, group in (("answerable", answerable), ("all", everything))
            for k in (1, 5)
        },
        "sentences": prf(counts),
        "citations_in_own_passage": round(own / cited, 4) if cited else 0.0,
        # Quote length shows whether the splitter found sentences (a gold sentence has about 27 words).
        "quote_words": {
            "mean": round(sum(quote_words) / len(quote_words), 1) if quote_words else 0.0,
            "median": percentile(quote_words, 50),
        },
        # Answers whose first quote is a passage's title line (rag.evidence keeps titles out).
        "first_quote_is_a_title": {
            kind: sum(k == kind and quote in titles for k, quote in first_quotes) for kind in asked
        },
        "refusal_rate_unanswerable": round(sum(a.refused for _, a in unanswerable) / max(1, len(unanswerable)), 4),
        "false_refusal_rate_answerable": round(sum(a.refused for _, a in answerable) / max(1, len(answerable)), 4),
        "latency_ms": {s: latency_summary([a.timings_ms[s] for _, a in everything]) for s in stages},
        "refusal_curve": refusal_curve(asked, CURVE_THRESHOLDS),
        "answers": [
            {
                "id": row["id"],
                "answerable": kind == "answerable",
                "refused": answer.refused,
                "support": round(answer.support, 4),
                "passages": [p.doc_id for p in answer.passages],
                "quotes": [c.quote for c in answer.citations],
            }
            for kind, group in asked.items()
            for row, answer in group
        ],
    }


def run(
    data_dir: Path, work_dir: Path, limit: int | None = None, raw_text: bool = False, scorer: Embedder | None = None
) -> dict:
    """Index the gold passages, ask every question, return the numbers (`scorer`: a separate evidence
    scorer, as `rag eval --scorer` gives; its sentence vectors are computed once, before the questions)."""
    rows = load_rows(data_dir, limit)
    variant = "raw" if raw_text else "detokenized"
    embedder = SentenceTransformerEmbedder()
    index_dir, summary = index_passages(rows, work_dir, embedder, raw_text)
    print(f"index {index_dir}: {summary.documents} passages, {summary.chunks} chunks")
    engine = Engine(read_index(index_dir), embedder, index_dir, scorer=scorer)
    engine.ask("warm-up: load the model")  # model load is not a question's latency
    asked = {kind: [(row, engine.ask(row["input"], k=5)) for row in group] for kind, group in rows.items()}
    return {"text": variant, "chunks": summary.chunks, "scorer": engine.scorer_name, **summarize(asked)}


def report_table(result: dict) -> str:
    sentences, recall, latency = result["sentences"], result["passage_recall"], result["latency_ms"]
    rows = [
        ["passage recall@1 / @5 (answerable)", f"{recall['answerable@1']:.3f} / {recall['answerable@5']:.3f}"],
        ["passage recall@1 / @5 (all questions)", f"{recall['all@1']:.3f} / {recall['all@5']:.3f}"],
        ["cited-sentence precision", f"{sentences['precision']:.3f}"],
        ["gold-sentence recall", f"{sentences['recall']:.3f}"],
        ["sentence F1", f"{sentences['f1']:.3f}"],
        ["citations from the question's own passage", f"{result['citations_in_own_passage']:.3f}"],
        ["words per quote, mean / median", f"{result['quote_words']['mean']} / {result['quote_words']['median']}"],
        [
            "answers whose first quote is a title (answerable / unanswerable)",
            " / ".join(str(v) for v in result["first_quote_is_a_title"].values()),
        ],
        ["refusal rate, unanswerable (higher is better)", f"{result['refusal_rate_unanswerable']:.3f}"],
        ["false refusals, answerable (lower is better)", f"{result['false_refusal_rate_answerable']:.3f}"],
        ["latency total p50 / p95 (ms)", f"{latency['total']['p50']:.0f} / {latency['total']['p95']:.0f}"],
    ]
    curve = [
        [c["refuse_below"], f"{c['refusal_rate_unanswerable']:.3f}", f"{c['false_refusal_rate_answerable']:.3f}"]
        for c in result["refusal_curve"]
    ]
    return (
        table([f"ClapNQ dev ({result['text']} text)", "value"], rows)
        + "\n\n"
        + table(["refuse_below", "refusals (unanswerable)", "false refusals (answerable)"], curve)
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the clapnq folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-clapnq"), help="passages and index")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each file")
    parser.add_argument("--raw-text", action="store_true", help="index the tokenized text as distributed")
    parser.add_argument("--out", type=Path, default=None, help="default eval/reports/clapnq[_raw].json")
    args = parser.parse_args(argv)
    result = run(args.data, args.work, args.limit, args.raw_text)
    print(report_table(result))
    out = args.out or default_out("clapnq_raw" if args.raw_text else "clapnq")
    write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
