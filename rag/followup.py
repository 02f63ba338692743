"""Resolve a follow-up question against the conversation so retrieval keeps its topic.

No language model: a question is treated as a follow-up when it leans on the
conversation (it opens with "and"/"what about", or refers back with a pronoun
and has little content of its own). Then:

- a person pronoun ("he", "she", "they", "his", ...) is read as the person of the
  previous turn: someone its question named ("What did Kennan say?"), else the
  authors of a document it named, else the authors of the document its answer
  quoted first. When that person is a document's author, the search is kept to
  that document ("And what did she say about the elections?");
- the search text is the question, with that person's name, plus the previous
  question for its topic; never the whole previous answer, so that a follow-up
  does not just find the previous answer again. "Who said that?" adds the one
  sentence it points at: the previous answer's first quote;
- the sentences the previous answer quoted are `already_quoted`: the engine
  prefers other evidence, since a follow-up asks for something new.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from index.text import STOPWORDS, normalize, tokenize
from index.types import Document
from rag.evidence import Evidence
from rag.markers import MARKER_GROUP
from rag.signals import NOT_NAMES, named_documents
from rag.types import Turn

__all__ = ["FollowUp", "is_follow_up", "prefer_new", "resolve_follow_up", "search_query"]

_OPENERS = re.compile(r"^(and|but|also|so|then|what about|how about|and what|what else)\b", re.I)
_BACK_REFERENCES = frozenset(
    """he she it they him her them his hers its their theirs that this those these there then such same
    former latter""".split()
)
_PERSON_PRONOUNS = frozenset("he she they him her them his hers their theirs himself herself themselves".split())
_POINTING = frozenset("that this it said say says wrote claim quote".split())
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_PERSON_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b([A-Z][a-z]+(?:[ -][A-Z][a-z.]+)*)")
_NAME_RUN = re.compile(r"(?<![.!?]\s)\b([A-Z][a-z]+(?:[ -](?:[A-Z]\.|[A-Z][a-z.]+))*)")


@dataclass(frozen=True)
class FollowUp:
    query: str  # the text to search with
    focus: frozenset[str] = frozenset()  # the documents a person pronoun points into (their authors')
    already_quoted: frozenset[str] = frozenset()  # normalized sentences the previous answer quoted


def _content_words(text: str) -> list[str]:
    return [w for w in _WORDS.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


def is_follow_up(question: str) -> bool:
    """Does the question lean on the conversation? It opens with "and"/"what about", refers back with a
    pronoun and says little of its own, or names a person by pronoun before naming anyone ("Does he think
    Gorbachev's vision could come true?")."""
    text = normalize(question)
    if _OPENERS.match(text):
        return True
    words = _WORDS.findall(text.lower())
    refers_back = any(w in _BACK_REFERENCES for w in words)
    if refers_back and len(_content_words(text)) <= 3:
        return True
    first_pronoun = next((m.start() for m in _WORDS.finditer(text) if m.group().lower() in _PERSON_PRONOUNS), None)
    return first_pronoun is not None and not _PERSON_NAME.search(text[:first_pronoun])


def _last(history: Sequence[Turn], role: str) -> str:
    for turn in reversed(history):
        if turn.role == role and turn.content.strip():
            return turn.content
    return ""


def quoted_sentences(answer: str) -> list[str]:
    """The quotes of an extractive answer: the pieces before its [n] markers, normalized."""
    pieces = MARKER_GROUP.split(answer)[::2]  # the split keeps each marker's numbers between the pieces
    return [normalize(piece) for piece in pieces if piece.strip()]


def _quoted_documents(quotes: Sequence[str], documents: Mapping[str, Document]) -> list[str]:
    """The documents holding the quotes, in the order they were quoted."""
    found: list[str] = []
    for quote in quotes:
        for doc_id, document in documents.items():
            if doc_id not in found and quote and quote in normalize(document.text):
                found.append(doc_id)
                break
    return found


def _people(text: str, names: Mapping[str, set[str]]) -> list[str]:
    """Capitalised names in a text that do not name a document (people, and sometimes places: both help
    a search). A sentence's first word is a name only when another capitalised word follows it."""
    document_words = set().union(*names.values()) if names else set()
    text = text.strip()
    found = []
    for match in _NAME_RUN.finditer(text):
        words = match.group(1).split()
        while words and words[0] in NOT_NAMES:  # "Which Russian Marxist ...": the question word is no name
            words = words[1:]
        name = " ".join(words)
        if not name or (match.start(1) == 0 and len(words) < 2):
            continue
        if not set(tokenize(name)) & document_words and len(name) > 2 and name not in found:
            found.append(name)
    return found


# "Who ...?", "Which former ambassador ...?": a question whose answer names a person.
_ASKS_FOR_A_PERSON = re.compile(
    r"^\s*(?:and\s+)?(?:who|whom|whose|which|what(?:\s+[\w-]+){0,3}?\s+(?:officials?|ambassadors?|persons?|"
    r"people|leaders?|politicians?|authors?|experts?|envoys?|ministers?|presidents?|commentators?|analysts?|"
    r"scholars?|diplomats?|writers?|journalists?|figures?|men|women|man|woman|activists?|generals?|advisers?|"
    r"advisors?|spokesm[ae]n|spokespersons?|critics?|historians?))\b",
    re.IGNORECASE,
)


def resolve_follow_up(
    question: str,
    history: Sequence[Turn],
    documents: Mapping[str, Document],
    names: Mapping[str, set[str]],
) -> FollowUp:
    """What a question means in its conversation (see the module docstring); the question itself when it
    is not a follow-up. `names` are the words naming each document (`rag.signals.document_name_words`)."""
    if not history or not is_follow_up(question):
        return FollowUp(question)
    previous_question, previous_answer = _last(history, "user"), _last(history, "assistant")
    quotes = quoted_sentences(previous_answer) if previous_answer else []
    words = set(_WORDS.findall(question.lower()))
    titles = {doc_id: document.title for doc_id, document in documents.items()}
    names_its_own = bool(named_documents(question, names, titles))
    scope = [] if names_its_own else sorted(named_documents(previous_question, names, titles))
    parts = [question]
    if words & _PERSON_PRONOUNS:
        people = _people(previous_question, names)
        answered_with = _people(quotes[0], names) if quotes else []
        if answered_with and _ASKS_FOR_A_PERSON.match(previous_question):
            # "Which former ambassador does Heinonen quote?" -> "he" is whom the answer named.
            scope = _quoted_documents(quotes[:1], documents)
            parts += [" ".join(answered_with), previous_question]
        elif people:  # someone the previous question asked about, who is not an author
            parts += [" ".join(people), previous_question]
        elif not names_its_own:  # an author: of the document named before, else of the one quoted first
            scope = scope or _quoted_documents(quotes[:1], documents)
            parts += [a for doc_id in scope for a in documents[doc_id].authors]
        else:
            parts.append(previous_question)
    elif not scope:
        parts.append(previous_question)
    if words & _POINTING and quotes and not scope:
        parts.append(quotes[0][:400])
    return FollowUp(" ".join(p for p in parts if p), frozenset(scope), frozenset(quotes))


def prefer_new(
    evidence: Sequence[Evidence], already_quoted: frozenset[str], relative: float, floor: float = 0.0
) -> list[Evidence]:
    """A follow-up asks for something new: when its best sentence was quoted in the previous answer and
    a sentence not quoted yet scores nearly as well (`relative` of the best) and is still support enough
    to answer with (`floor`, the refusal threshold), that one leads instead. Otherwise the best sentence
    leads again: quoting it twice is better than refusing a question the texts answer."""
    if not evidence or normalize(evidence[0].sentence.text) not in already_quoted:
        return list(evidence)
    best = evidence[0].score
    for i, candidate in enumerate(evidence):
        if candidate.score < relative * best:
            break
        if normalize(candidate.sentence.text) not in already_quoted and candidate.support >= floor:
            return [candidate, *evidence[:i], *evidence[i + 1 :]]
    return list(evidence)


def search_query(question: str, history: Sequence[Turn]) -> str:
    """The text to retrieve with, without documents to resolve against (pronouns are not resolved)."""
    return resolve_follow_up(question, history, {}, {}).query
