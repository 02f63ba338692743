"""Answer with a language model, then keep only what the documents support.

    generator = LlamaCppGenerator("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    answer = answer_with_generator(engine, "Who was sent to Geneva?", [], generator,
                                   on_token=lambda piece: print(piece, end=""))

The flow: retrieve and score evidence exactly as the extractive engine does;
when the extractive rules refuse (the best evidence is below the refusal
threshold, or the question pins a figure no passage holds), refuse at once without
calling the model (a clear refusal then costs milliseconds instead of the ~10 s
a CPU model needs to read its prompt, and the model could not have answered
from that evidence anyway); otherwise prompt the model with the best evidence
sentences, stream its tokens to `on_token`, and verify the result
(`rag.verify`): unsupported sentences are removed, wrong citations corrected,
and every kept sentence gets a verbatim quote. With `entailment` (a yes/no judge,
`rag.entailment.LlmJudge`, `--llm-verify`), each kept sentence must also be
confirmed by it.

The streamed tokens are the model's raw draft: its `[n]` numbers refer to the
prompt's passages, and sentences may still be removed. Interfaces show the
draft while it streams and replace it with the returned (verified) answer.

When nothing supported remains, the extractive answer is returned instead
(`generation.fallback == "extractive"`); since the model is only called when the
extractive answer clears the refusal threshold, that answer exists. A model
that says the documents don't answer counts as nothing supported too
(`generation.model_refused`): small models refuse answerable questions
far more often than the calibrated threshold does (docs/llm.md). With
`trust_model_refusal=True` its refusal stands instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from rag.answering import Stopwatch, finish_answer
from rag.compose import BELOW_THRESHOLD, compose
from rag.engine import Engine
from rag.entailment import EntailmentJudge
from rag.generators import Generator
from rag.prompting import build_prompt
from rag.questions import clean_history
from rag.types import Answer, Generation, Turn
from rag.verify import VerifySettings, verify_generated

__all__ = ["answer_with_generator"]


def answer_with_generator(
    engine: Engine,
    question: str,
    history: Sequence[Turn],
    generator: Generator,
    *,
    k: int = 5,
    doc_ids: Collection[str] | None = None,
    on_token: Callable[[str], None] | None = None,
    id: object = None,
    max_items: int = 6,
    verify_settings: VerifySettings | None = None,
    trust_model_refusal: bool = False,
    entailment: EntailmentJudge | None = None,
) -> Answer:
    """A grounded answer drafted by `generator` and verified sentence by sentence."""
    clock = Stopwatch(time.perf_counter())
    history = clean_history(history)  # the prompt shows it: no lone surrogates or control characters
    found = engine.find_evidence(question, history, k=k, doc_ids=doc_ids)
    clock.lap("retrieve", at=clock.started + found.retrieve_seconds)
    documents = found.data.documents
    chosen, refusal = found.choose(engine.settings.compose)
    extractive_text, extractive_citations = compose(chosen, documents)
    clock.lap("select")
    generation = Generation(generator.name)
    weak_below = engine.settings.compose.weak_below

    if not extractive_citations:
        # Refused by the extractive rules: no model call (see the module docstring).
        # No reason: every chosen quote failed its check.
        clock.lap("compose")
        skipped = replace(generation, skipped=refusal or BELOW_THRESHOLD)
        return finish_answer(found, "", [], clock, id=id, generation=skipped)

    prompt = build_prompt(found.question, history, found.evidence, documents, max_items=max_items)
    pieces: list[str] = []
    generate_started = time.perf_counter()
    first_token = None
    for piece in generator.stream(prompt.messages):
        if first_token is None:
            first_token = time.perf_counter()
        pieces.append(piece)
        if on_token:
            on_token(piece)
    generated = time.perf_counter()
    clock.laps["first_token"] = ((first_token or generated) - generate_started) * 1000
    clock.lap("generate")
    raw = "".join(pieces)

    confirm = entailment.supports if entailment is not None else None
    verified = verify_generated(
        raw, prompt, found.evidence, documents, engine.embedder.embed, verify_settings, confirm=confirm
    )
    clock.lap("verify")
    clock.laps["compose"] = clock.laps["verify"]
    generation = replace(
        generation,
        raw_answer=raw,
        removed=tuple(verified.removed),
        corrected_citations=verified.corrected,
        prompt_passages=len(prompt.items),
        entailment_judge=entailment.name if entailment is not None else None,
        model_refused=verified.model_refused,
    )
    if verified.model_refused and trust_model_refusal:
        return finish_answer(found, "", [], clock, id=id, generation=generation)
    if not verified.citations:
        # Composed again: its quotes are checked against the documents as they are now, not as they were
        # before the model ran (an index reloaded meanwhile must not leave a stale quote in the answer).
        extractive_text, extractive_citations = compose(chosen, documents)
        fallback = replace(generation, fallback="extractive")
        return finish_answer(
            found, extractive_text, extractive_citations, clock, id=id, generation=fallback, weak_below=weak_below
        )
    return finish_answer(
        found, verified.answer, verified.citations, clock, id=id, generation=generation, weak_below=weak_below
    )
