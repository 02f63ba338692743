"""Sentence-aligned, token-aware chunking (langchain-text-splitters lives here only).

A document is cut into sentences; each sentence, with the whitespace that
follows it, is one "split". LangChain's merge policy packs consecutive splits
into chunks of at most `chunk_size` tokens (counted with the embedder's own
tokenizer) with `chunk_overlap` tokens carried over, so chunks start and end
on sentence boundaries and nothing is truncated by the model. A sentence longer
than a whole chunk is first cut at word boundaries.

Because every split is an exact slice of the text and splits are joined with
the empty string, each chunk is an exact slice too, and its offsets follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from langchain_text_splitters import TextSplitter

from index.sentences import split_sentences
from index.types import Chunk, Document, Span

__all__ = ["CHUNKER_VERSION", "Chunker"]

# Raise this whenever a change moves chunk boundaries (see SPLITTER_VERSION).
CHUNKER_VERSION = 1

_WORD_END = re.compile(r"\S+\s*")


class _SentencePacker(TextSplitter):
    """LangChain's standard merge of splits into sized, overlapping chunks."""

    def split_text(self, text: str) -> list[str]:  # pragma: no cover - unused entry point
        raise NotImplementedError("use pack(), which keeps offsets")

    def pack(self, splits: list[str]) -> list[str]:
        return self._merge_splits(splits, separator="")


class Chunker:
    """Cuts documents into chunks of whole sentences, measured in model tokens."""

    def __init__(
        self,
        count_tokens: Callable[[str], int],
        chunk_size: int = 128,
        chunk_overlap: int = 32,
    ) -> None:
        if not 0 <= chunk_overlap < chunk_size:
            raise ValueError("chunk_overlap must be at least 0 and smaller than chunk_size")
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._count_tokens = lru_cache(maxsize=65536)(count_tokens)
        self._packer = _SentencePacker(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            length_function=self._count_tokens,
            strip_whitespace=False,
        )

    def sentence_units(self, text: str) -> list[Span]:
        """Sentences, with any sentence longer than a chunk cut at word boundaries."""
        units: list[Span] = []
        for start, end in split_sentences(text):
            if self._count_tokens(text[start:end]) <= self.chunk_size:
                units.append((start, end))
                continue
            piece_start = start
            piece_end = start
            for word in _WORD_END.finditer(text, start, end):
                candidate = text[piece_start : word.end()].rstrip()
                if piece_end > piece_start and self._count_tokens(candidate) > self.chunk_size:
                    units.append((piece_start, piece_end))
                    piece_start = word.start()
                piece_end = word.start() + len(word.group().rstrip())
            units.append((piece_start, piece_end))
        return units

    def chunk(self, document: Document) -> list[Chunk]:
        text = document.text
        units = self.sentence_units(text)
        if not units:
            return []
        # Each split runs from its sentence's start to the next sentence's start.
        bounds = [start for start, _ in units] + [units[-1][1]]
        splits = [text[bounds[i] : bounds[i + 1]] for i in range(len(units))]
        chunks: list[Chunk] = []
        first = 0
        for packed in self._packer.pack(splits):
            first = _locate(splits, packed, first)
            length = 0
            last = first
            while length < len(packed):
                length += len(splits[last])
                last += 1
            start = bounds[first]
            end = start + len(packed.rstrip())
            sentences = tuple(units[first:last])
            chunks.append(
                Chunk(
                    id=f"{document.id}#{len(chunks)}",
                    doc_id=document.id,
                    start=start,
                    end=end,
                    text=text[start:end],
                    sentences=sentences,
                    page=document.page_at(start),
                )
            )
        return chunks


def _locate(splits: list[str], packed: str, from_index: int) -> int:
    """Index of the split that starts `packed`, searching forward from `from_index`."""
    for index in range(from_index, len(splits)):
        if packed.startswith(splits[index]) and _joins_to(splits, index, packed):
            return index
    raise AssertionError("a packed chunk is not a run of consecutive splits")


def _joins_to(splits: list[str], index: int, packed: str) -> bool:
    joined = ""
    while len(joined) < len(packed) and index < len(splits):
        joined += splits[index]
        index += 1
    return joined == packed
