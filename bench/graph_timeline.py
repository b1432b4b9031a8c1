"""Time the process graph and the timeline on synthetic DeviceProcessEvents rows.

    python bench/graph_timeline.py                  # 100k and 1M rows
    python bench/graph_timeline.py --rows 20000     # a quick run
    python bench/graph_timeline.py --unique-ids     # rows that carry ProcessUniqueId

Rows have the columns of the process-events query. Each new process's parent is drawn from the
recent processes and a few long-lived system ones, process ids come from the Windows range in
steps of 4 so they get reused, and gaps between rows are exponential around 50 ms. Times are the
median of --runs runs. Peak memory is the tracemalloc peak of one more run, so it counts the
graph or the events but not the input rows.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from irreport.analysis.process_graph import build_process_graph
from irreport.analysis.timeline import build_timeline, find_bursts

START = datetime(2026, 12, 1, tzinfo=timezone.utc)
IMAGES = ["svchost.exe", "conhost.exe", "cmd.exe", "powershell.exe", "chrome.exe", "msedge.exe",
          "OneDrive.exe", "Teams.exe", "MsMpEng.exe", "taskhostw.exe", "whoami.exe", "net.exe"]
RECENT_PARENTS = 2000


class RowsOnly:
    """A stand-in for Collection with only the process-events rows."""

    def __init__(self, rows: list[dict]):
        self.process_rows = rows
        self.devices = ["busy-host"]
        self.queries: dict = {}

    def rows(self, query_id: str) -> list[dict]:
        return self.process_rows if query_id == "process-events" else []


def _process(rng: random.Random, moment: datetime, unique_id: int) -> dict:
    name = rng.choice(IMAGES)
    return {"pid": rng.randrange(4, 65536, 4), "name": name, "created": moment,
            "command_line": f"{name} --job {rng.randrange(10**6)}", "unique_id": unique_id,
            "path": f"c:\\windows\\system32\\{name.lower()}", "sha1": f"{rng.getrandbits(160):040x}"}


def synthetic_rows(count: int, unique_ids: bool, seed: int = 7) -> list[dict]:
    """Return *count* ProcessCreated rows of one busy device."""
    rng = random.Random(seed)
    moment = START
    system = [_process(rng, START - timedelta(days=3), index) for index in range(1, 9)]
    recent = list(system)
    rows = []
    for index in range(count):
        moment += timedelta(seconds=rng.expovariate(20.0))
        parent = rng.choice(system) if rng.random() < 0.3 else rng.choice(recent)
        child = _process(rng, moment, 100 + index)
        row = {
            "Timestamp": moment, "DeviceId": "0" * 40, "DeviceName": "busy-host",
            "ActionType": "ProcessCreated", "FileName": child["name"], "FolderPath": child["path"],
            "SHA1": child["sha1"], "ProcessId": child["pid"], "ProcessCommandLine": child["command_line"],
            "ProcessCreationTime": moment, "AccountDomain": "corp", "AccountName": "user1",
            "InitiatingProcessId": parent["pid"], "InitiatingProcessFileName": parent["name"],
            "InitiatingProcessCommandLine": parent["command_line"],
            "InitiatingProcessCreationTime": parent["created"], "InitiatingProcessFolderPath": parent["path"],
            "InitiatingProcessAccountName": "user1", "InitiatingProcessSHA1": parent["sha1"],
        }
        if unique_ids:
            row["ProcessUniqueId"] = child["unique_id"]
            row["InitiatingProcessUniqueId"] = parent["unique_id"]
        rows.append(row)
        recent.append(child)
        if len(recent) > RECENT_PARENTS:
            recent.pop(0)
    return rows


def measure(work: Callable[[], object], runs: int) -> tuple[float, float]:
    """Return the median seconds over *runs* runs and the tracemalloc peak in MiB of one more."""
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        durations.append(time.perf_counter() - started)
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(durations), peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="row counts to measure (default: 100000 1000000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement (default: 3)")
    parser.add_argument("--unique-ids", action="store_true", help="give rows ProcessUniqueId columns")
    options = parser.parse_args()

    print(f"{'rows':>9} {'step':<22} {'median s':>9} {'rows/s':>10} {'peak MiB':>9}")
    for count in options.rows:
        collection = RowsOnly(synthetic_rows(count, options.unique_ids))
        steps = {
            "build_process_graph": lambda: build_process_graph(collection),
            "build_timeline+bursts": lambda: find_bursts(build_timeline(collection)),
        }
        for name, work in steps.items():
            seconds, peak = measure(work, options.runs)
            print(f"{count:>9} {name:<22} {seconds:>9.2f} {count / seconds:>10.0f} {peak:>9.0f}")


if __name__ == "__main__":
    main()
