"""Report weeks: ISO week names, the default range, the week before, and pruning old reports."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from irreport.timerange import TimeRange, resolve

WEEK = timedelta(days=7)
REPORT_PREFIX = "posture-"
_REPORT_NAME = re.compile(r"^posture-(\d{4})-W(\d{2})$")


def report_now(source) -> datetime:
    """Return the source's clock for this report.

    The bundled sample's fleet data runs past the end of its incident, so the sample source
    carries a separate `posture_end`. Every other source's `now()` serves both reports.
    """
    return getattr(source, "posture_end", None) or source.now()


def last_complete_week(now: datetime) -> TimeRange:
    """Return the last whole ISO week (Monday 00:00 to Monday 00:00 UTC) that ended by *now*."""
    now = now.astimezone(timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    end = midnight - timedelta(days=midnight.weekday())
    return TimeRange(end - WEEK, end)


def report_range(start: str | None, end: str | None, last: str | None,
                 now: datetime) -> TimeRange:
    """Turn --start/--end/--last into the report's range; with none, the last complete week."""
    return resolve(start, end, last, now=now, default=last_complete_week(now), default_last="7d")


def week_before(time_range: TimeRange) -> TimeRange:
    """Return the range of the same length that ends where *time_range* starts."""
    return TimeRange(time_range.start - time_range.duration, time_range.start)


def week_label(time_range: TimeRange) -> str:
    """Name the ISO week that contains the middle of the range, such as 2026-W49.

    The middle, not the end, so that a run on Monday morning over the last seven days is
    named for the week it mostly covers.
    """
    year, week, _ = (time_range.start + time_range.duration / 2).isocalendar()
    return f"{year}-W{week:02d}"


def report_name(label: str) -> str:
    return f"{REPORT_PREFIX}{label}"


def report_folders(out_dir: Path) -> list[Path]:
    """Return the finished report folders under *out_dir*, oldest week first."""
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if p.is_dir() and _REPORT_NAME.match(p.name))


def prune(out_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest *keep* report folders; returns the folders deleted."""
    folders = report_folders(out_dir)
    doomed = folders[:-keep] if keep > 0 else []
    for folder in doomed:
        shutil.rmtree(folder)
    return doomed
