"""Spreadsheets: .xlsx (openpyxl, read-only, cached values) and .csv (the standard library).

Every sheet is one table, its first non-empty row the header, rendered row by
row (index.tables) so that a row is quoted whole with its column names. A
workbook of several sheets names each before its table. Formulas are read as
the values Excel last saved with them (`data_only`); a workbook saved by a
program that does not cache values shows those cells empty. A file of more than
`MAX_CELLS` filled cells is refused: split it, or export the part you need as CSV.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time

from index.containers import check_package
from index.encoding import decode_text
from index.errors import DocumentLoadError
from index.office import core_metadata
from index.tables import TextBuilder

__all__ = ["MAX_CELLS", "read_csv", "read_xlsx"]

MAX_CELLS = 200_000
# Cells visited, empty ones too: a sheet formatted out to column XFD has 16,384 (mostly empty) cells a row.
MAX_VISITED_CELLS = 20 * MAX_CELLS


def _too_many_cells(kind: str) -> DocumentLoadError:
    return DocumentLoadError(
        f"{kind} file has more than {MAX_CELLS:,} cells: split it, or export the rows you need to a smaller file"
    )


def cell_text(value: object) -> str:
    """A cell's value as a person reads it: 3.0 -> "3", a midnight datetime -> its date, True -> "TRUE"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def read_xlsx(data: bytes) -> dict[str, object]:
    check_package(data, ".xlsx")
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises KeyError, ValueError, lxml errors... for a damaged part
        raise DocumentLoadError(f"damaged .xlsx file ({type(error).__name__}: {error})") from error
    try:
        text = TextBuilder()
        cells = 0
        sheets = workbook.worksheets
        visited = 0
        for sheet in sheets:
            rows: list[list[object]] = []
            for row in sheet.iter_rows(values_only=True):
                values = [cell_text(value) for value in row]
                while values and not values[-1]:
                    values.pop()
                cells += sum(1 for value in values if value)
                visited += len(row)
                if cells > MAX_CELLS or visited > MAX_VISITED_CELLS:
                    raise _too_many_cells(".xlsx")
                rows.append(values)
            if len(sheets) > 1 and any(any(row) for row in rows):
                text.paragraph(sheet.title)
            text.table(rows)
        metadata = core_metadata(workbook.properties)
    except DocumentLoadError:
        raise
    except Exception as error:
        raise DocumentLoadError(f"damaged .xlsx file ({type(error).__name__}: {error})") from error
    finally:
        workbook.close()
    return {**text.fields(), **metadata}


def read_csv(data: bytes) -> dict[str, object]:
    source = decode_text(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(source[:65536], delimiters=",;\t|")
    except csv.Error:  # one column, or too little to tell: commas
        dialect = csv.excel
    rows: list[list[object]] = []
    cells = 0
    try:
        for row in csv.reader(io.StringIO(source), dialect):
            cells += len(row)
            if cells > MAX_CELLS:
                raise _too_many_cells(".csv")
            rows.append(list(row))
    except csv.Error as error:
        raise DocumentLoadError(f"not a readable CSV file: {error}") from error
    text = TextBuilder()
    text.table(rows)
    return text.fields()
