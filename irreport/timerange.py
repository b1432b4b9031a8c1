"""Absolute time ranges from --start/--end or --last, so every run can be reproduced."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from irreport.errors import ConfigurationError

_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class TimeRange:
    """A half-open UTC interval [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self):
        if self.end <= self.start:
            raise ConfigurationError(
                f"time range end {iso(self.end)} is not after its start "
                f"{iso(self.start)}; pass an --end later than --start"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def halves(self) -> tuple["TimeRange", "TimeRange"]:
        middle = self.start + self.duration / 2
        return TimeRange(self.start, middle), TimeRange(middle, self.end)

    def label(self) -> str:
        return f"{iso(self.start)} to {iso(self.end)}"


def datetime_limits(unit: timedelta) -> tuple[int, int]:
    """Return the first and last instant Python's datetime can hold, in *unit*s since the epoch."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return tuple((moment.replace(tzinfo=timezone.utc) - epoch) // unit
                 for moment in (datetime.min, datetime.max))


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str, option: str = "--start") -> datetime:
    """Parse an ISO 8601 date or date-time; one without a zone is taken as UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ConfigurationError(
            f"{option} {text!r} is not an ISO 8601 date or time; write it such as "
            "2026-12-02 or 2026-12-02T14:00:00Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_duration(text: str, option: str = "--last") -> timedelta:
    """Parse a duration such as 90m, 48h, 7d or 2w."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigurationError(
            f"{option} {text!r} is not a duration; write a positive number followed by m, h, d "
            "or w, such as 48h or 7d"
        )
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def resolve(start: str | None, end: str | None, last: str | None, now: datetime,
            default: TimeRange | None = None, default_last: str = "48h") -> TimeRange:
    """Turn the command-line options into one absolute range.

    *now* is the clock of the source: the wall clock for a tenant, the data's own anchor for
    the bundled sample, so that `--last 48h` on the sample still covers its incident.
    """
    if last and (start or end):
        raise ConfigurationError("--last cannot be combined with --start or --end; pass one form")
    if last:
        return TimeRange(now - parse_duration(last), now)
    if start or end:
        start_at = parse_instant(start, "--start") if start else None
        end_at = parse_instant(end, "--end") if end else now
        if start_at is None:
            start_at = end_at - parse_duration(default_last)
        return TimeRange(start_at, end_at)
    if default is not None:
        return default
    return TimeRange(now - parse_duration(default_last), now)
