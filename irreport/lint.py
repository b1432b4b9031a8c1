"""`irreport queries check`: translate every pack query offline and lint it.

The lint catches the mistakes that make an incident query silently wrong. A device-scoped query
may never filter on its device list, or compare a column with itself (`DeviceId =~ DeviceId` is
always true). A query may lack the run's time range, or use relative time (`ago()`), which makes
a dossier impossible to reproduce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from irreport import schema
from irreport.pack import Query

_DEVICE_FILTER = re.compile(
    r"\b(DeviceName|DeviceId|RemoteDeviceName)\s+(in~|in|has_any|!in~|!in)\s*\(\s*Devices\s*\)"
)
_SELF_COMPARE = re.compile(r"\b([A-Za-z_]\w*)\s*(==|=~|!=|!~|in~|in)\s*\(?\s*\1\b(?!\s*[\.\(\[])")
_TIME_BETWEEN = re.compile(r"\bTimestamp\s+between\s*\(\s*StartTime\s*\.\.\s*EndTime\s*\)")
_TIME_LOWER = re.compile(r"\bTimestamp\s*>=?\s*StartTime\b")
_TIME_UPPER = re.compile(r"\bTimestamp\s*<=?\s*EndTime\b")
_AGO = re.compile(r"\bago\s*\(")
_COMMENT = re.compile(r"//[^\n]*")
_STRING = re.compile(r'@?"(?:[^"\\\n]|\\.)*"|@?\'(?:[^\'\\\n]|\\.)*\'')


@dataclass(frozen=True)
class Fault:
    """One lint finding; `error` faults fail `queries check`."""

    query_id: str
    message: str
    line: int | None = None
    error: bool = True

    def __str__(self) -> str:
        where = f":{self.line}" if self.line else ""
        return f"{self.query_id}{where}: {self.message}"


def code_only(body: str) -> str:
    """Return *body* with comments and string literals blanked, keeping line numbers."""
    without_strings = _STRING.sub(lambda m: '""', body)
    return _COMMENT.sub("", without_strings)


def lint(query: Query) -> list[Fault]:
    """Return every lint fault of *query*."""
    faults: list[Fault] = []
    code = code_only(query.body)
    names = {p.name for p in query.parameters}

    if query.scope == "device":
        if "Devices" not in names:
            faults.append(Fault(query.id, "device-scoped query declares no 'Devices' parameter"))
        elif not _DEVICE_FILTER.search(code):
            faults.append(Fault(
                query.id, "device-scoped query never filters on Devices; add "
                "'| where DeviceName in~ (Devices)' to each table it reads"))

    for match in _SELF_COMPARE.finditer(code):
        line = query.body_line + code[: match.start()].count("\n")
        faults.append(Fault(query.id, f"compares column {match.group(1)!r} with itself, which is "
                            "always true; compare it with a parameter or another column", line))

    uses_time = bool(_TIME_BETWEEN.search(code)) or (
        bool(_TIME_LOWER.search(code)) and bool(_TIME_UPPER.search(code)))
    if not uses_time and _reads_timed_table(query):
        faults.append(Fault(query.id, "does not restrict Timestamp to the run's range; add "
                            "'| where Timestamp between (StartTime .. EndTime)'"))

    for match in _AGO.finditer(code):
        line = query.body_line + code[: match.start()].count("\n")
        faults.append(Fault(query.id, "uses ago(), which makes the result depend on when it ran; "
                            "use StartTime and EndTime", line))

    unknown = [t for t in query.tables if t not in schema.tables()]
    if unknown:
        faults.append(Fault(query.id, f"header names unknown tables {unknown}"))
    unread = [t for t in query.tables if not re.search(rf"\b{re.escape(t)}\b", code)]
    if unread:
        faults.append(Fault(query.id, f"header names tables the query never reads: {unread}"))
    faults.extend(_translate(query))
    return faults


def _reads_timed_table(query: Query) -> bool:
    return any(
        any(c == "Timestamp" for c, _ in schema.tables().get(t, [])) for t in query.tables
    )


def _translate(query: Query) -> list[Fault]:
    """Translate the bound query with duckdb-kql; a refusal names the construct."""
    import duckdb_kql

    sample = {}
    for param in query.parameters:
        sample[param.name] = _sample_value(param.type)
    try:
        text = query.bind(sample)
        duckdb_kql.to_sql(text, schema=_engine_schema())
    except duckdb_kql.KqlUnsupportedError as exc:
        return [Fault(query.id, f"not runnable offline: {exc}")]
    except duckdb_kql.KqlError as exc:
        return [Fault(query.id, f"does not translate: {exc}")]
    return []


def _sample_value(kind: str):
    return {
        "devices": ["testmachine3"],
        "string[]": ["x"],
        "datetime": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "long": 1,
        "real": 1.0,
        "bool": True,
        "string": "x",
    }.get(kind, "x")


def _engine_schema() -> dict[str, list[str]]:
    """Return the table columns in the form duckdb-kql needs to translate a join."""
    return {t: [c for c, _ in cols] for t, cols in schema.tables().items()}
