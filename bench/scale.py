"""How irreport's cost grows with the number of events, stage by stage, with baselines.

    python bench/scale.py                        # the full ladder, 3 runs each: hours
    python bench/scale.py --events 10000 100000 --graph-rows 100000 --runs 1
    python bench/scale.py --quick                # about half a minute, what the tests run
    python bench/scale.py --write-docs docs/benchmarks.md

One run of the command does four things, each measurement in a fresh subprocess:

1. Stages: for each --events size it writes the bundled incident amid benign noise on one
   busy device (`scale_data`), then times load, query pack, findings, process graph,
   timeline, evidence files, HTML and PDF, with the peak resident set size of each stage.
2. Process graph against msticpy: for each --graph-rows size, the rows of the pack's
   process-events query go to irreport's builder and to msticpy's `build_process_tree`
   (run by the --msticpy interpreter, a separate venv), and both parent-child link sets
   are compared.
3. Query pack against hand-written SQL: each pack query through duckdb-kql, and the same
   question in DuckDB SQL from `bench/sql/<query id>.sql`, on the same connection, with the
   same parameter values; both must return the same rows. duckdb-kql runs each query
   let-bound (translated every run), cold (parameterised, translated with no cache), first
   run (parameterised, an empty cache with the translations that ship with irreport) and
   warm (parameterised, translation cached), and the parameterised rows must equal the
   let-bound.
4. Rendering: PDF seconds per page for tables of --render-rows rows.

Medians are over --runs runs. Peak memory per stage is the process's VmHWM after the stage,
with the high-water mark reset (`/proc/self/clear_refs`) before it, so it is the most the
whole process held during that stage. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import scale_checks  # noqa: E402  (bench/ is not a package)
import scale_data  # noqa: E402
import scale_report  # noqa: E402

FULL_EVENTS = [10_000, 100_000, 1_000_000, 5_000_000]
FULL_GRAPH_ROWS = [10_000, 100_000, 1_000_000]
RENDER_ROWS = [100, 1_000, 10_000]
STAGES = ["load", "query pack", "findings", "process graph", "timeline", "evidence", "html", "pdf"]
# Failed checks of this run, empty when every check passed.
PROBLEMS: list[str] = []
DEFAULT_MSTICPY = BENCH / ".venv" / "bin" / "python"


def child(mode: str, *arguments: str, python: str = sys.executable, timeout: float | None = None,
          environment: dict[str, str] | None = None) -> dict:
    """Run one measurement in a fresh interpreter and return the JSON it prints last."""
    script = BENCH / ("msticpy_tree.py" if mode == "msticpy" else "scale_child.py")
    command = [python, str(script)] + ([] if mode == "msticpy" else [mode]) + list(arguments)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(environment or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {done.returncode}:\n"
                           f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_runs(runs: list[dict], path: list[str]) -> float:
    values = []
    for run in runs:
        value = run
        for key in path:
            value = value[key]
        values.append(value)
    return statistics.median(values)


def measure_stages(workdir: Path, sizes: list[int], devices: int, runs: int) -> list[dict]:
    """Return, per size, the median seconds and peak MiB of every stage, and the checks."""
    results = []
    for events in sizes:
        folder = workdir / f"events-{events}"
        started = time.perf_counter()
        data = scale_data.generate(folder, events, devices)
        generated = time.perf_counter() - started
        print(f"{events:>9} events: data written in {generated:.1f} s "
              f"({sum(data.rows_per_table.values())} noise rows)", flush=True)
        # Without the disk cache of translated queries every run is a responder's first one.
        done = [child("stages", str(folder), str(workdir / f"out-{events}-{run}"),
                      environment={"IRREPORT_KQL_CACHE": "none"})
                for run in range(runs)]
        PROBLEMS.extend(scale_checks.stage_problems(done[0], events))
        row = {"events": events, "devices": devices, "runs": runs, "facts": done[0]["facts"],
               "queries": done[0]["queries"], "stages": {}}
        for stage in STAGES:
            row["stages"][stage] = {
                figure: median_runs(done, ["stages", stage, figure])
                for figure in ("seconds", "cpu_seconds", "peak_mib")}
        row["total_seconds"] = statistics.median(
            sum(run["stages"][s]["seconds"] for s in STAGES) for run in done)
        row["total_cpu_seconds"] = statistics.median(
            sum(run["stages"][s]["cpu_seconds"] for s in STAGES) for run in done)
        row["peak_mib"] = statistics.median(
            max(run["stages"][s]["peak_mib"] for s in STAGES) for run in done)
        results.append(row)
        scale_report.print_stages(row, STAGES)
    return results


def measure_graph(workdir: Path, sizes: list[int], runs: int, msticpy: str | None) -> list[dict]:
    """Return, per size, both builders' median seconds, peak MiB and the link comparison."""
    results = []
    for rows in sizes:
        folder = workdir / f"processes-{rows}"
        scale_data.generate_processes(folder, rows)
        ours = [child("graph", str(folder)) for _ in range(runs)]
        row = {"rows": rows, "irreport_seconds": median_runs(ours, ["seconds"]),
               "irreport_peak_mib": median_runs(ours, ["peak_mib"]), "links": ours[0]["links"]}
        if msticpy:
            theirs = [child("msticpy", str(folder / "process-rows.parquet"),
                            str(folder / "msticpy-links.parquet"), python=msticpy)
                      for _ in range(runs)]
            row["msticpy_seconds"] = median_runs(theirs, ["seconds"])
            row["msticpy_peak_mib"] = median_runs(theirs, ["peak_mib"])
            row["msticpy_version"] = theirs[0]["version"]
            row["comparison"] = scale_checks.compare_links(folder / "irreport-links.parquet",
                                                           folder / "msticpy-links.parquet")
        PROBLEMS.extend(scale_checks.graph_problems(row))
        results.append(row)
        scale_report.print_graph(row)
    return results


def measure_queries(workdir: Path, events: int, runs: int) -> list[dict]:
    """Return each pack query's median seconds through duckdb-kql and as hand-written SQL."""
    folder = workdir / f"events-{events}"
    if not folder.exists():
        scale_data.generate(folder, events)
    done = child("queries", str(folder), str(runs))
    PROBLEMS.extend(scale_checks.query_problems(done["queries"]))
    for row in done["queries"]:
        row["events"] = events
    scale_report.print_queries(done["queries"])
    return done["queries"]


def measure_render(workdir: Path, sizes: list[int], runs: int) -> list[dict]:
    results = []
    for rows in sizes:
        done = [child("render", str(rows), str(workdir / f"table-{rows}.pdf")) for _ in range(runs)]
        results.append({"rows": rows, "pages": done[0]["pages"],
                        "seconds": median_runs(done, ["seconds"]),
                        "peak_mib": median_runs(done, ["peak_mib"])})
        scale_report.print_render(results[-1])
    return results


def find_msticpy(option: str | None) -> str | None:
    if option == "none":
        return None
    python = Path(option) if option else DEFAULT_MSTICPY
    if python.exists():
        return str(python)
    print(f"msticpy comparison skipped: {python} not found; create it with "
          "python3 -m venv bench/.venv && bench/.venv/bin/pip install msticpy pyarrow, "
          "or pass --msticpy PATH", file=sys.stderr)
    return None


def machine() -> dict:
    """Describe the machine the figures come from."""
    import duckdb

    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    memory_kib = next(int(line.split()[1]) for line in
                      Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1),
            "python": platform.python_version(), "system": f"{platform.system()} {platform.machine()}",
            "duckdb": duckdb.__version__, "load_before": os.getloadavg(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=FULL_EVENTS,
                        help="events on the busy device, one data set per value "
                             "(default: 10000 100000 1000000 5000000)")
    parser.add_argument("--devices", type=int, default=1,
                        help="busy devices per data set; the dossier covers the first (default: 1)")
    parser.add_argument("--graph-rows", type=int, nargs="+", default=FULL_GRAPH_ROWS,
                        help="process rows for the msticpy comparison (default: 10000 100000 1000000)")
    parser.add_argument("--query-events", type=int, default=None,
                        help="data set size for the hand-written SQL comparison (default: the "
                             "largest --events value up to 1000000)")
    parser.add_argument("--render-rows", type=int, nargs="+", default=RENDER_ROWS,
                        help="table rows for the PDF cost per page (default: 100 1000 10000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (default: 3)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the generated data and outputs, which the full ladder "
                             "fills with about 23 GB (default: a new folder in the system's "
                             "temporary folder, named at the start and kept)")
    parser.add_argument("--msticpy", default=None,
                        help="Python with msticpy installed, or 'none' to skip that comparison "
                             "(default: bench/.venv/bin/python)")
    parser.add_argument("--write-docs", type=Path, default=None,
                        help="replace the generated tables of this Markdown page")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one run, to check that everything works")
    options = parser.parse_args(argv)
    if options.quick:
        options.events, options.graph_rows, options.render_rows = [6_000], [2_000], [100]
        options.runs = 1
    if options.query_events is None:
        options.query_events = max([e for e in options.events if e <= 1_000_000] or [min(options.events)])
    return options


def main(argv: list[str] | None = None) -> dict:
    options = parse_arguments(argv)
    if options.workdir is None:
        # A folder of its own, so that two runs on one machine never write over each other.
        options.workdir = Path(tempfile.mkdtemp(prefix="irreport-scale-"))
    options.workdir.mkdir(parents=True, exist_ok=True)
    print(f"data and outputs in {options.workdir}; remove it when done", flush=True)
    msticpy = find_msticpy(options.msticpy)
    figures = {"machine": machine(), "command": " ".join(sys.argv[1:]) if argv is None else " ".join(argv)}
    # The comparisons come first because the stages of the largest sizes take longest.
    median = f"median of {options.runs} run{'s' if options.runs > 1 else ''}"
    scale_report.print_heading(f"Process graph, irreport against msticpy's builder ({median})")
    figures["graph"] = measure_graph(options.workdir, options.graph_rows, options.runs, msticpy)
    scale_report.print_heading(
        f"Pack queries on {options.query_events} events ({median}): duckdb-kql with values "
        "let-bound, parameterised without any cache (cold), with only the shipped translations "
        "(first run) and with the translation cache (warm), "
        "and the same question in hand-written DuckDB SQL")
    figures["queries"] = measure_queries(options.workdir, options.query_events, options.runs)
    scale_report.print_heading(f"PDF rendering of one table ({median})")
    figures["render"] = measure_render(options.workdir, options.render_rows, options.runs)
    scale_report.print_heading(f"Dossier stages ({median})")
    figures["stages"] = measure_stages(options.workdir, options.events, options.devices, options.runs)
    figures["machine"]["load_after"] = os.getloadavg()
    figures["problems"] = list(PROBLEMS)
    for problem in PROBLEMS:
        print(f"check failed: {problem}", file=sys.stderr)
    if not PROBLEMS:
        print("checks: all passed")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    if options.write_docs:
        scale_report.write_docs(options.write_docs, figures, STAGES)
    return figures


if __name__ == "__main__":
    # A failed check (rows or links that differ) exits 1 after the figures are written.
    sys.exit(1 if main()["problems"] else 0)
