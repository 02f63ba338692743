"""OCR (index/ocr.py): scanned PDF pages and images read by the real Tesseract, and quotes from them marked.

The scans are made here: text drawn into an image with Pillow, saved as PNG or wrapped in a PDF by
Pillow. Tests that need Tesseract skip without it, unless RAG_REQUIRE_OCR=1 (scripts/test.sh sets
it after installing tesseract-ocr), which makes them fail instead. "Without Tesseract" is simulated
with an empty PATH, so the real lookup fails as it would on a machine without the program.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import pytest

from index.builder import build_index
from index.errors import DocumentLoadError
from index.loaders import load_documents, load_file
from index.ocr import ocr_available
from index.types import Document
from rag.types import Citation
from ui.render import answer_html
from ui.server_models import CitationOut
from ui.terminal import format_answer

SCAN_LINES = [
    "The lighthouse keeper rang the brass bell every evening at",
    "seven o'clock to warn the fishing boats away from the rocks.",
    "",
    "The lamp was replaced by an electric light in the winter of 1931.",
]
PHOTO_LINES = [
    "The bakery on the corner sells rye bread with caraway seeds",
    "on Tuesdays and Fridays, and it closes at one in the afternoon.",
]
BELL = (
    "The lighthouse keeper rang the brass bell every evening at seven o'clock to warn the fishing boats away from "
    "the rocks."
)
BREAD = (
    "The bakery on the corner sells rye bread with caraway seeds on Tuesdays and Fridays, and it closes at one "
    "in the afternoon."
)


@pytest.fixture
def tesseract() -> None:
    if not ocr_available():
        message = "Tesseract is not installed: apt-get install tesseract-ocr, pip install -e '.[ocr]'"
        if os.environ.get("RAG_REQUIRE_OCR") == "1":
            pytest.fail(f"RAG_REQUIRE_OCR=1 but {message}")
        pytest.skip(message)


def text_image(lines: list[str]):
    """Black text on white at about 200 dpi, as a scanner would give it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=30)
    image = Image.new("L", (1100, 80 + 48 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((50, 40 + 48 * number), line, fill=0, font=font)
    return image


def image_bytes(lines: list[str], kind: str) -> bytes:
    out = io.BytesIO()
    options = {"resolution": 200.0} if kind == "PDF" else {}
    text_image(lines).save(out, kind, **options)
    return out.getvalue()


def text_pdf_page(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


def no_tesseract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert not ocr_available()


@pytest.mark.slow
def test_a_scanned_pdf_and_a_png_are_asked_and_their_quotes_marked_ocr(tmp_path: Path, embedder, tesseract) -> None:
    from rag.engine import Engine

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lighthouse.pdf").write_bytes(image_bytes(SCAN_LINES, "PDF"))
    (corpus / "bakery.png").write_bytes(image_bytes(PHOTO_LINES, "PNG"))
    summary = build_index([corpus], tmp_path / "index", embedder)
    assert summary.skipped == []
    engine = Engine.open(tmp_path / "index", embedder=embedder, build_if_missing=False)
    documents = engine.data.documents
    for question, doc_id, sentence, page in [
        ("When did the lighthouse keeper ring the bell?", "lighthouse", BELL, 1),
        ("On which days does the bakery sell rye bread?", "bakery", BREAD, None),
    ]:
        answer = engine.ask(question)
        assert not answer.refused, question
        citation = next(c for c in answer.citations if c.doc_id == doc_id)
        assert citation.quote == sentence  # the whole sentence, its two scanned lines joined
        assert documents[doc_id].text[citation.start : citation.end] == citation.quote
        assert (citation.ocr, citation.page) == (True, page)
        assert citation.to_json()["ocr"] is True
        assert 'class="rag-ocr"' in answer_html(answer, documents, "o1")
        assert "(OCR:" in format_answer(answer)


def test_a_pdf_with_a_text_page_and_a_scanned_page_marks_only_the_scan(tmp_path: Path, tesseract) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    for data in (text_pdf_page("The first page has a text layer."), image_bytes(SCAN_LINES, "PDF")):
        writer.append(pypdf.PdfReader(io.BytesIO(data)))
    path = tmp_path / "mixed.pdf"
    with open(path, "wb") as out:
        writer.write(out)
    document = load_file(path, "mixed")
    typed = document.text.index("The first page has a text layer.")
    scanned = document.text.index(BELL)
    assert (document.page_at(typed), document.page_at(scanned)) == (1, 2)
    assert not document.from_ocr(typed, typed + 10)
    assert document.from_ocr(scanned, scanned + len(BELL))
    assert document.ocr_spans == ((document.page_starts[1], len(document.text.rstrip())),)


def test_a_multi_page_tiff_has_pages_and_a_phone_photo_is_turned_upright(tmp_path: Path, tesseract) -> None:
    from PIL import Image

    scan, photo = text_image(SCAN_LINES), text_image(PHOTO_LINES)
    scan.save(tmp_path / "fax.tiff", save_all=True, append_images=[photo])
    document = load_file(tmp_path / "fax.tiff", "fax")
    assert document.page_at(document.text.index(BELL)) == 1
    assert document.page_at(document.text.index(BREAD)) == 2
    assert document.ocr_spans == ((0, len(document.text.rstrip())),)

    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned, so the picture must be turned a quarter clockwise
    photo.rotate(90, expand=True).save(tmp_path / "sideways.jpg", exif=exif, quality=95)
    assert BREAD in load_file(tmp_path / "sideways.jpg", "sideways").text


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("truncated.png", image_bytes(PHOTO_LINES, "PNG")[:200]),
        ("noise.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4),
        ("text.tiff", b"this is not an image at all"),
    ],
)
def test_a_damaged_image_is_skipped_with_a_reason(tmp_path: Path, tesseract, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    report = load_documents([tmp_path])
    assert report.documents == []
    [(path, reason)] = report.skipped
    assert path.endswith(name) and "cannot read the image" in reason


def test_without_tesseract_scans_are_skipped_naming_the_package(tmp_path: Path, monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "scan.pdf").write_bytes(image_bytes(SCAN_LINES, "PDF"))
    (corpus / "photo.png").write_bytes(image_bytes(PHOTO_LINES, "PNG"))
    (corpus / "typed.pdf").write_bytes(text_pdf_page("A page with a text layer."))
    no_tesseract(monkeypatch, tmp_path)
    report = load_documents([corpus])
    assert [d.id for d in report.documents] == ["typed"]  # a text PDF needs no OCR
    reasons = dict(report.skipped)
    assert set(reasons) == {str(corpus / "scan.pdf"), str(corpus / "photo.png")}
    for reason in reasons.values():
        assert "apt-get install tesseract-ocr" in reason and "pip install grounded-rag[ocr]" in reason
    with pytest.raises(DocumentLoadError, match="tesseract-ocr"):
        load_file(corpus / "photo.png", "photo")


def test_the_ocr_mark_in_json_web_and_terminal() -> None:
    from rag.types import Answer

    text = "A recognised sentence from a scan. A typed sentence.\n"
    document = Document("scan", text, "Scan", "/tmp/scan.pdf", "pdf", "0" * 64, ocr_spans=((0, 34),))
    assert document.from_ocr(0, 10) and not document.from_ocr(35, 52)
    ocr = Citation(1, "scan", "Scan", text[:34], 0, 34, 1, 0.9, ocr=document.from_ocr(0, 34))
    typed = dataclasses.replace(ocr, n=2, quote=text[35:52], start=35, end=52, ocr=False)
    assert list(ocr.to_json())[-1] == "ocr" and ocr.to_json()["ocr"] is True
    assert CitationOut(**ocr.to_json()).model_dump()["ocr"] is True  # the server's JSON keeps it
    assert Citation(1, "d", "t", "q", 0, 1, None, 0.5).ocr is False  # the default: older callers unchanged
    answer = Answer("q", f"{ocr.quote} [1] {typed.quote} [2]", False, [ocr, typed], passages=[], timings_ms={})
    html = answer_html(answer, {"scan": document}, "a1")
    assert html.count('class="rag-ocr"') == 1
    assert "may contain recognition errors" in html
    assert format_answer(answer).count("(OCR:") == 1
