"""The offline source: DuckDB with duckdb-kql, over the bundled sample or exported files.

Every known Advanced Hunting table is created with its documented columns before anything is
loaded, so a query over a table the data lacks returns no rows instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from irreport import schema
from irreport.errors import SourceError
from irreport.sources import (EMPTY, FAILED, OK, UNSUPPORTED, QueryResult, stopwatch, utcnow)
from irreport.timerange import TimeRange, parse_instant

log = logging.getLogger(__name__)

TABLE_FILE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".ndjson", ".csv", ".csv.gz", ".parquet")


def connect():
    import duckdb_kql

    return duckdb_kql.connect()


def create_tables(con) -> None:
    """Create every documented table, empty, with its typed columns."""
    for table, columns in schema.tables().items():
        cols = ", ".join(f'"{name}" {schema.duckdb_type(kind)}' for name, kind in columns)
        con.execute(f'CREATE TABLE "{table}" ({cols})')


def table_file_name(path: Path) -> str | None:
    """Return the table a per-table file is named for, or None when the name is no table."""
    name = path.name
    for suffix in TABLE_FILE_SUFFIXES:
        if name.lower().endswith(suffix):
            stem = name[: -len(suffix)]
            match = {t.lower(): t for t in schema.tables()}.get(stem.lower())
            return match
    return None


def load_table_file(con, table: str, path: Path) -> int:
    """Append the rows of one per-table file to *table*; returns the number of rows added.

    DuckDB reads the file itself, so a large export is never turned into Python rows.
    """
    types = schema.column_types(table)
    reader = _reader_sql(path, types)
    before = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    present = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
    known = [c for c in present if c in types]
    if not known:
        raise SourceError(
            f"{path} has none of the columns of {table}; expected an export of that table "
            f"(such as Timestamp, DeviceName, ActionType)", source=str(path),
        )
    select = ", ".join(f'TRY_CAST("{c}" AS {schema.duckdb_type(types[c])}) AS "{c}"'
                       for c in known)
    con.execute(f'INSERT INTO "{table}" BY NAME SELECT {select} FROM {reader}')
    return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] - before


def _reader_sql(path: Path, types: dict[str, str]) -> str:
    quoted = "'" + str(path).replace("'", "''") + "'"
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet({quoted})"
    if name.endswith((".csv", ".csv.gz")):
        return f"read_csv({quoted}, header=true, all_varchar=true)"
    return f"read_json({quoted}, format='newline_delimited', records=true, union_by_name=true)"


class LocalSource:
    """Runs pack queries on DuckDB through duckdb-kql."""

    def __init__(self, con, kind: str, label: str, files: list[Path],
                 anchor: TimeRange | None = None):
        self.con = con
        self.kind = kind
        self.label = label
        self.files = files
        self.anchor = anchor
        self.row_counts: dict[str, int] = {}

    def now(self) -> datetime:
        if self.anchor:
            return self.anchor.end
        latest = self.data_range()
        return latest.end if latest else utcnow()

    def default_range(self) -> TimeRange | None:
        return self.anchor or self.data_range()

    def data_range(self) -> TimeRange | None:
        """Return the range from the earliest to just past the latest event in the data."""
        bounds = []
        for table, columns in schema.tables().items():
            if any(c == "Timestamp" for c, _ in columns) and self.row_counts.get(table):
                bounds.append(self.con.execute(
                    f'SELECT min("Timestamp"), max("Timestamp") FROM "{table}"').fetchone())
        starts = [b[0] for b in bounds if b[0]]
        ends = [b[1] for b in bounds if b[1]]
        if not starts:
            return None
        return TimeRange(_aware(min(starts)), _aware(max(ends)) + timedelta(seconds=1))

    def run(self, query_id: str, text: str, time_range: TimeRange,
            rebind=None) -> QueryResult:
        # DuckDB has no row limit, so *rebind* is never needed here.
        import duckdb_kql

        result = QueryResult(query_id=query_id, text=text)
        result.started_at, started = stopwatch()
        try:
            relation = duckdb_kql.kql(self.con, text)
            result.columns = list(relation.columns)
            result.types = [str(t) for t in relation.types]
            result.rows = [_row_dict(result.columns, row) for row in relation.fetchall()]
            result.status = OK if result.rows else EMPTY
        except duckdb_kql.KqlUnsupportedError as exc:
            result.status = UNSUPPORTED
            result.message = f"not runnable offline: {exc}"
        except duckdb_kql.KqlError as exc:
            result.status = FAILED
            result.message = f"the offline engine rejected the query: {exc}"
        except Exception as exc:  # duckdb raises many unrelated types for one bad query
            if not type(exc).__module__.startswith(("duckdb", "_duckdb")):
                raise
            result.status = FAILED
            result.message = f"DuckDB failed to run the query: {exc}"
        result.finished_at = utcnow()
        log.debug("query %s: %s, %d rows", query_id, result.status, len(result.rows))
        return result

    def unavailable_tables(self) -> dict[str, str]:
        return {}

    def provenance(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "engine": "duckdb-kql",
            "files": [{"path": str(p), "sha256": file_sha256(p)} for p in self.files],
            "rows_per_table": {t: n for t, n in sorted(self.row_counts.items()) if n},
        }

    def close(self) -> None:
        self.con.close()


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _row_dict(columns: list[str], row: tuple) -> dict[str, Any]:
    return {c: (_aware(v) if isinstance(v, datetime) else v) for c, v in zip(columns, row)}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sample_dir() -> Path:
    return Path(str(resources.files("irreport"))) / "sample" / "data"


def open_sample() -> LocalSource:
    """Open the bundled incident; its anchor.json gives the range a build covers by default."""
    folder = sample_dir()
    source = open_folder(folder, kind="sample", label="bundled sample incident (sample data)")
    anchor_path = folder / "anchor.json"
    if anchor_path.exists():
        anchor = json.loads(anchor_path.read_text(encoding="utf-8"))
        source.anchor = TimeRange(parse_instant(anchor["start"]), parse_instant(anchor["end"]))
    return source


def open_folder(folder: Path, kind: str = "local", label: str | None = None) -> LocalSource:
    """Load a folder of per-table files, each named for its table."""
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder; expected a folder of exported tables",
                          source=str(folder))
    files = sorted(p for p in folder.iterdir() if p.is_file() and table_file_name(p))
    if not files:
        raise SourceError(
            f"{folder} holds no file named for an Advanced Hunting table; expected files such "
            "as DeviceProcessEvents.jsonl, DeviceEvents.csv or DeviceInfo.parquet",
            source=str(folder),
        )
    con = connect()
    create_tables(con)
    source = LocalSource(con, kind, label or f"exported data in {folder}", files)
    for path in files:
        table = table_file_name(path)
        source.row_counts[table] = source.row_counts.get(table, 0) + load_table_file(con, table, path)
    return source


def open_path(path: Path, timezone_name: str | None = None) -> LocalSource:
    """Open exported data at *path*; *timezone_name* is the zone of portal-local timestamps."""
    if not path.exists():
        raise SourceError(f"source {path} does not exist; pass a folder of exported tables",
                          source=str(path))
    if path.is_dir():
        return open_folder(path)
    raise SourceError(
        f"source {path} is a file; this build reads folders of per-table files (such as "
        "DeviceEvents.csv); put the file in a folder named for its table", source=str(path),
    )
