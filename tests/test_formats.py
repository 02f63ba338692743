"""Every new format end to end: real files made with the real libraries, indexed with the real model,
asked a question whose cited quote is checked at its offsets."""

import io
from pathlib import Path

import pypdf
import pytest

from index.builder import build_index
from index.loaders import load_file
from rag.engine import Engine
from tests.format_files import make_docx, make_epub, make_odt, make_pptx, make_rtf, make_xlsx
from tests.test_loaders import make_pdf

pytestmark = pytest.mark.slow

RESERVOIRS = [
    ["Reservoir", "River", "Capacity (km³)", "Status"],
    ["Kakhovka", "Dnipro", "18.2", "Drained after the dam was destroyed in June 2023."],
    ["Kremenchuk", "Dnipro", "13.5", "In service."],
    ["Dniester", "Dniester", "3.0", "In service."],
]


def write_library(folder: Path) -> None:
    """One file per format, each about something none of the others mention."""
    folder.mkdir()
    make_docx(
        folder / "water-report.docx",
        [
            "Water supply in Mykolaiv",
            "The main water treatment plant in Mykolaiv was repaired in March 2024 by engineers of the city utility.",
            "Until then the city drew salty water from the estuary, which damaged pipes across the network.",
        ],
        [
            ["District", "Households connected", "Since"],
            ["Korabelnyi", "41,000", "April 2024"],
            ["Inhulskyi", "12,500", "May 2024"],
        ],
        title="Mykolaiv water report",
        author="Olena Petrenko",
    )
    make_pptx(
        folder / "ferry-briefing.pptx",
        [
            ("Danube crossings", "Two ferry routes cross the Danube delta.", "Mention the ice season."),
            ("The Izmail ferry", "The ferry between Orlivka and Isaccea carries 400 trucks a day.", "Cite the port."),
        ],
        title="Ferry briefing",
    )
    make_xlsx(folder / "reservoirs.xlsx", {"Reservoirs": RESERVOIRS}, title="Reservoirs of Ukraine")
    (folder / "bridges.csv").write_text(
        "Bridge;City;Length (m);Opened\nDarnytskyi;Kyiv;1 066;2011\nKrymskyi;Kerch;18 100;2018\n", encoding="utf-8"
    )
    make_epub(
        folder / "river-book.epub",
        [
            ("one.xhtml", "<h1>Sources</h1><p>The Dnipro rises in the Valdai Hills near Smolensk.</p>"),
            ("two.xhtml", "<h1>Mouth</h1><p>The river reaches the Black Sea through the Dnipro–Buh estuary.</p>"),
        ],
        title="A River's Life",
        creator="Taras Bondar",
    )
    make_odt(
        folder / "grain-notes.odt",
        ["Grain corridor", "Ships left Odesa with 33 million tonnes of grain under the Black Sea Grain Initiative."],
        title="Notes on the grain corridor",
        author="Ivan Melnyk",
    )
    (folder / "power-plants.md").write_text(
        "---\ntitle: Power plants\n---\nThe largest plants, by capacity.\n\n"
        "| Plant | Type | Capacity (MW) |\n|---|---|---:|\n| Zaporizhzhia | nuclear | 5,700 |\n"
        "| Burshtyn | coal | 2,300 |\n| Dnipro | hydro. Rebuilt twice | 1,569 |\n\nFigures are from 2021.\n",
        encoding="utf-8",
    )
    prose = "<p>" + "The port authority publishes the depth of each harbour channel every spring. " * 6 + "</p>"
    (folder / "harbours.html").write_text(
        f"<html><head><title>Harbour depths</title></head><body><article><h1>Harbour depths</h1>{prose}"
        "<table><tr><th>Harbour</th><th>Channel depth (m)</th></tr><tr><td>Pivdennyi</td><td>19</td></tr>"
        "<tr><td>Chornomorsk</td><td>14</td></tr></table>"
        f"{prose}</article></body></html>",
        encoding="utf-8",
    )
    make_rtf(folder / "museum.rtf", ["The Khanenko Museum in Kyiv reopened its halls to visitors in 2023."])


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder) -> Engine:
    root = tmp_path_factory.mktemp("formats")
    write_library(root / "docs")
    summary = build_index([root / "docs"], root / "index", embedder)
    assert summary.skipped == []
    return Engine.open(root / "index", embedder=embedder, build_if_missing=False)


def cited(engine: Engine, question: str, doc_id: str):
    """The answer's first citation from `doc_id`, checked verbatim against its document's text."""
    answer = engine.ask(question)
    assert not answer.refused, (question, answer.answer)
    for citation in answer.citations:
        assert engine.data.documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
    matches = [c for c in answer.citations if c.doc_id == doc_id]
    assert matches, [(c.doc_id, c.quote) for c in answer.citations]
    return matches[0]


def test_docx_paragraph_is_quoted_at_its_offsets(library):
    citation = cited(library, "When was the water treatment plant in Mykolaiv repaired?", "water-report")
    assert "March 2024" in citation.quote
    document = library.data.documents["water-report"]
    assert (document.title, document.authors, document.date, document.format) == (
        "Mykolaiv water report",
        ("Olena Petrenko",),
        "2024-05-06",
        "docx",
    )


def test_docx_table_row_is_cited_whole_with_its_header(library):
    citation = cited(library, "How many households are connected in the Korabelnyi district?", "water-report")
    assert citation.quote == "District: Korabelnyi | Households connected: 41,000 | Since: April 2024"


def test_markdown_table_row_is_cited_whole_with_its_header(library):
    citation = cited(library, "What is the capacity of the Dnipro power plant?", "power-plants")
    assert citation.quote == "Plant: Dnipro | Type: hydro. Rebuilt twice | Capacity (MW): 1,569"


def test_html_table_row_is_cited_whole_with_its_header(library):
    citation = cited(library, "How deep is the channel of the Pivdennyi harbour?", "harbours")
    assert citation.quote == "Harbour: Pivdennyi | Channel depth (m): 19"


def test_pptx_cites_the_slide_number_as_its_page(library):
    citation = cited(library, "How many trucks does the ferry between Orlivka and Isaccea carry?", "ferry-briefing")
    assert "400 trucks" in citation.quote
    assert citation.page == 2
    assert library.data.documents["ferry-briefing"].title == "Ferry briefing"


def test_xlsx_row_is_cited_whole_with_its_header(library):
    citation = cited(library, "What is the capacity of the Kakhovka reservoir?", "reservoirs")
    assert citation.quote == (
        "Reservoir: Kakhovka | River: Dnipro | Capacity (km³): 18.2 | "
        "Status: Drained after the dam was destroyed in June 2023."
    )
    document = library.data.documents["reservoirs"]
    assert document.title == "Reservoirs of Ukraine"
    (table,) = document.tables
    assert table.columns == tuple(RESERVOIRS[0])
    assert table.row_at(citation.start, citation.end) == 0


def test_csv_row_is_cited_whole_with_its_header(library):
    citation = cited(library, "How long is the Darnytskyi bridge?", "bridges")
    assert citation.quote == "Bridge: Darnytskyi | City: Kyiv | Length (m): 1 066 | Opened: 2011"
    assert library.data.documents["bridges"].title == "bridges"  # no properties: the file name


def test_epub_chapters_are_read_in_spine_order(library):
    citation = cited(library, "Where does the Dnipro rise?", "river-book")
    assert "Valdai Hills" in citation.quote
    document = library.data.documents["river-book"]
    assert document.text.index("Valdai Hills") < document.text.index("Black Sea")  # manifest lists them reversed
    assert (document.title, document.authors, document.date) == ("A River's Life", ("Taras Bondar",), "2022-09-15")


def test_odt_paragraph_is_quoted_with_its_metadata(library):
    citation = cited(library, "How much grain left Odesa under the Black Sea Grain Initiative?", "grain-notes")
    assert "33 million tonnes" in citation.quote
    document = library.data.documents["grain-notes"]
    assert (document.title, document.authors, document.date) == (
        "Notes on the grain corridor",
        ("Ivan Melnyk",),
        "2023-11-20",
    )


def test_rtf_text_is_quoted(library):
    citation = cited(library, "When did the Khanenko Museum reopen?", "museum")
    assert "reopened its halls to visitors in 2023" in citation.quote


def test_a_placeholder_title_falls_back_to_the_file_name(tmp_path: Path):
    make_docx(tmp_path / "budget-2025.docx", ["Budget", "Text."], title="Microsoft Word - budget.docx")
    make_docx(tmp_path / "minutes.docx", ["Minutes", "Text."], title="Untitled 2", author="python-docx")
    make_pptx(tmp_path / "deck.pptx", [("Slide title", "Body.", "Notes.")], title="PowerPoint Presentation")
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["A page printed from a browser."]))))
    writer.add_metadata({"/Title": "about:blank"})  # what a browser's "print to PDF" writes
    writer.write(tmp_path / "printed-page.pdf")
    titles = {path.stem: load_file(path, path.stem) for path in sorted(tmp_path.iterdir())}
    assert {stem: document.title for stem, document in titles.items()} == {
        "budget-2025": "budget-2025",
        "deck": "deck",
        "minutes": "minutes",
        "printed-page": "printed-page",
    }
    assert titles["minutes"].authors == ()  # the library's name is not an author
