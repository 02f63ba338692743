"""Damaged, encrypted and oversized Office, OpenDocument, EPUB, spreadsheet and RTF files: each is skipped
with a reason a person can act on, the run goes on, and an earlier indexed version of the file is kept."""

import io
import os
import zipfile
from pathlib import Path

import pytest

from index.builder import build_index
from index.containers import MAX_UNCOMPRESSED_BYTES
from index.errors import DocumentLoadError
from index.loaders import load_documents, load_file
from index.spreadsheets import MAX_CELLS
from index.store import read_index
from tests.fakes import CountingEmbedder
from tests.format_files import make_docx, make_epub, make_odt, make_pptx, make_xlsx


def encrypted(path: Path, password: str = "secret") -> bytes:
    """The file encrypted as Office does it ("Encrypt with password"), by msoffcrypto-tool."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    with open(path, "rb") as plain:
        OOXMLFile(plain).encrypt(password, out)
    return out.getvalue()


def reason(path: Path) -> str:
    with pytest.raises(DocumentLoadError) as raised:
        load_file(path, path.stem)
    return str(raised.value)


def test_password_protected_office_files_say_to_remove_the_password(tmp_path: Path):
    for path in (
        make_docx(tmp_path / "a.docx", ["Secret", "Text."]),
        make_xlsx(tmp_path / "b.xlsx", {"S": [["a", "b"], ["1", "2"]]}),
        make_pptx(tmp_path / "c.pptx", [("T", "Body.", "Notes.")]),
    ):
        path.write_bytes(encrypted(path))
        assert reason(path) == (
            f"encrypted (password-protected) {path.suffix} file: open it, remove the password and save it again"
        )


def test_damaged_archives_are_named_by_their_format(tmp_path: Path):
    for path in (
        make_docx(tmp_path / "a.docx", ["Title", "Text."]),
        make_pptx(tmp_path / "b.pptx", [("T", "Body.", "Notes.")]),
        make_xlsx(tmp_path / "c.xlsx", {"S": [["a", "b"], ["1", "2"]]}),
        make_odt(tmp_path / "d.odt", ["Title", "Text."]),
        make_epub(tmp_path / "e.epub", [("one.xhtml", "<p>Text.</p>")]),
    ):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # cut off, as by an interrupted download
        assert reason(path).startswith(f"damaged {path.suffix} file"), path
    (tmp_path / "f.docx").write_bytes(b"PK\x03\x04 not really a zip")
    assert reason(tmp_path / "f.docx").startswith("damaged .docx file")


def test_a_zip_bomb_is_refused_from_its_declared_sizes(tmp_path: Path):
    path = make_docx(tmp_path / "bomb.docx", ["Title", "Text."])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("word/media/zeros.bin", "w") as out:
        block = bytes(1024 * 1024)
        for _ in range(MAX_UNCOMPRESSED_BYTES // len(block) + 1):
            out.write(block)
    assert path.stat().st_size < 1024 * 1024  # a small file...
    assert "unpacks to 201 MB, over the 200 MB limit" in reason(path)  # ...that would unpack to over 200 MB


def test_a_drm_protected_epub_is_refused(tmp_path: Path):
    path = make_epub(tmp_path / "book.epub", [("one.xhtml", "<p>Text.</p>")])
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(
            "META-INF/encryption.xml",
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
            '<enc:CipherData><enc:CipherReference URI="OEBPS/text/one.xhtml"/></enc:CipherData>'
            "</enc:EncryptedData></encryption>",
        )
    assert reason(path) == "encrypted (DRM-protected) .epub file: only books without DRM can be read"


def test_a_password_protected_odt_is_refused(tmp_path: Path):
    path = make_odt(tmp_path / "notes.odt", ["Title", "Text."])
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    # What LibreOffice writes for each encrypted part: an encryption-data element in the manifest entry.
    entry = b'manifest:full-path="content.xml" manifest:media-type="text/xml"'
    assert entry + b"/>" in parts["META-INF/manifest.xml"]
    parts["META-INF/manifest.xml"] = parts["META-INF/manifest.xml"].replace(
        entry + b"/>", entry + b'><manifest:encryption-data manifest:checksum-type="SHA1/1K"/></manifest:file-entry>'
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    assert reason(path).startswith("encrypted (password-protected) .odt file")


def test_a_spreadsheet_over_the_cell_limit_and_a_fake_rtf_are_refused(tmp_path: Path):
    big = tmp_path / "big.csv"
    big.write_text("a,b\n" * (MAX_CELLS // 2 + 1))
    assert reason(big).startswith(f".csv file has more than {MAX_CELLS:,} cells")
    fake = tmp_path / "fake.rtf"
    fake.write_text("plain text with an .rtf name")
    assert reason(fake) == "not an RTF file (it does not start with {\\rtf)"


def test_bad_files_never_stop_the_run_and_an_indexed_version_survives(tmp_path: Path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    report = make_docx(corpus / "report.docx", ["Report", "The bridge at Zatoka reopened in May."])
    make_xlsx(corpus / "counts.xlsx", {"S": [["Town", "Count"], ["Zatoka", "12"]]})
    (corpus / "notes.txt").write_text("Plain notes about the coast.")
    embedder = CountingEmbedder()
    build_index([corpus], index_dir, embedder)

    report.write_bytes(encrypted(report))  # someone added a password since the last run
    data = (corpus / "counts.xlsx").read_bytes()
    (corpus / "counts.xlsx").write_bytes(data[:100])  # and a copy went wrong
    make_docx(corpus / "new.docx", ["New", "A new file about the ferry."])
    (corpus / "broken.epub").write_bytes(b"not a zip")
    summary = build_index([corpus], index_dir, embedder)

    reasons = {Path(path).name: why for path, why in summary.skipped}
    assert reasons.keys() == {"report.docx", "counts.xlsx", "broken.epub"}
    assert "remove the password" in reasons["report.docx"] and "damaged .xlsx" in reasons["counts.xlsx"]
    documents = read_index(index_dir).documents
    assert set(documents) == {"report", "counts", "notes", "new"}
    assert "The bridge at Zatoka reopened in May." in documents["report"].text  # the earlier version is kept
    assert documents["counts"].tables and "Town: Zatoka | Count: 12" in documents["counts"].text
    assert load_documents([corpus]).unreadable == {
        str(corpus / n) for n in ("report.docx", "counts.xlsx", "broken.epub")
    }


@pytest.mark.parametrize("package, suffix", [("docx", ".docx"), ("striprtf", ".rtf"), ("odf", ".odt")])
def test_check_formats_names_a_format_whose_package_is_missing(tmp_path: Path, package: str, suffix: str):
    from tests.test_loaders import _check_formats

    blocker = tmp_path / package
    blocker.mkdir()
    (blocker / "__init__.py").write_text(f"raise ImportError('{package} is not installed (test)')\n")
    failed = _check_formats({**os.environ, "PYTHONPATH": str(tmp_path)})
    assert failed.returncode == 1
    assert f"{suffix}:" in failed.stderr and package in failed.stderr and "pyproject.toml" in failed.stderr
    assert ".xlsx:" not in failed.stderr and ".txt:" not in failed.stderr and "Traceback" not in failed.stderr
