"""Text recognised in images (OCR) with Tesseract: scanned PDF pages and .png/.jpg/.tif files.

Optional: it needs Debian's `tesseract-ocr` program and the `[ocr]` extra (Pillow, and pypdfium2 to
draw a PDF page as an image). Without them a file that only OCR could read is skipped with
OCR_MISSING_REASON. The recognised text is the text the index stores, so quotes from it verify like
any other; the Document records which spans came from OCR (`Document.ocr_spans`), and citations from
them are marked, since recognition can misread a word.

The `tesseract` program is run directly (a page as PNG on its stdin, text on its stdout) rather than
through pytesseract, because that is where its environment is set: one OpenMP thread per page
(OMP_THREAD_LIMIT=1 unless already set), as Tesseract's own documentation advises when other work
shares the cores. Its threads otherwise spin against each other and the embedding model: on the 2
busy cores of our test machine a page took many times longer (`python -m eval.benchmarks.ocr_speed`
measures both; docs/formats.md, OCR).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from index.errors import DocumentLoadError
from index.lines import Line, join_pages

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "OCR_DPI",
    "OCR_MISSING_REASON",
    "ocr_available",
    "ocr_image",
    "ocr_pdf_pages",
    "read_image",
]

OCR_MISSING_REASON = (
    "reading it needs OCR: install Debian's tesseract-ocr (apt-get install tesseract-ocr) "
    "and pip install grounded-rag[ocr]"
)
OCR_DPI = 300  # Tesseract reads body text best at about 300 dots per inch
LANGUAGE = "eng"
MAX_PIXELS = 40_000_000  # per page or image: about an A3 page at 300 dpi
MAX_FRAMES = 200  # pages of a multi-page TIFF
TIMEOUT_SECONDS = 120  # per page


def ocr_available() -> bool:
    """Whether Pillow is installed and the `tesseract` program is on PATH."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def ocr_image(image: Image) -> list[Line]:
    """The lines Tesseract reads in `image`, blank lines marking its paragraphs."""
    program = shutil.which("tesseract")
    if program is None:
        raise DocumentLoadError(OCR_MISSING_REASON)
    page = io.BytesIO()
    _on_white(image).save(page, "PNG")
    try:
        done = subprocess.run(
            [program, "stdin", "stdout", "-l", LANGUAGE],
            input=page.getvalue(),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            env={"OMP_THREAD_LIMIT": "1", **os.environ},
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise DocumentLoadError(f"OCR took longer than {TIMEOUT_SECONDS} s on one page") from error
    except OSError as error:
        raise DocumentLoadError(f"cannot run tesseract ({error}): {OCR_MISSING_REASON}") from error
    if done.returncode != 0:
        message = " ".join(done.stderr.decode("utf-8", "replace").split())[:200]
        raise DocumentLoadError(f"Tesseract failed ({message}); check that tesseract-ocr-{LANGUAGE} is installed")
    return [Line(line) for line in done.stdout.decode("utf-8", "replace").splitlines()]


def ocr_pdf_pages(data: bytes, page_indexes: Iterable[int]) -> dict[int, list[Line]]:
    """Each listed page (0-based) of the PDF in `data`, drawn at OCR_DPI and read by Tesseract."""
    if not ocr_available():
        raise DocumentLoadError(OCR_MISSING_REASON)
    try:
        import pypdfium2
    except ImportError as error:
        raise DocumentLoadError(OCR_MISSING_REASON) from error
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise DocumentLoadError(f"cannot draw the PDF's pages for OCR ({error})") from error
    recognised: dict[int, list[Line]] = {}
    try:
        for index in page_indexes:
            page = document[index]
            width, height = page.get_size()  # points
            scale = min(OCR_DPI / 72, (MAX_PIXELS / max(width * height, 1.0)) ** 0.5)
            recognised[index] = ocr_image(page.render(scale=scale).to_pil())
    except pypdfium2.PdfiumError as error:
        raise DocumentLoadError(f"cannot draw a PDF page for OCR ({error})") from error
    finally:
        document.close()
    return recognised


def read_image(data: bytes) -> dict[str, object]:
    """A reader (index.readers) for image files: the text Tesseract recognises, all marked as OCR."""
    if not ocr_available():
        raise DocumentLoadError(f"an image: {OCR_MISSING_REASON}")
    pages = [ocr_image(frame) for frame in _frames(data)]
    joined = join_pages(pages)
    if not joined.text.strip():
        raise DocumentLoadError("no text recognised in the image")
    fields: dict[str, object] = {"text": joined.text, "ocr_spans": ((0, len(joined.text.rstrip())),)}
    if len(pages) > 1:
        fields["page_starts"] = joined.page_starts
    return fields


def _frames(data: bytes) -> Iterator[Image]:
    """The image's frames (pages of a TIFF) upright, each checked for size; a damaged file raises DocumentLoadError."""
    from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        for number, frame in enumerate(ImageSequence.Iterator(image)):
            if number >= MAX_FRAMES:
                break
            if frame.width * frame.height > MAX_PIXELS:
                raise DocumentLoadError(
                    f"the image is {frame.width}x{frame.height} pixels; OCR reads at most {MAX_PIXELS:,} pixels"
                )
            frame.load()
            yield ImageOps.exif_transpose(frame.copy())  # a phone photo upright, as its camera saw it
    except DocumentLoadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        raise DocumentLoadError(f"cannot read the image ({type(error).__name__}: {error})") from error


def _on_white(image: Image) -> Image:
    """The image in greyscale, transparent parts on white (Tesseract reads transparency as black)."""
    from PIL import Image as PILImage

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = PILImage.alpha_composite(background, rgba)
    return image.convert("L")
