"""Exported telemetry files: finding them, telling their format apart and loading each one.

A file is loaded by the first rule that applies:

1. JSON holding Streaming API records goes to the tables its categories name.
2. A file named for a table (DeviceEvents.csv, DeviceInfo.parquet) goes to that table.
3. A Sentinel / Log Analytics export with a `Type` column goes to the table each row names.
4. Anything else is a union export whose rows are placed by `union_csv`.

CSV and JSON are read as text and converted by `coercion`; Parquet keeps its own types.
"""

from __future__ import annotations

import codecs
import gzip
import logging
import os
import re
from pathlib import Path

from irreport import schema
from irreport.errors import SourceError
from irreport.sources import streaming, union_csv
from irreport.sources.coercion import (Column, insert_rows, quote_name, quote_text, run_load_sql)

log = logging.getLogger(__name__)

# Suffix (lower case) to format; the longest suffix that matches wins.
FORMATS = {
    ".csv": "csv", ".csv.gz": "csv", ".tsv": "csv",
    ".json": "json", ".json.gz": "json", ".jsonl": "json", ".jsonl.gz": "json",
    ".ndjson": "json", ".ndjson.gz": "json",
    ".parquet": "parquet",
}
TIME_COLUMNS = ("Timestamp", "TimeGenerated")
SNIFF_BYTES = 64 * 1024

# The Log Analytics portal writes the zone of a datetime column into its CSV header.
_UTC_HEADER = re.compile(r"\s*\[UTC\]$", re.IGNORECASE)


def suffix_of(path: Path) -> str | None:
    name = path.name.lower()
    matches = [s for s in FORMATS if name.endswith(s)]
    return max(matches, key=len) if matches else None


def format_of(path: Path) -> str | None:
    """Return csv, json or parquet for a file irreport can read, else None."""
    suffix = suffix_of(path)
    return FORMATS[suffix] if suffix else None


def table_file_name(path: Path) -> str | None:
    """Return the table a per-table file is named for, or None when the name is no table."""
    suffix = suffix_of(path)
    if not suffix:
        return None
    stem = path.name[: -len(suffix)]
    return {t.lower(): t for t in schema.tables()}.get(stem.lower())


def find_export_files(folder: Path, source) -> list[Path]:
    """Return the readable export files under *folder*, walking it recursively.

    Other files are listed in one warning, so that nothing is passed over silently.
    """
    found: list[Path] = []
    skipped: list[str] = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if format_of(path) is None:
                skipped.append(str(path.relative_to(folder)))
            elif path.stat().st_size == 0:
                skipped.append(f"{path.relative_to(folder)} (empty)")
            else:
                found.append(path)
    if skipped:
        shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10
                                            else "")
        source.warn(f"{folder}: skipped {len(skipped)} files that are not CSV, JSON or Parquet "
                    f"exports: {shown}")
    return found


def read_head(path: Path) -> bytes:
    """Return the first bytes of a file, uncompressed, for telling formats apart."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise SourceError(f"{path} cannot be read: {exc.strerror or exc}; check that the file "
                          "exists and that you may read it", source=str(path)) from None


def first_invalid_utf8(path: Path) -> int | None:
    """Return the offset of the first byte of *path* that is not valid UTF-8, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            # The decoder holds back an unfinished sequence, whose bytes precede this block.
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset - len(decoder.getstate()[0]) + exc.start
    return None


def is_streaming_file(path: Path) -> bool:
    if format_of(path) != "json":
        return False
    return streaming.looks_like_streaming(read_head(path).decode("utf-8-sig", errors="replace"))


def load_files(source, files: list[Path], origin: str) -> None:
    """Load every file; Streaming API files go together so each table is read in one pass."""
    streamed = [p for p in files if is_streaming_file(p)]
    for path in files:
        if path not in streamed:
            load_table_shaped(source, path)
    if streamed:
        where = str(streamed[0]) if len(streamed) == 1 else origin
        streaming.load_streaming_files(source, streamed, where)


def load_table_shaped(source, path: Path) -> int:
    """Load a CSV, JSON-lines or Parquet file whose rows are table rows; returns rows added."""
    reader, columns = open_reader(source, path)
    table = table_file_name(path)
    check_columns(path, columns, table)
    if table:
        count = insert_rows(source, table, reader, columns, str(path))
        source.note_loaded(table, count)
        return count
    if any(c.name == "Type" for c in columns) and any(c.name in ("TimeGenerated", "TenantId")
                                                    for c in columns):
        return load_by_type_column(source, path, reader, columns)
    return union_csv.load_union_csv(source, path, reader, columns)


def open_reader(source, path: Path) -> tuple[str, list[Column]]:
    """Return the SQL that reads *path* and the columns it yields."""
    kind = format_of(path)
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path} cannot be read: permission denied; check that you may read "
                          "it", source=str(path))
    if kind == "parquet":
        reader = f"read_parquet({quote_text(str(path))})"
        described = run_load_sql(source.con, f"DESCRIBE SELECT * FROM {reader}", str(path))
        return reader, [Column(name, quote_name(name), kind) for name, kind, *_ in described]
    if kind == "json":
        return _json_rows_reader(source, path)
    return _csv_reader(source, path)


def _csv_reader(source, path: Path) -> tuple[str, list[Column]]:
    # Excel's "Unicode text" and some PowerShell exports write UTF-16 with a byte order mark.
    utf16 = read_head(path).startswith((b"\xff\xfe", b"\xfe\xff"))
    encoding = ", encoding='utf-16'" if utf16 else ""
    invalid_at = None if utf16 else first_invalid_utf8(path)
    if invalid_at is not None:
        # DuckDB rejects the whole file on one bad byte. A CSV that is not UTF-8 is most
        # likely a Windows code page export, and Latin-1 reads every byte of it as some
        # character, so the rows load and the odd ones stay visible.
        encoding = ", encoding='latin-1'"
        source.warn(f"{path} is not valid UTF-8 (first invalid byte at offset {invalid_at}), "
                    "so it was read as Latin-1; check its non-ASCII values against the file")
    delimiter = ", delim='\\t'" if path.name.lower().endswith(".tsv") else ""
    reader = (f"read_csv({quote_text(str(path))}, header=true, all_varchar=true, quote='\"', "
              f"escape='\"'{delimiter}{encoding})")
    described = run_load_sql(source.con, f"DESCRIBE SELECT * FROM {reader}", str(path))
    columns = []
    for name, *_ in described:
        clean = _UTC_HEADER.sub("", name.strip().lstrip("\ufeff"))
        zone = "UTC" if clean != name.strip().lstrip("\ufeff") else None
        columns.append(Column(clean, quote_name(name), zone=zone))
    return reader, columns


def _json_rows_reader(source, path: Path) -> tuple[str, list[Column]]:
    objects, keys = _json_keys(source, path)
    # Each `json ->> key` parses the whole object again, and the conversion SQL repeats a
    # column up to ten times, so a 3 MB file took 2 s and 500 MB. One json_extract_string
    # over every key parses each object once. A key that a JSON path cannot quote keeps ->>.
    quotable = [key for key in keys if '"' not in key and "\\" not in key]
    paths = "[" + ", ".join(quote_text(f'$."{key}"') for key in quotable) + "]"
    reader = f"(SELECT json, json_extract_string(json, {paths}) AS __values FROM {objects})"
    position = {key: index + 1 for index, key in enumerate(quotable)}
    columns = [Column(key, f"__values[{position[key]}]" if key in position
                      else f"json ->> {quote_text(key)}") for key in keys]
    return (reader if quotable else objects), columns


def _json_keys(source, path: Path) -> tuple[str, list[str]]:
    """Return the SQL that reads the JSON objects of *path* and the keys they have."""
    limit, rows = streaming.run_json_sql(
        source.con, lambda size: f"SELECT DISTINCT unnest(json_keys(json)) FROM "
                                 f"{_json_objects(path, size)}", str(path))
    return _json_objects(path, limit), [key for (key,) in rows]


def _json_objects(path: Path, limit: int) -> str:
    return (f"read_json_objects({quote_text(str(path))}, format='auto', "
            f"maximum_object_size={limit})")


def check_columns(path: Path, columns: list[Column], table: str | None) -> None:
    """Raise unless the columns are those of a Defender or Sentinel export."""
    names = {c.name for c in columns}
    if table:
        own = {name for name, _ in schema.tables()[table]} | set(TIME_COLUMNS)
        if not names & own:
            raise SourceError(
                f"{path} has none of the columns of {table}; expected an export of that table "
                "(such as Timestamp, DeviceName, ActionType); rename the file if it holds "
                "another table", source=str(path))
        return
    documented = {name for flavour in ("advanced-hunting", "log-analytics")
                  for cols in schema.tables(flavour).values() for name, _ in cols}
    if names & set(TIME_COLUMNS) and len(names & documented) >= 2:
        return
    shown = ", ".join(sorted(names)[:8]) or "none"
    raise SourceError(
        f"{path} is not a Microsoft Defender export: its columns ({shown}) lack Timestamp or "
        "TimeGenerated and the Advanced Hunting columns; expected a CSV, JSON or Parquet "
        "export from the Advanced Hunting page, the Streaming API or Sentinel; remove the "
        "file or pass the export itself", source=str(path))


def load_by_type_column(source, path: Path, reader: str, columns: list[Column]) -> int:
    """Load a Sentinel export whose `Type` column names each row's table."""
    type_column = next(c for c in columns if c.name == "Type")
    fills = ", ".join(f"count(*) FILTER (WHERE {union_csv.filled_sql(c)})" for c in columns)
    counts = run_load_sql(source.con, f"SELECT {type_column.expr}, count(*), {fills} "
                                      f"FROM {reader} GROUP BY ALL", str(path))
    known = {t.lower(): t for t in schema.tables()}
    loaded = 0
    for value, rows, *filled in counts:
        if not value:
            source.warn(f"{path}: {rows} rows were not loaded because their Type column, "
                        "which names the table in a Sentinel export, is empty")
            continue
        table = known.get(value.lower(), value)
        # A multi-table export has the union of all columns. Each table takes only the
        # columns its rows fill, so it gains no empty columns of the other tables.
        used = [c for c, n in zip(columns, filled) if n]
        count = insert_rows(source, table, reader, used, str(path),
                            where=f"{type_column.expr} = {quote_text(value)}")
        source.note_loaded(table, count)
        loaded += count
    return loaded
