"""Load one file of every supported format (images aside: OCR is optional) with the product as installed.

scripts/test.sh runs this right after the plain install (`scripts/install.sh`, i.e.
`pip install -e .`) and before the test tools are installed, so a loader dependency
that pyproject.toml forgot to declare (as `lxml_html_clean` once was for .html) fails
the test command instead of hiding behind a package the test tools happen to bring.

Usage: python scripts/check_formats.py    (exit 0: every format loads; 1: says which did not and why)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# Each sample: (file name, contents, a phrase its loaded text must hold).
_ARTICLE = " ".join(["The delegation met in Geneva to discuss the terms of the plan."] * 8)
_SAMPLES: list[tuple[str, bytes, str]] = [
    ("sample.txt", b"A plain text note.\n\nThe delegation met in Geneva.\n", "met in Geneva"),
    ("sample.md", b"---\ntitle: A Note\nauthors: [Ann]\n---\nThe delegation met in Geneva.\n", "met in Geneva"),
    (
        "sample.html",
        (
            "<html><head><title>Talks</title></head><body><nav>Home | About</nav>"
            f"<article><h1>Talks in Geneva</h1><p>{_ARTICLE}</p><p>{_ARTICLE}</p></article>"
            "<footer>Share this article</footer></body></html>"
        ).encode(),
        "met in Geneva",
    ),
]


def minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF showing `text` in Helvetica, written byte by byte (no library needed)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


_SENTENCE = "The delegation met in Geneva."
_TABLE = [["City", "Meeting"], ["Geneva", "The delegation met in Geneva."]]
_ROW = "City: Geneva | Meeting: The delegation met in Geneva."


def _docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph(_SENTENCE)
    document.save(path)


def _pptx(path: Path) -> None:
    import pptx

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Talks"
    slide.placeholders[1].text_frame.text = _SENTENCE
    presentation.save(path)


def _xlsx(path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    for row in _TABLE:
        workbook.active.append(row)
    workbook.save(path)


def _odt(path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    document.text.addElement(P(text=_SENTENCE))
    document.save(str(path))


def _epub(path: Path) -> None:
    """EPUB needs no library to write: a zip with a container file, a package file and a chapter."""
    import zipfile

    opf = (
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Talks</dc:title></metadata><manifest>'
        '<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c"/>'
        "</spine></package>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0"><rootfiles>'
            '<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        archive.writestr("content.opf", opf)
        archive.writestr(
            "c.xhtml", f'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>{_SENTENCE}</p></body></html>'
        )


# Each made by the library that reads it where one writes it: (file name, maker, a phrase its text must hold).
_MADE = [
    ("sample.docx", _docx, _SENTENCE),
    ("sample.pptx", _pptx, _SENTENCE),
    ("sample.xlsx", _xlsx, _ROW),
    ("sample.odt", _odt, _SENTENCE),
    ("sample.epub", _epub, _SENTENCE),
]
_WRITTEN = [
    ("sample.csv", b"City,Meeting\nGeneva,The delegation met in Geneva.\n", _ROW),
    ("sample.rtf", b"{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\n" + _SENTENCE.encode() + b"\\par\n}", _SENTENCE),
]


def _made_samples(folder: Path, failures: list[str]) -> list[tuple[str, str]]:
    """Write the samples that need a library to make; a missing library is reported as that format's failure."""
    made = []
    for name, make, phrase in _MADE:
        try:
            make(folder / name)
        except Exception as error:
            failures.append(f"{Path(name).suffix}: cannot make the sample: {type(error).__name__}: {error}")
            continue
        made.append((name, phrase))
    return made


def check(folder: Path) -> list[str]:
    """Write the samples into `folder`, load each; the failures, one line each (empty: all loaded)."""
    from index.loaders import load_file  # imported here so a broken install is reported, not a traceback

    samples = [*_SAMPLES, ("sample.pdf", minimal_pdf(_SENTENCE), "met in Geneva"), *_WRITTEN]
    failures: list[str] = []
    for name, data, _ in samples:
        (folder / name).write_bytes(data)
    checks = [(name, phrase) for name, _, phrase in samples] + _made_samples(folder, failures)
    for name, phrase in checks:
        path = folder / name
        try:
            document = load_file(path, path.stem)
        except Exception as error:  # any failure is the finding: report it, check the other formats too
            failures.append(f"{path.suffix}: {type(error).__name__}: {error}")
            continue
        if phrase not in document.text:
            failures.append(f"{path.suffix}: loaded, but its text lacks {phrase!r}: {document.text[:200]!r}")
    return failures


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rag-formats-") as folder:
        try:
            failures = check(Path(folder))
        except ImportError as error:
            failures = [f"the product does not import: {error}"]
    if failures:
        print("check_formats: these formats do not load with the plain install (`pip install -e .`):", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        print(
            "A package the loaders need is probably missing from pyproject.toml's `dependencies`: add it there.",
            file=sys.stderr,
        )
        return 1
    others = " ".join(Path(name).suffix for name, *_ in [*_MADE, *_WRITTEN])
    count = len(_SAMPLES) + 1 + len(_MADE) + len(_WRITTEN)
    print(f"check_formats: .txt, .md, .html and .pdf load, and so do {others} ({count} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
