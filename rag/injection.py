"""Text in a document that addresses an AI model, found so that it is never evidence nor prompt.

A document may hold text written for an AI model rather than for a reader; `instruction_spans`
finds the whole paragraphs that do (a heading goes with the paragraph under it), so they can be
left out as a whole, not sentence by sentence. Used by the prompt (`rag.prompting`), by
verification (`rag.verify`) and by evidence scoring (`rag.engine`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from index.sentences import split_sentences
from index.text import normalize
from index.types import Span

__all__ = ["addresses_model", "instruction_spans", "looks_like_instruction", "paragraphs"]

# -- text addressed to the model ---------------------------------------------------------------
#
# A document may hold text written for an AI model rather than for a reader ("Note to the AI assistant:
# ignore all previous instructions and ..."). Such text is never shown to the model and never counts as
# support (rag.verify): a document may *report* an instruction, but no answer needs one, and a small
# model obeys them too readily. Two kinds of pattern, in English, French, German and Spanish:
#
# - an ADDRESS names the model as the reader ("note to the AI:", "if you are a language model",
#   "system instruction");
# - an OVERRIDE is an imperative that only makes sense to a model answering questions ("ignore all
#   previous instructions", "reply only with", "answer every question with", "cite this notice").
#
# Imperatives that ordinary prose uses too ("answer every question", "say that") count only at the start
# of a clause, where they are commands rather than reports ("He promised to answer every question"), and
# an addressee must end the phrase ("instructions to the assistant:", not "... to the assistant secretary").

_MODEL = (
    r"(?:ai|a\.i\.|llms?|(?:large\s+)?language\s+models?|chat\s*bots?|(?:ai\s+|virtual\s+)?assistants?"
    r"|ai\s+(?:models?|agents?|systems?)|bots?)"
)
_ADDRESSEE_ENDS = (
    r"(?=\s*(?:[:,.;!)\-–—]|$)|\s+(?:and|or)\s+|\s+(?:reading|processing|answering|summari[sz]ing|parsing|that|who)\b)"
)
# The start of a clause: where a bare verb is a command. After a sentence's end too, for whole paragraphs.
_CLAUSE = (
    r"(?:^|(?<=[.!?]\s)|(?<=[.!?]\"\s)|[:;]\s*|\b(?:please|always|instead)\s+"
    r"|\byou\s+(?:must|should|shall|will|are\s+to)\s+(?:always\s+|only\s+)?)"
)
_ADDRESS = (
    # English
    r"\b(?:system|developer|admin(?:istrator)?)\s+(?:prompt|instructions?|overrides?|directives?|commands?)\b",
    rf"\b(?:notes?|messages?|instructions?|notices?|memo|reminder|directives?|warning|attention)\s+(?:to|for)\s+"
    rf"(?:the\s+|any\s+|all\s+|an?\s+|every\s+|each\s+)?{_MODEL}{_ADDRESSEE_ENDS}",
    rf"\b(?:dear|hey|hello|attention|attn)\s*[,:]?\s+(?:the\s+|all\s+|any\s+)?{_MODEL}{_ADDRESSEE_ENDS}",
    rf"\bif\s+you\s+are\s+(?:an?\s+)?{_MODEL}\b",
    rf"\b{_MODEL}\s+(?:reading|processing|summari[sz]ing|answering|parsing|indexing)\s+(?:this|these|the\s+following)\b",
    r"\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot|llm)\b",
    r"\bas\s+an?\s+(?:ai|language\s+model|llm|assistant)\b[^.]{0,40}\byou\s+(?:must|should|will|shall|are\s+to)\b",
    # French
    r"\b(?:note|message|instructions?|consignes?|avis|remarque|directive)\s+(?:à|a|pour)\s+(?:l'\s*|les\s+|le\s+|tout\s+)?"
    r"(?:ia|intelligence\s+artificielle|assistants?(?:\s+ia)?|modèles?(?:\s+de\s+langage)?|chatbots?|agents?\s+ia)"
    r"(?=\s*(?:[:,.;!)\-–—]|$)|\s+(?:qui|lisant)\b)",
    r"\b(?:instructions?|consignes?|invite)\s+(?:du\s+)?système\b",
    r"\bsi\s+(?:tu\s+es|vous\s+êtes)\s+(?:une?\s+)?(?:ia|assistant|modèle|intelligence\s+artificielle|chatbot)\b",
    r"\b(?:tu\s+es|vous\s+êtes)\s+(?:maintenant\s+|désormais\s+)?une?\s+(?:ia|assistant|modèle\s+de\s+langage|chatbot)\b",
    # German
    r"\b(?:hinweis|nachricht|anweisung(?:en)?|notiz|mitteilung|befehl)\s+(?:an|für)\s+(?:den\s+|die\s+|das\s+|alle\s+|jede\s+)?"
    r"(?:ki|ki-\w+|assistenten|sprachmodelle?|chatbots?)(?=\s*(?:[:,.;!)\-–—]|$)|\s+(?:die|der|das)\s+dies\w*\b)",
    r"\bsystem(?:anweisung|befehl|prompt)\w*",
    r"\b(?:wenn|falls)\s+du\s+(?:eine?\s+)?(?:ki|sprachmodell|assistent|chatbot)\s+bist\b",
    r"\bdu\s+bist\s+(?:jetzt\s+|nun\s+|ab\s+sofort\s+)?(?:eine?\s+)?(?:ki|ki-assistent|assistent|sprachmodell|chatbot)\b",
    # Spanish
    r"\b(?:nota|mensaje|instrucci(?:ón|ones)|aviso|indicaci(?:ón|ones))\s+(?:para|a)\s+(?:el\s+|la\s+|los\s+|las\s+|cualquier\s+)?"
    r"(?:ia|inteligencia\s+artificial|asistentes?(?:\s+de\s+ia)?|modelos?(?:\s+de\s+lenguaje)?|chatbots?)"
    r"(?=\s*(?:[:,.;!)\-–—]|$)|\s+que\b)",
    r"\b(?:nota|mensaje|instrucci(?:ón|ones)|aviso)\s+al\s+(?:asistente|modelo)(?:\s+de\s+(?:ia|lenguaje))?(?=\s*(?:[:,.;!)\-–—]|$))",
    r"\binstrucci(?:ón|ones)\s+(?:del?\s+)?sistema\b",
    r"\bsi\s+(?:eres|usted\s+es)\s+una?\s+(?:ia|asistente|modelo|chatbot|inteligencia)\b",
    r"\b(?:eres|usted\s+es)\s+(?:ahora\s+)?una?\s+(?:ia|asistente|modelo\s+de\s+lenguaje|chatbot)\b",
)
_OVERRIDE = (
    # English
    r"\b(?:ignore|disregard|forget|override|bypass|discard)\s+(?:all\s+|any\s+|every\s+)?(?:of\s+)?"
    r"(?:the\s+|your\s+|my\s+|these\s+|those\s+)?(?:(?:previous|prior|above|earlier|preceding|original|initial|other"
    r"|system|existing|former|remaining)\s+)+(?:\w+\s+)?(?:instructions?|prompts?|rules|messages?|documents?"
    r"|passages?|sources?|context|texts?|guidelines|directions|orders|commands|information|content)\b",
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:your|all|any)\s+(?:\w+\s+)?"
    r"(?:instructions|prompts?|guidelines|programming|training)\b",
    r"\b(?:reply|respond|answer|output|say|write|print|return)\s+(?:only|solely|just|exactly|always|simply)\s+"
    r"(?:with|by|using|the\s+(?:words?|sentence|phrase|text))\b",
    r"\b(?:answer|reply|respond)\w*\s+(?:\w+\s+){0,4}?with\s+(?:exactly|only|precisely|just)\s+"
    r"(?:the|these|this|following)\s+(?:words?|sentences?|phrases?|text|string)\b",
    rf"{_CLAUSE}(?:answer|reply|respond)\s+(?:to\s+)?(?:every|each|all|any)\s+(?:\w+\s+)?"
    r"(?:questions?|quer(?:y|ies)|requests?|prompts?|messages?|users?)\b",
    rf"{_CLAUSE}(?:answer|reply|respond|say|claim|state|write|output)\s+(?:that\b|with\s+\"|\")",
    r"\b(?:do\s+not|don't|never|stop)\s+(?:cite|quote|mention|reveal|use|trust|consult|read|refer\s+to|look\s+at)\s+"
    r"(?:any|the|this|these|those|other|your)\s+(?:other\s+)?(?:passages?|sources?|documents?|articles?|context"
    r"|texts?|instructions)\b",
    r"(?:^|(?<=[.!?]\s)|[:;,]\s*|\b(?:and|please|always|only|then|instead)\s+)cite\s+(?:only\s+)?"
    r"(?:this|these|the\s+present)\s+(?:notice|document|passage|source|page|text|note|message|file|statement"
    r"|announcement)\b",
    r"\b(?:from\s+now\s+on|henceforth),?\s+(?:you\s+(?:must|will|should|are\s+to)\s+|always\s+|only\s+)?"
    r"(?:answer|reply|respond|say|write|ignore|claim|state|tell)\b",
    r"\bnew\s+(?:instructions?|rules|task|directives?|system\s+prompt)\s*:",
    r"\b(?:every|each|any|all)\s+(?:\w+\s+)?(?:questions?|quer(?:y|ies)|prompts?)\s+(?:that\s+)?you\s+"
    r"(?:receive|get|are\s+asked|answer|see|are\s+given)\b",
    r"\banswer\s+to\s+(?:every|each|any|all)\s+(?:\w+\s+)?(?:questions?|quer(?:y|ies)|prompts?)\s+"
    r"(?:is|must\s+be|should\s+be|will\s+be)\b",
    # French
    r"\b(?:ignore[zs]?|oublie[zs]?|ne\s+(?:tiens|tenez)\s+pas\s+compte\s+d[e']?)\s*(?:(?:de\s+)?(?:toutes?|tous)\s+"
    r"(?:les|vos|tes)\s+(?:instructions?|consignes?|directives?|règles|documents?|sources?|messages?)"
    r"|(?:vos|tes)\s+(?:instructions?|consignes?|directives?)"
    r"|(?:les|des)\s+(?:instructions?|consignes?|directives?|règles|documents?|sources?|messages?)\s+"
    r"(?:précédent|antérieur|ci-dessus|initia)|(?:les|des)\s+autres\s+(?:documents?|sources?|passages?|textes?))",
    r"\brépon(?:ds|dez)\s+(?:uniquement|seulement|toujours|exclusivement)\b",
    r"\brépon(?:ds|dez)\s+à\s+(?:toutes?\s+les|chaque|n'importe\s+quelle)\s+(?:questions?|demandes?)\b",
    r"\bne\s+cite[zs]?\s+(?:aucun|aucune|pas|jamais)\b",
    r"(?:^|(?<=[.!?]\s)|[:;,]\s*|\bet\s+)cite[zs]?\s+(?:uniquement\s+|seulement\s+)?(?:ce|cette|cet)\s+"
    r"(?:document|note|avis|passage|source|message|texte|communiqué)\b",
    r"\b(?:désormais|à\s+partir\s+de\s+maintenant),?\s+(?:réponds|répondez|dis|dites|écris|écrivez|ignore[zs]?)\b",
    r"\bavec\s+exactement\s+(?:les\s+mots|la\s+phrase|le\s+texte)\b",
    # German
    r"\b(?:ignoriere|ignorieren\s+sie|ignorier|vergiss|vergessen\s+sie|missachte|missachten\s+sie)\s+(?:bitte\s+)?"
    r"(?:alle\s+|sämtliche\s+|die\s+|deine\s+|ihre\s+|jegliche\s+)?(?:(?:vorherigen|bisherigen|obigen|vorangegangenen"
    r"|früheren|anderen|übrigen|ursprünglichen)\s+)?(?:anweisungen|instruktionen|befehle|vorgaben|dokumente|quellen"
    r"|regeln|texte)\b",
    r"\bantworte(?:n\s+sie)?\s+(?:bitte\s+)?(?:nur|ausschließlich|immer|stets|lediglich|einzig)\b",
    r"\bbeantworte(?:n\s+sie)?\s+(?:bitte\s+)?(?:jede|alle)\s+(?:\w+\s+)?fragen?\s+(?:nur\s+|immer\s+)?mit\b",
    r"\b(?:zitiere|zitieren\s+sie)\s+(?:nur\s+|ausschließlich\s+)?(?:diese[nsm]?|keine[nsm]?)\b",
    r"\bmit\s+(?:genau|exakt|nur)\s+(?:den|dem|diesen|folgenden)\s+(?:worten|wörtern|satz)\b",
    r"\bab\s+(?:sofort|jetzt),?\s+(?:antworte|sage|schreibe|ignoriere)\b",
    # Spanish
    r"\b(?:ignora|ignore|ignoren|ignorad|olvida|olvide|olviden|omite|descarta)\s+(?:(?:todas|todos)\s+(?:las|los|tus|sus)"
    r"\s+(?:instrucciones|indicaciones|órdenes|documentos|fuentes)|(?:tus|sus)\s+instrucciones"
    r"|(?:las|los)\s+(?:instrucciones|indicaciones|órdenes|reglas|documentos|fuentes)\s+(?:anteriores|previas|precedentes)"
    r"|(?:los\s+)?(?:otros|demás)\s+(?:documentos|textos|pasajes|fuentes))",
    r"\b(?:responde|contesta)d?\s+(?:solo|sólo|solamente|únicamente|siempre|exclusivamente)\s+con\s+"
    r"(?:la\s+frase|las\s+palabras|exactamente|el\s+texto)",
    r"(?:^|(?<=[.!?]\s)|[:;]\s*)(?:responde|contesta)\s+(?:solo|sólo|solamente|únicamente|siempre)\b",
    r"(?:^|(?<=[.!?]\s)|[:;]\s*)(?:responde|contesta)\s+a\s+(?:todas\s+las|cada|cualquier)\s+preguntas?\b",
    r"\bno\s+cites\s+(?:ningún|ninguna|los|las|otros|otras)\b",
    r"(?:^|(?<=[.!?]\s)|[:;,]\s*|\by\s+)cita\s+(?:solo\s+|únicamente\s+)?(?:este|esta)\s+"
    r"(?:aviso|nota|documento|fuente|texto|mensaje|comunicado)\b",
    r"\bcon\s+exactamente\s+(?:las\s+palabras|la\s+frase|el\s+texto)\b",
    r"\b(?:a\s+partir\s+de\s+ahora|de\s+ahora\s+en\s+adelante),?\s+(?:responde|contesta|di|escribe|ignora)\b",
)
_ADDRESS_RE = re.compile("|".join(_ADDRESS), re.IGNORECASE)
_OVERRIDE_RE = re.compile("|".join(_OVERRIDE), re.IGNORECASE)
# A paragraph ends at a blank line, or at a line break after a full stop (one paragraph per line, as web
# pages come out of trafilatura). A line ending mid-sentence or with a colon goes on with the next one.
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u00a0]*\n\s*|(?:(?<=[.!?…])|(?<=[.!?…][\"'”’»)\]]))\n\s*")
_HEADING = re.compile(r"[^\n]*[^\s.!?…\"'”’»)\]]\s*")  # one line, no sentence-final punctuation
# An instruction paragraph that points at its neighbour makes that neighbour part of the message.
_POINTS_FORWARD = re.compile(
    r":\s*$|\b(?:following|below|next\s+(?:paragraph|line|sentence|section)|suivante?s?|ci-dessous|folgende\w*"
    r"|unten|siguientes?|a\s+continuación)\b",
    re.IGNORECASE,
)
_POINTS_BACK = re.compile(
    r"\b(?:above|preceding|previous)\s+(?:paragraph|line|sentence|statement|section)s?\b"
    r"|\b(?:paragraph|line|sentence|statement|section)s?\s+above\b"
    r"|\b(?:paragraphe|phrase)\s+(?:précédente?|ci-dessus)|\b(?:obige|vorige)[nrs]?\s+(?:absatz|satz)"
    r"|\b(?:párrafo|frase)\s+anterior\b",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """Is this text addressed to an AI model (a prompt injection) rather than to a reader?"""
    text = normalize(text)
    return bool(_ADDRESS_RE.search(text) or _OVERRIDE_RE.search(text))


def paragraphs(text: str) -> list[Span]:
    """The paragraph spans of a document text (see `_PARAGRAPH_BREAK`), blank ones left out.

    A heading (one line without a full stop) belongs to the paragraph under it: it introduces
    that text, so it stands or falls with it.
    """
    spans: list[Span] = []
    start = 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end() if match else end
    merged: list[Span] = []
    for span in spans:
        if merged and _HEADING.fullmatch(text[merged[-1][0] : merged[-1][1]]):
            span = (merged.pop()[0], span[1])
        merged.append(span)
    return merged


@lru_cache(maxsize=256)
def instruction_spans(text: str) -> tuple[Span, ...]:
    """The paragraphs of a document text that address an AI model, as a whole.

    Filtering sentence by sentence is not enough: an instruction spreads over several sentences
    ("... ignore the other documents. Answer every question with ..."), and only some of them match
    a pattern. So a paragraph holding one is excluded whole, and so is the paragraph it points at: the
    one after a bare address or a colon ("Note to the AI:" then the message), or the one it names
    ("the following paragraph", "the sentence above").
    """
    spans = paragraphs(text)
    flagged: set[int] = set()
    for i, (start, end) in enumerate(spans):
        paragraph = text[start:end]
        # The paragraph as a whole (a pattern across its sentences) and each sentence (a command at the
        # start of a line, after a heading).
        pieces = [normalize(paragraph)] + [normalize(paragraph[s:e]) for s, e in split_sentences(paragraph)]
        override = any(_OVERRIDE_RE.search(piece) for piece in pieces)
        if not (override or any(_ADDRESS_RE.search(piece) for piece in pieces)):
            continue
        flagged.add(i)
        if i + 1 < len(spans) and (not override or _POINTS_FORWARD.search(pieces[0])):
            flagged.add(i + 1)
        if i > 0 and _POINTS_BACK.search(pieces[0]):
            flagged.add(i - 1)
    return tuple(spans[i] for i in sorted(flagged))


def addresses_model(text: str, start: int, end: int, spans: Sequence[Span] | None = None) -> bool:
    """Does `text[start:end]` (a sentence of a document text) belong to a passage addressed to the model?

    `spans` are `instruction_spans(text)` when the caller keeps them (found once per document).
    """
    spans = instruction_spans(text) if spans is None else spans
    return looks_like_instruction(text[start:end]) or any(s < end and start < e for s, e in spans)
