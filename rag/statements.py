"""A generated answer as statements: its sentences, without [n] markers, each with the numbers it cites.

A small model writes markers in many ways ("... Geneva. [1]", "as stated in Passage [2]", "(Title): ...",
bullets), and sometimes says the documents don't answer; `split_statements` and `is_refusal` read all
of that, so verification (`rag.verify`) sees plain claims.
"""

from __future__ import annotations

import re

from index.sentences import split_sentences
from index.text import normalize
from rag.markers import LEADING_MARKERS, MARKER_GROUP, marker_numbers

__all__ = ["is_refusal", "split_statements"]

# "as stated in Passage [2]" / "(passage 2)": the model's long way of writing a marker.
_PASSAGE_REF = re.compile(
    r"(?:,?\s*\b(?:(?:which|this|that|it)(?:\s+quote)?\s+(?:is|was)|as)\b)?"
    r"(?:\s*(?:based|stated|mentioned|noted|described|found|quoted|shown|said|written|given)\b)?"
    r"(?:\s*(?:in|on|from|by|according\s+to|see)\b)?"
    r"\s*\(?\bpassages?\s*(?:\[(\d+(?:\s*[,\-–]\s*\d+)*)\]|(\d+)\b)\)?",
    re.IGNORECASE,
)
# "This information is found in Passage [1]." says where, not what: its markers go to the sentence before.
_META = re.compile(
    r"^(?:this|that|the|these)\s+(?:information|answer|facts?|details?)\s+(?:is|are|can be)\s+"
    r"(?:found|stated|mentioned|given|provided|based)\b"
    r"|^(?:this|that|it)(?:\s+\w+)?\s+(?:is|was|are)\s*\.?$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_LABEL = re.compile(r"^\s*(?:passage\s*\[?\d+\]?\s*)?\([^()]{1,150}\)\s*:\s*", re.IGNORECASE)  # "(Title): ..."
_SPACES = re.compile(r"\s+")
_REFUSAL = re.compile(
    r"\b(?:(?:documents?|passages?|texts?|sources?|context)\s+(?:do|does|did)\s*(?:n't|not)\s+"
    r"(?:answer|contain|mention|say|provide|include|state|address|specify)"
    r"|\b(?:i|we)\s+(?:can ?not|can't|am unable to|are unable to)\s+(?:answer|determine|find|tell)"
    r"|no (?:information|mention) (?:about|of|on|in)"
    r"|not (?:mentioned|stated|provided|specified|given) in the (?:passages?|documents?|texts?))",
    re.IGNORECASE,
)


def is_refusal(sentence: str) -> bool:
    """Does this sentence say the documents don't answer (rather than claim something)?"""
    return bool(_REFUSAL.search(normalize(sentence)))


def split_statements(text: str) -> list[tuple[str, list[int]]]:
    """(statement without markers, cited numbers) per sentence of a generated answer.

    Markers written after the full stop ("... Geneva. [1]") belong to the sentence
    before them, so a piece that starts with markers gives them back.
    """
    statements: list[tuple[str, list[int]]] = []
    text = _PASSAGE_REF.sub(lambda m: f" [{m.group(1) or m.group(2)}]", text)
    for start, end in split_sentences(text):
        piece = text[start:end]
        leading = LEADING_MARKERS.match(piece)
        if leading and statements:
            statements[-1][1].extend(marker_numbers(leading.group()))
            piece = piece[leading.end() :]
        markers = marker_numbers(piece)
        statement = _SPACES.sub(" ", _LABEL.sub("", _BULLET.sub("", MARKER_GROUP.sub("", piece)))).strip()
        statement = re.sub(r"\s+([.,;:!?])", r"\1", statement)
        statement = re.sub(r"([.!?])\.+$|[,;:]+([.!?])$", r"\1\2", statement)  # "X. [5]." -> "X.."; "X, [1]."
        if statement and _META.match(statement) and statements:
            statements[-1][1].extend(markers)
        elif statement:
            statements.append((statement, markers))
        elif markers and statements:
            statements[-1][1].extend(markers)
    return statements
