"""What the Defender, Sentinel and Azure Data Explorer sources share.

Each live source turns one query call into a `Page`, and this module turns pages into a
`QueryResult`. A page may reach the service's row limit while the collector supplied a way to
re-bind the query for a narrower range. Then the range is halved until each part fits, so a
busy device's process events are complete instead of silently cut at the limit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from irreport.errors import AuthenticationError
from irreport.sources import EMPTY, FAILED, OK, PARTIAL, TRUNCATED, QueryResult, stopwatch, utcnow
from irreport.sources.service import Attempts, ServiceClient, ServiceError
from irreport.timerange import TimeRange

log = logging.getLogger(__name__)

Rebind = Callable[[TimeRange], str]

# Service type names (Graph uses .NET names such as Int64, the others Kusto names) mapped to
# the Kusto names that QueryResult.types carries for every live source.
KUSTO_TYPES = {
    "datetime": "datetime", "date": "datetime",
    "string": "string",
    "int64": "long", "long": "long",
    "int32": "int", "int": "int",
    "double": "real", "real": "real", "single": "real", "decimal": "decimal",
    "boolean": "bool", "bool": "bool", "sbyte": "bool",
    "object": "dynamic", "dynamic": "dynamic",
    "guid": "guid", "uuid": "guid",
    "timespan": "timespan", "time": "timespan",
}


@dataclass
class Page:
    """The outcome of one call: rows, and whether the service reported them incomplete."""

    columns: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str = OK
    message: str = ""
    truncated: bool = False
    #: the query text sent, kept for the manifest when a range is split
    text: str = ""


class LiveSource:
    """Base of the sources that query a Microsoft service over HTTP."""

    kind = "live"
    row_limit_default = 500_000

    def __init__(self, client: ServiceClient, section: dict[str, Any], provenance: dict[str, Any]):
        self.client = client
        self.max_concurrency = positive_int(section.get("max_concurrency", 4), "max_concurrency")
        self.row_limit = positive_int(section.get("row_limit", self.row_limit_default), "row_limit")
        self.max_split_depth = positive_int(section.get("max_split_depth", 4), "max_split_depth")
        self._provenance = provenance

    def sign_in(self) -> None:
        """Acquire a token now; raise AuthenticationError when the credential is rejected."""
        self.client.tokens.token(self.client.scope)

    def now(self) -> datetime:
        return utcnow()

    def default_range(self) -> TimeRange | None:
        return None

    def unavailable_tables(self) -> dict[str, str]:
        return {}

    def missing_columns(self) -> dict[str, list[str]]:
        # A live service queries the tenant's tables themselves, not a copy with columns left out.
        return {}

    def provenance(self) -> dict[str, Any]:
        return dict(self._provenance)

    def close(self) -> None:
        self.client.close()

    def fetch(self, text: str, time_range: TimeRange, attempts: Attempts) -> Page:
        """Send one query over one range; raise ServiceError when the call fails."""
        raise NotImplementedError

    def prepare(self, text: str) -> str:
        """Return the text to send; a source may add a prelude its service needs."""
        return text

    def range_warnings(self, time_range: TimeRange) -> list[str]:
        return []

    def run(self, query_id: str, text: str, time_range: TimeRange,
            rebind: Rebind | None = None) -> QueryResult:
        """Run one query; failures, retries and truncation are recorded in the result."""
        result = QueryResult(query_id=query_id, text=self.prepare(text), row_limit=self.row_limit)
        result.started_at, _ = stopwatch()
        result.warnings.extend(self.range_warnings(time_range))
        attempts = Attempts()
        try:
            self._fill(result, time_range, rebind, attempts)
        except (ServiceError, AuthenticationError) as exc:
            result.status = FAILED
            result.message = str(exc)
        result.retries = attempts.retries
        if attempts.notes:
            result.warnings.append(attempts.summary())
        result.finished_at = utcnow()
        log.debug("query %s: %s, %d rows, %d retries", query_id, result.status, len(result.rows),
                  result.retries)
        return result

    def _fill(self, result: QueryResult, time_range: TimeRange, rebind: Rebind | None,
              attempts: Attempts) -> None:
        page = self.fetch(result.text, time_range, attempts)
        parts = [(time_range, page)]
        if self.at_limit(page) and rebind is not None:
            parts = self._split(rebind, time_range, attempts, depth=1)
            result.warnings.append(
                f"the whole range reached the {self.row_limit:,}-row limit, so it was run as "
                f"{len(parts)} shorter ranges")
        merge_pages(result, parts, self.row_limit, self.at_limit, rebind is not None)

    def _split(self, rebind: Rebind, time_range: TimeRange, attempts: Attempts,
               depth: int) -> list[tuple[TimeRange, Page]]:
        parts = []
        for half in time_range.halves():
            text = self.prepare(rebind(half))
            page = self.fetch(text, half, attempts)
            page.text = text
            if self.at_limit(page) and depth < self.max_split_depth:
                parts.extend(self._split(rebind, half, attempts, depth + 1))
            else:
                parts.append((half, page))
        return parts

    def at_limit(self, page: Page) -> bool:
        return page.truncated or len(page.rows) >= self.row_limit


def merge_pages(result: QueryResult, parts: list[tuple[TimeRange, Page]], row_limit: int,
                at_limit: Callable[[Page], bool], splittable: bool) -> None:
    """Combine the pages of consecutive ranges into *result*, in range order."""
    first = next((page for _, page in parts if page.columns), parts[0][1])
    result.columns, result.types = first.columns, first.types
    boundaries = {sub.start for sub, _ in parts[1:]}
    seen_at_boundary: set[str] = set()
    messages = []
    for sub, page in parts:
        for row in page.rows:
            if _duplicate_at_boundary(row, boundaries, seen_at_boundary):
                continue
            result.rows.append(row)
        if page.message:
            messages.append(page.message if len(parts) == 1 else f"{sub.label()}: {page.message}")
        if page.status == PARTIAL:
            result.status = PARTIAL
    limited = [sub for sub, page in parts if at_limit(page)]
    if limited:
        result.truncated = True
        messages.append(_truncation_message(limited, parts, row_limit, splittable))
        if result.status != PARTIAL:
            result.status = TRUNCATED
    elif result.status != PARTIAL:
        result.status = OK if result.rows else EMPTY
    result.message = "; ".join(messages)
    if len(parts) > 1:
        result.parts = [(sub.label(), page.text) for sub, page in parts]


def _truncation_message(limited: list[TimeRange], parts: list, row_limit: int,
                        splittable: bool) -> str:
    if len(parts) == 1 and not splittable:
        return (f"the result reached the {row_limit:,}-row limit, so rows are missing; this "
                "query cannot be split by time, so narrow the range or the device list")
    spans = ", ".join(sub.label() for sub in limited)
    return (f"{len(limited)} of {len(parts)} time ranges still reached the {row_limit:,}-row "
            f"limit after splitting ({spans}); narrow the range or raise max_split_depth")


def _duplicate_at_boundary(row: dict[str, Any], boundaries: set[datetime], seen: set[str]) -> bool:
    """Drop the second copy of a row stamped exactly at a split point.

    KQL's `between` includes both ends, so both neighbouring ranges return such a row.
    """
    stamp = row.get("Timestamp")
    if not isinstance(stamp, datetime) or stamp not in boundaries:
        return False
    key = json.dumps(row, sort_keys=True, default=str)
    if key in seen:
        return True
    seen.add(key)
    return False


def kusto_type(name: str) -> str:
    return KUSTO_TYPES.get(str(name).lower(), str(name).lower())


def convert(value: Any, kind: str) -> Any:
    """Convert one JSON value to the Python value of Kusto type *kind*; unparseable values stay."""
    if value is None:
        return None
    try:
        if kind == "datetime" and isinstance(value, str):
            return parse_datetime(value)
        if kind in ("long", "int") and isinstance(value, (str, float)):
            return int(value)
        if kind == "real" and isinstance(value, str):
            return float(value)
        if kind == "bool" and not isinstance(value, bool):
            return str(value).lower() in ("true", "1")
    except ValueError:
        return value
    if kind == "dynamic" and isinstance(value, str) and value[:1] in ("[", "{"):
        # A dynamic column may arrive as a JSON value or as JSON text, depending on the service.
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_datetime(text: str) -> datetime | str:
    """Parse an ISO 8601 UTC instant with up to 7 fractional digits, as Kusto writes them."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    head, dot, tail = cleaned.partition(".")
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        cleaned = head + "." + tail[:min(digits, 6)] + tail[digits:]
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def typed_rows(columns: list[str], types: list[str], rows: list[list[Any]]) -> list[dict[str, Any]]:
    """Turn positional rows into dicts keyed by column, with values converted to their types."""
    return [{name: convert(value, kind) for name, kind, value in zip(columns, types, row)}
            for row in rows]


def positive_int(value: Any, name: str) -> int:
    from irreport.errors import ConfigurationError

    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ConfigurationError(f"{name} {value!r} is invalid; expected a positive integer")
    return number


def iso_instant(value: datetime) -> str:
    """Write *value* as ISO 8601 UTC with a Z, keeping sub-second precision for split ranges."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def timespan(time_range: TimeRange) -> str:
    return f"{iso_instant(time_range.start)}/{iso_instant(time_range.end)}"


def build_client(config: dict[str, Any], section_name: str, label: str, base_url: str,
                 scope: str, tokens=None, prompt=None) -> ServiceClient:
    """Create the HTTP client of one service, signing in with the configured credential."""
    from irreport import config as settings
    from irreport.auth import TokenProvider
    from irreport.sources.service import tls_context

    endpoints = settings.endpoints(config)
    if tokens is None:
        tokens = TokenProvider(settings.auth_settings(config), endpoints, prompt=prompt)
    section = settings.table(config, section_name)
    return ServiceClient(
        name=label, base_url=base_url.rstrip("/"), scope=scope, tokens=tokens,
        settings=settings.http_settings(config), verify=tls_context(endpoints.ca_bundle),
        max_connections=positive_int(section.get("max_concurrency", 4), "max_concurrency"),
    )
