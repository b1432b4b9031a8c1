"""Typed insertion of exported rows into the documented tables, done in DuckDB SQL.

Every export format reads its input as text (or as Parquet's own types) and describes each
column as a `Column`: the name the table expects and the SQL that yields the value. This module
converts those values to the table's types and merges the split `ReportId` columns. It takes
`TimeGenerated` for a missing `Timestamp`, adds unknown columns as text and creates tables the
schema does not document. So every format loads the same way, and nothing is dropped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from irreport import schema
from irreport.errors import SourceError

log = logging.getLogger(__name__)

# The portal's Advanced Hunting export writes local time without a zone, such as
# "Oct 9, 2024 2:39:25 PM"; the Log Analytics export writes "10/9/2024, 2:39:25.123 PM".
PORTAL_TIME_FORMATS = (
    "%b %d, %Y %I:%M:%S %p",
    "%b %d, %Y %I:%M:%S.%f %p",
    "%m/%d/%Y, %I:%M:%S %p",
    "%m/%d/%Y, %I:%M:%S.%f %p",
    "%m/%d/%Y %I:%M:%S %p",
)

TIMESTAMP_FORMS = ("ISO 8601 such as 2024-10-09T14:39:25.1234567Z, epoch seconds, milliseconds "
                   "or microseconds, or the portal's local form such as Oct 9, 2024 2:39:25 PM")

# Marks the messages that irreport's own SQL raises with error(), so they can be distinguished
# from DuckDB's errors and shown without DuckDB's prefix.
_ERROR_MARK = "irreport-load: "

REPORT_ID_PARTS = ("ReportId_long", "ReportId_string")


@dataclass(frozen=True)
class Column:
    """One column of an input: its name in the table, its SQL value and that value's type."""

    name: str
    expr: str
    type: str = "VARCHAR"
    #: zone of zone-less local-format times when the file states it, such as a "[UTC]" header
    zone: str | None = None


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def text_columns(names: list[str]) -> list[Column]:
    return [Column(name, quote_name(name)) for name in names]


def table_columns(con, table: str) -> dict[str, str]:
    """Return {column: DuckDB type} of a table that exists on *con*."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position", [table]).fetchall()
    return {name: kind for name, kind in rows}


def existing_tables(con) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {row[0] for row in rows}


def _raise_sql(message_sql: str) -> str:
    return f"error({quote_text(_ERROR_MARK)} || {message_sql})"


def _bad_value_sql(value: str, origin_sql: str, column: str, kind: str, expected: str) -> str:
    prefix = quote_text(f": column {column} holds ")
    suffix = quote_text(f", which is not {kind}; expected {expected}; fix or remove that value "
                        "and load again")
    return _raise_sql(f"{origin_sql} || {prefix} || {_shown(value)} || {suffix}")


def _shown(value: str) -> str:
    return "'''' || left(" + value + ", 80) || ''''"


def timestamp_sql(value: str, origin_sql: str, column: str, zone: str | None) -> str:
    """Return SQL that turns a text timestamp into a UTC TIMESTAMP, or raises naming the value."""
    text = f"trim({value})"
    epoch = _epoch_sql(f"TRY_CAST({text} AS DOUBLE)")
    if zone:
        formats = "[" + ", ".join(quote_text(f) for f in PORTAL_TIME_FORMATS) + "]"
        parsed = f"timezone({quote_text(zone)}, try_strptime({text}, {formats}))::TIMESTAMP"
        unparsed = _bad_value_sql(value, origin_sql, column, "a timestamp",
                                  "the portal's local form such as Oct 9, 2024 2:39:25 PM")
        local = f"coalesce({parsed}, {unparsed})"
    else:
        holds = quote_text(f": column {column} holds ")
        advice = quote_text(" in the portal's local time, which carries no time zone; pass "
                            "--timezone with the zone of the browser that exported it, such as "
                            "--timezone Europe/Berlin or --timezone UTC")
        local = _raise_sql(f"{origin_sql} || {holds} || {_shown(value)} || {advice}")
    bad = _bad_value_sql(value, origin_sql, column, "a timestamp", TIMESTAMP_FORMS)
    # The direct cast comes first because it covers ISO 8601, the form of nearly every value,
    # and is much cheaper than the pattern tests of the other forms.
    return (
        f"coalesce(TRY_CAST({value} AS TIMESTAMPTZ)::TIMESTAMP, "
        f"CASE WHEN {value} IS NULL OR {text} = '' THEN NULL "
        f"WHEN regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?') THEN coalesce({epoch}, {bad}) "
        f"WHEN regexp_matches({text}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
        f"THEN coalesce(TRY_CAST({text} AS TIMESTAMPTZ)::TIMESTAMP, {bad}) "
        f"WHEN regexp_matches({text}, '^[A-Za-z]{{3}} [0-9]|^[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}}') "
        f"THEN {local} "
        f"ELSE {bad} END)"
    )


def _epoch_sql(number: str) -> str:
    # The unit is inferred from the size. Seconds stay below 1e11 and milliseconds below 1e14
    # until the year 5138, so a larger value up to 1e17 is taken as microseconds.
    return (
        f"CASE WHEN abs({number}) < 1e11 THEN to_timestamp({number})::TIMESTAMP "
        f"WHEN abs({number}) < 1e14 THEN epoch_ms(round({number})::BIGINT) "
        f"WHEN abs({number}) < 1e17 THEN make_timestamp(round({number})::BIGINT) END"
    )


def value_sql(column: Column, target_type: str, origin_sql: str, zone: str | None) -> str:
    """Return SQL converting *column* to *target_type*; a value that does not convert raises."""
    source_type = column.type.upper()
    target = target_type.upper()
    if source_type == target:
        return column.expr
    if target == "TIMESTAMP":
        if source_type.startswith(("TIMESTAMP", "DATE")):
            return f"CAST({column.expr} AS TIMESTAMP)"
        return timestamp_sql(_as_text(column), origin_sql, column.name, column.zone or zone)
    if target == "VARCHAR":
        return _as_text(column)
    if target == "JSON":
        text = _as_text(column)
        return (f"CASE WHEN {text} IS NULL OR {text} = '' THEN NULL "
                f"WHEN json_valid({text}) THEN {text}::JSON ELSE to_json({text}) END")
    text = _as_text(column)
    wanted = "true or false" if target == "BOOLEAN" else "a number"
    bad = _bad_value_sql(text, origin_sql, column.name, f"a valid {target}",
                         f"{wanted}, because the schema types {column.name} as {target}")
    return (f"coalesce(TRY_CAST({text} AS {target}), "
            f"CASE WHEN {text} IS NULL OR trim({text}) = '' THEN NULL "
            f"ELSE coalesce(TRY_CAST(trim({text}) AS {target}), "
            f"TRY_CAST(TRY_CAST(trim({text}) AS DOUBLE) AS {target}), {bad}) END)")


def _as_text(column: Column) -> str:
    # Parenthesised because `::` binds tighter than the JSON operator `->>`.
    if column.type.upper() == "VARCHAR":
        return f"({column.expr})"
    if column.type.upper() == "JSON":
        # A JSON string value is unquoted; objects and arrays stay JSON text.
        return f"coalesce({column.expr} ->> '$', CAST({column.expr} AS VARCHAR))"
    return f"CAST({column.expr} AS VARCHAR)"


def extra_column_type(column: str) -> str:
    """Return the DuckDB type for a column the table lacks: the Sentinel type if it has one."""
    for columns in schema.tables("log-analytics").values():
        for name, kind in columns:
            if name == column:
                return schema.duckdb_type(kind)
    return "VARCHAR"


def ensure_table(source, table: str, columns: list[Column], origin: str) -> None:
    """Create *table* with text columns when the bundled schema does not document it."""
    if table in existing_tables(source.con):
        return
    names = [c.name for c in columns if c.name not in REPORT_ID_PARTS]
    if any(c.name in REPORT_ID_PARTS for c in columns):
        names.append("ReportId")
    names = list(dict.fromkeys(names))
    defs = ", ".join(
        f"{quote_name(n)} {'TIMESTAMP' if n in ('Timestamp', 'TimeGenerated') else 'VARCHAR'}"
        for n in names)
    source.con.execute(f"CREATE TABLE {quote_name(table)} ({defs})")
    source.warn(f"{origin}: table {table} is not in irreport's schema; its rows were loaded "
                "with text columns, and no pack query reads them")


def insert_rows(source, table: str, from_sql: str, columns: list[Column], origin: str,
                where: str | None = None, origin_sql: str | None = None) -> int:
    """Insert the rows of *from_sql* into *table*, converted to its types; returns the count.

    *source* supplies the connection, the time zone of portal-local timestamps and the warning
    list, and learns which columns the rows had. Columns the table lacks are added (typed as Sentinel types them, else as text).
    *origin_sql* is SQL naming each row's file in error messages, by default *origin* itself.
    """
    con = source.con
    origin_sql = origin_sql or quote_text(origin)
    ensure_table(source, table, columns, origin)
    targets = table_columns(con, table)
    selects: dict[str, str] = {}
    for column in columns:
        if column.name in REPORT_ID_PARTS:
            continue
        if column.name not in targets:
            kind = extra_column_type(column.name)
            con.execute(f"ALTER TABLE {quote_name(table)} ADD COLUMN {quote_name(column.name)} {kind}")
            targets[column.name] = kind
            log.debug("%s: added column %s %s to %s", origin, column.name, kind, table)
        selects[column.name] = value_sql(column, targets[column.name], origin_sql,
                                         source.timezone_name)
    _merge_report_id(selects, columns, targets, origin_sql, source.timezone_name)
    _fill_timestamp(selects, columns, targets, origin_sql, source.timezone_name)
    if not selects:
        return 0
    select = ", ".join(f"{expr} AS {quote_name(name)}" for name, expr in selects.items())
    sql = f"INSERT INTO {quote_name(table)} BY NAME SELECT {select} FROM {from_sql}"
    if where:
        sql += f" WHERE {where}"
    count = run_load_sql(con, sql, origin)[0][0]
    if count:
        source.note_columns(table, selects)
    return count


def _merge_report_id(selects, columns, targets, origin_sql, zone) -> None:
    # The portal splits ReportId into ReportId_long and ReportId_string when a union mixes
    # tables whose ReportId types differ; each row fills one of the two.
    parts = [c for c in columns if c.name in REPORT_ID_PARTS]
    if not parts or "ReportId" in selects:
        return
    texts = ", ".join(f"nullif(trim({_as_text(c)}), '')" for c in parts)
    merged = Column("ReportId", f"coalesce({texts})")
    target = targets.get("ReportId", "VARCHAR")
    selects["ReportId"] = value_sql(merged, target, origin_sql, zone)


def _fill_timestamp(selects, columns, targets, origin_sql, zone) -> None:
    # Sentinel rows carry TimeGenerated and often no Timestamp, while the pack queries filter
    # on Timestamp.
    generated = next((c for c in columns if c.name == "TimeGenerated"), None)
    if generated is None or "Timestamp" not in targets:
        return
    fallback = value_sql(generated, "TIMESTAMP", origin_sql, zone)
    if "Timestamp" in selects:
        selects["Timestamp"] = f"coalesce({selects['Timestamp']}, {fallback})"
    else:
        selects["Timestamp"] = fallback


def run_load_sql(con, sql: str, origin: str) -> list[tuple]:
    """Run *sql* that reads *origin*; DuckDB's errors become a SourceError naming the file."""
    import duckdb

    try:
        return con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise load_error(exc, origin) from None


def load_error(exc: Exception, origin: str) -> SourceError:
    message = str(exc)
    if _ERROR_MARK in message:
        return SourceError(message.split(_ERROR_MARK, 1)[1].strip(), source=origin)
    first_line = re.sub(r"\s+", " ", message.strip().splitlines()[0]) if message.strip() else ""
    return SourceError(
        f"{origin} could not be read: {first_line}; check that it is a complete, uncompressed "
        "or gzip-compressed Advanced Hunting, Streaming API or Sentinel export", source=origin)
