"""The report's charts, drawn with matplotlib's object API on the Agg canvas (no display)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from irreport.posture.figures import CATEGORIES, PostureWeek
from irreport.timerange import TimeRange

WIDTH_IN = 9.0
PNG_DPI = 110
COLOURS = {
    "Attack surface reduction": "#2e86c1",
    "SmartScreen": "#17a589",
    "Antivirus": "#c0392b",
    "Tampering": "#8e44ad",
    "Exploit Guard": "#d68910",
    "AMSI": "#566573",
}


def _figure(height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_IN, height))


def _save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=PNG_DPI, format="png", bbox_inches="tight")
    return path


def days_of(time_range: TimeRange) -> list[str]:
    """Return every UTC day the range touches, as YYYY-MM-DD."""
    day = time_range.start.replace(hour=0, minute=0, second=0, microsecond=0)
    days = []
    while day < time_range.end:
        days.append(day.strftime("%Y-%m-%d"))
        day += timedelta(days=1)
    return days


def draw_daily_trend(week: PostureWeek, time_range: TimeRange, path: Path) -> Path:
    """Draw one line per malicious activity category: its events on each day of the range."""
    figure = _figure(3.4)
    ax = figure.add_subplot()
    days = days_of(time_range)
    trend = week.daily_trend()
    positions = range(len(days))
    for category in CATEGORIES:
        counts = [trend.get(category, {}).get(day, 0) for day in days]
        if any(counts):
            ax.plot(positions, counts, marker="o", label=category, color=COLOURS[category])
    ax.set_xticks(list(positions))
    ax.set_xticklabels([datetime.strptime(d, "%Y-%m-%d").strftime("%a %d %b") for d in days],
                       fontsize=8)
    ax.set_ylabel("events per day")
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        # Above the plot, so that it never covers a day's value.
        ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=6, frameon=False)
    return _save(figure, path)


def draw_compliance(week: PostureWeek, path: Path) -> Path:
    """Draw the share of assessed devices that pass each secure configuration control."""
    figure = _figure(2.6)
    ax = figure.add_subplot()
    controls = list(week.compliance)
    labels = [f"{c.control} ({c.compliant}/{c.assessed})" for c in controls]
    values = [c.percent for c in controls]
    colours = [_compliance_colour(v) for v in values]
    ax.barh(labels, values, color=colours)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of assessed devices compliant")
    ax.tick_params(axis="y", labelsize=8)
    return _save(figure, path)


def _compliance_colour(percent: float) -> str:
    if percent >= 100:
        return "#27ae60"
    if percent >= 90:
        return "#e67e22"
    return "#c0392b"


def draw_top_devices(week: PostureWeek, path: Path) -> Path:
    """Draw the devices with the most malicious events, stacked by category."""
    top = list(reversed(week.top_devices()))
    figure = _figure(max(2.0, 0.32 * len(top) + 1.0))
    ax = figure.add_subplot()
    names = [d["device"] for d in top]
    left = [0] * len(top)
    for category in CATEGORIES:
        counts = [d["categories"].get(category, 0) for d in top]
        if any(counts):
            ax.barh(names, counts, left=left, label=category, color=COLOURS[category])
            left = [a + b for a, b in zip(left, counts)]
    ax.set_xlabel("malicious activity events in the range")
    ax.tick_params(axis="y", labelsize=8)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower right")
    return _save(figure, path)
