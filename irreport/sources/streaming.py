"""Records of the Defender Streaming API, as Event Hub messages or Azure Storage blobs hold them.

Each record is a JSON object with `time`, `tenantId`, `category` (such as
`AdvancedHunting-DeviceEvents`, naming the table) and the row in `properties`. A file contains
records one per line, as a JSON array, or in `{"records": [...]}` batches. The envelope's
`time` stands in for a missing `Timestamp`, and `tenantId` is kept as the `TenantId` column
that Sentinel's tables have too. DuckDB reads the JSON itself: one pass counts records and
their keys per category and file, then each table reads only the files that hold it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from irreport import schema
from irreport.errors import SourceError
from irreport.sources.coercion import Column, insert_rows, load_error, quote_text, run_load_sql

log = logging.getLogger(__name__)

CATEGORY_PREFIX = "AdvancedHunting-"

# The largest JSON object that a file is first read with. With 256 MiB, DuckDB counted the
# 300,000 lines (280 MB) of one JSON-lines file on one core in 0.48 s, and with 16 MiB on two
# cores in 0.20 s. A line of up to 32 MiB passed at 16 MiB. A file with a longer object fails
# with an error that names maximum_object_size, and is then read again with the largest limit.
FIRST_OBJECT_BYTES = 16 * 1024 * 1024
# The largest single JSON value irreport reads. A `{"records": [...]}` batch is one value.
MAX_OBJECT_BYTES = 256 * 1024 * 1024

_SNIFF = re.compile(r'"category"\s*:\s*"AdvancedHunting-|"records"\s*:\s*\[', re.IGNORECASE)


def looks_like_streaming(head: str) -> bool:
    """Return whether the start of a JSON file shows Streaming API records."""
    return bool(_SNIFF.search(head))


def run_json_sql(con, sql_for: Callable[[int], str], origin: str) -> tuple[int, list[tuple]]:
    """Run the SQL that *sql_for* writes for an object size limit; return the limit and rows.

    The SQL runs with FIRST_OBJECT_BYTES, and again with MAX_OBJECT_BYTES only when an object
    of *origin* is over the first limit.
    """
    import duckdb

    try:
        return FIRST_OBJECT_BYTES, con.execute(sql_for(FIRST_OBJECT_BYTES)).fetchall()
    except duckdb.Error as exc:
        if "maximum_object_size" not in str(exc):
            raise load_error(exc, origin) from None
        log.debug("%s has a JSON value over the first limit, reading it again: %s", origin, exc)
    return MAX_OBJECT_BYTES, run_load_sql(con, sql_for(MAX_OBJECT_BYTES), origin)


def records_sql(files: list[Path], limit: int) -> str:
    """Return SQL yielding one row per record: file, category, tenant, time and properties.

    *limit* is the largest JSON object, in bytes, that DuckDB is to accept.
    """
    listed = "[" + ", ".join(quote_text(str(p)) for p in files) + "]"
    objects = (f"read_json_objects({listed}, format='auto', filename=true, hive_partitioning=false, "
               f"maximum_object_size={limit})")
    unnested = (
        "SELECT filename AS file, unnest(CASE WHEN json_type(json, '$.records') = 'ARRAY' "
        "THEN json_extract(json, '$.records[*]') ELSE [json] END) AS record "
        f"FROM {objects}")
    return (
        "(SELECT file, record ->> 'category' AS category, record ->> 'tenantId' AS tenant, "
        "record ->> 'time' AS envelope_time, record -> 'properties' AS props "
        f"FROM ({unnested}))")


def table_for_category(category: str | None) -> str | None:
    """Return the table a category names, matched to the schema's spelling where it has one."""
    if not category or not category.lower().startswith(CATEGORY_PREFIX.lower()):
        return None
    name = category[len(CATEGORY_PREFIX):]
    known = {t.lower(): t for t in schema.tables()}
    return known.get(name.lower(), name)


def load_streaming_files(source, files: list[Path], origin: str) -> int:
    """Load every record of *files* into the table its category names; returns rows loaded."""
    limit, survey = run_json_sql(
        source.con,
        lambda size: f"SELECT file, category, json_keys(props), count(*) "
                     f"FROM {records_sql(files, size)} GROUP BY ALL",
        origin)
    tables: dict[str, dict] = {}
    skipped: dict[str, int] = {}
    for file, category, keys, count in survey:
        table = table_for_category(category)
        if table is None:
            skipped[str(category)] = skipped.get(str(category), 0) + count
            continue
        entry = tables.setdefault(table, {"category": category, "files": set(), "keys": {}})
        entry["files"].add(file)
        entry["keys"].update(dict.fromkeys(keys or []))
    if skipped:
        kinds = ", ".join(f"{c} ({n})" for c, n in sorted(skipped.items()))
        source.warn(f"{origin}: {sum(skipped.values())} records were not loaded because their "
                    f"category names no Advanced Hunting table: {kinds}")
    if not tables and not skipped:
        raise SourceError(f"{origin} contains no Streaming API record; expected JSON objects "
                          "with category and properties", source=origin)
    loaded = 0
    for table, entry in sorted(tables.items()):
        loaded += _load_table(source, table, entry, limit, origin)
    return loaded


def _load_table(source, table: str, entry: dict, limit: int, origin: str) -> int:
    """Insert one table's records, reading JSON objects of up to *limit* bytes as the survey did."""
    files = sorted(Path(f) for f in entry["files"])
    columns = [Column(key, f"props ->> {quote_text(key)}") for key in entry["keys"]]
    names = set(entry["keys"])
    if "Timestamp" not in names:
        columns.append(Column("Timestamp", "envelope_time"))
    if "TenantId" not in names:
        columns.append(Column("TenantId", "tenant"))
    count = insert_rows(source, table, records_sql(files, limit), columns, origin,
                        where=f"lower(category) = {quote_text(entry['category'].lower())}",
                        origin_sql="file")
    source.note_loaded(table, count)
    log.info("%s: %d Streaming API records into %s from %d files", origin, count, table,
             len(files))
    return count
