"""Time a process graph whose identities are resolved in DuckDB SQL, a sketch irreport does not use.

    python bench/scale.py --graph-rows 1000000 --events 10000 --runs 1   # writes the rows
    python bench/graph_sql_sketch.py /tmp/irreport-scale/processes-1000000/process-rows.parquet
    python bench/graph_sql_sketch.py --rows 20000                       # synthetic rows

It answers one question: if the process-events rows were already in DuckDB, how long would a
networkx graph take when SQL does the matching? The sketch keys a process by device, process
id and creation time in milliseconds. A parent's key, made from the child's Initiating*
columns, is then the key of the row that created it, or a node of its own when no row did.
The sketch has none of irreport's one-second tolerance, grandparents or ProcessUniqueId, so
its time is a lower bound for that design. Times are the
median of --runs runs, split into SQL with the fetch, attribute dicts and networkx storage.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import duckdb
import networkx as nx

from irreport.memory import collector_paused

# The key text is device:pid:creation time, as irreport's node keys are.
KEY = "{device} || ':' || {pid} || ':' || strftime(make_timestamp({ms} * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')"
RESOLVE = f"""
WITH rows AS (
    SELECT DeviceId AS device, ProcessId AS pid, epoch_ms(ProcessCreationTime) AS ms,
           InitiatingProcessId AS parent_pid,
           epoch_ms(InitiatingProcessCreationTime) AS parent_ms,
           DeviceName, FileName, FolderPath, ProcessCommandLine, AccountDomain, AccountName, SHA1
    FROM processes)
SELECT {KEY.format(device="r.device", pid="r.pid", ms="r.ms")} AS key,
       {KEY.format(device="r.device", pid="r.parent_pid", ms="r.parent_ms")} AS parent,
       r.DeviceName AS device, r.pid, r.FileName AS name, r.FolderPath AS path,
       r.ProcessCommandLine AS command_line,
       CASE WHEN r.AccountDomain <> '' THEN r.AccountDomain || '\\' || r.AccountName
            ELSE coalesce(r.AccountName, '') END AS account,
       lower(coalesce(r.SHA1, '')) AS sha1,
       strftime(make_timestamp(r.ms * 1000), '%Y-%m-%dT%H:%M:%S.%gZ') AS created
FROM rows r
"""
ATTRIBUTES = ("device", "pid", "name", "path", "command_line", "account", "created", "sha1")


def build(con: duckdb.DuckDBPyConnection) -> tuple[nx.DiGraph, dict[str, float]]:
    """Return the sketch's graph of the `processes` table and the seconds of each part."""
    started = time.perf_counter()
    columns = {name: values.tolist() for name, values in con.execute(RESOLVE).fetchnumpy().items()}
    fetched = time.perf_counter()
    nodes = {key: {"device": device, "pid": pid, "name": name, "path": path,
                   "command_line": command_line, "account": account, "created": created,
                   "sha1": sha1, "seen_created": True, "marked": False, "mark_reasons": "",
                   "attachment_count": 0}
             for key, device, pid, name, path, command_line, account, created, sha1
             in zip(columns["key"], *(columns[name] for name in ATTRIBUTES))}
    attributed = time.perf_counter()
    successors = {key: {} for key in nodes}
    predecessors = {key: {} for key in nodes}
    for child, parent in zip(columns["key"], columns["parent"]):
        if parent is None or parent == child:
            continue
        if parent not in successors:
            nodes[parent] = {}
            successors[parent] = {}
            predecessors[parent] = {}
        successors[parent][child] = predecessors[child][parent] = {}
    graph = nx.DiGraph()
    graph._node.update(nodes)
    graph._succ.update(successors)
    graph._pred.update(predecessors)
    stored = time.perf_counter()
    return graph, {"SQL and fetch": fetched - started, "attribute dicts": attributed - fetched,
                   "networkx storage": stored - attributed, "total": stored - started}


def load(con: duckdb.DuckDBPyConnection, parquet: Path | None, rows: int) -> None:
    if parquet is not None:
        con.execute("CREATE TABLE processes AS SELECT * FROM read_parquet(?)", [str(parquet)])
        return
    from graph_timeline import synthetic_rows

    generated = synthetic_rows(rows, unique_ids=False)
    names = ["DeviceId", "ProcessId", "ProcessCreationTime", "InitiatingProcessId",
             "InitiatingProcessCreationTime", "DeviceName", "FileName", "FolderPath",
             "ProcessCommandLine", "AccountDomain", "AccountName", "SHA1"]
    con.execute("CREATE TABLE processes AS SELECT " + ", ".join(
        f"unnest(${i + 1}) AS {name}" for i, name in enumerate(names)),
        [[row.get(name) for row in generated] for name in names])


def main(arguments: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet", type=Path, nargs="?",
                        help="process-rows.parquet written by bench/scale.py")
    parser.add_argument("--rows", type=int, default=20_000,
                        help="synthetic rows when no Parquet file is given (default: 20000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (default: 3)")
    options = parser.parse_args(arguments)

    con = duckdb.connect()
    load(con, options.parquet, options.rows)
    runs = []
    for _ in range(options.runs):
        with collector_paused():
            graph, seconds = build(con)
        runs.append(seconds)
    medians = {part: statistics.median(run[part] for run in runs) for part in runs[0]}
    print(f"{graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} links, "
          f"median of {options.runs} runs")
    for part, seconds in medians.items():
        print(f"  {part:<18} {seconds:>7.2f} s")
    return {**medians, "nodes": graph.number_of_nodes(), "links": graph.number_of_edges()}


if __name__ == "__main__":
    main()
