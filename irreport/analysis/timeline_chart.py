"""The timeline chart for the dossier: events per category over time, alerts and bursts marked."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irreport.analysis.timeline import Burst, TimelineEvent

FIGURE_WIDTH_IN = 10.0
LANE_HEIGHT_IN = 0.28
PNG_DPI = 150
ALERT_COLOUR = "#c0392b"
BURST_COLOUR = "#f39c12"
# A burst of two seconds in a chart of three days would be thinner than a pixel, so every
# shaded span is at least this share of the time axis.
MIN_SPAN_SHARE = 0.004
# Twice the pixels across the PNG: a lane with more events than this is drawn one mark per
# slot of the time axis, because marks closer than a pixel cover each other anyway.
MARK_SLOTS = int(FIGURE_WIDTH_IN * PNG_DPI * 2)


def _figure(lanes: int):
    from matplotlib.figure import Figure

    height = max(4.0, lanes * LANE_HEIGHT_IN + 1.2)
    return Figure(figsize=(FIGURE_WIDTH_IN, height))


def _save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=PNG_DPI, format="svg" if path.suffix.lower() == ".svg" else "png",
                   bbox_inches="tight")
    return path


def _lanes(events: list[TimelineEvent]) -> list[str]:
    """Return the categories in order of first appearance, alerts last so they sit on top."""
    categories = list(dict.fromkeys(event.category for event in events if not event.alert))
    if any(event.alert for event in events):
        categories.append("alert")
    return categories


def _mark_times(moments: list[datetime], first: datetime, span: timedelta) -> list[datetime]:
    """Return *moments*, or the middle of each of MARK_SLOTS slots of *span* that contains one.

    Plotting 400,000 marks took matplotlib about three seconds, and one per slot looks the same.
    """
    if len(moments) <= MARK_SLOTS:
        return moments
    width = span.total_seconds() / MARK_SLOTS
    start = first.timestamp()
    last = MARK_SLOTS - 1  # the last moment falls on the end of the span
    slots = {min(int((moment.timestamp() - start) / width), last) for moment in moments}
    return [first + timedelta(seconds=(slot + 0.5) * width) for slot in sorted(slots)]


def _shade_bursts(ax, bursts: list[Burst], span: timedelta) -> None:
    least = span * MIN_SPAN_SHARE
    for index, burst in enumerate(bursts):
        middle = burst.start + (burst.end - burst.start) / 2
        half = max(burst.end - burst.start, least) / 2
        ax.axvspan(middle - half, middle + half, color=BURST_COLOUR, alpha=0.25, linewidth=0,
                   label="burst of automated activity" if index == 0 else None)


def _mark_alerts(ax, alerts: list[TimelineEvent], lane: int) -> None:
    for index, alert in enumerate(alerts):
        ax.axvline(alert.time, color=ALERT_COLOUR, linewidth=0.6, alpha=0.5,
                   label="alert" if index == 0 else None)
    ax.plot([alert.time for alert in alerts], [lane] * len(alerts), linestyle="none",
            marker="v", markersize=6, color=ALERT_COLOUR)


def timeline_chart(events: list[TimelineEvent], path: Path,
                   bursts: list[Burst] | None = None) -> Path:
    """Draw events over time, one lane per category, into *path* (.svg, else PNG); returns path.

    Alerts are red lines with a marker in their own lane and bursts are shaded. The figure is
    10 in wide, so it fits an A4 page, and grows by lane. An empty list gives a chart with the text
    "no events".
    """
    import matplotlib.dates as mdates

    lanes = _lanes(events)
    figure = _figure(len(lanes))
    ax = figure.add_subplot()
    if not events:
        ax.text(0.5, 0.5, "no events", ha="center", va="center", transform=ax.transAxes,
                fontsize=12, color="grey")
        ax.set_axis_off()
        return _save(figure, path)

    lane_of = {category: index for index, category in enumerate(lanes)}
    moments = [event.time for event in events]
    # A summary event (113 connections from 14:45 to 23:57) is a line from its first time to
    # its last, cut at the chart's last event so that a chart of a short window keeps its scale.
    first_moment, last_moment = min(moments), max(moments)
    span = max(last_moment - first_moment, timedelta(seconds=1))
    times: dict[str, list] = {category: [] for category in lanes}
    spans_of: dict[str, list] = {category: [] for category in lanes}
    for event in events:
        if not event.alert:
            times[event.category].append(event.time)
            if event.until and event.until > event.time:
                spans_of[event.category].append((event.time, min(event.until, last_moment)))
    span_label = "repeated, from first to last time"
    for category, category_moments in times.items():
        positions = _mark_times(category_moments, first_moment, span)
        (marks,) = ax.plot(positions, [lane_of[category]] * len(positions),
                           linestyle="none", marker="|", markersize=9, markeredgewidth=0.8)
        spans = spans_of[category]
        if spans:
            ax.hlines([lane_of[category]] * len(spans), [start for start, _ in spans],
                      [end for _, end in spans], colors=marks.get_color(), linewidth=1.2,
                      label=span_label)
            span_label = None

    _shade_bursts(ax, bursts or [], span)
    alerts = [event for event in events if event.alert]
    if alerts:
        _mark_alerts(ax, alerts, lane_of["alert"])

    ax.set_yticks(range(len(lanes)), lanes, fontsize=8)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    # Dates in ISO 8601 order, as everywhere else in the dossier, rather than "2026-Dec-03".
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
        locator, formats=["%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M"],
        offset_formats=["", "%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d %H:%M"]))
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("time (UTC)", fontsize=8)
    ax.grid(axis="x", linewidth=0.3, alpha=0.5)
    if alerts or bursts or span_label is None:
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, fontsize=7, frameon=False)
    return _save(figure, path)
