"""Tables as evidence: each row becomes one line that names its columns, quoted whole.

A row of a table means little without its header ("Donetsk | occupied" says
nothing of what "occupied" answers), and a quote cut from the middle of a row
can change its meaning. So every reader renders a table the same way: one line
per row, each filled cell written as "column: value", the cells joined by " | ":

    Region: Donetsk | Status: occupied | Area: 26,517 km²

The sentence splitter (index.sentences) never cuts such a line and, since a line
break always ends a sentence, never joins two rows: a row is one unit of
evidence. Each table's place in the text is kept as a `TableSpan` on the
Document, so the web chat can show the table around a cited row.

`TextBuilder` assembles a reader's text from paragraphs and tables with the
offsets this needs; `rewrite_pipe_tables` gives Markdown pipe tables (and the
ones trafilatura writes for HTML <table>s) the same treatment.
"""

from __future__ import annotations

import re

from index.types import Span, TableSpan

__all__ = [
    "CELL_SEPARATOR",
    "TextBuilder",
    "clean_cell",
    "is_table_row",
    "render_row",
    "rewrite_pipe_tables",
    "row_cells",
]

CELL_SEPARATOR = " | "
KEY_SEPARATOR = ": "
EMPTY_CELL = "—"  # an empty cell, where a row must name one (see render_row)
_SPACES = re.compile(r"\s+")


def clean_cell(value: object) -> str:
    """A cell's text on one line: runs of whitespace (line breaks too) become one space."""
    return _SPACES.sub(" ", str(value)).strip() if value is not None else ""


def render_row(columns: tuple[str, ...], cells: list[str]) -> str:
    """One row as "column: value | column: value"; empty cells are left out.

    A row with a single filled cell also names the first empty column, as "column: —": with one
    field only, the line would not read as a row (`is_table_row`) and could be cut into sentences.
    """
    cells = cells + [""] * (len(columns) - len(cells))
    filled = [(column, cell) for column, cell in zip(columns, cells, strict=False) if cell]
    if len(filled) == 1 and len(columns) > 1:
        blank = next(column for column, cell in zip(columns, cells, strict=False) if not cell)
        filled = [
            (column, cell or EMPTY_CELL)
            for column, cell in zip(columns, cells, strict=False)
            if cell or column == blank
        ]
    return CELL_SEPARATOR.join(f"{column}{KEY_SEPARATOR}{cell}" for column, cell in filled)


def is_table_row(line: str) -> bool:
    """Whether a line of text is a rendered table row (which the sentence splitter keeps whole)."""
    first, separator, _ = line.partition(CELL_SEPARATOR)
    return bool(separator) and KEY_SEPARATOR in first.strip()


def row_cells(line: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The cells of a rendered row, one per column ("" where the row left a cell empty)."""
    values: dict[str, str] = {}
    current: str | None = None
    for part in line.split(CELL_SEPARATOR):
        column = next((c for c in columns if c not in values and part.startswith(c + KEY_SEPARATOR)), None)
        if column is not None:
            current = column
            values[column] = part[len(column) + len(KEY_SEPARATOR) :]
        elif current is not None:  # the value itself held " | "
            values[current] += CELL_SEPARATOR + part
    return tuple(values.get(column, "") for column in columns)


def _column_names(header: list[str]) -> tuple[str, ...]:
    """Header cells as column names: an empty or repeated one gets its position ("Column 3")."""
    names: list[str] = []
    for number, cell in enumerate(header, start=1):
        name = cell.rstrip(":").strip() or f"Column {number}"
        names.append(name if name not in names else f"{name} ({number})")
    return tuple(names)


class TextBuilder:
    """A document's text, written block by block, with the offsets of its tables and pages.

    Paragraphs (and headings) are separated by a blank line; a table's rows by a
    line break, with a blank line around the table.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._tables: list[TableSpan] = []
        self._page_starts: list[int] = []

    def _write(self, text: str) -> None:
        self._parts.append(text)
        self._length += len(text)

    def verbatim(self, text: str) -> None:
        """Text written exactly as given (the parts of a Markdown file around its tables)."""
        self._write(text)

    def paragraph(self, text: str) -> None:
        """A paragraph or heading; its inner line breaks are kept, surrounding blank space dropped."""
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\v", "\n")  # \v: a soft line break
        text = "\n".join(line.strip() for line in text.split("\n"))
        text = re.sub(r"\n{2,}", "\n", text).strip()
        if text:
            self._write(text + "\n\n")

    def page(self) -> None:
        """Start a new page (a PDF page, a slide): `page_starts` records where it begins."""
        self._page_starts.append(self._length)

    def table(self, rows: list[list[object]]) -> None:
        """A table given as rows of cells, the first non-empty row being its header.

        A "table" of one column or one row is layout, not data: its cells become paragraphs.
        """
        cleaned = [[clean_cell(cell) for cell in row] for row in rows]
        cleaned = [row for row in cleaned if any(row)]
        width = max((len(row) for row in cleaned), default=0)
        if len(cleaned) < 2 or width < 2:
            for row in cleaned:
                for cell in row:
                    self.paragraph(cell)
            return
        columns = _column_names(cleaned[0] + [""] * (width - len(cleaned[0])))
        start = self._length
        spans: list[Span] = []
        for row in cleaned[1:]:
            line = render_row(columns, row)
            spans.append((self._length, self._length + len(line)))
            self._write(line + "\n")
        self._write("\n")
        self._tables.append(TableSpan(start=start, end=spans[-1][1], columns=columns, rows=tuple(spans)))

    def fields(self) -> dict[str, object]:
        """The reader's fields: "text", and "tables" and "page_starts" when there are any."""
        fields: dict[str, object] = {"text": "".join(self._parts)}
        if self._tables:
            fields["tables"] = tuple(self._tables)
        if self._page_starts:
            fields["page_starts"] = tuple(self._page_starts)
        return fields


# -- Markdown pipe tables ------------------------------------------------------

_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _pipe_cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _UNESCAPED_PIPE.split(line)]


def _is_pipe_line(line: str) -> bool:
    return "|" in line and bool(line.strip())


def _is_delimiter(line: str) -> bool:
    return bool(_DELIMITER_ROW.match(line)) and "-" in line


def _split_at_headers(run: list[str]) -> list[list[str]]:
    """Lines of adjacent tables, apart: a delimiter row means the line above it heads a new table."""
    tables: list[list[str]] = [[]]
    for line in run:
        if not _is_delimiter(line):
            tables[-1].append(line)
        elif len(tables[-1]) > 1:
            tables.append([tables[-1].pop()])
    return [table for table in tables if table]


def rewrite_pipe_tables(text: str, *, headerless: bool = False) -> tuple[str, tuple[TableSpan, ...]]:
    """`text` with each Markdown pipe table (header, delimiter row, rows) rendered row by row.

    `headerless`: also any run of lines starting with "|", its first line the header: trafilatura
    writes an HTML <table> so, with a delimiter row only when the table marked its header cells.
    Everything else is kept exactly; tables inside code fences are left alone.
    """
    lines = text.split("\n")
    out = TextBuilder()
    kept: list[str] = []  # text lines waiting to be written as they are
    in_fence = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if _FENCE.match(line):
            in_fence = not in_fence
        next_line = lines[index + 1] if index + 1 < len(lines) else ""
        markdown_table = _is_pipe_line(line) and _is_delimiter(next_line)
        markdown_table = markdown_table and ("|" in next_line or line.strip().startswith("|"))
        pipe_run = headerless and line.lstrip().startswith("|")
        if in_fence or not (markdown_table or pipe_run):
            kept.append(line)
            index += 1
            continue
        end = index + (2 if markdown_table else 1)
        while end < len(lines) and (
            _is_pipe_line(lines[end]) if markdown_table else lines[end].lstrip().startswith("|")
        ):
            end += 1
        if kept:
            out.verbatim("\n".join(kept) + "\n")
            kept.clear()
        for table in _split_at_headers(lines[index:end]):
            out.table([list(_pipe_cells(row)) for row in table])
        index = end
    if kept:
        out.verbatim("\n".join(kept))
    fields = out.fields()
    return str(fields["text"]), tuple(fields.get("tables", ()))  # type: ignore[arg-type]
