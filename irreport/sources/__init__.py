"""Data sources: where the query pack runs.

Every source implements the small `Source` protocol below and lives in its own module, imported
only when chosen, so offline users never load msal or httpx. `open_source` maps a source name or
path to the module that handles it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from irreport.timerange import TimeRange

# Statuses of one query run, as the manifest and the dossier's gap list show them.
OK = "ok"
EMPTY = "empty"
FAILED = "failed"
TRUNCATED = "truncated"
PARTIAL = "partial"
UNSUPPORTED = "unsupported"
NOT_AVAILABLE = "not-available"
SKIPPED = "skipped"


@dataclass
class QueryResult:
    """The rows one query returned and everything needed to judge them."""

    query_id: str
    columns: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: numpy arrays of the columns that an analysis reads for every row, where the source
    #: fetched columns (see `collect`); they hold the values of `rows`
    arrays: dict[str, Any] = field(default_factory=dict)
    status: str = OK
    message: str = ""
    retries: int = 0
    truncated: bool = False
    row_limit: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    text: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: (range, text) of each shorter range a live source ran instead of the whole range
    parts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the query ran to completion; an empty result is still a success."""
        return self.status in (OK, EMPTY)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Source(Protocol):
    """What the collector needs from a data source.

    A source may also have `max_concurrency`, the number of queries it accepts at once; a
    source without it (the offline one) runs one query at a time. A source that binds values
    itself may have `run_parameterised(query_id, statement, text, time_range)`, which gets
    a `pack.ParameterisedQuery` and the let-bound *text* to record in the result.
    """

    #: short kind such as "sample", "local", "defender", "sentinel" or "adx"
    kind: str

    def now(self) -> datetime:
        """Return the source's clock: wall time for a tenant, the data's anchor for the sample."""

    def default_range(self) -> TimeRange | None:
        """Return the range to use when the user gives none, or None for the last 48 hours."""

    def run(self, query_id: str, text: str, time_range: TimeRange,
            rebind: Callable[[TimeRange], str] | None = None) -> QueryResult:
        """Run *text* and return its result; failures are recorded in the result, not raised.

        *rebind* returns the query bound to a narrower range; it is given only for queries that
        may be split by time, and a source may use it to re-run a result cut at its row limit.
        """

    def unavailable_tables(self) -> dict[str, str]:
        """Return {table: reason} for tables this source cannot serve at all."""

    def missing_columns(self) -> dict[str, list[str]]:
        """Return {table: [column, ...]} for documented columns this source has no values for."""

    def provenance(self) -> dict[str, Any]:
        """Return what the manifest records about the source: endpoint, ids or file hashes."""

    def close(self) -> None:
        ...


LIVE_KINDS = ("defender", "sentinel", "adx")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def stopwatch() -> tuple[datetime, float]:
    return utcnow(), time.perf_counter()


def open_source(spec: str | None, config: dict[str, Any] | None = None,
                timezone_name: str | None = None,
                prompt: Callable[[str], None] | None = None) -> Source:
    """Open the source named by *spec*: None for the configured tenant or the sample, or a path.

    The bundled sample is used when no tenant is configured, and the caller says so to the user.
    *prompt* shows sign-in instructions such as a device code.
    """
    from pathlib import Path

    if spec in (None, "", "sample"):
        if config and config.get("source"):
            return _open_configured(config, prompt)
        from irreport.sources.local import open_sample

        return open_sample()
    from irreport.sources.local import open_path

    return open_path(Path(spec), timezone_name=timezone_name)


def _open_configured(config: dict[str, Any], prompt: Callable[[str], None] | None = None) -> Source:
    """Open the live source that the configuration's `[source] kind` names."""
    from importlib import import_module

    from irreport.errors import ConfigurationError

    kind = config["source"].get("kind") if isinstance(config["source"], dict) else None
    if kind not in LIVE_KINDS:
        raise ConfigurationError(
            f"[source] kind {kind!r} in the configuration is not known; expected one of "
            f"{', '.join(LIVE_KINDS)}, or use --source PATH for exported data"
        )
    source = import_module(f"irreport.sources.{kind}").open_from_config(config, prompt=prompt)
    # Signing in now makes a wrong credential one clear error instead of a failure per query,
    # and shows a device code before any progress display starts.
    source.sign_in()
    return source
