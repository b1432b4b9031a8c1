"""Table views: which rows and columns of a result the dossier shows, made safe to display.

Which columns each query shows, and how many rows, is declared here as data; the templates only
present what a view holds. Every cell is made visible (control and bidirectional characters
shown as <U+XXXX>) and cut to a readable length; the full value stays in the evidence files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime
from itertools import islice
from typing import Any

from irreport.plural import counted
from irreport.render.wrapping import whole_hash_chars, word_limit
from irreport.sources import QueryResult
from irreport.textsafe import has_hidden_characters, iso_time, shorten, visible

CELL_LIMIT = 400
DEFAULT_ROW_LIMIT = 40

# query id -> (columns to show, row limit). Queries not listed show their first columns.
DISPLAY: dict[str, tuple[list[str], int]] = {
    "malicious-activity": (["Timestamp", "DeviceName", "Category", "ActionType", "Outcome",
                            "Detail", "FileName", "RemoteUrl", "InitiatingProcessFileName"], 60),
    "inbound-connections": (["DeviceName", "RemoteIP", "RemoteIPType", "LocalPort", "Connections",
                             "FirstSeen", "LastSeen"], 40),
    "inbound-then-logon": (["DeviceName", "RemoteIP", "LocalPort", "ConnectionTime", "LogonTime",
                            "DelaySeconds", "LogonType", "AccountName"], 40),
    "failed-logons": (["DeviceName", "RemoteIP", "AccountName", "LogonType", "Attempts",
                       "FirstSeen", "LastSeen"], 30),
    "logons": (["DeviceName", "AccountName", "LogonType", "RemoteIP", "Logons", "FirstSeen",
                "LastSeen"], 30),
    "file-analysis": (["Timestamp", "DeviceName", "Evidence", "ActionType", "FileName",
                       "FolderPath", "SHA1", "PreviousFileName", "ProcessCommandLine",
                       "InitiatingProcessFileName"], 60),
    "run-keys": (["Timestamp", "DeviceName", "ActionType", "RegistryKey", "RegistryValueName",
                  "RegistryValueData", "DevicesWithValue", "ValuesOnDevice",
                  "InitiatingProcessFileName"], 40),
    "outbound-connections": (["DeviceName", "InitiatingProcessFileName", "RemoteIP", "RemotePort",
                              "RemoteUrl", "Connections", "FirstSeen", "LastSeen"], 30),
    "user-writable-files": (["Timestamp", "DeviceName", "ActionType", "FileName", "FolderPath",
                             "SHA1", "InitiatingProcessFileName"], 30),
    "scheduled-tasks-services": (["Timestamp", "DeviceName", "ActionType", "Name", "Detail",
                                  "InitiatingProcessFileName"], 30),
    "local-accounts": (["Timestamp", "DeviceName", "ActionType", "AccountName", "GroupName",
                        "InitiatingProcessCommandLine"], 30),
    "powershell-commands": (["Timestamp", "DeviceName", "Kind", "Command", "AccountName",
                             "ParentFileName"], 30),
    "lsass-access": (["Timestamp", "DeviceName", "ActionType", "ProcessFileName",
                      "ProcessCommandLine", "AccountName"], 30),
    "lateral-movement": (["ConnectionTime", "SourceDevice", "TargetIP", "RemotePort",
                          "InitiatingProcessFileName", "TargetDevice", "AccountName",
                          "LogonType", "LogonTime"], 30),
    "alert-evidence": (["AlertTime", "Title", "Severity", "Category", "EntityType",
                        "EvidenceRole", "DeviceName", "FileName", "RemoteIP", "AccountName"], 80),
    "device-info": (["DeviceName", "OSPlatform", "OSVersion", "MachineGroup", "OnboardingStatus",
                     "SensorHealthState", "ExposureLevel", "IsInternetFacing", "PublicIP",
                     "LastReport"], 20),
    "secure-configuration": (["DeviceName", "ConfigurationId", "Control", "ConfigurationName",
                              "IsCompliant"], 12),
    "telemetry-coverage": (["DeviceName", "Table", "Events", "FirstEvent", "LastEvent"], 60),
    "process-events": (["Timestamp", "DeviceName", "FileName", "ProcessCommandLine",
                        "InitiatingProcessFileName", "AccountName"], 40),
}

# Per query, the rows a reader needs most, which the table shows first, each group in the
# query's own order. Non-compliant controls come first, and remote control (RDP, WinRM, SSH)
# comes before SMB, which is daily traffic to a file server.
SHOWN_FIRST: dict[str, Callable[[dict[str, Any]], bool]] = {
    "secure-configuration": lambda row: row.get("IsCompliant") is False,
    "lateral-movement": lambda row: row.get("RemotePort") != 445,
}


# Per query, the columns whose values are compared with the indicators. When a table has more
# rows than it shows, it shows the rows naming an indicator first, so the attacker's rows are not
# left in the evidence files behind a page of benign ones.
INDICATOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "outbound-connections": ("InitiatingProcessFileName", "RemoteIP", "RemoteUrl"),
    "user-writable-files": ("FileName", "SHA1"),
    "inbound-connections": ("RemoteIP",),
    "process-events": ("FileName",),
    "powershell-commands": ("ParentFileName",),
}


@dataclass
class Cell:
    text: str
    cut: bool = False
    hidden: bool = False


@dataclass
class TableView:
    """Rows ready for a template, with the count of rows left out."""

    columns: list[str]
    rows: list[list[Cell]]
    total: int
    query_id: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: a description of the rows shown when some are left out and they are not the first ones
    chosen: str = ""

    @property
    def more(self) -> int:
        return self.total - len(self.rows)

    # Cached because the template and `hash_chars` both read it, and the rows are final by
    # the time either does.
    @cached_property
    def word_limit(self) -> int:
        """Return the longest piece of text that a cell of this table keeps on one line."""
        return word_limit(self.columns, self._texts())

    @property
    def hash_chars(self) -> int:
        """Return the length of the longest hash that a cell of this table keeps whole."""
        return whole_hash_chars(self.columns, self._texts(), self.word_limit)

    def _texts(self) -> list[list[str]]:
        return [[c.text for c in row] for row in self.rows]


def table_time(value: datetime) -> str:
    """Return *value* in UTC as a table shows it: "2026-12-02 14:41:30.000Z".

    The space lets a narrow column wrap between date and time, not mid-number.
    """
    return iso_time(value).replace("T", " ")


def cell(value: Any, limit: int = CELL_LIMIT) -> Cell:
    if isinstance(value, datetime):
        value = table_time(value)
    text = visible(value, keep_breaks=True)
    short, cut = shorten(text, limit)
    return Cell(short, cut, has_hidden_characters(value))


def table_view(rows: list[dict[str, Any]], columns: list[str] | None = None,
               limit: int = DEFAULT_ROW_LIMIT, query_id: str = "") -> TableView:
    """Return the first *limit* rows with the chosen columns, every cell made safe."""
    if columns is None:
        columns = list(rows[0].keys())[:8] if rows else []
    present = [c for c in columns if not rows or c in rows[0]]
    body = [[cell(row.get(c)) for c in present] for row in rows[:limit]]
    return TableView(present, body, len(rows), query_id)


def result_view(result: QueryResult | None, query_id: str,
                indicators: frozenset[str] = frozenset()) -> TableView:
    """Return the declared view of one query's result.

    *indicators* are lower-case indicator values. A table that cannot show every row shows
    those that name one of them (in INDICATOR_COLUMNS) first.
    """
    if result is None:
        return TableView([], [], 0, query_id, note="not run")
    columns, limit = DISPLAY.get(query_id, (result.columns[:8], DEFAULT_ROW_LIMIT))
    rows = result.rows
    first = SHOWN_FIRST.get(query_id)
    if first is not None:
        rows = sorted(rows, key=lambda row: not first(row))
    chosen = ""
    compared = INDICATOR_COLUMNS.get(query_id)
    if compared and indicators and len(rows) > limit:
        rows, named = _rows_naming_first(rows, limit, compared, indicators)
        if named:
            chosen = (f"the {counted(named, 'row')} naming an indicator first, then others in "
                      "the query's order")
    view = table_view(rows, [c for c in columns if c in result.columns] or None, limit,
                      query_id)
    view.total = len(result.rows)
    view.chosen = chosen
    view.note = status_note(result)
    return view


def _rows_naming_first(rows: list[dict[str, Any]], limit: int, columns: tuple[str, ...],
                       indicators: frozenset[str]) -> tuple[list[dict[str, Any]], int]:
    """Return *limit* rows: those naming an indicator, then the first others; and their count.

    Each group keeps the query's order.
    """
    selected = list(islice(_rows_naming(rows, columns, indicators), limit))
    count = len(selected)
    if count < limit:
        named_ids = {id(row) for row in selected}
        others = (row for row in rows if id(row) not in named_ids)
        selected += islice(others, limit - count)
    return selected, count


def _rows_naming(rows: list[dict[str, Any]], columns: tuple[str, ...],
                 indicators: frozenset[str]) -> Iterator[dict[str, Any]]:
    """Yield the rows in which one of *columns*, lower-cased, is one of *indicators*."""
    # Plain loops, because an any() over a generator for each row took twice as long.
    for row in rows:
        for column in columns:
            if str(row.get(column) or "").lower() in indicators:
                yield row
                break


def status_note(result: QueryResult | None) -> str:
    """Return "status: message" for a result that did not complete, else an empty text."""
    if result is None or result.ok:
        return ""
    return f"{result.status}: {result.message}"
