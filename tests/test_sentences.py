import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.sentences import split_sentences


def texts_of(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_splits_prose_and_keeps_initials_and_abbreviations():
    text = "Jack F. Matlock Jr., who served in Moscow, agreed. The U.S. left. Did it? Yes!"
    assert texts_of(text) == [
        "Jack F. Matlock Jr., who served in Moscow, agreed.",
        "The U.S. left.",
        "Did it?",
        "Yes!",
    ]


def test_closing_quotes_stay_with_their_sentence_and_lines_end_sentences():
    text = "He said “it is peace for our time.” Trump agreed\nA heading\n\nNext paragraph . . . goes on."
    assert texts_of(text) == [
        "He said “it is peace for our time.”",
        "Trump agreed",
        "A heading",
        "Next paragraph . . . goes on.",
    ]


def test_lowercase_continuation_is_not_a_new_sentence():
    assert texts_of("It cost 3.5 percent. e.g. this stays, and so on.") == [
        "It cost 3.5 percent. e.g. this stays, and so on.",
    ]


prose = st.lists(
    st.sampled_from([*list("abcXYZ .!?\n\xa0”\"'"), "Mr.", "U.S.", " F. "]),
    max_size=120,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(prose)
def test_spans_are_ordered_stripped_and_cover_every_visible_character(text):
    spans = split_sentences(text)
    covered = set()
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip()
        covered.update(range(start, end))
        previous_end = end
    visible = {i for i, ch in enumerate(text) if not ch.isspace()}
    assert visible <= covered


def test_penn_treebank_tokenized_text_splits_at_spaced_periods():
    # Wikipedia-derived NLP data (ClapNQ, Natural Questions) puts a space before punctuation.
    text = "The season began in 1999 . It was `` the best '' year . Mr . Smith said so ! He left ."
    assert texts_of(text) == [
        "The season began in 1999 .",
        "It was `` the best '' year .",
        "Mr . Smith said so !",
        "He left .",
    ]


def test_a_spaced_period_before_a_lowercase_word_or_more_dots_does_not_end_a_sentence():
    assert texts_of("It costs 5 dollars . . . and more . Then") == ["It costs 5 dollars . . . and more .", "Then"]


def test_a_spaced_ellipsis_inside_a_quotation_does_not_cut_it():
    text = (
        "As Simonyan once said: “If we lose, The Hague will come for everyone, even the janitor at the Kremlin "
        "wall . . . The scale of catastrophe is unimaginable.” Such sentiments are common."
    )
    assert texts_of(text) == [
        "As Simonyan once said: “If we lose, The Hague will come for everyone, even the janitor at the Kremlin "
        "wall . . . The scale of catastrophe is unimaginable.”",
        "Such sentiments are common.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wait here . . . . Next one.", ["Wait here . . . .", "Next one."]),  # four dots end it
        ('He said "wait . . ." He left.', ['He said "wait . . ."', "He left."]),  # the quotation closes
        ("They moved to the U.S. . Then it rained .", ["They moved to the U.S. .", "Then it rained ."]),
    ],
)
def test_only_an_open_three_dot_ellipsis_keeps_the_sentence_going(text: str, expected: list[str]):
    assert texts_of(text) == expected
