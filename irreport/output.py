"""Writing query results as a terminal table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from itertools import repeat
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any, TextIO

from irreport.sources import QueryResult
from irreport.textsafe import TextColumn, csv_cell, json_cell, json_ready, shorten, visible

# Results are converted this many rows at a time, so the text of a million-row result never
# sits in memory whole. Blocks of 2,000 rows ran as fast as blocks of 10,000 on the scale
# benchmark and took 65 MiB less at its peak.
BLOCK_ROWS = 2_000
# csv.writer's QUOTE_MINIMAL with the lineterminator "\r\n" quotes a field containing one of
# these characters.
_CSV_SPECIAL = re.compile('[,"\r\n]')


def write_csv(result: QueryResult, stream: TextIO, for_people: bool = True) -> None:
    """Write rows as CSV; cells meant for people are neutralised against formula injection."""
    if not for_people:
        _write_plain_csv(result, stream)
        return
    # Column names come from the export too when a query keeps every column.
    _write_csv_header(result.columns, stream)
    for block in _blocks(result.rows):
        stream.write(_csv_records(_text_columns(block, result.columns), len(block)))


def write_csv_columns(columns: list[str], blocks: Iterable[list[list[Any]]],
                      stream: TextIO) -> None:
    """Write CSV for people, as `write_csv` does, from blocks of rows given column by column."""
    _write_csv_header(columns, stream)
    for block in blocks:
        text_columns = list(map(TextColumn, block))
        stream.write(_csv_records(text_columns, len(block[0]) if block else 0))


def write_result_files(result: QueryResult, json_stream: TextIO, csv_stream: TextIO) -> None:
    """Write what `write_result_json` and `write_csv` write, converting each value once."""
    _write_csv_header(result.columns, csv_stream)
    _write_json_start(result, json_stream)
    separator = "\n  "
    for block in _blocks(result.rows):
        has_keys = _has_keys(block, result.columns)
        text_columns = _text_columns(block, result.columns, has_keys)
        csv_stream.write(_csv_records(text_columns, len(block)))
        if has_keys:
            objects = _objects(result.columns, text_columns, len(block))
        else:
            objects = json_objects(block)
        json_stream.write(separator)
        json_stream.write(",\n  ".join(objects))
        separator = ",\n  "
    _write_json_end(result, json_stream)


def _csv_records(columns: list[TextColumn], row_count: int) -> str:
    """Return the CSV records, as csv.writer writes them, of a block of rows."""
    if not columns or not row_count:
        return "\r\n" * row_count
    fields = [_csv_fields(column) for column in columns]
    if len(fields) == 1:
        # csv.writer quotes a record of one empty field, which would be a blank line.
        fields = [list(map({"": '""'}.get, fields[0], fields[0]))]
    parts: list[str | list[str]] = [fields[0]]
    for texts in fields[1:]:
        parts += [",", texts]
    parts.append("\r\n")
    return "".join(concatenate_rows(parts, row_count))


def _csv_fields(column: TextColumn) -> list[str]:
    texts = column.csv()
    # Read after csv(), because csv() can switch the column to conversion cell by cell.
    if column.holds_plain_values:
        return texts
    joined = "".join(texts)
    if not ("," in joined or '"' in joined or "\r" in joined or "\n" in joined):
        return texts
    return ['"' + text.replace('"', '""') + '"' if _CSV_SPECIAL.search(text) else text
            for text in texts]


def concatenate_rows(parts: list[str | list[str]], row_count: int) -> list[str]:
    """Return, for each row, the concatenation of *parts*: strings shared by every row and
    lists of one text per row.

    Adjacent shared strings, and lists whose texts are all equal, are joined once for all
    rows; a single device's dossier has many such columns.
    """
    if not row_count:
        return []
    merged: list[str | list[str]] = []
    for part in parts:
        if not isinstance(part, str) and _all_equal(part):
            part = part[0]
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    if len(merged) == 1 and isinstance(merged[0], str):
        return [merged[0]] * row_count
    columns = [repeat(part) if isinstance(part, str) else part for part in merged]
    return list(map("".join, zip(*columns)))


def _all_equal(texts: list[str]) -> bool:
    return texts[0] == texts[-1] and texts.count(texts[0]) == len(texts)


def _write_csv_header(columns: list[str], stream: TextIO) -> None:
    # With CRLF rows (RFC 4180) the writer quotes a cell holding a lone CR; with LF rows it
    # would not, and the reader would split the row there.
    csv.writer(stream, lineterminator="\r\n").writerow([csv_cell(c) for c in columns])


def _write_plain_csv(result: QueryResult, stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([_plain(c) for c in result.columns])
    for row in result.rows:
        writer.writerow([_plain(row.get(c)) for c in result.columns])


def _plain(value: Any) -> str:
    from irreport.textsafe import to_text, without_surrogates

    return without_surrogates(to_text(value))


def _blocks(rows: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(rows), BLOCK_ROWS):
        yield rows[start:start + BLOCK_ROWS]


def _text_columns(rows: list[dict[str, Any]], names: list[str],
                  has_keys: bool = False) -> list[TextColumn]:
    """Return `row.get(name)` of every row as a TextColumn for each name.

    Pass *has_keys* True only when `_has_keys(rows, names)` holds, so every row has every name.
    """
    if has_keys:
        return [TextColumn(list(map(itemgetter(name), rows))) for name in names]
    if set(map(type, rows)) <= {dict}:
        return [TextColumn(list(map(dict.get, rows, repeat(name)))) for name in names]
    return [TextColumn([row.get(name) for row in rows]) for name in names]


def _has_keys(rows: list[Any], keys: list[str]) -> bool:
    """Tell whether every row is a dict with exactly *keys*, in that order, all of them str."""
    if not set(map(type, rows)) <= {dict} or not set(map(type, keys)) <= {str}:
        return False
    expected = tuple(keys)
    return all(map(expected.__eq__, map(tuple, rows)))


def _header_json(result: QueryResult) -> dict[str, Any]:
    return {
        "query": result.query_id,
        "status": result.status,
        "message": result.message,
        "truncated": result.truncated,
        "columns": [{"name": c, "type": t} for c, t in zip(result.columns, result.types)],
    }


def result_json(result: QueryResult) -> dict[str, Any]:
    return {**_header_json(result), "rows": [json_ready(row) for row in result.rows]}


def write_json(result: QueryResult, stream: TextIO) -> None:
    json.dump(result_json(result), stream, ensure_ascii=False, indent=1)
    stream.write("\n")


def write_result_json(result: QueryResult, stream: TextIO) -> None:
    """Write `result_json(result)` with one row per line.

    json.dump with an indent encodes in pure Python, so only the header is indented by it and
    the rows are written by `json_objects`.
    """
    _write_json_start(result, stream)
    separator = "\n  "
    for block in _blocks(result.rows):
        stream.write(separator)
        stream.write(",\n  ".join(json_objects(block)))
        separator = ",\n  "
    _write_json_end(result, stream)


def _write_json_start(result: QueryResult, stream: TextIO) -> None:
    header = json.dumps(_header_json(result), ensure_ascii=False, indent=1)
    stream.write(header[:-2] + ',\n "rows": [')


def _write_json_end(result: QueryResult, stream: TextIO) -> None:
    stream.write("\n ]\n}" if result.rows else "]\n}")


def json_objects(rows: list[Any]) -> list[str]:
    """Return `json.dumps(json_ready(row), ensure_ascii=False)` for every row.

    Dicts with the same keys in the same order are converted a column at a time.
    """
    if not rows or not set(map(type, rows)) <= {dict}:
        return list(map(json_cell, rows))
    groups = indexes_by_keys(rows)
    if len(groups) == 1:
        return _same_shape_objects(rows, next(iter(groups)))
    texts: list[str] = [""] * len(rows)
    for keys, indexes in groups.items():
        group = [rows[index] for index in indexes]
        for index, text in zip(indexes, _same_shape_objects(group, keys)):
            texts[index] = text
    return texts


def indexes_by_keys(rows: list[dict[str, Any]]) -> dict[tuple, list[int]]:
    """Return the indexes of the rows that have each sequence of keys, in order of first use."""
    shapes = list(map(tuple, rows))
    if shapes.count(shapes[0]) == len(shapes):
        return {shapes[0]: list(range(len(rows)))}
    indexes: dict[tuple, list[int]] = {}
    for index, shape in enumerate(shapes):
        indexes.setdefault(shape, []).append(index)
    return indexes


def _same_shape_objects(rows: list[dict[str, Any]], keys: tuple) -> list[str]:
    # json_ready turns every key into str(key), so keys of other types go row by row.
    if not set(map(type, keys)) <= {str}:
        return list(map(json_cell, rows))
    columns = [list(map(itemgetter(key), rows)) for key in keys]
    return json_objects_of_columns(list(keys), columns, len(rows))


def json_objects_of_columns(keys: list[str], columns: list[list[Any]],
                            row_count: int) -> list[str]:
    """Return `json_cell(dict(zip(keys, row)))` for each row of *columns*, whose keys are str."""
    return _objects(keys, list(map(TextColumn, columns)), row_count)


def _objects(keys: list[str], columns: list[TextColumn], row_count: int) -> list[str]:
    """Return JSON objects as json.dumps writes them, from their keys and value columns."""
    parts: list[str | list[str]] = ["{"]
    for index, (key, column) in enumerate(zip(keys, columns)):
        parts += [(", " if index else "") + encode_basestring(key) + ": ", column.json()]
    parts.append("}")
    return concatenate_rows(parts, row_count)


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
