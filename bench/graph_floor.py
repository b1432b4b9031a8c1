"""Measure what any process graph of networkx and dict rows costs, beside irreport's builder.

    python bench/graph_floor.py                       # 1M rows, 3 runs
    python bench/graph_floor.py --rows 100000 --msticpy-seconds 4.2

The builder's time is split into parts that a builder with the same input and output cannot
avoid, whatever it does about process identity:

- reading the 24 columns the graph uses from each row dict;
- making one attribute dict per process;
- filling networkx's node and adjacency dicts for those processes and their links.

Their sum is a floor. With --msticpy-seconds (msticpy's time on the same number of rows, from
bench/scale.py) it prints the time a tenfold margin allows and how much of it the floor uses.
Rows come from bench/graph_timeline.py's generator. Times are medians of --runs runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from graph_timeline import RowsOnly, synthetic_rows

from irreport.analysis.process_graph import (
    PROCESS_COLUMNS, _column_values, _digraph, _GraphBuilder, _process_attributes,
    build_process_graph,
)
from irreport.memory import collector_paused


def median_seconds(work: Callable[[], object], runs: int) -> float:
    durations = []
    for _ in range(runs):
        with collector_paused():
            started = time.perf_counter()
            work()
            durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def floor_parts(rows: list[dict], runs: int) -> dict[str, float]:
    """Return the median seconds of each unavoidable part on *rows*."""
    builder = _GraphBuilder()
    builder.add_process_rows(rows)
    node_count = len(builder.nodes)

    def read_columns() -> None:
        for _ in _column_values(rows, PROCESS_COLUMNS):
            pass

    def attribute_dicts() -> list:
        return [_process_attributes("busy-host", 4, None, "cmd.exe", "c:\\windows\\cmd.exe",
                                    "cmd.exe /c", "corp\\user1", "ab" * 20)
                for _ in range(node_count)]

    def networkx_storage() -> object:
        # _digraph takes the node dicts without copying, so each run gets its own.
        return _digraph({key: {} for key in builder.nodes}, dict(builder.parent_of))

    return {
        "read the columns of each row": median_seconds(read_columns, runs),
        "one attribute dict a process": median_seconds(attribute_dicts, runs),
        "networkx nodes and links": median_seconds(networkx_storage, runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="process rows (default: 1000000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per part (default: 3)")
    parser.add_argument("--msticpy-seconds", type=float,
                        help="msticpy's time on as many rows, to compare the floor with")
    options = parser.parse_args()

    rows = synthetic_rows(options.rows, unique_ids=False)
    collection = RowsOnly(rows)
    build = median_seconds(lambda: build_process_graph(collection), options.runs)
    parts = floor_parts(rows, options.runs)
    floor = sum(parts.values())

    print(f"{options.rows:,} process rows, median of {options.runs} runs")
    print(f"  {'build_process_graph':<32} {build:>7.2f} s")
    for name, seconds in parts.items():
        print(f"  {name:<32} {seconds:>7.2f} s")
    print(f"  {'floor (sum of the parts)':<32} {floor:>7.2f} s, {floor / build:.0%} of the build")
    if options.msticpy_seconds:
        budget = options.msticpy_seconds / 10
        print(f"  a tenfold margin over msticpy allows {budget:.2f} s; the floor uses "
              f"{floor / budget:.0%} of it, leaving {budget - floor:.2f} s for identities")


if __name__ == "__main__":
    main()
