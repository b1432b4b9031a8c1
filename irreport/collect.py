"""Run the query pack against one source: the collect step of collect, analyse, render."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from irreport import schema
from irreport.devices import has_device, name_forms, similar_devices
from irreport.errors import IrreportError
from irreport.pack import Query, QueryPack
from irreport.sources import (
    EMPTY, FAILED, NOT_AVAILABLE, SKIPPED, QueryResult, Source, utcnow,
)
from irreport.timerange import TimeRange

log = logging.getLogger(__name__)

Progress = Callable[[Query, QueryResult | None], None]


@dataclass
class Collection:
    """Everything one run collected: the results of each query and the context they came from."""

    devices: list[str]
    time_range: TimeRange
    source_kind: str
    source_provenance: dict[str, Any]
    pack_version: str
    results: dict[str, QueryResult] = field(default_factory=dict)
    queries: dict[str, Query] = field(default_factory=dict)
    #: requested devices that no query returned a row for, with what the user should check
    unseen_devices: dict[str, str] = field(default_factory=dict)

    def rows(self, query_id: str) -> list[dict[str, Any]]:
        result = self.results.get(query_id)
        return result.rows if result else []

    def arrays(self, query_id: str) -> dict[str, Any]:
        """Return the numpy columns the source kept of one result, if any (see QueryResult)."""
        result = self.results.get(query_id)
        return result.arrays if result else {}

    @property
    def all_ok(self) -> bool:
        return all(r.ok for r in self.results.values()) and not self.unseen_devices

    def gaps(self) -> list[QueryResult]:
        """Return the results a reader must know about: failed, partial, truncated or skipped."""
        return [r for r in self.results.values() if not r.ok or r.truncated]


def find_unseen_devices(collection: Collection, known: list[str] | None = None,
                        covered: TimeRange | None = None) -> None:
    """Record the requested devices that no result row names.

    A misspelled device name returns no rows at all, which would read as a clean device. When
    the source can list its devices (*known*), the note suggests the closest names, and when
    the source has the device, it names the range its data covers (*covered*) instead.
    """
    seen: set[str] = set()
    for result in collection.results.values():
        for row in result.rows:
            for column in ("DeviceName", "SourceDevice", "TargetDevice"):
                name = row.get(column)
                if name:
                    seen |= name_forms(str(name))
    for device in collection.devices:
        if device.lower() in seen:
            continue
        if known is not None and has_device(device, known):
            note = (f"no query returned any row for device {device!r} in "
                    f"{collection.time_range.label()}, though the source has data for it; "
                    "check the range")
            if covered is not None:
                note += f" (the source's data covers {covered.label()})"
        else:
            note = (f"no query returned any row for device {device!r} in "
                    f"{collection.time_range.label()}; check the name and the range")
            close = similar_devices(device, known or [])
            if close:
                note += f" (devices with a similar name in this source: {', '.join(close)})"
        collection.unseen_devices[device] = note


def bind_values(query: Query, devices: list[str], time_range: TimeRange,
                overrides: dict[str, Any], earlier: dict[str, QueryResult]) -> dict[str, Any]:
    """Work out every parameter value of *query* for this run.

    Values come, in order of precedence, from the user's overrides, the run itself (devices and
    time range) and the columns of earlier results that a parameter declares it feeds from.
    """
    values: dict[str, Any] = {}
    for param in query.parameters:
        if param.name in overrides:
            values[param.name] = overrides[param.name]
        elif param.type == "devices":
            values[param.name] = list(devices)
        elif param.name == "StartTime":
            values[param.name] = time_range.start
        elif param.name == "EndTime":
            values[param.name] = time_range.end
        elif param.feeds_from:
            source_id, column = param.feeds_from
            feeder = earlier.get(source_id)
            if feeder is None or not feeder.ok:
                raise _Skip(f"needs {source_id}.{column}, and query {source_id!r} did not succeed")
            seen = dict.fromkeys(str(r[column]) for r in feeder.rows if r.get(column))
            values[param.name] = list(seen)
    return values


class _Skip(Exception):
    pass


def _with_feeders(pack: QueryPack, only: list[str], overrides: dict[str, Any]) -> set[str]:
    """Return *only* plus the queries whose results feed a parameter the user did not set."""
    needed: set[str] = set()
    pending = list(only)
    while pending:
        query = pack.get(pending.pop())
        if query.id in needed:
            continue
        needed.add(query.id)
        for param in query.parameters:
            if param.feeds_from and param.name not in overrides:
                pending.append(param.feeds_from[0])
    return needed


def run_query(source: Source, query: Query, devices: list[str], time_range: TimeRange,
              overrides: dict[str, Any], earlier: dict[str, QueryResult]) -> QueryResult:
    """Bind and run one query.

    A binding failure is recorded in the result instead of raised, and sources record their own
    query failures the same way, so one bad query never stops the run.
    """
    missing = {t: why for t, why in source.unavailable_tables().items() if t in query.tables}
    if missing and len(missing) == len(query.tables):
        return _not_run(query, NOT_AVAILABLE, _reasons(missing))
    result = _run_bound(source, query, devices, time_range, overrides, earlier)
    if missing and result.status == EMPTY:
        # With one of its tables absent, a query's empty result cannot mean "nothing happened"
        # (a join on that table is empty whatever the other tables contain).
        result.status = NOT_AVAILABLE
        result.message = "no rows, and " + _reasons(missing)
    else:
        result.warnings.extend(f"{t}: {why}" for t, why in missing.items())
    result.warnings.extend(_missing_column_notes(source, query, result))
    return result


def _reasons(missing: dict[str, str]) -> str:
    return "; ".join(f"{table}: {why}" for table, why in missing.items())


def _missing_column_notes(source: Source, query: Query, result: QueryResult) -> list[str]:
    """Return a note per table of *query* whose loaded data lacks columns the query reads.

    A query filtering on such a column returns nothing, which reads as "nothing happened". A
    column that has values in the result is left out, because the name then belongs to
    another table or an alias.
    """
    notes = []
    for table, columns in missing_columns_read(query, source.missing_columns()).items():
        read = [column for column in columns if not _has_values(result, column)]
        if read:
            noun = "columns" if len(read) > 1 else "column"
            remedy = (f"the bundled sample does not have the {noun}" if source.kind == "sample"
                      else f"include the {noun} in the export to see them")
            notes.append(f"{table} lacks {', '.join(read)} in the loaded data. This query reads "
                         f"the {noun}, so it sees no values there; {remedy}.")
    return notes


def missing_columns_read(query: Query, missing: dict[str, list[str]]) -> dict[str, list[str]]:
    """Return, per table of *query*, the columns of *missing* that the query reads.

    *missing* maps every loaded table to its documented columns that no file had. The query
    text is matched by column name, so a name counts as read only when the query does not
    assign it itself and no other of its tables has a column of that name.
    """
    documented = {table: {name for name, _ in columns}
                  for table, columns in schema.tables().items() if table in query.tables}
    read: dict[str, list[str]] = {}
    for table in query.tables:
        others = [t for t in query.tables if t != table]
        columns = [column for column in missing.get(table, [])
                   if reads_column(query.body, column)
                   and not any(other in missing and column not in missing[other]
                               and column in documented.get(other, ()) for other in others)]
        if columns:
            read[table] = columns
    return read


# The list of a project-away operator runs to the next pipe.
_PROJECT_AWAY = re.compile(r"\bproject-away\b[^|]*")


def reads_column(body: str, column: str) -> bool:
    """Tell whether a query's text reads *column*, by name."""
    # A column named only by project-away is dropped, not read.
    body = _PROJECT_AWAY.sub("", body)
    # A name followed by a single "=" is a column the query makes, such as
    # `ProcessId = InitiatingProcessId`, and later mentions of it read that one.
    if re.search(rf"\b{re.escape(column)}\s*=(?![=~])", body):
        return False
    return re.search(rf"\b{re.escape(column)}\b", body) is not None


def _has_values(result: QueryResult, column: str) -> bool:
    # A column the loader left empty is empty in every row, so the first rows decide.
    return any(row.get(column) is not None for row in islice(result.rows, 1000))


def _run_bound(source: Source, query: Query, devices: list[str], time_range: TimeRange,
               overrides: dict[str, Any], earlier: dict[str, QueryResult]) -> QueryResult:
    run_parameterised = _parameter_runner(source, query)
    try:
        values = bind_values(query, devices, time_range, overrides, earlier)
        text = query.bind(values)
        statement = query.parameterise(values) if run_parameterised else None
    except _Skip as exc:
        return _not_run(query, SKIPPED, str(exc))
    except IrreportError as exc:
        return _not_run(query, FAILED, str(exc))
    if run_parameterised:
        result = run_parameterised(query.id, statement, text, time_range)
    else:
        result = source.run(query.id, text, time_range,
                            rebind=_rebinder(query, values, overrides))
    # A source may send more than the bound text (a prelude); keep what it actually sent.
    result.text = result.text or text
    result.parameters = values
    return result


def _parameter_runner(source: Source, query: Query) -> Callable[..., QueryResult] | None:
    """Return the source's `run_parameterised` if it has one and *query* allows parameters.

    Such a source gets the values apart from the query text, and the let-bound text to record
    in the result. Every other source gets the let-bound text alone.
    """
    if not query.parameterisable:
        return None
    return getattr(source, "run_parameterised", None)


def _rebinder(query: Query, values: dict[str, Any],
              overrides: dict[str, Any]) -> Callable[[TimeRange], str] | None:
    """Return a function binding *query* to a sub-range, if its header allows splitting."""
    if query.extra.get("splittable") != "yes":
        return None
    if "StartTime" in overrides or "EndTime" in overrides:
        return None
    if not (query.parameter("StartTime") and query.parameter("EndTime")):
        return None

    def rebind(sub_range: TimeRange) -> str:
        return query.bind({**values, "StartTime": sub_range.start, "EndTime": sub_range.end})

    return rebind


def _not_run(query: Query, status: str, message: str) -> QueryResult:
    now = utcnow()
    return QueryResult(query_id=query.id, status=status, message=message, started_at=now,
                       finished_at=now)


def collect(pack: QueryPack, source: Source, devices: list[str], time_range: TimeRange,
            overrides: dict[str, Any] | None = None, only: list[str] | None = None,
            progress: Progress | None = None,
            keep_arrays: dict[str, tuple[str, ...]] | None = None) -> Collection:
    """Run the pack's queries and gather their results, keyed in pack order.

    Up to the source's `max_concurrency` queries run at once; a query starts only when the
    queries feeding its parameters have finished. *progress* is always called on the calling
    thread, once when a query starts and once with its result. *keep_arrays* names, per query
    id, the columns whose numpy arrays a result keeps where the source made them. The others
    are dropped when the query returns.
    """
    keep_arrays = keep_arrays or {}
    overrides = overrides or {}
    collection = Collection(
        devices=list(devices), time_range=time_range, source_kind=source.kind,
        source_provenance=source.provenance(), pack_version=pack.version(),
    )
    needed = _with_feeders(pack, only, overrides) if only else None
    order = [q for q in pack.ordered() if needed is None or q.id in needed]

    def run_one(query: Query, earlier: dict[str, QueryResult]) -> QueryResult:
        result = run_query(source, query, devices, time_range, overrides, earlier)
        columns = keep_arrays.get(query.id, ())
        result.arrays = {name: result.arrays[name] for name in columns if name in result.arrays}
        return result

    limit = max(1, int(getattr(source, "max_concurrency", 1) or 1))
    if limit == 1:
        results = _run_in_order(order, run_one, progress)
    else:
        results = _run_concurrently(order, run_one, progress, limit, overrides)
    for query in order:
        collection.results[query.id] = results[query.id]
        collection.queries[query.id] = query
    return collection


RunOne = Callable[[Query, dict[str, QueryResult]], QueryResult]


def _run_in_order(order: list[Query], run_one: RunOne,
                  progress: Progress | None) -> dict[str, QueryResult]:
    done: dict[str, QueryResult] = {}
    for query in order:
        if progress:
            progress(query, None)
        done[query.id] = _finished(query, run_one(query, done), progress)
    return done


def _run_concurrently(order: list[Query], run_one: RunOne, progress: Progress | None,
                      limit: int, overrides: dict[str, Any]) -> dict[str, QueryResult]:
    scheduled = {q.id for q in order}
    needs = {q.id: _feeders(q, overrides) & scheduled for q in order}
    pending = list(order)
    running: dict[Future, Query] = {}
    done: dict[str, QueryResult] = {}
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="irreport-query") as pool:
        while pending or running:
            for query in [q for q in pending if needs[q.id] <= done.keys()]:
                if len(running) >= limit:
                    break
                pending.remove(query)
                if progress:
                    progress(query, None)
                running[pool.submit(run_one, query, dict(done))] = query
            if not running:
                raise RuntimeError(f"no query can start: {[q.id for q in pending]} wait on "
                                   "queries that never ran")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                query = running.pop(future)
                done[query.id] = _finished(query, future.result(), progress)
    return done


def _feeders(query: Query, overrides: dict[str, Any]) -> set[str]:
    return {p.feeds_from[0] for p in query.parameters
            if p.feeds_from and p.name not in overrides}


def _finished(query: Query, result: QueryResult, progress: Progress | None) -> QueryResult:
    if not result.ok:
        log.warning("query %s: %s: %s", query.id, result.status, result.message)
    if progress:
        progress(query, result)
    return result
