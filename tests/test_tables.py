"""Tables as units of evidence: rendering, the splitter keeping rows whole, pipe tables, the stored spans,
and the web chat's table around a cited row."""

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from index.builder import build_index
from index.loaders import load_file
from index.sentences import split_sentences
from index.store import read_index
from index.tables import EMPTY_CELL, TextBuilder, clean_cell, is_table_row, rewrite_pipe_tables, row_cells
from index.types import Document
from rag.types import Answer, Citation
from tests.fakes import CountingEmbedder
from tests.format_files import make_docx, make_epub, make_odt, make_xlsx
from ui.render import answer_html, table_html

ROWS = [
    ["Name", "Note", "Year"],
    ["Alpha", "Opened in 1998. Closed again? Yes!", "1998"],
    ["Beta", "", "2004"],
    ["Gamma", "a | b", "2010"],
]


def built() -> tuple[str, Document]:
    builder = TextBuilder()
    builder.paragraph("Intro line. Second sentence.")
    builder.table(ROWS)  # type: ignore[arg-type]
    builder.paragraph("Closing words.")
    fields = builder.fields()
    text = str(fields["text"])
    document = Document(
        id="t", text=text, title="t", path="t.txt", format="txt", content_hash="x", tables=fields["tables"]
    )
    return text, document


def test_each_row_is_one_line_naming_its_columns_and_empty_cells_are_left_out():
    text, document = built()
    (table,) = document.tables
    rows = [text[start:end] for start, end in table.rows]
    assert rows == [
        "Name: Alpha | Note: Opened in 1998. Closed again? Yes! | Year: 1998",
        "Name: Beta | Year: 2004",
        "Name: Gamma | Note: a | b | Year: 2010",
    ]
    assert table.columns == ("Name", "Note", "Year")
    assert text[table.start : table.end] == "\n".join(rows)


def test_a_row_with_one_filled_cell_names_an_empty_one_so_it_stays_a_row():
    builder = TextBuilder()
    builder.table([["Name", "Note", "Year"], ["", "Opened in 1998. Closed in 2004.", ""], ["Beta", "", ""]])
    text = str(builder.fields()["text"])
    assert text.splitlines()[:2] == ["Name: — | Note: Opened in 1998. Closed in 2004.", "Name: Beta | Note: —"]
    assert [text[s:e] for s, e in split_sentences(text)] == text.splitlines()[:2]


def test_the_splitter_never_cuts_a_row_nor_joins_two():
    text, document = built()
    sentences = [text[start:end] for start, end in split_sentences(text)]
    rows = [text[start:end] for start, end in document.tables[0].rows]
    assert sentences == ["Intro line.", "Second sentence.", *rows, "Closing words."]


def test_prose_with_a_pipe_is_still_split_into_sentences():
    assert not is_table_row("Home | About | Contact")  # no "column: value": a menu, not a row
    assert is_table_row("Menu: Home | About. Then prose follows here.")  # rendered as a row would be: kept whole
    assert split_sentences("One sentence. Another | not a row.") == [(0, 13), (14, 34)]


def test_row_cells_puts_each_value_under_its_column_even_with_a_separator_inside():
    text, document = built()
    table = document.tables[0]
    assert [row_cells(text[s:e], table.columns) for s, e in table.rows] == [
        ("Alpha", "Opened in 1998. Closed again? Yes!", "1998"),
        ("Beta", "", "2004"),
        ("Gamma", "a | b", "2010"),
    ]


def test_one_column_or_one_row_tables_are_layout_written_as_paragraphs():
    builder = TextBuilder()
    builder.table([["Only a header", "cell"]])
    builder.table([["a"], ["b"]])
    fields = builder.fields()
    assert fields["text"] == "Only a header\n\ncell\n\na\n\nb\n\n" and "tables" not in fields


def test_blank_and_repeated_header_cells_get_their_position():
    builder = TextBuilder()
    builder.table([["Year", "", "Year"], ["2001", "x", "2002"]])
    fields = builder.fields()
    assert fields["tables"][0].columns == ("Year", "Column 2", "Year (3)")
    assert fields["text"].startswith("Year: 2001 | Column 2: x | Year (3): 2002\n")


def test_markdown_pipe_tables_are_rewritten_and_the_rest_is_kept_exactly():
    source = (
        "Before the table.\n\n"
        "| Plant | Output \\| net |\n| :--- | ---: |\n| North | 5 |\n| South | 7 |\n\n"
        "```\n| Code | Kept |\n|---|---|\n| a | b |\n```\n"
        "After the table."
    )
    text, tables = rewrite_pipe_tables(source)
    assert text == (
        "Before the table.\n\n"
        "Plant: North | Output | net: 5\nPlant: South | Output | net: 7\n\n\n"
        "```\n| Code | Kept |\n|---|---|\n| a | b |\n```\n"
        "After the table."
    )
    assert [text[s:e] for s, e in tables[0].rows] == [
        "Plant: North | Output | net: 5",
        "Plant: South | Output | net: 7",
    ]
    assert rewrite_pipe_tables("No table | here.\nJust text.") == ("No table | here.\nJust text.", ())


def test_html_tables_without_header_cells_and_side_by_side_are_rows_too(tmp_path: Path):
    prose = "<p>" + "The harbour master keeps a record of ships and their cargo every single day. " * 5 + "</p>"
    page = tmp_path / "page.html"
    page.write_text(
        f"<html><body><article>{prose}"
        "<table><tr><td>Ship</td><td>Flag</td></tr><tr><td>Aurora</td><td>Malta</td></tr></table>"
        "<table><tr><th>Port</th><th>Berths</th></tr><tr><td>Izmail</td><td>12</td></tr></table>"
        f"{prose}</article></body></html>"
    )
    document = load_file(page, "page")
    rows = [[document.text[s:e] for s, e in table.rows] for table in document.tables]
    assert rows == [["Ship: Aurora | Flag: Malta"], ["Port: Izmail | Berths: 12"]]


def test_html_and_office_tables_are_stored_as_rows(tmp_path: Path):
    prose = "<p>" + "The harbour master keeps a record of ships and their cargo every single day. " * 5 + "</p>"
    page = tmp_path / "page.html"
    page.write_text(
        f"<html><body><article>{prose}<table><tr><th>Ship</th><th>Cargo</th></tr>"
        f"<tr><td>Aurora</td><td>Grain. Wheat mostly.</td></tr></table>{prose}</article></body></html>"
    )
    table = [["Ship", "Cargo"], ["Aurora", "Grain. Wheat mostly."]]
    for path in (
        page,
        make_docx(tmp_path / "a.docx", ["Ships", "Text."], table),
        make_odt(tmp_path / "a.odt", ["Ships"], table),
    ):
        document = load_file(path, path.stem)
        (span,) = document.tables
        assert [document.text[s:e] for s, e in span.rows] == ["Ship: Aurora | Cargo: Grain. Wheat mostly."], path
        assert (span.start, span.end) in split_sentences(document.text), path


def test_slide_tables_epub_tables_and_workbook_sheets_are_rows(tmp_path: Path):
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    slide.shapes.title.text = "Ships"
    grid = slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1)).table
    for row, values in enumerate([["Ship", "Cargo"], ["Aurora", "Grain. Wheat mostly."]]):
        for column, value in enumerate(values):
            grid.cell(row, column).text = value
    presentation.save(tmp_path / "deck.pptx")
    chapter = "<table><tr><th>Ship</th><th>Cargo</th></tr><tr><td>Aurora</td><td>Grain. Wheat mostly.</td></tr></table>"
    book = make_epub(tmp_path / "book.epub", [("c.xhtml", f"<p>Ships.</p>{chapter}")])
    sheets = make_xlsx(
        tmp_path / "ships.xlsx",
        {
            "2023": [["Ship", "Cargo"], ["Aurora", "Grain. Wheat mostly."]],
            "2024": [["Ship", "Cargo"], ["Boreas", "Coal"]],
        },
    )
    for path in (tmp_path / "deck.pptx", book):
        document = load_file(path, path.stem)
        assert [document.text[s:e] for t in document.tables for s, e in t.rows] == [
            "Ship: Aurora | Cargo: Grain. Wheat mostly."
        ], path
    workbook = load_file(sheets, "ships")
    assert (
        workbook.text == "2023\n\nShip: Aurora | Cargo: Grain. Wheat mostly.\n\n2024\n\nShip: Boreas | Cargo: Coal\n\n"
    )
    assert len(workbook.tables) == 2


def test_table_spans_survive_the_index_on_disk(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plants.csv").write_text("Plant,Output\nNorth,5\nSouth,7\n")
    build_index([corpus], tmp_path / "index", CountingEmbedder())
    document = read_index(tmp_path / "index").documents["plants"]
    (table,) = document.tables
    assert table.columns == ("Plant", "Output")
    assert [document.text[s:e] for s, e in table.rows] == ["Plant: North | Output: 5", "Plant: South | Output: 7"]


def test_the_source_card_shows_the_table_around_a_cited_row():
    builder = TextBuilder()
    builder.table([["Name", "Score"]] + [[f"Row{n}", str(n)] for n in range(10)] + [["<b>x</b>", "9"]])
    fields = builder.fields()
    document = Document(
        id="t",
        text=str(fields["text"]),
        title="T",
        path="t.csv",
        format="csv",
        content_hash="x",
        tables=fields["tables"],
    )
    start, end = document.tables[0].rows[5]
    html = table_html(document, start, end)
    assert "<th>Name</th><th>Score</th>" in html
    assert '<tr class="rag-table-cited"><td><mark>Row5</mark></td><td><mark>5</mark></td></tr>' in html
    assert "Row2" in html and "Row8" in html and "Row1<" not in html and "Row9" not in html
    assert "4 more rows in this table" in html  # 11 rows, 7 shown
    assert table_html(document, start, start + 3) == html  # part of a row: still that row
    assert table_html(document, 0, end) == ""  # spanning two rows: not one row
    last = document.tables[0].rows[-1]
    assert "&lt;b&gt;x&lt;/b&gt;" in table_html(document, *last)  # cells are escaped

    citation = Citation(
        n=1, doc_id="t", title="T", quote=document.text[start:end], start=start, end=end, page=None, score=0.9
    )
    answer = Answer(
        question="q", answer="Row5 scored 5 [1].", refused=False, citations=[citation], passages=[], timings_ms={}
    )
    card = answer_html(answer, {"t": document}, "a1")
    assert '<table class="rag-table">' in card
    assert '<mark class="rag-quote">Name: Row5 | Score: 5</mark>' in card
    assert "Name: Row4" not in card  # the neighbouring rows are shown in the table, not as lines of text


_CELL_TEXT = st.text(alphabet="abcXYZ019 .?!:;,\n\té—'\"()", max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    header=st.lists(st.text(alphabet="abcXYZ19 ", min_size=1, max_size=8).filter(str.strip), min_size=2, max_size=5),
    rows=st.lists(st.lists(_CELL_TEXT, min_size=1, max_size=5), min_size=1, max_size=6),
)
def test_any_table_keeps_every_row_one_sentence_and_reads_back_its_cells(header, rows):
    builder = TextBuilder()
    builder.paragraph("Before. The table follows.")
    builder.table([header, *rows])
    builder.paragraph("After it. Done.")
    fields = builder.fields()
    text, tables = str(fields["text"]), fields.get("tables", ())
    kept = [[clean_cell(cell) for cell in row] for row in rows if any(clean_cell(cell) for cell in row)]
    if not kept:  # only a header: written as paragraphs
        assert not tables
        return
    (table,) = tables
    assert len(table.rows) == len(kept)
    sentences = split_sentences(text)
    for (start, end), cells in zip(table.rows, kept, strict=True):
        assert (start, end) in sentences  # never cut, never joined to the next row
        read = row_cells(text[start:end], table.columns)
        padded = cells + [""] * (len(table.columns) - len(cells))
        for value, cell in zip(read, padded, strict=True):
            assert value == cell or (not cell and value in ("", EMPTY_CELL))
