"""Documented Advanced Hunting tables and their column types, bundled with the package."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

# Kusto type names in the schema file, mapped to the DuckDB types the offline engine expects.
DUCKDB_TYPES = {
    "datetime": "TIMESTAMP",
    "string": "VARCHAR",
    "long": "BIGINT",
    "int": "INTEGER",
    "bool": "BOOLEAN",
    "boolean": "BOOLEAN",
    "real": "DOUBLE",
    "double": "DOUBLE",
    "dynamic": "JSON",
    "guid": "VARCHAR",
    "timespan": "INTERVAL",
}


@lru_cache(maxsize=2)
def tables(flavour: str = "advanced-hunting") -> dict[str, list[tuple[str, str]]]:
    """Return {table: [(column, kusto type), ...]}, including the newer columns real exports have.

    *flavour* is `advanced-hunting` (Defender portal and Graph) or `log-analytics` (Sentinel).
    """
    path = resources.files("irreport") / "data" / "schemas" / f"{flavour}.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    extras = raw.get("_observed_extra_columns_in_real_exports", {})
    result: dict[str, list[tuple[str, str]]] = {}
    for name, columns in raw.items():
        if name.startswith("_"):
            continue
        cols = [(c[0], c[1]) for c in columns]
        known = {c for c, _ in cols}
        for extra in extras.get(name, []):
            if extra not in known:
                cols.append((extra, _extra_type(extra)))
        result[name] = cols
    return result


def _extra_type(column: str) -> str:
    if column.startswith("Is"):
        return "bool"
    if column.endswith(("SessionId", "UniqueId")):
        return "long"
    return "string"


def column_types(table: str) -> dict[str, str]:
    return dict(tables()[table])


def duckdb_type(kusto_type: str) -> str:
    return DUCKDB_TYPES.get(kusto_type.lower(), "VARCHAR")
