"""The `[n]` marker patterns and helpers of rag/markers.py."""

from __future__ import annotations

import pytest

from rag.markers import LEADING_MARKERS, MARKED_SENTENCE, MARKER, marker_numbers, strip_markers


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Rubio went to Geneva. [1]", [1]),
        ("Two quotes [1][2].", [1, 2]),
        ("A list [1, 3] and a range [4-6] and an en dash [7–8].", [1, 3, 4, 5, 6, 7, 8]),
        ("A year is no range [2-2024].", [2, 2024]),
        ("No markers (1) here, nor [a].", []),
    ],
)
def test_marker_numbers_reads_every_form_a_model_writes(text, numbers):
    assert marker_numbers(text) == numbers


def test_strip_markers_leaves_no_gap_before_the_full_stop():
    assert (
        strip_markers("Rubio went to Geneva [1, 2]. He met leaders [3][4].") == "Rubio went to Geneva. He met leaders."
    )


def test_leading_markers_are_those_after_a_full_stop():
    match = LEADING_MARKERS.match(" [1][2]. Next sentence")
    assert match and match.group().strip() == "[1][2]."
    assert LEADING_MARKERS.match("Rubio [1].") is None


def test_answers_are_read_back_sentence_by_sentence():
    answer = "Rubio went to Geneva. [1] Polls show 57 percent are tired. [2][3]"
    pieces = [(m.group(1).strip(), MARKER.findall(m.group(2))) for m in MARKED_SENTENCE.finditer(answer)]
    assert pieces == [("Rubio went to Geneva.", ["1"]), ("Polls show 57 percent are tired.", ["2", "3"])]
