"""Could a cross-encoder trained on the data at hand pick the evidence sentence? (for the selection benchmark)

No cross-encoder or entailment model can be installed on this project's
machines (docs/calibration.md). The one sentence-labelled question-answering
data set here is ClapNQ dev: 300 answerable questions, each with a passage
split into sentences and the sentences annotators selected as the answer.
This module trains a cross-encoder on it, starting from the packaged MiniLM
weights (a new one-number head on the encoder), so the selection benchmark can
report how it does on held-out ClapNQ questions and on the default set.

Training: every question is one step; the loss is a softmax over the
question's sentences that puts the probability on the gold ones, plus a
pointwise binary cross-entropy (AdamW, learning rate 3e-5, a fixed seed).
About a minute and a half an epoch on 2 idle CPU cores (3 epochs).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.benchmarks.clapnq import FILES, detokenize
from index.embedder import packaged_model_path

__all__ = ["LabelledQuestion", "clapnq_questions", "held_out_top1", "train_cross_encoder"]

MAX_TOKENS = 128


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    sentences: list[str]
    gold: list[bool]


def clapnq_questions(data_dir: Path) -> list[LabelledQuestion]:
    """ClapNQ's answerable questions with their passage sentences and which ones were selected."""
    questions = []
    with open(data_dir / FILES["answerable"], encoding="utf-8") as rows:
        for line in rows:
            if not line.strip():
                continue
            row = json.loads(line)
            sentences = [s for passage in row["passages"] for s in passage["sentences"]]
            selected = {s for annotation in row["output"] for s in annotation.get("selected_sentences") or []}
            if selected:
                gold = [s in selected for s in sentences]
                questions.append(LabelledQuestion(row["input"], [detokenize(s) for s in sentences], gold))
    return questions


def train_cross_encoder(
    questions: Sequence[LabelledQuestion], epochs: int = 3, seed: int = 0
) -> Callable[[str, Sequence[str]], np.ndarray]:
    """A trained scorer: (question, sentences) -> one score per sentence, higher is better."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    random.seed(seed)
    torch.manual_seed(seed)
    base = str(packaged_model_path())
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)

    def logits(question: str, sentences: Sequence[str]):
        batch = tokenizer(
            [question] * len(sentences),
            list(sentences),
            truncation=True,
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )
        return model(**batch).logits.squeeze(-1)

    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
    order = list(questions)
    model.train()
    for _ in range(epochs):
        random.shuffle(order)
        for item in order:
            scores = logits(item.question, item.sentences)
            gold = torch.tensor(item.gold, dtype=torch.float)
            listwise = -torch.logsumexp(torch.log_softmax(scores, 0)[gold > 0], 0)
            pointwise = torch.nn.functional.binary_cross_entropy_with_logits(scores, gold)
            loss = listwise + 0.5 * pointwise
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()

    def score(question: str, sentences: Sequence[str]) -> np.ndarray:
        with torch.no_grad():
            parts = [logits(question, sentences[i : i + 32]).numpy() for i in range(0, len(sentences), 32)]
        return np.concatenate(parts) if parts else np.zeros(0)

    return score


def held_out_top1(questions: Sequence[LabelledQuestion], score: Callable[[str, Sequence[str]], np.ndarray]) -> float:
    """Share of questions whose best-scored sentence is a gold one."""
    hits = [q.gold[int(np.argmax(score(q.question, q.sentences)))] for q in questions if q.sentences]
    return float(np.mean(hits)) if hits else 0.0
