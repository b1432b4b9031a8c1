"""The process graph's floor benchmark on a few rows: its parts, never their times."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_floor_parts_cover_the_three_costs():
    sys.path.insert(0, str(BENCH))
    try:
        graph_floor = importlib.import_module("graph_floor")
        graph_timeline = importlib.import_module("graph_timeline")
    finally:
        sys.path.remove(str(BENCH))
    rows = graph_timeline.synthetic_rows(2_000, unique_ids=False)
    parts = graph_floor.floor_parts(rows, runs=1)
    assert list(parts) == ["read the columns of each row", "one attribute dict a process",
                           "networkx nodes and links"]
    assert all(seconds > 0 for seconds in parts.values())


def test_sql_sketch_links_every_synthetic_child():
    sys.path.insert(0, str(BENCH))
    try:
        sketch = importlib.import_module("graph_sql_sketch")
        figures = sketch.main(["--rows", "2000", "--runs", "1"])
    finally:
        sys.path.remove(str(BENCH))
    # Every row is a child with a parent; parents created before the rows begin are extra nodes.
    assert figures["links"] == 2000
    assert figures["nodes"] > 2000
    assert set(figures) >= {"SQL and fetch", "attribute dicts", "networkx storage", "total"}
