"""Summary of an opened offline source: tables, rows, devices and time range per table."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from irreport.pack import QueryPack
from irreport.sources.coercion import quote_name, table_columns
from irreport.timerange import iso


def describe_source(source) -> dict[str, Any]:
    """Return the tables of *source* that hold rows, with their devices and time ranges.

    *source* is a `LocalSource`; the result is plain data, ready for JSON.
    """
    tables = {}
    for table, rows in sorted(source.row_counts.items()):
        if rows:
            tables[table] = _describe_table(source.con, table, rows)
    devices = sorted({d for entry in tables.values() for d in entry["devices"]}, key=str.lower)
    firsts = [entry["first"] for entry in tables.values() if entry["first"]]
    lasts = [entry["last"] for entry in tables.values() if entry["last"]]
    pack = QueryPack.load()
    return {
        "source": source.label,
        "tables": tables,
        "rows": sum(entry["rows"] for entry in tables.values()),
        "devices": devices,
        "devices_by_alerts": _devices_by_alerts(source.con, tables),
        "first": min(firsts) if firsts else None,
        "last": max(lasts) if lasts else None,
        "inferred": dict(sorted(source.inferred.items())),
        "timezone": source.timezone_name,
        "warnings": list(source.warnings),
        "missing_tables": tables_queries_read(pack, source.unavailable_tables()),
        "missing_columns": columns_queries_read(pack, source.missing_columns()),
    }


def tables_queries_read(pack: QueryPack, unavailable: dict[str, str]) -> dict[str, list[str]]:
    """Return the tables of *unavailable* that pack queries read, with those queries."""
    read: dict[str, list[str]] = {}
    for query in pack:
        for table in query.tables:
            if table in unavailable:
                read.setdefault(table, []).append(query.id)
    return dict(sorted(read.items()))


def columns_queries_read(pack: QueryPack,
                         missing: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """Return, per table, the missing columns that pack queries read and which queries read them.

    A table's other missing columns (version details, newer fields) change no query's rows.
    """
    from irreport.collect import missing_columns_read

    read: dict[str, dict[str, list[str]]] = {}
    for query in pack:
        for table, columns in missing_columns_read(query, missing).items():
            for column in columns:
                read.setdefault(table, {}).setdefault(column, []).append(query.id)
    return read


def _devices_by_alerts(con, tables: dict[str, Any]) -> list[str]:
    """Return the devices named by alerts, the most alerted first, as a responder starts there."""
    if "AlertEvidence" not in tables:
        return []
    columns = table_columns(con, "AlertEvidence")
    if "DeviceName" not in columns or "AlertId" not in columns:
        return []
    return [device for device, _ in con.execute(
        'SELECT "DeviceName", count(DISTINCT "AlertId") AS alerts FROM "AlertEvidence" '
        'WHERE "DeviceName" IS NOT NULL AND "DeviceName" <> \'\' '
        'GROUP BY 1 ORDER BY alerts DESC, lower("DeviceName")').fetchall()]


def _describe_table(con, table: str, rows: int) -> dict[str, Any]:
    columns = table_columns(con, table)
    name = quote_name(table)
    devices: list[str] = []
    if "DeviceName" in columns:
        devices = [d for (d,) in con.execute(
            f'SELECT DISTINCT "DeviceName" FROM {name} WHERE "DeviceName" IS NOT NULL '
            'ORDER BY 1').fetchall()]
    first = last = None
    if columns.get("Timestamp") == "TIMESTAMP":
        first, last = con.execute(f'SELECT min("Timestamp"), max("Timestamp") FROM {name}').fetchone()
    return {"rows": rows, "devices": devices, "has_device_column": "DeviceName" in columns,
            "first": _iso(first), "last": _iso(last)}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return iso(value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value)
