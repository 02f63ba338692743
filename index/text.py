"""Text normalisation for *matching* only, and the lexical tokenizer.

Nothing here changes what is shown to a reader: quotes are always cut from the
original text by offsets. These functions make two spellings of the same words
compare equal (curly vs straight quotes, no-break spaces, runs of whitespace).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["STOPWORDS", "asks_for_quantity", "content_tokens", "mentions_quantity", "normalize", "numbers", "tokenize"]

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)
_WHITESPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)

# A short English list: words that carry no topic, dropped from lexical matching.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t don did does according say said says tell told""".split()
)


def normalize(text: str) -> str:
    """NFKC, straight quotes and dashes, single spaces; for comparing texts."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _WHITESPACE.sub(" ", text).strip()


@lru_cache(maxsize=1)
def _stemmer():
    # Imported lazily: only the lexical side needs it.
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed word tokens (stopwords dropped) for BM25 and overlap scores."""
    words = [w.replace("\u2019", "'") for w in _WORD.findall(normalize(text).lower())]
    words = [w for w in words if w not in STOPWORDS]
    return _stemmer().stemWords(words)


def content_tokens(text: str) -> set[str]:
    """The distinct lexical tokens of a text."""
    return set(tokenize(text))


# English only: a question asking for a count, and the words that can state one.
_QUANTITY_QUESTION = re.compile(r"\bhow\s+many\b", re.IGNORECASE)
_QUANTITY_WORD = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
    r"thousands?|millions?|billions?|trillions?|dozens?|half|twice|double|triple)\b",
    re.IGNORECASE,
)


def asks_for_quantity(question: str) -> bool:
    """Whether the question asks "how many" (a count). "How much" is left out: it as often asks for
    a degree ("How much does Stockton trust Putin?") as for an amount."""
    return bool(_QUANTITY_QUESTION.search(question))


def mentions_quantity(text: str) -> bool:
    """Whether the text states a count or an amount: a figure, or a number or quantity word."""
    return bool(_QUANTITY_WORD.search(text))


def numbers(text: str) -> set[str]:
    """The figures in a text, thousands separators dropped: "600,000 troops in 2022." -> {"600000", "2022"}."""
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(normalize(text))}
