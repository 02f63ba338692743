"""What a question itself tells about the answer it needs, read once per question.

    signals = read_signals(question, document_names, evidence)
    signals.named_docs        # documents the question names by author or title
    signals.unmatched_figures # figures it pins ("point 17", "in 1994") that no candidate sentence holds
    signals.asks_quantity     # "how many ...?": an answer must state a number
    signals.unmatched_names   # names it asks about ("Poland's government") that no likely answer mentions
    signals.answer_type       # "date" for "on what date / in what year ...?": an answer must state one;
                              # "time" for "when ...?": an answer must say when, a date or an event;
                              # "duration" for "how long ...?": a length of time or of distance;
                              # "amount" for "how much money/aid ...?": an amount (not for "how much does")

These travel as one value from evidence scoring to the choice of sentences
(`rag.compose.choose_evidence`), where they decide comparisons and refusals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from index.store import IndexData
from index.text import asks_for_quantity, normalize, numbers, tokenize
from rag.evidence import Evidence

__all__ = [
    "QuestionSignals",
    "Vocabulary",
    "document_name_words",
    "named_documents",
    "question_names",
    "read_signals",
    "states_answer_type",
    "states_time",
]


@dataclass(frozen=True)
class QuestionSignals:
    named_docs: frozenset[str] = frozenset()
    unmatched_figures: frozenset[str] = frozenset()
    asks_quantity: bool = False
    unmatched_names: frozenset[str] = frozenset()
    answer_type: str | None = None  # "date", "time", "duration", "amount" or None (any sentence may answer)


# A capitalised word inside a question names something ("Poland", "Peskov", "G7"); the first word and
# words every question may capitalise are not names. Apostrophe endings are dropped: "Poland's" -> "Poland".
_NAME = re.compile(r"(?<![\w'’])([A-Z][\w]*(?:[-‐][A-Z]?[\w]+)*|[a-z]*\d+[A-Za-z]+\w*)(?:['’]s?)?")
NOT_NAMES = frozenset(
    """I What Who Whom Whose Which When Where Why How Is Are Was Were Do Does Did Can Could Would Should Will
    Has Have Had And But Or So Then Also According In On At Of For To By With From As If The A An This That
    These Those It Its Their His Her Mr Mrs Ms Dr""".split()
)
# Looked for in the best few evidence sentences: those the answer would quote.
_NAME_WINDOW = 6
_DATE_QUESTION = re.compile(
    r"^\s*(?:and\s+|but\s+|so\s+)?(?:(?:on|in|by|since|until)\s+)?(?:what|which)\s+(?:date|day|year|month)\b",
    re.IGNORECASE,
)
_WHEN_QUESTION = re.compile(r"^\s*(?:and\s+|but\s+|so\s+)?when\b", re.IGNORECASE)
# "When ...?" is answered by a date, and as often by an event or a stage ("at the end of the season",
# "after the war", "when her condition worsens"): any word that places something in time will do.
_WHEN_WORDS = re.compile(
    r"\b(?:\d{3,4}s?|bc|ad|bce|ce|centur(?:y|ies)|decades?|years?|months?|weeks?|days?|hours?|seasons?|episodes?|"
    r"era|age|period|times?|ago|after|before|during|until|till|since|when|while|once|then|now|later|earlier|"
    r"soon|first|last|end|beginning|early|late|today|yesterday|tomorrow|tonight|morning|evening|night)\b",
    re.IGNORECASE,
)
_MONTHS = "january february march april may june july august september october november december"
# What states a time: a year or decade, a month, a weekday, a day of the month, or a word pointing at a day.
_TIME_WORDS = re.compile(
    r"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b\d{1,2}(?:st|nd|rd|th)\b|\b(?:"
    + "|".join(_MONTHS.split())
    + r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|tonight)\b"
    r"|\b(?:this|last|next|that)\s+(?:week|month|year|spring|summer|autumn|fall|winter)\b"
    r"|\b\w+\s+(?:days|weeks|months|years|decades)\s+(?:ago|later|earlier)\b",
    re.IGNORECASE,
)


_OPENING = r"^\s*(?:and\s+|but\s+|so\s+)?"
_HOW_LONG = re.compile(_OPENING + r"(?:for\s+)?how\s+long\b", re.IGNORECASE)
# "How much aid ...?" asks for an amount; "How much does she trust him?" for a degree: an auxiliary
# verb right after "how much" marks the degree, which any sentence may answer.
_HOW_MUCH = re.compile(
    _OPENING + r"how\s+much\s+(?!(?:do|does|did|is|are|was|were|will|would|can|could|should|shall|has|have|had|"
    r"may|might|must)\b)[a-z]",
    re.IGNORECASE,
)
# A length of time or of distance: a count and a unit ("four-year-old", "200 km", "three decades"), or a start
# ("since 2014"). The unit may stand anywhere in the sentence: a table row names it in its header
# ("Length (m): 1,066").
_DURATION_UNIT = re.compile(
    r"\b(?:years?|months?|weeks?|days?|hours?|minutes?|decades?|centur(?:y|ies)|km|kilomet(?:er|re)s?|miles?|"
    r"met(?:er|re)s?|m|ft|feet|foot|length|long|distance|duration)\b",
    re.IGNORECASE,
)
_SINCE = re.compile(r"\bsince\s+(?:\d{4}|the\s+\w+|(?-i:[A-Z])\w+)", re.IGNORECASE)
# An amount: money, a share, or a figure with a scale word, anywhere in the sentence (a table's header may
# name the currency: "Cost (USD): 1,200"); a bare year ("since 2022") is no amount.
_AMOUNT_WORD = re.compile(
    r"[$€£¥%]|\b(?:percent|per\s+cent|billions?|millions?|thousands?|trillions?|bn|usd|eur|gbp|dollars?|euros?|"
    r"pounds?|yuan|rubles?|roubles?|hryvnias?|tons?|tonnes?|barrels?)\b",
    re.IGNORECASE,
)
_COUNT_WORD = re.compile(
    r"\b(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"hundreds?|thousands?|several|few|many|half|dozen)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(?:1[5-9]|20)\d\d$")


def _figures(text: str) -> list[str]:
    """The figures of a text, years left out ("2014" places a time, it measures nothing)."""
    return [n for n in numbers(text) if not _YEAR.match(n)]


def states_answer_type(text: str, answer_type: str) -> bool:
    """Whether a sentence states what the question's type asks for (see `QuestionSignals.answer_type`)."""
    if answer_type == "duration":
        counted = bool(_figures(text)) or bool(_COUNT_WORD.search(text))
        return bool(_SINCE.search(text)) or (counted and bool(_DURATION_UNIT.search(text)))
    if answer_type == "amount":
        return bool(_figures(text)) and bool(_AMOUNT_WORD.search(text))
    return states_time(text, answer_type)


def _answer_type(question: str) -> str | None:
    if _DATE_QUESTION.search(question):
        return "date"
    if _WHEN_QUESTION.search(question):
        return "time"
    if _HOW_LONG.search(question):
        return "duration"
    if _HOW_MUCH.search(question):
        return "amount"
    return None


def question_names(question: str) -> list[str]:
    """The names a question asks about: capitalised words (and word-digit mixes such as "G7") past its
    first word, lower-cased; "the 28-point plan" has no name, "What did Poland's government say" has one."""
    names = []
    for position, match in enumerate(_NAME.finditer(question)):
        word = match.group(1)
        if (position == 0 and match.start() == len(question) - len(question.lstrip())) or word in NOT_NAMES:
            continue
        for part in re.split(r"[-‐]", word):  # "Trump-Putin pact": two names
            if len(part) >= 3 or any(ch.isdigit() for ch in part):
                names.append(part.lower())
    return names


@dataclass(frozen=True)
class Vocabulary:
    """The words of a text as written, lower-cased: all of them, and those written with a capital."""

    words: frozenset[str]
    capitalised: frozenset[str]

    @classmethod
    def of(cls, text: str) -> Vocabulary:
        text = normalize(text)
        words, capitalised = set(), set()
        for match in re.finditer(r"\w+", text):
            word = match.group()
            words.add(word.lower())
            before = text[: match.start()].rstrip()
            # A capital after a full stop (or at the start) only opens a sentence: "Political chaos ...".
            if word[0].isupper() and before and before[-1] not in ".!?:\"'\n":
                capitalised.add(word.lower())
        return cls(frozenset(words), frozenset(capitalised))

    def mentions(self, name: str) -> bool:
        """Whether a name, or a word made from it, is here: "russia" matches "russian", "europe" "european",
        and a capitalised word sharing its first three letters ("finnish" matches "Finland")."""
        if any(ch.isdigit() for ch in name) or len(name) <= 4:
            return name in self.words
        prefix = name[: max(4, len(name) - 2)]
        return any(w.startswith(prefix) for w in self.words) or any(w[:3] == name[:3] for w in self.capitalised)


def states_time(text: str, answer_type: str = "date") -> bool:
    """Whether the text can answer a question of `answer_type`: for "date", it states a year, a date, a
    month or a weekday; for "time" ("when ...?"), any word that places something in time."""
    return bool((_TIME_WORDS if answer_type == "date" else _WHEN_WORDS).search(text))


def document_name_words(data: IndexData) -> dict[str, set[str]]:
    """The words (as tokenized) that name each document in a question: its authors' names, and the words
    of its title that no other document's text uses ("least bad option", not "plan" or "Ukraine": a
    question about the plan is not a question about the one document whose title says "plan")."""
    texts = {doc.id: set(tokenize(doc.text)) for doc in data.documents.values()}
    used_by: dict[str, int] = {}
    for tokens in texts.values():
        for token in tokens:
            used_by[token] = used_by.get(token, 0) + 1
    names = {}
    for doc in data.documents.values():
        title = {t for t in tokenize(doc.title) if used_by.get(t, 0) <= 1 and not any(ch.isdigit() for ch in t)}
        names[doc.id] = set(tokenize(" ".join(doc.authors))) | title
    return names


def named_documents(
    question: str, names: Mapping[str, set[str]], titles: Mapping[str, str] | None = None
) -> frozenset[str]:
    """Documents whose author or title words (not words shared by several documents) appear in the
    question, or whose whole title it quotes (`titles`: document id -> title)."""
    quoted = normalize(question).casefold()
    by_title = {d for d, title in (titles or {}).items() if len(title) >= 12 and normalize(title).casefold() in quoted}
    words = set(tokenize(question))
    counts: dict[str, int] = {}
    for tokens in names.values():
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
    by_name = {doc_id for doc_id, tokens in names.items() if any(counts[t] == 1 and t in words for t in tokens)}
    return frozenset(by_name | by_title)


def read_signals(
    question: str,
    names: Mapping[str, set[str]],
    evidence: Sequence[Evidence],
    vocabularies: Mapping[str, Vocabulary] | None = None,
    titles: Mapping[str, str] | None = None,
    named_docs: frozenset[str] | None = None,
) -> QuestionSignals:
    """The question's signals, given the candidate evidence sentences found for it.

    `question` is the question as asked, not the search text: a follow-up's search
    text carries the earlier turn, whose figures and names this question did not pin.
    `names` are each document's title and author words (`document_name_words`), and
    `vocabularies` each document's words (`Vocabulary.of(document.text)`); `named_docs`, when the
    caller has found them already (`named_documents`), are taken as they are.
    """
    vocabularies = vocabularies or {}
    # A figure the question pins that no candidate sentence holds: the passages are about something
    # else, however close their words (docs/calibration.md). Single digits are left out: they are
    # often spelled out ("3 little birds" / "Three Little Birds") or only number the question itself
    # ("2 facts about ...", "(5 points)").
    pinned = {figure for figure in numbers(question) if sum(ch.isdigit() for ch in figure) >= 2}
    candidate_figures = set().union(*(numbers(e.sentence.text) for e in evidence)) if evidence else set()
    # A name the question asks about must appear in a document that would be quoted: "What did Poland's
    # government say ...?" is not answered by documents on governments that never mention Poland. The whole
    # document counts, not only the sentence: it may name its subject once ("the Finnish commentator").
    # Names of any document (its title and author words) are how questions pick documents, not subjects.
    likely = {e.sentence.doc_id for e in evidence[:_NAME_WINDOW]}
    unmatched_names = {
        name
        for name in question_names(question)
        if not any(set(tokenize(name)) <= document_names for document_names in names.values())
        and not any(vocabularies[doc_id].mentions(name) for doc_id in likely if doc_id in vocabularies)
    }
    return QuestionSignals(
        named_docs=named_documents(question, names, titles) if named_docs is None else named_docs,
        unmatched_figures=frozenset(pinned - candidate_figures),
        asks_quantity=asks_for_quantity(question),
        unmatched_names=frozenset(unmatched_names),
        answer_type=_answer_type(question),
    )
