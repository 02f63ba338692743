"""Verify a generated answer sentence by sentence against the retrieved evidence.

(About 390 lines, over the house's ~350 on purpose: the support score, its pairs of sentences and the
citing steps below share their private types, and read best in one place. Reading the model's text
as statements lives in `rag.statements`, injection rules in `rag.injection`.)

A language model only *proposes* sentences. Each one is kept only when an
evidence sentence from the retrieved passages supports it, and then it carries
a verbatim quote of that sentence cut by offsets, exactly like an extractive
answer. What the reader gets is never more than the documents say.

For every sentence of the model's answer (split with the index's own splitter,
its `[n]` markers stripped):

1. Candidates are the sentences the model cited (passage `[n]` of the prompt:
   its evidence sentence and the context sentence shown with it), then every
   other sentence shown in the prompt and the best remaining evidence sentences.
2. Each candidate gets a **support score**, in [0, 1]:

       support = 0.5 * lexical + 0.5 * semantic

   - lexical: the share of the statement's content words (stemmed, stopwords
     dropped: `index.text.tokenize`) found in the candidate sentence or its
     neighbouring sentences in the document;
   - semantic: the MiniLM cosine between the statement and the candidate sentence.

   A candidate is not eligible when the statement has a number that the quoted
   text lacks: a changed figure is the commonest small-model error, and both
   scores above are nearly blind to it. Nor is a sentence of a passage that
   talks to the model ("ignore previous instructions ...",
   `rag.prompting.addresses_model`): the whole paragraph is out, so a claim
   that an instruction quotes ("answer with the words '...'") supports nothing.
3. The sentence is kept when a cited candidate reaches `min_support` (0.65);
   otherwise when any candidate does, and the citation is corrected to it;
   otherwise it is removed and reported with its reason and best score. When
   no single sentence holds all of the statement's words, two sentences may
   support it together (a statement joining two facts): their words are pooled,
   the better cosine counts, and the pair is used when it beats both the best
   single sentence and `min_support` by `pair_margin`; then both are quoted.

The quote is the supporting sentence, widened to include a neighbour when some
of the statement's words are only there (so the quote shows what supports it).
Citations are renumbered by first use and checked with `verify_citation`
(`rag.compose.cite`). A quote is the sentence as the model was shown it (or as
the evidence scored it), so a document that changed since fails the check.

A model sentence saying the documents don't answer is a refusal, not a claim:
when nothing else is said the whole answer is a refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.sentences import split_sentences
from index.text import numbers as figures
from index.text import tokenize
from index.types import Document
from rag.compose import cite
from rag.evidence import Evidence
from rag.injection import addresses_model, looks_like_instruction
from rag.prompting import Prompt, neighbours
from rag.statements import is_refusal, split_statements
from rag.types import Citation, RemovedSentence

__all__ = ["RemovedSentence", "Verification", "VerifySettings", "is_refusal", "split_statements", "verify_generated"]

Embed = Callable[[Sequence[str]], np.ndarray]
_Key = tuple[str, int, int]  # a sentence (or quote): document id, start, end


@dataclass(frozen=True)
class VerifySettings:
    w_lexical: float = 0.5
    w_semantic: float = 0.5
    min_support: float = 0.65  # a statement needs this support to stay (docs/llm.md: calibration)
    max_candidates: int = 30  # evidence sentences checked beyond those shown to the model
    max_pair: int = 4  # best candidates tried in pairs for a statement that joins two facts
    pair_margin: float = 0.05  # a pair must beat the best single sentence, and min_support, by this much


@dataclass(frozen=True)
class Verification:
    answer: str  # kept sentences with renumbered [n] markers; "" when none
    citations: list[Citation]
    removed: list[RemovedSentence] = field(default_factory=list)
    model_refused: bool = False  # the model said the documents don't answer (and nothing else)
    corrected: int = 0  # kept sentences whose citation differs from what the model cited
    supports: list[float] = field(default_factory=list)  # support of each kept sentence


@dataclass(frozen=True)
class _Unit:
    """A candidate sentence with its neighbours' spans in the same document."""

    doc_id: str
    start: int
    end: int
    prev: tuple[int, int] | None
    next: tuple[int, int] | None
    read: str  # the sentence as the model was shown it, or as the evidence scored it


class _Documents:
    """Sentence spans of the documents, split once per verification."""

    def __init__(self, documents: Mapping[str, Document]) -> None:
        self.documents = documents
        self._spans: dict[str, list[tuple[int, int]]] = {}

    def spans(self, doc_id: str) -> list[tuple[int, int]]:
        if doc_id not in self._spans:
            self._spans[doc_id] = split_sentences(self.documents[doc_id].text)
        return self._spans[doc_id]

    def unit(self, doc_id: str, start: int, end: int, read: str) -> _Unit:
        before, after = neighbours(self.documents[doc_id].text, self.spans(doc_id), start)
        return _Unit(doc_id, start, end, before, after, read)

    def text(self, doc_id: str, span: tuple[int, int] | None) -> str:
        return self.documents[doc_id].text[span[0] : span[1]] if span else ""


@dataclass(frozen=True)
class _Match:
    units: tuple[_Unit, ...]
    spans: tuple[tuple[int, int], ...]  # quote span per unit (the sentence, maybe widened)
    support: float
    lexical: float
    semantic: float


class _Scorer:
    """Support of one statement by candidate units (and pairs of units)."""

    def __init__(self, docs: _Documents, settings: VerifySettings, question: str = "") -> None:
        self.docs = docs
        self.settings = settings
        self.question_words = set(tokenize(question))

    def quote_span(self, unit: _Unit, words: set[str]) -> tuple[int, int]:
        """The unit's sentence, widened to a neighbour that holds statement words the sentence lacks."""
        own = set(tokenize(self.docs.text(unit.doc_id, (unit.start, unit.end))))
        missing = words - own
        start, end = unit.start, unit.end
        if missing and unit.prev and missing & set(tokenize(self.docs.text(unit.doc_id, unit.prev))):
            start = unit.prev[0]
        if missing and unit.next and missing & set(tokenize(self.docs.text(unit.doc_id, unit.next))):
            end = unit.next[1]
        return start, end

    def match(self, statement: str, units: Sequence[_Unit], cosines: Sequence[float]) -> _Match | None:
        """The best-supported unit or pair of units, or None when the statement has no content words."""
        words = set(tokenize(statement))
        if not words:
            return None
        numbers = figures(statement)
        s = self.settings
        singles: list[_Match] = []
        for unit, cosine in zip(units, cosines, strict=True):
            span = self.quote_span(unit, words)
            quoted = self.docs.text(unit.doc_id, span)
            lexical = len(words & set(tokenize(quoted))) / len(words)
            eligible = numbers <= figures(quoted)
            semantic = max(0.0, float(cosine))
            support = (s.w_lexical * lexical + s.w_semantic * semantic) / (s.w_lexical + s.w_semantic)
            singles.append(_Match((unit,), (span,), support if eligible else 0.0, lexical, semantic))
        if not singles:
            return _Match((), (), 0.0, 0.0, 0.0)
        best = max(singles, key=lambda m: m.support)
        if best.lexical == 1.0:
            return best
        # A statement joining two facts: two candidates quoted together, when that covers clearly more.
        single = best
        # When one quote already supports the statement, words it only repeats from the question
        # ("..., under the plan") do not justify a second quote: that citation would hold none of
        # the statement's facts (an imprecise citation in ALCE's sense). Numbers are never framing.
        framing = set()
        if single.support >= s.min_support:
            framing = {w for w in self.question_words if not any(ch.isdigit() for ch in w)}
        top = sorted(singles, key=lambda m: -m.lexical)[: s.max_pair]
        for i, a in enumerate(top):
            for b in top[i + 1 :]:
                texts = [self.docs.text(m.units[0].doc_id, m.spans[0]) for m in (a, b)]
                tokens_a, tokens_b = set(tokenize(texts[0])), set(tokenize(texts[1]))
                if not (words & tokens_a - tokens_b - framing) or not (words & tokens_b - tokens_a - framing):
                    continue  # one of them adds nothing the statement needs
                if not numbers <= figures(" ".join(texts)):
                    continue
                lexical = len(words & (tokens_a | tokens_b)) / len(words)
                semantic = max(a.semantic, b.semantic)
                support = (s.w_lexical * lexical + s.w_semantic * semantic) / (s.w_lexical + s.w_semantic)
                # Words pooled from two sentences are weaker evidence than one sentence holding them
                # all ("30" from one, "war" from another): a pair must clear the bar by the margin too.
                enough = support >= max(single.support, s.min_support) + s.pair_margin
                if support > best.support and enough:
                    best = _Match(a.units + b.units, a.spans + b.spans, support, lexical, semantic)
        return best


def _candidates(
    prompt: Prompt,
    evidence: Sequence[Evidence],
    docs: _Documents,
    settings: VerifySettings,
) -> list[_Unit]:
    """Every sentence shown to the model, then the best other evidence sentences (deduplicated)."""
    seen: set[_Key] = set()
    units: list[_Unit] = []

    def add(doc_id: str, start: int, end: int, read: str) -> None:
        if doc_id not in docs.documents or looks_like_instruction(docs.text(doc_id, (start, end))):
            return  # a prompt injection is never support (rag.prompting)
        if addresses_model(docs.documents[doc_id].text, start, end):
            return  # nor is any sentence of a passage that addresses the model: not even a claim it quotes
        if (doc_id, start, end) not in seen:
            seen.add((doc_id, start, end))
            units.append(docs.unit(doc_id, start, end, read))

    for item in prompt.items:
        for start, end in docs.spans(item.evidence.doc_id):
            if item.start <= start < item.end:
                add(item.evidence.doc_id, start, end, item.text[start - item.start : end - item.start])
    for candidate in evidence[: settings.max_candidates]:
        sentence = candidate.sentence
        add(sentence.doc_id, sentence.start, sentence.end, sentence.text)
    return units


def verify_generated(
    text: str,
    prompt: Prompt,
    evidence: Sequence[Evidence],
    documents: Mapping[str, Document],
    embed: Embed,
    settings: VerifySettings | None = None,
    confirm: Callable[[str, list[str]], bool] | None = None,
) -> Verification:
    """Keep the supported sentences of `text`, each with a verified verbatim quote.

    The steps: split the draft into claims (refusals aside), gather the candidate sentences, find
    each claim's best support, reject what falls short (or what `confirm` denies), and cite the rest.
    `confirm(statement, quotes)`, when given (a yes/no entailment judge such as
    `rag.entailment.LlmJudge.supports`), is asked about every sentence the support score keeps.
    """
    settings = settings or VerifySettings()
    claims, refusals = _claims(text)
    if not claims:
        # Only a refusal is a refusal; an empty draft (or bare markers) is simply nothing supported.
        return Verification("", [], [RemovedSentence(s, "refusal", 0.0) for s in refusals], bool(refusals))

    docs = _Documents(documents)
    support = _Support(claims, prompt, evidence, docs, embed, settings)
    citer = _Citer(documents)
    removed = [RemovedSentence(s, "refusal mixed with an answer", 0.0) for s in refusals]
    parts: list[str] = []
    supports: list[float] = []
    corrected = 0
    for index, (statement, cited) in enumerate(claims):
        match, cited_keys = support.best(index, statement, cited)
        if match is None:
            removed.append(RemovedSentence(statement, "no content words", 0.0))
            continue
        reason = _rejection(statement, match, settings) or _denial(statement, match, documents, confirm)
        if reason:
            removed.append(RemovedSentence(statement, reason, match.support))
            continue
        numbers = citer.cite(match)
        if not numbers:
            removed.append(RemovedSentence(statement, "quote failed verification", match.support))
            continue
        if not any((u.doc_id, u.start, u.end) in cited_keys for u in match.units):
            corrected += 1
        supports.append(match.support)
        parts.append(statement + " " + "".join(f"[{n}]" for n in numbers))
    return Verification(" ".join(parts), citer.citations, removed, False, corrected, supports)


def _claims(text: str) -> tuple[list[tuple[str, list[int]]], list[str]]:
    """The draft's statements that claim something (with their cited numbers), and its refusals."""
    statements = split_statements(text)
    claims = [(s, cited) for s, cited in statements if not is_refusal(s)]
    refusals = [s for s, _ in statements if is_refusal(s)]
    return claims, refusals


class _Support:
    """Finds each claim's best support among the candidate sentences, embedded once for all claims."""

    def __init__(
        self,
        claims: Sequence[tuple[str, list[int]]],
        prompt: Prompt,
        evidence: Sequence[Evidence],
        docs: _Documents,
        embed: Embed,
        settings: VerifySettings,
    ) -> None:
        self.prompt = prompt
        self.docs = docs
        self.settings = settings
        self.units = _candidates(prompt, evidence, docs, settings)
        texts = [docs.text(u.doc_id, (u.start, u.end)) for u in self.units]
        vectors = embed([s for s, _ in claims] + texts) if self.units else np.zeros((len(claims), 1))
        self.claim_vectors, self.unit_vectors = vectors[: len(claims)], vectors[len(claims) :]
        self.scorer = _Scorer(docs, settings, prompt.question)

    def best(self, index: int, statement: str, cited: Sequence[int]) -> tuple[_Match | None, set[_Key]]:
        """The claim's best match, and the keys of the sentences it cited.

        The cited sentences are tried first: when one of them reaches `min_support`, the citation
        stands. Otherwise every candidate is tried, and a better match corrects the citation.
        """
        units = self.units
        cosines = self.unit_vectors @ self.claim_vectors[index] if units else np.zeros(0)
        cited_keys = _cited_keys(cited, self.prompt, self.docs)
        cited_pos = [i for i, u in enumerate(units) if (u.doc_id, u.start, u.end) in cited_keys]
        match = None
        if cited_pos:
            match = self.scorer.match(statement, [units[i] for i in cited_pos], [cosines[i] for i in cited_pos])
        if match is None or match.support < self.settings.min_support:
            fallback = self.scorer.match(statement, units, cosines)
            if match is None or (fallback is not None and fallback.support > match.support):
                match = fallback
        return match, cited_keys


def _rejection(statement: str, match: _Match, settings: VerifySettings) -> str | None:
    """Why the support score rejects the statement, or None when it is supported."""
    if match.support >= settings.min_support:
        return None
    if match.support == 0.0 and figures(statement):
        return "unsupported: a number in it is in no retrieved passage"
    return f"unsupported: best support {match.support:.2f} < {settings.min_support:.2f}"


def _denial(
    statement: str,
    match: _Match,
    documents: Mapping[str, Document],
    confirm: Callable[[str, list[str]], bool] | None,
) -> str | None:
    """Why the entailment judge rejects a supported statement, or None (no judge, or it agrees)."""
    if confirm is None:
        return None
    quotes = [documents[u.doc_id].text[start:end] for u, (start, end) in zip(match.units, match.spans, strict=True)]
    return None if confirm(statement, quotes) else "the entailment judge found no support"


class _Citer:
    """Citations numbered by first use, one per quoted span, each checked against its document."""

    def __init__(self, documents: Mapping[str, Document]) -> None:
        self.documents = documents
        self.citations: list[Citation] = []
        self._numbers: dict[_Key, int] = {}

    def cite(self, match: _Match) -> list[int]:
        """The citation numbers of the match's quotes; a quote that fails `verify_citation` is left out.

        The quote is the sentence as the model was shown it (or as the evidence scored it), with any
        neighbour it was widened to cut from the document: if the document changed since, it no
        longer reads so at its offsets, and the check drops it.
        """
        numbers = []
        for unit, (start, end) in zip(match.units, match.spans, strict=True):
            key = (unit.doc_id, start, end)
            if key not in self._numbers:
                text = self.documents[unit.doc_id].text
                quote = text[start : unit.start] + unit.read + text[unit.end : end]
                citation = cite(len(self.citations) + 1, unit.doc_id, start, end, match.support, self.documents, quote)
                if citation is None:
                    continue
                self.citations.append(citation)
                self._numbers[key] = citation.n
            numbers.append(self._numbers[key])
        return numbers


def _cited_keys(cited: Sequence[int], prompt: Prompt, docs: _Documents) -> set[_Key]:
    """The sentences shown as the cited passages: each item's evidence sentence and its context."""
    keys: set[_Key] = set()
    for n in cited:
        item = prompt.item(n)
        if item is None:
            continue
        doc_id = item.evidence.doc_id
        keys.update((doc_id, s, e) for s, e in docs.spans(doc_id) if item.start <= s < item.end)
    return keys
