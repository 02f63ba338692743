"""Question shapes: a fact, a summary, a comparison; and how each picks its sentences.

    shape = question_shape("Summarize Stockton's article")       # "summary"
    sides = comparison_sides(question, named_docs, all_doc_ids)  # the documents a comparison sets side by side

A fact question quotes its best evidence (`rag.compose.choose_evidence`). A
summary quotes representative, non-redundant sentences of the named document
(or of the documents the question's topic lives in), in document order, never
a byline or an author's bio (`pick_summary`). A comparison quotes each side on
the question's topic, and says which side the texts don't cover
(`choose_sides`). The shape is read from the wording only (English), so the
rules hold for any collection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np

from index.store import IndexData
from index.text import normalize, tokenize
from index.types import Document
from rag.evidence import Evidence, Sentence, is_title_line
from rag.retriever import ScoredChunk

__all__ = [
    "asks_for_contact",
    "author_surnames",
    "choose_sides",
    "comparison_sides",
    "is_byline_or_bio",
    "is_contact_line",
    "pick_summary",
    "question_shape",
    "summary_region",
    "summary_sentences",
    "summary_topic",
]

_SUMMARY = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:summari[sz]e|sum up|recap|outline)\b"
    r"|\b(?:give|write)\s+(?:me\s+)?(?:a|an)\s+(?:short\s+|brief\s+|quick\s+)?(?:summary|overview|gist)\b"
    r"|\bwhat\s+(?:are|were)\s+(?:the\s+)?(?:[\w'’]+\s+)?(?:main|key|central|major|principal|chief)\s+"
    r"(?:points?|arguments?|criticisms?|claims?|ideas?|themes?|provisions?|takeaways?|conclusions?|messages?|"
    r"concerns?|objections?)\b"
    r"|\bwhat\s+is\s+the\s+(?:main|central|key|overall)\s+(?:point|argument|thesis|message|idea|claim)\b"
    r"|\bwhat\s+is\s+(?:the|this|that)\s+(?:article|piece|essay|text|document|paper)\s+about\b",
    re.IGNORECASE,
)
_ALL_DOCUMENTS = re.compile(
    r"\b(?:all|each|every|both)\s+(?:of\s+the\s+)?(?:three|two|four|five)?\s*(?:articles|authors|texts|documents|"
    r"pieces|essays|papers|sources)\b|\bthe\s+(?:two|three|four|five)\s+(?:articles|authors|texts|documents|pieces|"
    r"essays|papers|sources)\b",
    re.IGNORECASE,
)
_EMAIL_OR_URL = re.compile(r"\S+@\S+\.\w+|https?://|www\.")
_CONTACT_QUESTION = re.compile(
    r"\b(?:e-?mail|contact|reach(?:ed)?|website|web\s+site|url|link|address|homepage|twitter|profile)\b", re.IGNORECASE
)


def question_shape(question: str, named_docs: Collection[str]) -> str:
    """ "summary", "comparison" or "fact"."""
    if _SUMMARY.search(question):
        return "summary"
    if len(named_docs) >= 2 or _ALL_DOCUMENTS.search(question):
        return "comparison"
    return "fact"


def comparison_sides(question: str, named_docs: Collection[str], names: Mapping[str, Collection[str]]) -> list[str]:
    """The documents a comparison sets side by side, in the order the question names them
    (every document when it asks about "the three articles")."""
    if _ALL_DOCUMENTS.search(question) and len(named_docs) < 2:
        return sorted(names)
    lowered = normalize(question).lower()

    def first_mention(doc_id: str) -> int:
        positions = [lowered.find(token[:5]) for token in names.get(doc_id, ()) if lowered.find(token[:5]) >= 0]
        return min(positions, default=len(lowered))

    return sorted(named_docs, key=lambda doc_id: (first_mention(doc_id), doc_id))


def author_surnames(document: Document) -> list[str]:
    """The lower-cased last names of a document's authors (what a byline or bio of them would use)."""
    return [author.split()[-1].lower() for author in document.authors if author.split()]


def is_contact_line(text: str) -> bool:
    """A sentence that gives an email address or a web address ("He can be reached at ...")."""
    return bool(_EMAIL_OR_URL.search(text))


def asks_for_contact(question: str) -> bool:
    """Whether a question asks how to reach someone or where something is online: only then is a
    contact line evidence (a pronoun question about an author otherwise matches its bio's "He ...")."""
    return bool(_CONTACT_QUESTION.search(question))


def is_byline_or_bio(text: str, surnames: Collection[str]) -> bool:
    """A sentence about the document's own author (a byline, a bio, an address), not a point it makes.

    Articles are written by their authors, not about them: their own names appear in the byline and
    the bio, which a summary must never quote.
    """
    lowered = normalize(text).lower()
    return is_contact_line(text) or any(re.search(rf"\b{re.escape(s)}\b", lowered) for s in surnames)


# The words of a summary question that ask for a summary or name its form ("What are the main points /
# criticisms / arguments of ...", "Summarize X's article"), not a topic. English, as the shape rules are.
_SUMMARY_FORM = frozenset(
    tokenize(
        "summarize summarise summary sum up recap outline overview gist main key central principal major chief "
        "point points idea ideas theme themes argument arguments claim claims criticism criticisms critique "
        "conclusion conclusions takeaway takeaways finding findings position positions view views case thesis "
        "message article piece essay text document paper report chapter section post book author authors "
        "say says make makes describe describes present presents lay lays give brief short quick"
    )
)


def summary_topic(question: str, documents: Sequence[Document]) -> set[str]:
    """The words of a summary question that narrow it to a part of its documents ("Summarize X's case
    against NATO expansion": nato, expans): what is left once the words asking for a summary, the
    documents' authors and the words of their titles are taken out. Empty for a whole-document summary."""
    named = set()
    for document in documents:
        named |= set(tokenize(" ".join(document.authors))) | set(tokenize(document.title))
    return set(tokenize(question)) - _SUMMARY_FORM - named


def summary_region(data: IndexData, ranked: Sequence[ScoredChunk], doc_ids: Collection[str], chunks: int = 3):
    """The sentence spans of the `chunks` best-ranked passages of each document: where a summary narrowed
    to a topic quotes from (its sentences elsewhere are about other things)."""
    taken: dict[str, int] = {}
    spans: set[tuple[str, int, int]] = set()
    for scored in ranked:
        chunk = data.chunks[scored.row]
        if chunk.doc_id in doc_ids and taken.get(chunk.doc_id, 0) < chunks:
            taken[chunk.doc_id] = taken.get(chunk.doc_id, 0) + 1
            spans.update((chunk.doc_id, start, end) for start, end in chunk.sentences)
    return spans


def is_heading(document_text: str, start: int, end: int) -> bool:
    """A line of its own without a sentence's closing punctuation ("War as the Path of Deception"): a
    section heading, which names a topic and asserts nothing, so a summary does not quote it."""
    text = document_text[start:end].strip()
    # Only this line is read (the text since the previous newline and up to the next), not the whole
    # document before and after it: summaries ask this of every sentence of a document.
    line_start = document_text.rfind("\n", 0, start) + 1
    line_end = document_text.find("\n", end)
    own_line = not document_text[line_start:start].strip(" \t") or _NON_SPACE.search(document_text, 0, start) is None
    line_ends = not document_text[end : len(document_text) if line_end < 0 else line_end].strip(" \t")
    return own_line and line_ends and not _CLOSING.search(text) and len(text.split()) <= 12


_CLOSING = re.compile(r"[.!?:;][\"'\u201d\u2019)\]]*$")
_NON_SPACE = re.compile(r"\S")


def summary_sentences(data: IndexData, doc_ids: Sequence[str], min_words: int) -> list[Sentence]:
    """Every sentence of the documents that a summary or a comparison may quote, in document order."""
    wanted = set(doc_ids)
    spans: dict[str, set[tuple[int, int]]] = {doc_id: set() for doc_id in doc_ids}
    for chunk in data.chunks:
        if chunk.doc_id in wanted:
            spans[chunk.doc_id].update(chunk.sentences)
    sentences = []
    for doc_id in doc_ids:
        document = data.documents[doc_id]
        surnames = author_surnames(document)
        for start, end in sorted(spans[doc_id]):
            text = document.text[start:end]
            if len(text.split()) < min_words or is_title_line(text, document.title):
                continue
            if is_heading(document.text, start, end):
                continue
            if is_byline_or_bio(text, surnames):
                continue
            sentences.append(Sentence(doc_id, start, end, text))
    return sentences


def pick_summary(
    sentences: Sequence[Sentence],
    question_vector: np.ndarray,
    title_vectors: Mapping[str, np.ndarray],
    embed_sentences: Callable[[Sequence[Sentence]], np.ndarray],
    count: int = 4,
    diversity: float = 0.3,
    weights: tuple[float, float, float] = (0.35, 0.35, 0.3),
) -> list[Evidence]:
    """Representative, non-redundant sentences, in document order.

    A sentence is representative when it is close to its document's centre (the mean of
    its sentence vectors) and to the question (which may narrow the summary to a topic:
    "Summarize what X says about Moscow's tactics"); maximal marginal relevance then
    skips sentences close to one already taken.
    """
    if not sentences:
        return []
    vectors = embed_sentences(sentences)
    centres = {}
    for doc_id in {s.doc_id for s in sentences}:
        rows = [i for i, s in enumerate(sentences) if s.doc_id == doc_id]
        centre = vectors[rows].mean(axis=0)
        centres[doc_id] = centre / (np.linalg.norm(centre) or 1.0)
    relevance = np.clip(vectors @ question_vector, 0.0, 1.0)
    central = np.clip(np.array([float(vectors[i] @ centres[s.doc_id]) for i, s in enumerate(sentences)]), 0.0, 1.0)
    # A title states what a piece argues ("... is the least bad option"): closeness to it is a classic
    # signal of extractive summarization, beside closeness to the whole document and to the question.
    titled = np.clip(np.array([float(vectors[i] @ title_vectors[s.doc_id]) for i, s in enumerate(sentences)]), 0, 1)
    scores = weights[0] * relevance + weights[1] * central + weights[2] * titled
    chosen: list[int] = []
    while len(chosen) < min(count, len(sentences)):
        best, best_value = -1, -np.inf
        for i in range(len(sentences)):
            if i in chosen:
                continue
            redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            value = (1 - diversity) * scores[i] - diversity * redundancy
            if value > best_value:
                best, best_value = i, value
        chosen.append(best)
    ordered = sorted(chosen, key=lambda i: (sentences[i].doc_id, sentences[i].start))
    return [
        Evidence(sentences[i], float(scores[i]), float(scores[i]), float(relevance[i]), 0.0, float(central[i]))
        for i in ordered
    ]


def choose_sides(
    sides: Mapping[str, Sequence[Evidence]], refuse_below: float, margin: float = 0.0
) -> tuple[list[Evidence], list[str]]:
    """The best sentence of each side that clears the refusal threshold, in the sides' order, and the
    sides (document ids) whose evidence does not. Once one side clears it, the others need only
    `refuse_below - margin`: the question is answerable, and each of them is asked about its own document."""
    clears = any(ranked and ranked[0].support >= refuse_below for ranked in sides.values())
    bar = refuse_below - margin if clears else refuse_below
    chosen, uncovered = [], []
    for doc_id, ranked in sides.items():
        if ranked and ranked[0].support >= bar:
            chosen.append(ranked[0])
        else:
            uncovered.append(doc_id)
    return chosen, uncovered
