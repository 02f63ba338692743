import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from index.errors import DocumentLoadError
from index.loaders import load_documents, load_file
from index.paths import PROJECT_ROOT


# A minimal two-page PDF with real text, written by hand (no PDF library needed to make it).
def make_pdf(pages: list[str]) -> bytes:
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>")
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content.decode()}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_markdown_front_matter_becomes_metadata(tmp_path: Path):
    path = tmp_path / "note.md"
    path.write_text("---\ntitle: A Note\nauthors: [Ann, Bo]\ndate: 2025-01-02\nlang: en\n---\nBody text here.\n")
    doc = load_file(path, "note")
    assert (doc.title, doc.authors, doc.date) == ("A Note", ("Ann", "Bo"), "2025-01-02")
    assert doc.text == "Body text here.\n"
    assert doc.extra == {"lang": "en"}


def test_html_main_text_without_boilerplate(tmp_path: Path):
    article = " ".join(["The delegation met in Geneva to discuss the terms of the plan."] * 8)
    page = (
        "<html><head><title>Talks</title></head><body><nav>Home | About | Contact</nav>"
        f"<article><h1>Talks in Geneva</h1><p>{article}</p><p>{article}</p></article>"
        "<footer>Share this article on Facebook</footer></body></html>"
    )
    path = tmp_path / "page.html"
    path.write_text(page)
    doc = load_file(path, "page")
    assert "met in Geneva" in doc.text
    assert "Share this article" not in doc.text and "Home | About" not in doc.text


def test_pdf_text_per_page_with_page_numbers(tmp_path: Path):
    path = tmp_path / "two.pdf"
    path.write_bytes(make_pdf(["First page says hello.", "Second page says goodbye."]))
    doc = load_file(path, "two")
    assert "hello" in doc.text and "goodbye" in doc.text
    assert doc.page_at(doc.text.index("hello")) == 1
    assert doc.page_at(doc.text.index("goodbye")) == 2


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("binary.txt", b"\x00\x01\x02binary", "binary"),
        ("latin.txt", "caf\u00e9 cr\u00e8me".encode("latin-1"), "UTF-8"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("empty.md", b"   \n", "no text"),
        ("bad.md", b"---\ntitle: [unclosed\n---\nbody", "YAML"),
    ],
)
def test_unreadable_files_are_skipped_with_a_reason(tmp_path: Path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "good.txt").write_text("A fine document.")
    report = load_documents([tmp_path])
    assert [d.id for d in report.documents] == ["good"]
    assert len(report.skipped) == 1 and reason in report.skipped[0][1]
    with pytest.raises(DocumentLoadError):
        load_file(tmp_path / name, "x")


def test_ragignore_hidden_and_unsupported_files(tmp_path: Path):
    (tmp_path / "keep.txt").write_text("kept")
    (tmp_path / "README.md").write_text("docs")
    (tmp_path / ".ragignore").write_text("# comment\nREADME.md\n")
    (tmp_path / ".hidden.txt").write_text("hidden")
    (tmp_path / "program.exe").write_bytes(b"MZ\x90\x00")
    report = load_documents([tmp_path])
    assert [d.id for d in report.documents] == ["keep"]
    assert report.skipped == [(str(tmp_path / "program.exe"), "unsupported file type .exe")]


def test_the_html_loaders_lxml_cleaner_is_a_declared_dependency():
    # trafilatura's jusText imports lxml.html.clean, a separate package (lxml_html_clean) since lxml 5.2:
    # undeclared, a plain `pip install -e .` could not read any .html file.
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    dependencies = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.DOTALL | re.MULTILINE).group(1)
    declared = {
        re.match(r"[A-Za-z0-9_.-]+", line.strip().strip('"')).group(0).lower()
        for line in dependencies.splitlines()
        if line.strip().startswith('"')
    }
    assert {"trafilatura", "lxml_html_clean"} <= declared


def _check_formats(env: dict[str, str]) -> subprocess.CompletedProcess:
    script = PROJECT_ROOT / "scripts" / "check_formats.py"
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)


def test_check_formats_loads_every_format_and_names_a_missing_loader_package(tmp_path: Path):
    passed = _check_formats(dict(os.environ))
    assert passed.returncode == 0, passed.stderr
    assert ".txt, .md, .html and .pdf load" in passed.stdout

    # Make lxml_html_clean unimportable, as in an install that lacks it: the check names the format and the cause.
    blocker = tmp_path / "lxml_html_clean"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('lxml_html_clean is not installed (test)')\n")
    failed = _check_formats({**os.environ, "PYTHONPATH": str(tmp_path)})
    assert failed.returncode == 1
    assert ".html:" in failed.stderr and "lxml_html_clean" in failed.stderr and "pyproject.toml" in failed.stderr
    assert ".txt:" not in failed.stderr and "Traceback" not in failed.stderr
