"""Writing query results as a terminal table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, TextIO

from irreport.sources import QueryResult
from irreport.textsafe import csv_cell, json_ready, shorten, visible


def write_csv(result: QueryResult, stream: TextIO, for_people: bool = True) -> None:
    """Write rows as CSV; cells meant for people are neutralised against formula injection."""
    # With CRLF rows (RFC 4180) the writer quotes a cell holding a lone CR; with LF rows it
    # would not, and the reader would split the row there.
    writer = csv.writer(stream, lineterminator="\r\n")
    cell = csv_cell if for_people else _plain
    # Column names come from the export too when a query keeps every column.
    writer.writerow([cell(c) for c in result.columns])
    for row in result.rows:
        writer.writerow([cell(row.get(c)) for c in result.columns])


def _plain(value: Any) -> str:
    from irreport.textsafe import to_text, without_surrogates

    return without_surrogates(to_text(value))


def result_json(result: QueryResult) -> dict[str, Any]:
    return {
        "query": result.query_id,
        "status": result.status,
        "message": result.message,
        "truncated": result.truncated,
        "columns": [{"name": c, "type": t} for c, t in zip(result.columns, result.types)],
        "rows": [json_ready(row) for row in result.rows],
    }


def write_json(result: QueryResult, stream: TextIO) -> None:
    json.dump(result_json(result), stream, ensure_ascii=False, indent=1)
    stream.write("\n")


def write_result_json(result: QueryResult, stream: TextIO) -> None:
    """Write `result_json(result)` with one row per line.

    json.dump with an indent encodes in pure Python and took most of the evidence stage at
    100,000 events, so the header is indented and each row goes through the C encoder.
    """
    document = result_json(result)
    rows = document.pop("rows")
    header = json.dumps(document, ensure_ascii=False, indent=1)
    stream.write(header[:-2] + ',\n "rows": [')
    separator = "\n  "
    for row in rows:
        stream.write(separator + json.dumps(row, ensure_ascii=False))
        separator = ",\n  "
    stream.write("\n ]\n}" if rows else "]\n}")


def format_table(result: QueryResult, max_width: int = 60, max_rows: int = 200) -> str:
    """Return a plain-text table with every cell made visible and cut to *max_width*."""
    columns = result.columns
    cells = [[shorten(visible(row.get(c)), max_width)[0] for c in columns]
             for row in result.rows[:max_rows]]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out = io.StringIO()
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")
    if len(result.rows) > max_rows:
        out.write(f"... {len(result.rows) - max_rows} more rows; use --format csv or json "
                  "for all of them\n")
    return out.getvalue()
