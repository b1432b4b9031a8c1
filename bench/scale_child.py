"""One measurement of `scale.py`, run in a fresh interpreter; prints its figures as JSON.

    python bench/scale_child.py stages FOLDER OUT
    python bench/scale_child.py graph FOLDER
    python bench/scale_child.py queries FOLDER RUNS
    python bench/scale_child.py render ROWS PDF
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import scale_data  # noqa: E402

from irreport.timerange import TimeRange  # noqa: E402

TIME_RANGE = TimeRange(scale_data.START, scale_data.END)
GENERATED_AT = "2026-12-04T00:00:00Z"


def reset_peak() -> None:
    """Reset the kernel's high-water mark of resident memory, where the kernel allows it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    def __init__(self) -> None:
        self.figures: dict[str, dict[str, float]] = {}

    @contextmanager
    def stage(self, name: str):
        reset_peak()
        started, cpu_started = time.perf_counter(), time.process_time()
        yield
        # CPU time counts every thread of the process, DuckDB's included, and none of the time
        # spent waiting for the disk or for a core.
        self.figures[name] = {"seconds": time.perf_counter() - started,
                              "cpu_seconds": time.process_time() - cpu_started,
                              "peak_mib": peak_mib()}


def run_stages(folder: Path, out: Path) -> dict:
    """Run the dossier of the incident device stage by stage, as `build_dossier` does."""
    from irreport.analysis.pipeline import add_process_graph, add_timeline, analyse_findings
    from irreport.analysis.process_graph import KEPT_ARRAYS
    from irreport.build import BuildRequest, _render, _write_evidence, incident_query_ids
    from irreport.collect import collect
    from irreport.memory import existing_objects_frozen
    from irreport.pack import QueryPack
    from irreport.sources.local import open_folder

    watch = Stopwatch()
    device = scale_data.INCIDENT_DEVICE
    with watch.stage("load"):
        source = open_folder(folder)
        pack = QueryPack.load()
    with watch.stage("query pack"):
        collection = collect(pack, source, [device], TIME_RANGE, only=incident_query_ids(pack),
                             keep_arrays=KEPT_ARRAYS)
    with watch.stage("findings"):
        analysis = analyse_findings(collection)
    with watch.stage("process graph"):
        add_process_graph(analysis, collection)
    with watch.stage("timeline"):
        add_timeline(analysis, collection)
    out.mkdir(parents=True, exist_ok=True)
    with watch.stage("evidence"):
        manifest = _write_evidence(collection, analysis, out, GENERATED_AT)
    request = BuildRequest(devices=[device], out_dir=out, formats=("html",))
    # build_dossier renders with the build's objects frozen, and so does this.
    with existing_objects_frozen():
        with watch.stage("html"):
            _render(collection, analysis, request, manifest, out, GENERATED_AT)
        with watch.stage("pdf"):
            from irreport.render.pdf import render_pdf

            render_pdf((out / "dossier.html").read_text(encoding="utf-8"), out / "dossier.pdf")

    from pypdf import PdfReader

    facts = {
        "rows_loaded": sum(source.row_counts.values()),
        "device_events": _device_events(source, device),
        "findings": sorted({finding.rule for finding in analysis.findings}),
        "graph_nodes": process_graph_size(analysis.graph),
        "timeline_events": len(analysis.timeline),
        "bursts": len(analysis.bursts),
        "pdf_pages": len(PdfReader(out / "dossier.pdf").pages),
        "failed_queries": sorted(r.query_id for r in collection.results.values() if not r.ok),
    }
    queries = {query_id: len(result.rows) for query_id, result in collection.results.items()}
    return {"stages": watch.figures, "facts": facts, "queries": queries}


def process_graph_size(graph) -> int:
    return graph.number_of_nodes() if graph is not None else 0


def _device_events(source, device: str) -> int:
    total = 0
    for table in scale_data.TABLE_SHARES:
        total += source.con.execute(f'SELECT count(*) FROM "{table}" WHERE DeviceName = ?',
                                    [device]).fetchone()[0]
    return total


def run_graph(folder: Path) -> dict:
    """Time irreport's process graph on the process-events rows and write its links."""
    import duckdb_kql

    from irreport.analysis.process_graph import build_process_graph
    from irreport.collect import run_query
    from irreport.pack import QueryPack
    from irreport.sources.local import open_path

    # Only the generated rows: the folder also receives this run's Parquet outputs.
    source = open_path(folder / "DeviceProcessEvents.jsonl")
    query = QueryPack.load().get("process-events")
    result = run_query(source, query, [scale_data.INCIDENT_DEVICE], TIME_RANGE, {}, {})
    # The same rows, as the query returns them, are what msticpy reads.
    duckdb_kql.kql(source.con, result.text).write_parquet(str(folder / "process-rows.parquet"))
    collection = RowsOnly(result.rows, result.arrays)
    reset_peak()
    started = time.perf_counter()
    graph = build_process_graph(collection)
    seconds = time.perf_counter() - started
    peak = peak_mib()
    links = [(graph.nodes[parent]["pid"], graph.nodes[parent]["created"],
              graph.nodes[child]["pid"], graph.nodes[child]["created"])
             for parent, child in graph.edges()]
    source.con.execute("CREATE TABLE links (parent_pid BIGINT, parent_created VARCHAR, "
                       "child_pid BIGINT, child_created VARCHAR)")
    # Four lists in one statement: executemany inserts row by row, minutes at a million links.
    columns = [list(values) for values in zip(*links)] if links else [[], [], [], []]
    source.con.execute("INSERT INTO links SELECT unnest($1::BIGINT[]), unnest($2::VARCHAR[]), "
                       "unnest($3::BIGINT[]), unnest($4::VARCHAR[])", columns)
    source.con.execute(f"COPY links TO '{folder / 'irreport-links.parquet'}' (FORMAT PARQUET)")
    return {"seconds": seconds, "peak_mib": peak, "rows": len(result.rows),
            "nodes": graph.number_of_nodes(), "links": len(links)}


class RowsOnly:
    """A stand-in for Collection that holds only the process-events rows and their arrays."""

    def __init__(self, rows: list[dict], arrays: dict):
        self.process_rows = rows
        self.process_arrays = arrays
        self.devices = [scale_data.INCIDENT_DEVICE]
        self.queries: dict = {}

    def rows(self, query_id: str) -> list[dict]:
        return self.process_rows if query_id == "process-events" else []

    def arrays(self, query_id: str) -> dict:
        return self.process_arrays if query_id == "process-events" else {}


def run_queries(folder: Path, runs: int) -> dict:
    """Time each pack query through duckdb-kql and as hand-written SQL; compare their rows.

    duckdb-kql runs each query four ways:

    - let-bound: the text the live sources get, translated on every run as the offline
      source translates it (`run_translated`);
    - cold: the parameterised text, translated with no cache;
    - first run: the parameterised text through a new, empty cache, which finds the
      translation among those that ship with irreport, as on a machine's first build;
    - warm: the parameterised text, with its translation already in the cache.

    A query whose header forbids parameters runs let-bound all three ways, as irreport runs it.
    """
    from irreport.build import incident_query_ids
    from irreport.collect import collect
    from irreport.pack import QueryPack
    from irreport.sources.local import open_folder

    source = open_folder(folder)
    pack = QueryPack.load()
    collection = collect(pack, source, [scale_data.INCIDENT_DEVICE], TIME_RANGE,
                         only=incident_query_ids(pack))
    figures = []
    for query_id, result in collection.results.items():
        sql_path = BENCH / "sql" / f"{query_id}.sql"
        if not sql_path.exists():
            figures.append({"query": query_id, "error": f"{sql_path.name} is missing"})
            continue
        figures.append(compare_query(source, pack.get(query_id), result, sql_path, runs))
    return {"queries": figures}


def compare_query(source, query, result, sql_path: Path, runs: int) -> dict:
    """Return the median seconds of one query run each way, and whether their rows agree."""
    from irreport.sources.statement import ExecutedStatement
    from irreport.sources.translation_cache import TranslationCache, run_translated

    con = source.con
    sql = sql_path.read_text(encoding="utf-8")
    defaults = {p.name: p.default for p in query.parameters if p.default is not None}
    parameters = sql_parameters(sql, {**defaults, **result.parameters})
    let_bound = cold = first = warm = partial(run_translated, con, result.text)
    if query.parameterisable:
        statement = query.parameterise(result.parameters)
        cold = partial(translated_afresh, con, statement)
        first = partial(first_run, con, statement)
        cache = TranslationCache(None)
        cache.run(con, statement).fetchall()
        warm = partial(cache.run, con, statement)
    ways = {"let": let_bound, "cold": cold, "first": first, "warm": warm,
            "sql": partial(ExecutedStatement, con, sql, parameters)}
    try:
        measured = timed_in_turn(ways, runs, compared={"let", "warm", "sql"})
    except Exception as exc:  # duckdb raises many unrelated types for one bad statement
        return {"query": query.id, "error": f"{sql_path.name} or its query failed: {exc}"}
    kql, sql_run = measured["warm"], measured["sql"]
    return {
        "query": query.id, "rows": kql["rows"], "parameterised": query.parameterisable,
        **{f"{name}_seconds": measured[name]["seconds"] for name in ways},
        "same_columns": kql["columns"] == sql_run["columns"],
        "same_rows": kql["canonical"] == sql_run["canonical"],
        "same_rows_let_bound": kql["canonical"] == measured["let"]["canonical"],
        "kql_columns": kql["columns"], "sql_columns": sql_run["columns"],
    }


def translated_afresh(con, statement):
    """Execute *statement* through an empty cache, so it is translated again."""
    from irreport.sources.translation_cache import TranslationCache

    return TranslationCache(None, bundle=None).run(con, statement)


def first_run(con, statement):
    """Execute *statement* through an empty cache with the shipped translations."""
    from irreport.sources.translation_cache import TranslationCache

    return TranslationCache(None).run(con, statement)


def sql_parameters(sql: str, values: dict) -> dict:
    """Return the pack's bound values that *sql* names as $Name, as DuckDB takes them."""
    import re

    used = set(re.findall(r"\$([A-Za-z]\w*)", sql))
    return {name: value for name, value in values.items() if name in used}


def timed_in_turn(ways: dict, runs: int, compared: set[str]) -> dict[str, dict]:
    """Return the median seconds of each way to execute and fetch a statement, taking turns.

    Each run times every way once, starting one way further on than the run before, so that a
    slow spell of the machine falls on all of them alike. The previous rows are freed outside
    the clock, and the cyclic collector is paused while rows are fetched, as the offline
    source pauses it. The ways in *compared* also return their last rows in canonical form.
    """
    from irreport.memory import collector_paused

    names = list(ways)
    durations: dict[str, list[float]] = {name: [] for name in names}
    measured: dict[str, dict] = {}
    for run in range(runs):
        for offset in range(len(names)):
            name = names[(run + offset) % len(names)]
            with collector_paused():
                started = time.perf_counter()
                statement = ways[name]()
                fetched = statement.fetchall()
                durations[name].append(time.perf_counter() - started)
            if run == runs - 1:
                measured[name] = {"rows": len(fetched), "columns": list(statement.columns),
                                  "canonical": canonical(fetched) if name in compared else None}
            del fetched
    for name in names:
        measured[name]["seconds"] = statistics.median(durations[name])
    return measured


def canonical(rows: list[tuple]) -> list[str]:
    """Return the rows as sorted JSON text, so that row order and value types do not matter."""
    return sorted(json.dumps([_plain(v) for v in row], sort_keys=True) for row in rows)


def _plain(value):
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (float, Decimal)):
        return round(float(value), 6)
    if isinstance(value, (list, tuple)):
        return sorted((_plain(v) for v in value), key=json.dumps)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _plain(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def run_render(rows: int, target: Path) -> dict:
    """Render a dossier-styled table of *rows* rows to PDF; return seconds and pages."""
    from pypdf import PdfReader

    from irreport.render.html import environment, templates_dir
    from irreport.render.pdf import render_pdf
    from irreport.render.views import table_view

    records = [{"Timestamp": f"2026-12-01T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
                "DeviceName": "testmachine3", "ActionType": "ConnectionSuccess",
                "RemoteIP": f"10.0.{i // 250 % 250}.{i % 250}", "RemotePort": 443,
                "InitiatingProcessFileName": "w3wp.exe",
                "InitiatingProcessCommandLine": f"c:\\windows\\system32\\inetsrv\\w3wp.exe -ap OrdersPool{i}"}
               for i in range(rows)]
    view = table_view(records, list(records[0]), limit=rows)
    # The dossier's own table macro and stylesheet, with nothing else on the pages.
    page = environment().from_string(
        '{% import "macros.html.j2" as m %}<!DOCTYPE html><html><head><meta charset="utf-8">'
        "<style>{{ css | safe }}</style></head><body>{{ m.table(view) }}</body></html>")
    html = page.render(css=(templates_dir() / "dossier.css").read_text(encoding="utf-8"), view=view)
    reset_peak()
    started = time.perf_counter()
    render_pdf(html, target)
    seconds = time.perf_counter() - started
    pages = len(PdfReader(target).pages)
    return {"seconds": seconds, "pages": pages, "peak_mib": peak_mib()}


def main() -> None:
    mode, *arguments = sys.argv[1:]
    if mode == "stages":
        figures = run_stages(Path(arguments[0]), Path(arguments[1]))
    elif mode == "graph":
        figures = run_graph(Path(arguments[0]))
    elif mode == "queries":
        figures = run_queries(Path(arguments[0]), int(arguments[1]))
    elif mode == "render":
        figures = run_render(int(arguments[0]), Path(arguments[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}; expected stages, graph, queries or render")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
