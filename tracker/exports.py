"""Writing rows as CSV, JSON or JSON Lines.

CSV is written for people who open it in a spreadsheet: UTF-8 with a byte-order mark (so
accented names survive Excel), one header row, and cells that a spreadsheet would run as a
formula (starting with = + - @) prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import fields, is_dataclass
from typing import Any, Protocol, TextIO

from tracker.exceptions import ExportError

FORMATS = ("csv", "json", "jsonl")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Row(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def columns(row_type: type) -> list[str]:
    assert is_dataclass(row_type)
    return [f.name for f in fields(row_type)]


def write_rows(rows: Iterable[Row], row_type: type, fmt: str, out: TextIO) -> int:
    """Write ``rows`` to ``out``; returns how many were written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    count = 0
    if fmt == "csv":
        out.write("\ufeff")
        writer = csv.DictWriter(out, fieldnames=columns(row_type), lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.as_dict().items()})
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")
            count += 1
    else:
        out.write("[")
        for row in rows:
            out.write(
                ("\n  " if count == 0 else ",\n  ") + json.dumps(row.as_dict(), ensure_ascii=False)
            )
            count += 1
        out.write("\n]\n" if count else "]\n")
    return count


def iter_dicts(rows: Iterable[Row]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield row.as_dict()
