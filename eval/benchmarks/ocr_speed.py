"""OCR speed: pages per second that Tesseract reads, for scanned PDF pages and for page images.

N A4 pages of generated prose (11 pt text drawn at 200 dpi, as a scanner gives it) are read twice
through the real readers: as one scanned PDF (`index.pdf.read_pdf`: each page drawn by pypdfium2 at
OCR_DPI, then Tesseract) and as N PNG files (`index.ocr.read_image`: Tesseract alone), the PNGs
a second time with Tesseract's own OpenMP threads instead of index.ocr's one thread per page. Each
run reports pages per second of wall time, and the share of the generated words that come back in
order (a rough recognition accuracy: word-level difflib ratio).

    python -m eval.benchmarks.ocr_speed [--pages 4] [--out eval/reports/ocr_speed.json]
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

from eval.benchmarks.common import default_out, table, write_json
from index.ocr import OCR_DPI, ocr_available, read_image
from index.pdf import read_pdf

__all__ = ["generated_pages", "main", "measure"]

SCAN_DPI = 200
PAGE_INCHES = (8.27, 11.69)  # A4
FONT_POINTS = 11
_WORDS = """the harbour council agreed to repair the old stone pier before winter while fishermen asked for
a new crane and longer opening hours at the market hall where traders sell bread cheese apples and
smoked fish every morning except on public holidays when the ferry timetable changes and visitors
walk along the cliffs to the lighthouse museum which shows lamps maps letters and photographs of
storms shipwrecks rescues and the families who kept the light burning for two hundred years""".split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def generated_pages(count: int, seed: int = 16) -> list[tuple[object, str]]:
    """`count` page images of wrapped prose paragraphs, each with the text drawn on it."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    width, height = (round(inches * SCAN_DPI) for inches in PAGE_INCHES)
    font = ImageFont.load_default(size=round(FONT_POINTS * SCAN_DPI / 72))
    line_height = round(font.size * 1.45)
    margin = SCAN_DPI  # one inch
    pages = []
    for _ in range(count):
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        drawn: list[str] = []
        y = margin
        while y < height - margin - 4 * line_height:
            words = " ".join(_sentence(rng) for _ in range(rng.randint(3, 5))).split()
            line = ""
            for word in [*words, None]:
                candidate = f"{line} {word}".strip() if word else line
                if word is None or draw.textlength(candidate, font=font) > width - 2 * margin:
                    draw.text((margin, y), line, fill=0, font=font)
                    drawn.append(line)
                    y += line_height
                    line = word or ""
                else:
                    line = candidate
            y += line_height  # a blank line between paragraphs
        pages.append((image, " ".join(drawn)))
    return pages


def _accuracy(expected: str, recognised: str) -> float:
    return difflib.SequenceMatcher(None, expected.split(), recognised.split(), autojunk=False).ratio()


def measure(count: int) -> list[dict[str, object]]:
    """Time both readers on `count` generated pages."""
    pages = generated_pages(count)
    expected = " ".join(text for _, text in pages)
    images = [image for image, _ in pages]
    pdf = io.BytesIO()
    images[0].save(pdf, "PDF", resolution=float(SCAN_DPI), save_all=True, append_images=images[1:])
    pngs = []
    for image in images:
        out = io.BytesIO()
        image.save(out, "PNG")
        pngs.append(out.getvalue())

    results = []
    started = time.perf_counter()
    text = str(read_pdf(pdf.getvalue())["text"])
    seconds = time.perf_counter() - started
    results.append(_row(f"scanned PDF, pages drawn at {OCR_DPI} dpi", count, seconds, _accuracy(expected, text)))
    for threads in (None, os.cpu_count() or 1):
        started = time.perf_counter()
        with _thread_limit(threads):
            text = " ".join(str(read_image(png)["text"]) for png in pngs)
        seconds = time.perf_counter() - started
        how = "one thread per page" if threads is None else f"Tesseract's {threads} threads per page"
        results.append(_row(f"PNG page images ({SCAN_DPI} dpi), {how}", count, seconds, _accuracy(expected, text)))
    return results


@contextlib.contextmanager
def _thread_limit(threads: int | None) -> Iterator[None]:
    """Tesseract's OpenMP threads: index.ocr's default of one (None), or `threads`."""
    before = os.environ.pop("OMP_THREAD_LIMIT", None)
    if threads is not None:
        os.environ["OMP_THREAD_LIMIT"] = str(threads)
    try:
        yield
    finally:
        os.environ.pop("OMP_THREAD_LIMIT", None)
        if before is not None:
            os.environ["OMP_THREAD_LIMIT"] = before


def _row(reader: str, pages: int, seconds: float, accuracy: float) -> dict[str, object]:
    return {
        "reader": reader,
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_second": round(pages / seconds, 3),
        "seconds_per_page": round(seconds / pages, 2),
        "word_accuracy": round(accuracy, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4, help="generated A4 pages (default 4)")
    parser.add_argument("--out", type=Path, default=default_out("ocr_speed"))
    args = parser.parse_args(argv)
    if not ocr_available():
        print("Tesseract is not installed: apt-get install tesseract-ocr and pip install grounded-rag[ocr]")
        return 1
    rows = measure(max(1, args.pages))
    headers = ["reader", "pages", "seconds", "pages/s", "s/page", "word accuracy"]
    keys = ["reader", "pages", "seconds", "pages_per_second", "seconds_per_page", "word_accuracy"]
    print(f"OCR on {os.cpu_count()} CPU cores (Tesseract, language eng)")
    print(table(headers, [[row[key] for key in keys] for row in rows]))
    write_json(args.out, {"cores": os.cpu_count(), "results": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
