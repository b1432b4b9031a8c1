"""The offline source: DuckDB with duckdb-kql, over the bundled sample or exported files.

Every known Advanced Hunting table is created with its documented columns before anything is
loaded, so a query over a table the data lacks returns no rows instead of failing. The formats
of exported files are handled in `exports`, `union_csv` and `streaming`.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from irreport import schema
from irreport.digest import files_sha256
from irreport.errors import ConfigurationError, SourceError
from irreport.memory import collector_paused
from irreport.pack import ParameterisedQuery
from irreport.sources import (EMPTY, FAILED, OK, UNSUPPORTED, QueryResult, stopwatch, utcnow)
from irreport.sources.database import Database, open_database
from irreport.sources.exports import find_export_files, format_of, load_files, table_file_name
from irreport.sources.translation_cache import TranslationCache, cache_folder, run_translated
from irreport.timerange import TimeRange, datetime_limits, parse_instant

log = logging.getLogger(__name__)


def create_tables(con) -> None:
    """Create every documented table, empty, with its typed columns."""
    for table, columns in schema.tables().items():
        cols = ", ".join(f'"{name}" {schema.duckdb_type(kind)}' for name, kind in columns)
        con.execute(f'CREATE TABLE "{table}" ({cols})')


class LocalSource:
    """Runs pack queries on DuckDB through duckdb-kql."""

    def __init__(self, database: Database, kind: str, label: str, files: list[Path],
                 anchor: TimeRange | None = None, timezone_name: str | None = None):
        self.database = database
        self.con = database.con
        self.kind = kind
        self.label = label
        self.files = files
        self.anchor = anchor
        #: the fleet data's own "now" for the posture report, where it differs from anchor.end
        self.posture_end: datetime | None = None
        #: IANA zone of exported timestamps that carry none (the portal's local format)
        self.timezone_name = timezone_name
        self.row_counts: dict[str, int] = {}
        #: rows per table that were placed by inference from a union export
        self.inferred: dict[str, int] = {}
        #: columns that the files supplying a table had, to tell which ones no file had
        self.supplied_columns: dict[str, set[str]] = {}
        #: files skipped and rows not loaded, for the dossier to list
        self.warnings: list[str] = []
        self.translations = TranslationCache(cache_folder())

    def warn(self, message: str) -> None:
        """Record a loading problem that did not stop the load, and log it."""
        log.warning("%s", message)
        self.warnings.append(message)

    def note_loaded(self, table: str, rows: int) -> None:
        self.row_counts[table] = self.row_counts.get(table, 0) + rows

    def note_columns(self, table: str, columns) -> None:
        self.supplied_columns.setdefault(table, set()).update(columns)

    def note_inferred(self, table: str, rows: int) -> None:
        self.note_loaded(table, rows)
        self.inferred[table] = self.inferred.get(table, 0) + rows

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
        for table in self.tables_with_timestamp():
            bounds.append(self.con.execute(
                f'SELECT min("Timestamp"), max("Timestamp") FROM "{table}"').fetchone())
        starts = [b[0] for b in bounds if b[0]]
        ends = [b[1] for b in bounds if b[1]]
        if not starts:
            return None
        return TimeRange(_aware(min(starts)), _aware(max(ends)) + timedelta(seconds=1))

    def tables_with_timestamp(self) -> list[str]:
        """Return the loaded tables, documented or not, that have a Timestamp column."""
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'Timestamp' "
            "ORDER BY table_name").fetchall()
        return [name for (name,) in rows if self.row_counts.get(name)]

    def run(self, query_id: str, text: str, time_range: TimeRange,
            rebind=None) -> QueryResult:
        """Translate and run *text*, such as a user's query or a let-bound pack query."""
        # DuckDB has no row limit, so *rebind* is never needed here.
        return self._execute(query_id, text, lambda: run_translated(self.con, text))

    def run_parameterised(self, query_id: str, statement: ParameterisedQuery, text: str,
                          time_range: TimeRange) -> QueryResult:
        """Run *statement* with DuckDB binding its values, reusing its cached translation.

        *text* is the same query with let-bound values, which the result records as the text
        asked, so the manifest reads the same whichever way the query ran.
        """
        return self._execute(query_id, text,
                             lambda: self.translations.run(self.con, statement))

    def _execute(self, query_id: str, text: str, execute) -> QueryResult:
        import duckdb_kql

        result = QueryResult(query_id=query_id, text=text)
        result.started_at, started = stopwatch()
        try:
            statement = execute()
            result.columns = list(statement.columns)
            result.types = list(statement.types)
            with collector_paused():
                result.rows, result.arrays = _fetch(statement, result.columns, result.types)
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

    def known_devices(self) -> list[str]:
        """Return every device name the loaded tables contain, for suggestions on a typo."""
        names: set[str] = set()
        for table in ("DeviceInfo", "DeviceProcessEvents", "DeviceNetworkEvents", "DeviceEvents"):
            try:
                rows = self.con.execute(f'SELECT DISTINCT "DeviceName" FROM "{table}"').fetchall()
            except Exception as exc:  # a table the source lacks, or DuckDB's many error types
                log.debug("no device names from %s: %s", table, exc)
                continue
            names.update(str(r[0]) for r in rows if r[0])
        return sorted(names)

    def known_machine_groups(self) -> list[str] | None:
        """Return the machine groups DeviceInfo names, or None when DeviceInfo was not loaded."""
        if not self.row_counts.get("DeviceInfo"):
            return None
        rows = self.con.execute('SELECT DISTINCT "MachineGroup" FROM "DeviceInfo" '
                                'WHERE "MachineGroup" IS NOT NULL ORDER BY 1').fetchall()
        return [str(name) for (name,) in rows]

    def unavailable_tables(self) -> dict[str, str]:
        """Return the documented tables that no loaded file supplied, with the reason.

        A query over such a table would return no rows, which a reader takes for "nothing
        happened" when the export simply did not contain the table.
        """
        return {table: "not in the loaded data; export this table to see it"
                for table in schema.tables() if table not in self.row_counts}

    def missing_columns(self) -> dict[str, list[str]]:
        """Return the documented columns of each loaded table that none of its files had.

        Every loaded table is a key, with an empty list when nothing is missing. The loader
        leaves the missing columns empty, so a query reading one finds nothing there even
        where the tenant recorded a value.
        """
        documented = schema.tables()
        return {table: [c for c, _ in documented.get(table, []) if c not in columns]
                for table, columns in sorted(self.supplied_columns.items())}

    def provenance(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "engine": "duckdb-kql",
            "storage": self.database.storage,
            "files": [{"path": str(path), "sha256": digest}
                      for path, digest in zip(self.files, files_sha256(self.files))],
            "rows_per_table": {t: n for t, n in sorted(self.row_counts.items()) if n},
            "row_counts": dict(sorted(self.row_counts.items())),
            "inferred": dict(sorted(self.inferred.items())),
            "missing_columns": {t: c for t, c in self.missing_columns().items() if c},
            "timezone": self.timezone_name,
            "warnings": list(self.warnings),
        }

    def close(self) -> None:
        self.database.close()


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _row_dict(columns: list[str], row: tuple) -> dict[str, Any]:
    return {c: (_aware(v) if isinstance(v, datetime) else v) for c, v in zip(columns, row)}


# Types whose numpy columns turn back into the Python values fetchall gives. The rest (DECIMAL,
# HUGEINT, DATE, LIST, TIMESTAMP WITH TIME ZONE and others) are fetched row by row.
_COLUMNAR_TYPES = frozenset({
    "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "DOUBLE", "VARCHAR", "TIMESTAMP",
})
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# The microseconds since the epoch that Python's datetime can hold (years 1 to 9999).
_DATETIME_MICROSECONDS = datetime_limits(timedelta(microseconds=1))


def _fetch(statement, columns: list[str], types: list[str]) -> tuple[list[dict[str, Any]], dict]:
    """Return an executed statement's rows as dicts, and its columns as numpy arrays.

    A million process rows of 52 columns took 17 s through fetchall and a dict per tuple, and
    9.5 s as numpy columns turned into the same dicts. A result with another column type, or
    a time Python cannot hold, is fetched row by row and has no arrays. The arrays cost 8
    bytes a value beside the rows, so `collect` keeps only the columns an analysis reads.
    """
    import numpy as np

    if len(set(columns)) != len(columns) or not _COLUMNAR_TYPES.issuperset(types):
        return [_row_dict(columns, row) for row in statement.fetchall()], {}
    fetched = statement.fetchnumpy()
    values, arrays = [], {}
    for name, kind in zip(columns, types):
        column = fetched[name]
        if kind == "TIMESTAMP":
            if column.dtype != np.dtype("datetime64[us]") or not _holds_datetimes(column):
                return [_row_dict(columns, row) for row in statement.fetchall()], {}
            values.append(_utc_datetimes(column))
        else:
            values.append(column.tolist())
        arrays[name] = column
    return [dict(zip(columns, row)) for row in zip(*values)], arrays


def _utc_datetimes(column) -> list[datetime | None]:
    """Return the times of a datetime64[us] column as UTC datetimes, None where DuckDB had NULL.

    A datetime.replace(tzinfo=...) per time took 1.0 s a million on the project's 2-core
    machine. numpy turns the offsets from the epoch into timedeltas in C, and adding each to an
    aware epoch took 0.14 s.
    """
    import numpy as np

    offsets = (column - np.datetime64(0, "us")).tolist()
    if not np.ma.is_masked(column):
        return list(map(_UTC_EPOCH.__add__, offsets))
    return [None if offset is None else _UTC_EPOCH + offset for offset in offsets]


def _holds_datetimes(column) -> bool:
    """Tell whether every time of a datetime64[us] column fits a Python datetime."""
    import numpy as np

    ticks = np.ma.asarray(column).view(np.int64).compressed()
    low, high = _DATETIME_MICROSECONDS
    return not len(ticks) or (ticks.min() >= low and ticks.max() <= high)


def sample_dir() -> Path:
    return Path(str(resources.files("irreport"))) / "sample" / "data"


def open_sample(folder: Path | None = None) -> LocalSource:
    """Open the bundled sample, or a copy in *folder*; anchor.json gives its default range.

    The key `posture_end` of anchor.json is the end of the fleet data, which the posture
    report takes as "now".
    """
    label = "bundled sample incident (sample data)"
    if folder is None:
        folder = sample_dir()
    elif folder.resolve() != sample_dir().resolve():
        label = f"sample incident in {folder} (sample data)"
    files = sorted(p for p in folder.iterdir() if p.is_file() and table_file_name(p))
    source = open_files(files, folder, kind="sample", label=label)
    anchor_path = folder / "anchor.json"
    if anchor_path.exists():
        anchor = json.loads(anchor_path.read_text(encoding="utf-8"))
        source.anchor = TimeRange(parse_instant(anchor["start"]), parse_instant(anchor["end"]))
        if anchor.get("posture_end"):
            source.posture_end = parse_instant(anchor["posture_end"])
    return source


def open_files(files: list[Path], origin: Path, kind: str = "local", label: str | None = None,
               timezone_name: str | None = None, storage: str | None = None) -> LocalSource:
    """Create every documented table and load *files* into them.

    *storage* chooses an in-memory database or a temporary file (see `database`).
    """
    database = open_database(files, storage)
    try:
        create_tables(database.con)
        source = LocalSource(database, kind, label or f"exported data in {origin}", files,
                             timezone_name=timezone_name)
        load_files(source, files, str(origin))
    except BaseException:
        database.close()
        raise
    return source


def open_folder(folder: Path, kind: str = "local", label: str | None = None,
                timezone_name: str | None = None) -> LocalSource:
    """Load every export file under *folder*, walking it recursively."""
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder; expected a folder of exported tables",
                          source=str(folder))
    _check_timezone(timezone_name)
    warnings: list[str] = []
    files = find_export_files(folder, _WarningList(warnings))
    if not files:
        detail = f" ({warnings[0]})" if warnings else ""
        raise SourceError(
            f"{folder} contains no CSV, JSON or Parquet export{detail}; expected files such as "
            "DeviceProcessEvents.jsonl, an Advanced Hunting CSV export or Streaming API "
            "blobs (PT1H.json); pass the folder that holds them", source=str(folder))
    source = open_files(files, folder, kind, label, timezone_name)
    for message in warnings:
        source.warn(message)
    return source


def _is_sample_folder(folder: Path) -> bool:
    """Tell whether *folder* contains the sample's files: installed, in a checkout or a copy."""
    if folder.resolve() == sample_dir().resolve():
        return True
    anchor = folder / "anchor.json"
    bundled = sample_dir() / "anchor.json"
    return anchor.is_file() and bundled.is_file() and anchor.read_bytes() == bundled.read_bytes()


def open_path(path: Path, timezone_name: str | None = None) -> LocalSource:
    """Open exported data at *path*: one export file or a folder of them.

    *timezone_name* is the IANA zone of timestamps in the portal's local format, which carry
    none.
    """
    if not path.exists():
        raise SourceError(f"source {path} does not exist; pass an exported file or a folder of "
                          "exports", source=str(path))
    if path.is_dir():
        if _is_sample_folder(path):
            # The docs name the sample's folder, in a checkout or installed; its anchor.json
            # is the sample's range, not an export.
            return open_sample(path)
        return open_folder(path, timezone_name=timezone_name)
    _check_timezone(timezone_name)
    if format_of(path) is None:
        raise SourceError(f"source {path} is not named as a CSV, JSON or Parquet file; expected "
                          "a name ending in .csv, .json, .jsonl or .parquet (optionally .gz); "
                          "rename it to the format it holds", source=str(path))
    if path.stat().st_size == 0:
        raise SourceError(f"source {path} is empty; expected an export with a header row or "
                          "JSON records; export the query results again", source=str(path))
    return open_files([path], path, label=f"exported data in {path}",
                      timezone_name=timezone_name)


class _WarningList:
    """Collects warnings raised before the source exists, so the source can record them."""

    def __init__(self, messages: list[str]):
        self.messages = messages

    def warn(self, message: str) -> None:
        self.messages.append(message)


def _check_timezone(name: str | None) -> None:
    if name is None:
        return
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"--timezone {name!r} is not an IANA time zone; pass a name "
                                 "such as Europe/Berlin, America/New_York or UTC") from None
