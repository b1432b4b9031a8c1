"""The incident timeline: every collected event in one time-sorted list, and its bursts.

Which query columns become which event field is declared in `timeline_events.toml`. This module
applies that mapping, merges the events of all queries and finds bursts of automated activity.
`timeline_chart` draws it and is importable from here.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from irreport.analysis.event_mapping import TEMPLATE_FIELDS, EventSpec, as_utc, load_specs
from irreport.analysis.timeline_chart import timeline_chart
from irreport.textsafe import to_text

log = logging.getLogger(__name__)

__all__ = ["Burst", "TimelineEvent", "build_timeline", "find_bursts", "timeline_chart"]

# A burst lasting less than this is given this duration, so its rate stays finite.
MIN_BURST_SECONDS = 0.001


@dataclass(slots=True)
class TimelineEvent:
    """One normalised event; `process` is the image name of the acting process."""

    time: datetime
    device: str
    table: str
    category: str
    action: str
    process: str
    account: str
    target: str
    details: str
    query_id: str
    alert: bool = False
    #: the time a summary event's activity last happened, such as its last connection
    until: datetime | None = None


@dataclass
class Burst:
    """A run of events on one device (kind "device") or by one image name (kind "process")
    in which each event follows the one before within the maximum gap."""

    kind: str
    device: str
    start: datetime
    end: datetime
    count: int
    processes: list[str]
    events_per_second: float
    events: list[TimelineEvent] = field(repr=False, default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def _events_of(spec: EventSpec, rows: list[dict], devices: set[str] | None) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    untimed = 0
    selected = list(spec.selected_rows(rows))
    texts = spec.field_texts(selected, TEMPLATE_FIELDS)
    for row, action, process, account, target, details in zip(selected, *texts):
        moment = as_utc(row.get(spec.time_column))
        if moment is None:
            untimed += 1
            continue
        device = to_text(row.get(spec.device_column))
        if devices is not None and device.lower() not in devices:
            continue
        events.append(TimelineEvent(
            time=moment, device=device, table=spec.table, category=spec.category,
            action=action, process=process, account=account, target=target, details=details,
            query_id=spec.query_id, alert=spec.alert,
            until=as_utc(row.get(spec.until_column)) if spec.until_column else None,
        ))
    if untimed:
        log.warning("query %s: %d rows have no %s and are left out of the timeline",
                    spec.query_id, untimed, spec.time_column)
    return events


def _device_filter(collection, query_id: str) -> set[str] | None:
    """Return the devices a fleet-wide query's events are limited to, or None for no limit."""
    query = getattr(collection, "queries", {}).get(query_id)
    devices = getattr(collection, "devices", None)
    if query is None or query.scope != "fleet" or not devices:
        return None
    return {device.lower() for device in devices}


def build_timeline(collection, specs: dict[str, EventSpec] | None = None) -> list[TimelineEvent]:
    """Merge the events of every mapped query into one list sorted by time.

    Summary queries (failed logons, connections) give one event at FirstSeen with the count in
    the details; alerts give one event per alert with `alert` set. An event that two queries
    report alike (same time, device, action, process and target) is kept once, and so is one
    that a more telling query shows too (`shown_by` in the mapping). Fleet-wide queries keep only
    the collection's devices.
    """
    specs = specs or load_specs()
    events: list[TimelineEvent] = []
    for spec in specs.values():
        rows = collection.rows(spec.query_id)
        events.extend(_events_of(spec, rows, _device_filter(collection, spec.query_id)))
    events.sort(key=attrgetter("time"))
    return _without_shown_elsewhere(_without_repeats(events), specs)


def _without_shown_elsewhere(events: list[TimelineEvent],
                             specs: dict[str, EventSpec]) -> list[TimelineEvent]:
    """Leave out each event that an event of one of its spec's `shown_by` queries shows.

    *events* are sorted by time, so the candidates are the neighbours with the same time.
    """
    checked = {query_id: spec for query_id, spec in specs.items() if spec.shown_by}
    left_out = set()
    last = len(events) - 1
    for index, event in enumerate(events):
        spec = checked.get(event.query_id)
        if spec is None:
            continue
        # Most events have no neighbour at the same time, so this test spares them the search.
        alone = ((index == 0 or events[index - 1].time != event.time)
                 and (index == last or events[index + 1].time != event.time))
        if not alone and _shown_elsewhere(events, index, spec):
            left_out.add(index)
    if not left_out:
        return events
    return [event for index, event in enumerate(events) if index not in left_out]


def _shown_elsewhere(events: list[TimelineEvent], index: int, spec: EventSpec) -> bool:
    event = events[index]
    values = [getattr(event, field) for field in spec.same]
    if not all(values):
        return False
    for step in (-1, 1):
        other_index = index + step
        while 0 <= other_index < len(events) and events[other_index].time == event.time:
            other = events[other_index]
            if (other.query_id in spec.shown_by and other.device == event.device
                    and [getattr(other, field) for field in spec.same] == values):
                return True
            other_index += step
    return False


def _without_repeats(events: list[TimelineEvent]) -> list[TimelineEvent]:
    # Repeats share a time, so comparing within each run of equal times finds them all.
    kept: list[TimelineEvent] = []
    seen: set[tuple[str, str, str, str]] = set()
    current = None
    for event in events:
        if event.time != current:
            current = event.time
            seen.clear()
        identity = (event.device, event.action, event.process, event.target)
        if identity not in seen:
            seen.add(identity)
            kept.append(event)
    return kept


def _runs(events: list[TimelineEvent], max_gap: float) -> Iterable[list[TimelineEvent]]:
    """Split time-sorted events wherever the gap to the next event exceeds *max_gap* seconds."""
    run: list[TimelineEvent] = []
    for event in events:
        if run and (event.time - run[-1].time).total_seconds() > max_gap:
            yield run
            run = []
        run.append(event)
    if run:
        yield run


def _burst(kind: str, run: list[TimelineEvent]) -> Burst:
    start, end = run[0].time, run[-1].time
    duration = max((end - start).total_seconds(), MIN_BURST_SECONDS)
    counts = Counter(event.process for event in run if event.process)
    return Burst(kind=kind, device=run[0].device, start=start, end=end, count=len(run),
                 processes=[name for name, _ in counts.most_common()],
                 events_per_second=len(run) / duration, events=run)


def find_bursts(events: list[TimelineEvent], max_gap: float = 1.0,
                min_events: int = 5) -> list[Burst]:
    """Find bursts of at least *min_events* events, each within *max_gap* seconds of the last.

    Events are grouped once per device and once per device and acting image name, so a script's
    children show as a device burst and a process burst. Events without an acting process count
    only for their device. Bursts come back sorted by start.
    """
    if any(later.time < earlier.time for earlier, later in zip(events, events[1:])):
        events = sorted(events, key=attrgetter("time"))
    by_device: dict[str, list[TimelineEvent]] = defaultdict(list)
    by_process: dict[tuple[str, str], list[TimelineEvent]] = defaultdict(list)
    for event in events:
        by_device[event.device].append(event)
        if event.process:
            by_process[(event.device, event.process.lower())].append(event)

    bursts: list[Burst] = []
    for kind, groups in (("device", by_device.values()), ("process", by_process.values())):
        for group in groups:
            bursts.extend(_burst(kind, run) for run in _runs(group, max_gap) if len(run) >= min_events)
    bursts.sort(key=lambda burst: (burst.start, burst.kind, burst.device))
    return bursts
