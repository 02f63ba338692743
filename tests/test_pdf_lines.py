"""Exact PDF quotes: wrapped lines, hyphenated line ends and page breaks inside a sentence (index.lines, index.pdf).

The unit tests feed hand-written lines to index.lines; the slow ones write a real PDF with fpdf2,
index it with the real model, ask, and check the quote is the whole sentence, verifies at its
offsets and names the page where it starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from index.builder import build_index
from index.lines import Line, join_pages
from index.loaders import load_file
from index.sentences import split_sentences


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


# --- index.lines on hand-written lines ---------------------------------------------------------------


def test_wrapped_lines_become_one_sentence() -> None:
    lines = [
        Line("Admission to the gardens is free of charge for"),
        Line("children under twelve, and adults pay five euros."),
        Line("The gates close at dusk in every season of the"),
        Line("year."),
    ]
    joined = join_pages([lines])
    assert sentences(joined.text) == [
        "Admission to the gardens is free of charge for children under twelve, and adults pay five euros.",
        "The gates close at dusk in every season of the year.",
    ]
    assert joined.page_starts == (0,)


@pytest.mark.parametrize(
    ("upper", "lower", "joined"),
    [
        ("the budget of the gov-", "ernment was cut", "the budget of the government was cut"),  # line-end hyphenation
        ("a town that is well-", "known for its bridges", "a town that is well-known for its bridges"),  # compound word
        ("the cases of COVID-", "19 in the region", "the cases of COVID-19 in the region"),  # digit after
        ("the early Anglo-", "Saxon kingdoms", "the early Anglo-Saxon kingdoms"),  # capital after
        ("a soft hy\u00ad", "phen is dropped", "a soft hyphen is dropped"),
    ],
)
def test_hyphenated_line_ends(upper: str, lower: str, joined: str) -> None:
    assert join_pages([[Line(upper), Line(lower)]]).text == joined + "\n\n"


def test_a_hyphen_the_document_writes_elsewhere_is_kept() -> None:
    lines = [Line("The rail-road reached the valley in the spring, and the rail-"), Line("road company grew.")]
    assert "and the rail-road company grew." in join_pages([lines]).text
    plain = [Line("The line reached the valley in the spring, and the rail-"), Line("road company grew.")]
    assert "and the railroad company grew." in join_pages([plain]).text


def test_real_breaks_stay_breaks() -> None:
    lines = [
        Line("Opening hours"),  # short heading without a full stop
        Line("The museum opens at nine every morning of the week except on"),
        Line("public holidays, when it opens at noon and closes early."),
        Line(""),  # blank line: a new paragraph
        Line("tickets are sold at the door and online, and groups should book"),
        Line("ahead of their visit by telephone."),
        Line("\u2022 a list item on its own line that is long enough to wrap"),
        Line("\u2022 another item"),
    ]
    text = join_pages([lines]).text
    assert text.split("\n")[:5] == [
        "Opening hours",
        "The museum opens at nine every morning of the week except on public holidays, when it opens at noon "
        "and closes early.",
        "tickets are sold at the door and online, and groups should book ahead of their visit by telephone.",
        "\u2022 a list item on its own line that is long enough to wrap",
        "\u2022 another item",
    ]


def test_positions_decide_paragraphs_and_headings() -> None:
    lines = [
        Line("A heading as long as the lines of the paragraph under it", y=700, size=16),
        Line("The first paragraph runs over two lines of the page and it", y=680, size=11),
        Line("ends here on the second line without any blank line below", y=666, size=11),
        Line("a second paragraph that starts after a larger vertical gap", y=640, size=11),
        Line("and ends on this line of the page, a little further down.", y=626, size=11),
    ]
    assert join_pages([lines]).text.split("\n")[:3] == [
        "A heading as long as the lines of the paragraph under it",
        "The first paragraph runs over two lines of the page and it ends here on the second line without any "
        "blank line below",
        "a second paragraph that starts after a larger vertical gap and ends on this line of the page, a little "
        "further down.",
    ]


def test_a_sentence_running_on_to_the_next_page_is_joined_and_starts_on_the_first() -> None:
    page_one = [Line("Notes."), Line("The ferry leaves from the pier next to the museum every hour until")]
    page_two = [Line("six in the evening. Tours start at noon.")]
    joined = join_pages([page_one, page_two])
    sentence = "The ferry leaves from the pier next to the museum every hour until six in the evening."
    start = joined.text.index(sentence)
    assert sentence in sentences(joined.text)
    assert joined.text[joined.page_starts[1] :].startswith("six in the evening.")
    assert start < joined.page_starts[1] < start + len(sentence)


def test_a_page_ending_in_a_sentence_or_a_footer_does_not_run_on() -> None:
    ended = join_pages([[Line("The first page ends with a full sentence.")], [Line("and a lowercase start.")]])
    assert ended.text == "The first page ends with a full sentence.\n\nand a lowercase start.\n\n"
    assert ended.page_starts == (0, ended.text.index("and a"))
    footer = [Line("A long line of text that stops in the middle of its sentence at the"), Line("Annual report")]
    assert "\n\n" in join_pages([footer, [Line("bottom of the page.")]]).text


@pytest.mark.parametrize("number", ["3", "- 3 -", "Page 3 of 9", "[3]", "iv"])
def test_page_numbers_are_left_out_so_a_sentence_runs_on_past_them(number: str) -> None:
    page_one = [Line(number), Line("A long line of text that stops in the middle of its sentence at the"), Line(number)]
    joined = join_pages([page_one, [Line(number), Line("bottom of the page.")]])
    assert joined.text == "A long line of text that stops in the middle of its sentence at the bottom of the page.\n\n"
    assert joined.page_starts == (0, joined.text.index("bottom"))


def test_running_headers_and_footers_are_left_out() -> None:
    wrapped = "a line of body text long enough to be a full line of the page and to wrap"
    pages = [
        [Line("Harbour Report"), Line(f"Page one starts with {wrapped}"), Line("Draft - page 1")],
        *(
            [Line("Harbour Report"), Line(f"{wrapped} about the {topic}"), Line(f"Draft - page {n}")]
            for n, topic in enumerate(["pier", "lamp", "ferry"], start=2)
        ),
    ]
    text = join_pages(pages).text
    assert text.startswith("Harbour Report\nPage one starts")  # the first page keeps its title line
    assert text.count("Harbour Report") == 1 and "Draft" not in text
    assert f"to wrap {wrapped} about the pier" in text  # a sentence runs on past the footer and header


def test_empty_pages_keep_their_place() -> None:
    joined = join_pages([[Line("First page.")], [], [Line("Third page.")]])
    assert joined.text == "First page.\n\nThird page.\n\n"
    assert joined.page_starts == (0, 13, 13)


# --- a real PDF, indexed and asked -----------------------------------------------------------------

HEADING = "Visiting the Harbour Museum"
PAGE_ONE = [
    "The Harbour Museum opens every day at nine in the morning, and admission is free for",
    "children under twelve years of age. Adults pay eight euros at the door, and the gov-",
    "ernment pays for school visits. The lighthouse gallery on the top floor is well-",
    "known for the old brass lamps of the coast. The ferry to the island leaves from the",
]
PAGE_TWO = [
    "pier next to the museum every hour until six in the evening. Guided tours start at",
    "noon and last one hour.",
]
ADMISSION = (
    "The Harbour Museum opens every day at nine in the morning, and admission is free for children under twelve "
    "years of age."
)
FEES = "Adults pay eight euros at the door, and the government pays for school visits."
GALLERY = "The lighthouse gallery on the top floor is well-known for the old brass lamps of the coast."
FERRY = "The ferry to the island leaves from the pier next to the museum every hour until six in the evening."
TOURS = "Guided tours start at noon and last one hour."


def write_wrapped_pdf(path: Path) -> None:
    """A two-page PDF written with fpdf2, its lines broken exactly where PAGE_ONE and PAGE_TWO break them."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 10, HEADING, new_x="LMARGIN", new_y="NEXT")
    for number, lines in enumerate((PAGE_ONE, PAGE_TWO)):
        if number:
            pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(-15)
        pdf.cell(0, 6, str(number + 1), align="C")  # a page-number footer
    pdf.output(str(path))


def test_a_pdf_stores_whole_sentences_with_exact_pages(tmp_path: Path) -> None:
    path = tmp_path / "museum.pdf"
    write_wrapped_pdf(path)
    document = load_file(path, "museum")
    found = sentences(document.text)
    for sentence in (HEADING, ADMISSION, FEES, GALLERY):
        assert sentence in found
        assert document.page_at(document.text.index(sentence)) == 1
    assert document.page_at(document.text.index(TOURS)) == 2
    assert document.ocr_spans == ()


@pytest.mark.slow
def test_asking_a_wrapped_pdf_quotes_the_whole_sentence(tmp_path: Path, embedder) -> None:
    from rag.engine import Engine

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_wrapped_pdf(corpus / "museum.pdf")
    build_index([corpus], tmp_path / "index", embedder)
    engine = Engine.open(tmp_path / "index", embedder=embedder, build_if_missing=False)
    document = engine.data.documents["museum"]
    for question, sentence, page in [
        ("Is admission free for children?", ADMISSION, 1),
        ("How often does the ferry to the island leave?", FERRY, 1),
    ]:
        answer = engine.ask(question)
        assert not answer.refused, question
        quotes = {citation.quote: citation for citation in answer.citations}
        assert sentence in quotes, (question, list(quotes))
        citation = quotes[sentence]
        assert document.text[citation.start : citation.end] == citation.quote
        assert citation.page == page
        assert citation.ocr is False


def _old_pdf_reader(data: bytes) -> dict[str, object]:
    """The PDF reader before lines were joined: pypdf's lines as they are, pages apart."""
    import io

    import pypdf

    pages = [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages]
    text, starts = "", []
    for page in pages:
        starts.append(len(text))
        text += page.strip() + "\n\n"
    return {"text": text, "page_starts": tuple(starts)}


def test_a_pdf_indexed_by_the_old_reader_is_read_and_chunked_again(tmp_path: Path, monkeypatch) -> None:
    """Same bytes, new text: an index whose stored PDF text predates the joining (say it was brought up to
    date from its stored texts when opened) takes the new text on the next build, with chunks cut from it."""
    from index.readers import READERS
    from index.store import read_index
    from tests.fakes import CountingEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_wrapped_pdf(corpus / "museum.pdf")
    (corpus / "notes.txt").write_text("A plain note that no reader change touches.\n")
    embedder = CountingEmbedder()
    with monkeypatch.context() as patch:
        patch.setitem(READERS, ".pdf", _old_pdf_reader)
        build_index([corpus], tmp_path / "index", embedder)
    assert ADMISSION not in read_index(tmp_path / "index").documents["museum"].text  # cut at the line end

    embedder.embedded.clear()
    summary = build_index([corpus], tmp_path / "index", embedder)
    data = read_index(tmp_path / "index")
    document = data.documents["museum"]
    assert ADMISSION in document.text
    chunks = [chunk for chunk in data.chunks if chunk.doc_id == "museum"]
    assert summary.embedded == len(chunks) == len(embedder.embedded)  # the PDF only: the note kept its vectors
    assert any(ADMISSION in chunk.text for chunk in chunks)
    for chunk in chunks:
        assert chunk.text == document.text[chunk.start : chunk.end]
        assert all(document.text[start:end].strip() for start, end in chunk.sentences)


@pytest.mark.browser
def test_a_pdf_printed_by_chromium_keeps_its_wrapped_sentences_whole(tmp_path: Path) -> None:
    """Browsers are where many PDFs come from: the real Chromium prints a narrow page, so every sentence wraps."""
    from tests.web_fixtures import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    html = (
        '<body style="font-family: serif; font-size: 14px; width: 340px">'
        f"<h2>{HEADING}</h2><p>{ADMISSION} {FEES}</p><p>{FERRY} {TOURS}</p></body>"
    )
    path = tmp_path / "printed.pdf"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_content(html)
        page.pdf(path=str(path), format="A5")
        browser.close()
    assert ADMISSION not in _old_pdf_reader(path.read_bytes())["text"]  # printed over several lines
    document = load_file(path, "printed")
    assert sentences(document.text) == [HEADING, ADMISSION, FEES, FERRY, TOURS]
