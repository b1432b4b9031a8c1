"""The Advanced Hunting page's CSV export of a query that unions several tables.

No column names the table of a row, so each row is placed by its `ActionType` and by the
columns it fills. The ActionType lists in `data/action-types.json` pick the table, and the row
must fit it: it may fill no column that the schema gives only to other tables. DuckDB
classifies and copies the rows in SQL. It reads the file once to count and once per table to
insert, so the export is never staged whole in memory beside the loaded tables.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from importlib import resources

from irreport import schema
from irreport.errors import SourceError
from irreport.sources.coercion import (REPORT_ID_PARTS, Column, insert_rows, quote_text,
                                       run_load_sql)

log = logging.getLogger(__name__)

FALLBACK_TABLE = "DeviceEvents"


@lru_cache(maxsize=1)
def action_type_tables() -> dict[str, list[str]]:
    """Return {table: [ActionType, ...]} in the order the tables are tried."""
    path = resources.files("irreport") / "data" / "action-types.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {table: values for table, values in raw.items() if not table.startswith("_")}


def filled_sql(column: Column) -> str:
    return f"coalesce(trim({column.expr}), '') <> ''"


def _fits(table: str, columns: list[Column], strict: bool) -> str:
    """Return SQL true when a row fills no column foreign to *table*.

    A column no documented table has counts against the fit only when *strict*, because a
    listed ActionType is evidence enough to keep a newer column, while the DeviceEvents
    fallback must not swallow rows of undocumented tables.
    """
    own = _own_columns(table)
    documented = _documented_columns()
    foreign = [c for c in columns if c.name not in own and c.name not in REPORT_ID_PARTS
               and (strict or c.name in documented)]
    if not foreign:
        return "true"
    return "NOT (" + " OR ".join(filled_sql(c) for c in foreign) + ")"


@lru_cache(maxsize=None)
def _own_columns(table: str) -> frozenset[str]:
    # Sentinel's columns (TimeGenerated, TenantId, MachineGroup) belong to a table as well.
    names = set()
    for flavour in ("advanced-hunting", "log-analytics"):
        names.update(name for name, _ in schema.tables(flavour).get(table, []))
    return frozenset(names)


@lru_cache(maxsize=1)
def _documented_columns() -> frozenset[str]:
    return frozenset(name for flavour in ("advanced-hunting", "log-analytics")
                     for columns in schema.tables(flavour).values() for name, _ in columns)


def table_case_sql(columns: list[Column]) -> str:
    """Return a SQL CASE that yields each row's table, or NULL when no table fits it."""
    names = {c.name for c in columns}
    action = next((c for c in columns if c.name == "ActionType"), None)
    documented = schema.tables()
    branches: list[str] = []
    if action is not None:
        listed: list[str] = []
        for table, values in action_type_tables().items():
            listed.extend(values)
            fit = _fits(table, columns, strict=False) if table in documented else "true"
            branches.append(f"WHEN {action.expr} IN ({', '.join(map(quote_text, values))}) "
                            f"AND {fit} THEN {quote_text(table)}")
        branches.append(
            f"WHEN {filled_sql(action)} AND {action.expr} NOT IN "
            f"({', '.join(map(quote_text, dict.fromkeys(listed)))}) "
            f"AND {_fits(FALLBACK_TABLE, columns, strict=True)} THEN {quote_text(FALLBACK_TABLE)}")
    without_action = [t for t, cols in documented.items()
                      if "ActionType" not in {n for n, _ in cols} and names & {n for n, _ in cols}]
    if without_action:
        fits = {t: _fits(t, columns, strict=True) for t in without_action}
        only_one = " + ".join(f"({fit})::INTEGER" for fit in fits.values()) + " = 1"
        inner = " ".join(f"WHEN {fit} THEN {quote_text(t)}" for t, fit in fits.items())
        no_action = f"NOT {filled_sql(action)}" if action is not None else "true"
        branches.append(f"WHEN {no_action} AND {only_one} THEN CASE {inner} END")
    return "CASE " + " ".join(branches) + " END"


def load_union_csv(source, path, reader_sql: str, columns: list[Column]) -> int:
    """Place each row of a union export in its table; returns the number of rows loaded."""
    origin = str(path)
    case = table_case_sql(columns)
    counts = _count_per_table(source.con, reader_sql, columns, case, origin)
    total = sum(n for n, _ in counts.values())
    unplaced = counts.pop(None, (0, {}))[0]
    if total and unplaced == total:
        raise SourceError(
            f"{origin}: none of its {total} rows matches an Advanced Hunting table by its "
            "ActionType and the columns it fills; expected an export from the Advanced Hunting "
            "page, or a file named for its table such as DeviceEvents.csv", source=origin)
    loaded = 0
    for table, (rows, filled) in sorted(counts.items()):
        used = [c for c in columns if filled.get(c.name)]
        added = insert_rows(source, table, reader_sql, used, origin,
                            where=f"({case}) = {quote_text(table)}")
        source.note_inferred(table, added)
        loaded += added
    if unplaced:
        _warn_unplaced(source, reader_sql, columns, case, origin, unplaced)
    placed = ", ".join(f"{t} {n}" for t, (n, _) in sorted(counts.items()))
    log.info("%s: placed %d of %d rows by inference: %s", origin, loaded, total, placed)
    return loaded


def _count_per_table(con, reader_sql, columns, case, origin):
    """Return {table or None: (rows, {column: filled count})} in one pass over the file."""
    fills = ", ".join(f"count(*) FILTER (WHERE {filled_sql(c)})" for c in columns)
    rows = run_load_sql(
        con, f"SELECT ({case}) AS placed, count(*), {fills} FROM {reader_sql} GROUP BY ALL",
        origin)
    return {row[0]: (row[1], {c.name: n for c, n in zip(columns, row[2:])}) for row in rows}


def _warn_unplaced(source, reader_sql, columns, case, origin, unplaced) -> None:
    action = next((c for c in columns if c.name == "ActionType"), None)
    label = action.expr if action is not None else "NULL"
    rows = run_load_sql(
        source.con,
        f"SELECT coalesce({label}, '(none)'), count(*) FROM {reader_sql} "
        f"WHERE ({case}) IS NULL GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT 10", origin)
    kinds = ", ".join(f"{kind} ({n})" for kind, n in rows)
    source.warn(f"{origin}: {unplaced} rows were not loaded because no table fits their "
                f"ActionType and filled columns; ActionType values: {kinds}")
