"""Load one file of every supported format with the product as installed, nothing more.

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


def check(folder: Path) -> list[str]:
    """Write the samples into `folder`, load each; the failures, one line each (empty: all loaded)."""
    from index.loaders import load_file  # imported here so a broken install is reported, not a traceback

    samples = [*_SAMPLES, ("sample.pdf", minimal_pdf("The delegation met in Geneva."), "met in Geneva")]
    failures = []
    for name, data, phrase in samples:
        path = folder / name
        path.write_bytes(data)
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
    print(f"check_formats: .txt, .md, .html and .pdf load ({len(_SAMPLES) + 1} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
