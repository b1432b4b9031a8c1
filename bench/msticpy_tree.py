"""Time msticpy's process tree builder on DeviceProcessEvents rows; write its parent links.

    <python with msticpy> bench/msticpy_tree.py ROWS.parquet LINKS.parquet

Runs in the benchmark's own venv, never in irreport's. Reads the rows of irreport's
process-events query, builds the tree with msticpy's schema for Advanced Hunting
DeviceProcessEvents, and writes one row per parent-child link as (parent_pid,
parent_created, child_pid, child_created), times as ISO 8601 UTC at millisecond precision,
the form irreport's graph uses. Prints seconds, peak MiB and the msticpy version as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def iso_ms(column):
    import pandas as pd

    moments = pd.to_datetime(column, utc=True)
    return moments.dt.strftime("%Y-%m-%dT%H:%M:%S.") + (moments.dt.microsecond // 1000).map(
        "{:03d}".format) + "Z"


def main() -> None:
    import msticpy
    import pandas as pd
    from msticpy.transform.proc_tree_builder import build_process_tree
    from msticpy.transform.proc_tree_schema import MDE_EVENT_SCH

    rows_path, links_path = Path(sys.argv[1]), Path(sys.argv[2])
    rows = pd.read_parquet(rows_path)
    for column in ("Timestamp", "ProcessCreationTime", "InitiatingProcessCreationTime",
                   "InitiatingProcessParentCreationTime"):
        if column in rows:
            rows[column] = pd.to_datetime(rows[column], utc=True)
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    started = time.perf_counter()
    tree = build_process_tree(rows, schema=MDE_EVENT_SCH)
    seconds = time.perf_counter() - started
    peak = peak_mib()

    # msticpy renames the Advanced Hunting columns to its own MDE names; its index is the
    # process key and parent_key points at another row's index.
    nodes = pd.DataFrame({"pid": tree["CreatedProcessId"].astype("int64"),
                          "created": iso_ms(tree["CreatedProcessCreationTime"])},
                         index=tree.index)
    children = tree[tree["parent_key"].notna()]
    parents = nodes.reindex(children["parent_key"])
    links = pd.DataFrame({
        "parent_pid": parents["pid"].to_numpy(), "parent_created": parents["created"].to_numpy(),
        "child_pid": nodes.loc[children.index, "pid"].to_numpy(),
        "child_created": nodes.loc[children.index, "created"].to_numpy(),
    }).dropna()
    links["parent_pid"] = links["parent_pid"].astype("int64")
    links.to_parquet(links_path, index=False)
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "rows": len(rows),
                      "nodes": len(tree), "links": len(links), "version": msticpy.__version__}))


if __name__ == "__main__":
    main()
