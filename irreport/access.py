"""Checks that the configured sign-in can read each live source, for `irreport auth check`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from irreport.errors import AuthenticationError
from irreport.sources import utcnow
from irreport.sources.service import Attempts, ServiceError
from irreport.timerange import TimeRange

PROBE_RANGE = timedelta(days=1)


@dataclass
class AccessReport:
    """The tables and errors one source showed to the signed-in app."""

    target: str
    endpoint: str
    signed_in: bool = False
    visible: list[str] = field(default_factory=list)
    not_visible: list[str] = field(default_factory=list)
    not_sent: dict[str, str] = field(default_factory=dict)
    error: str = ""
    missing_permission: str = ""

    @property
    def ok(self) -> bool:
        return self.signed_in and not self.error


def probe_query(tables: list[str]) -> str:
    """Return one query counting the last day's rows of each table the app can see.

    `isfuzzy=true` lets the union skip a table the caller cannot resolve instead of failing.
    """
    return (f"union withsource=TableName isfuzzy=true {', '.join(tables)}\n"
            "| summarize Rows = count() by TableName")


def check_source(source, tables: list[str]) -> AccessReport:
    """Sign in to *source*, run the probe query and report the tables it returned rows for."""
    report = AccessReport(target=source.kind, endpoint=source.provenance().get("endpoint", ""))
    client = source.client
    try:
        client.tokens.token(client.scope)
    except AuthenticationError as exc:
        report.error = str(exc)
        return report
    report.signed_in = True
    report.not_sent = {t: why for t, why in source.unavailable_tables().items() if t in tables}
    wanted = [t for t in tables if t not in report.not_sent]
    now = utcnow()
    result = source.run("auth-check", probe_query(wanted), TimeRange(now - PROBE_RANGE, now))
    if result.status == "failed":
        report.error = result.message
        if _is_denied(result.message):
            report.missing_permission = source.permission
        return report
    seen = {str(row.get("TableName")) for row in result.rows}
    report.visible = [t for t in wanted if t in seen]
    report.not_visible = [t for t in wanted if t not in seen]
    return report


def check_incidents(client, permission: str) -> AccessReport:
    """Read one incident from Microsoft Graph to show whether incidents are readable."""
    report = AccessReport(target="incidents", endpoint=client.base_url + "/v1.0/security/incidents")
    try:
        client.get_json("/v1.0/security/incidents", Attempts(), params={"$top": "1"})
    except AuthenticationError as exc:
        report.error = str(exc)
        return report
    except ServiceError as exc:
        report.signed_in = True
        report.error = str(exc)
        if exc.status in (401, 403):
            report.missing_permission = permission
        return report
    report.signed_in = True
    return report


def _is_denied(message: str) -> bool:
    return "HTTP 401" in message or "HTTP 403" in message


def pack_tables(pack: Any) -> list[str]:
    """Return every table the query pack reads, in first-use order."""
    return list(dict.fromkeys(t for query in pack for t in query.tables))
