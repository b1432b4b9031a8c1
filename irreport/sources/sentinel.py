"""Microsoft Sentinel through the Log Analytics query API of its workspace.

Defender tables streamed into Sentinel carry TimeGenerated, the time Log Analytics stored the
row, and the Azure Monitor table reference lists no Timestamp column for most of them, while the
pack filters on Timestamp, the event time on the device. The source therefore aliases Timestamp
to TimeGenerated where the table has none, and widens the service's timespan by the delay a row
may take to arrive, so that the pack's own Timestamp filter decides which rows belong.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from irreport import config as settings
from irreport import schema
from irreport.errors import ConfigurationError
from irreport.sources import PARTIAL
from irreport.sources.live import LiveSource, Page, build_client, kusto_type, timespan, typed_rows
from irreport.sources.service import Attempts, ServiceError, describe_error, lookup
from irreport.timerange import TimeRange

ROW_LIMIT = 500_000
# Rows arriving more than 48 hours late get TimeGenerated set to their ingestion time.
ARRIVAL_DELAY = timedelta(hours=48)
CLOCK_SKEW = timedelta(hours=1)
PERMISSION = ("the Log Analytics API permission Data.Read and the Log Analytics Reader role on "
              "the workspace (a new role assignment can take up to 60 minutes to apply)")
NOT_INGESTED = ("threat and vulnerability management tables are not sent to Sentinel; query "
                "them with the defender source")


class SentinelSource(LiveSource):
    """Runs pack queries against one Log Analytics workspace."""

    kind = "sentinel"
    row_limit_default = ROW_LIMIT
    permission = PERMISSION

    def __init__(self, client, section: dict[str, Any], provenance: dict[str, Any]):
        super().__init__(client, section, provenance)
        self.workspace_id = str(section["workspace_id"])
        self.alias_timestamp = bool(section.get("alias_timestamp", True))

    def fetch(self, text: str, time_range: TimeRange, attempts: Attempts) -> Page:
        # Without a timespan the service searches all retained data, so one is always sent.
        searched = TimeRange(time_range.start - CLOCK_SKEW, time_range.end + ARRIVAL_DELAY)
        body = {"query": text, "timespan": timespan(searched)}
        wait = min(600, int(self.client.settings.timeout_seconds))
        data = self.client.post_json(f"/v1/workspaces/{self.workspace_id}/query", body, attempts,
                                     headers={"Prefer": f"wait={wait}"})
        return parse_query_response(data)

    def prepare(self, text: str) -> str:
        if not self.alias_timestamp:
            return text
        return timestamp_prelude(text) + text

    def unavailable_tables(self) -> dict[str, str]:
        tables = set(schema.tables()) | set(schema.tables("log-analytics"))
        return {t: NOT_INGESTED for t in sorted(tables) if t.startswith("DeviceTvm")}


def timestamp_prelude(text: str) -> str:
    """Return `let` statements giving each table without Timestamp a Timestamp column.

    NOTE: `let T = T | ...` relies on KQL evaluating a binding's right-hand side before the
    name is bound, a common Sentinel idiom that these tests cannot check against the service.
    """
    lines = []
    for table, columns in schema.tables("log-analytics").items():
        names = {name for name, _ in columns}
        if "Timestamp" in names or table.startswith("DeviceTvm"):
            continue
        if not re.search(rf"\b{table}\b", text):
            continue
        lines.append(f"let {table} = {table} | extend Timestamp = "
                     f"column_ifexists(\"Timestamp\", TimeGenerated);")
    return "\n".join(lines) + "\n" if lines else ""


def parse_query_response(data: Any) -> Page:
    """Parse a Log Analytics response: the first table, and a PartialError if there is one."""
    if data is None:
        return Page()
    if not isinstance(data, dict):
        raise ServiceError(f"Log Analytics returned {type(data).__name__} instead of an object "
                           "with tables", code="InvalidResponse")
    tables = lookup(data, "tables") or []
    page = Page()
    if tables:
        first = tables[0]
        columns = lookup(first, "columns") or []
        page.columns = [str(lookup(c, "name")) for c in columns]
        page.types = [kusto_type(lookup(c, "type") or "string") for c in columns]
        page.rows = typed_rows(page.columns, page.types, lookup(first, "rows") or [])
    error = lookup(data, "error")
    if isinstance(error, dict):
        # A 200 with an error object means the rows are incomplete, not that they are wrong.
        page.status = PARTIAL
        page.message = "incomplete result: " + describe_error(error)
        page.truncated = _mentions_limit(page.message)
    return page


def _mentions_limit(message: str) -> bool:
    lowered = message.lower()
    return "limit" in lowered and ("records" in lowered or "rows" in lowered or "size" in lowered)


def open_from_config(config: dict[str, Any], prompt=None, tokens=None) -> SentinelSource:
    section = settings.table(config, "sentinel")
    if not section.get("workspace_id"):
        raise ConfigurationError("[sentinel] workspace_id is missing; set it to the workspace "
                                 "id (a GUID) shown on the Log Analytics workspace overview")
    endpoints = settings.endpoints(config)
    client = build_client(config, "sentinel", "Log Analytics", endpoints.log_analytics,
                          f"{endpoints.log_analytics_audience}/.default", tokens=tokens,
                          prompt=prompt)
    provenance = {
        "kind": "sentinel",
        "endpoint": endpoints.log_analytics,
        "workspace_id": str(section["workspace_id"]),
        "cloud": endpoints.cloud,
        **settings.auth_settings(config).describe(),
    }
    return SentinelSource(client, section, provenance)
