import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunker import Chunker
from index.types import Document


def document(text: str) -> Document:
    return Document(id="doc", text=text, title="t", path="doc.txt", format="txt", content_hash="h")


def words(text: str) -> int:
    return len(text.split())


def test_chunks_are_exact_slices_of_whole_sentences_with_overlap():
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(30))
    chunks = Chunker(words, chunk_size=30, chunk_overlap=10).chunk(document(text))
    assert len(chunks) > 3
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert words(chunk.text) <= 30
        assert chunk.text.startswith("Sentence") and chunk.text.endswith("words.")
    # Consecutive chunks share at least one sentence (the overlap).
    for first, second in itertools.pairwise(chunks):
        assert second.start < first.end


def test_a_sentence_longer_than_a_chunk_is_cut_at_words_not_truncated():
    text = "Short one. " + " ".join(f"w{i}" for i in range(95)) + ". Tail."
    chunks = Chunker(words, chunk_size=20, chunk_overlap=0).chunk(document(text))
    assert all(words(c.text) <= 20 for c in chunks)
    joined = " ".join(c.text for c in chunks).split()
    assert joined == text.split()  # every word kept, none lost or repeated


def test_real_tokenizer_limit_is_respected(tmp_path):
    # Token counts that are not word counts: long words count as several tokens.
    def tokens(text: str) -> int:
        return sum(1 + len(word) // 4 for word in text.split())

    text = "Antidisestablishmentarianism prevails. " * 40
    chunks = Chunker(tokens, chunk_size=25, chunk_overlap=5).chunk(document(text))
    assert chunks and all(tokens(c.text) <= 25 for c in chunks)


arbitrary = st.lists(
    st.sampled_from([*list("ab Z.!?\n\t\xa0,;"), "Mr.", "word ", "Long. "]),
    max_size=250,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(arbitrary, st.integers(min_value=3, max_value=40), st.integers(min_value=0, max_value=10))
def test_offsets_and_sentence_spans_hold_on_arbitrary_text(text, size, overlap):
    overlap = min(overlap, size - 1)
    chunker = Chunker(words, chunk_size=size, chunk_overlap=overlap)
    chunks = chunker.chunk(document(text))
    units = chunker.sentence_units(text)
    seen_units = set()
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert words(chunk.text) <= size
        for start, end in chunk.sentences:
            assert chunk.start <= start < end <= chunk.end
            seen_units.add((start, end))
    assert seen_units == set(units)  # every sentence lands in some chunk
