"""The process graph: identity of processes, attachments, marks, trees, drawing and export."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import networkx as nx
import pytest

from irreport.analysis.process_drawing import draw_process_tree
from irreport.analysis.process_graph import (
    attachments_of, build_process_graph, focused_subgraph, mark_from_alert_evidence,
    mark_processes, write_graph,
)
from irreport.analysis.process_identity import ProcessIndex, instant_text
from irreport.analysis.process_store import ProcessGraph
from irreport.analysis.process_tree import process_tree

T0 = datetime(2026, 12, 2, 14, 42, 5, 120000, tzinfo=timezone.utc)
DEVICE = "dev1"


class RowsOnly:
    """A stand-in for Collection that returns hand-written rows per query id."""

    def __init__(self, **rows_by_query):
        self.by_query = {key.replace("_", "-"): rows for key, rows in rows_by_query.items()}

    def rows(self, query_id):
        return self.by_query.get(query_id, [])


def created(pid, name, parent_pid, parent_name, at, parent_at, command_line="", **extra):
    row = {
        "Timestamp": at, "DeviceId": DEVICE, "DeviceName": "host1", "ActionType": "ProcessCreated",
        "ProcessId": pid, "FileName": name, "ProcessCommandLine": command_line or name,
        "ProcessCreationTime": at, "AccountDomain": "host1", "AccountName": "administrator1",
        "InitiatingProcessId": parent_pid, "InitiatingProcessFileName": parent_name,
        "InitiatingProcessCreationTime": parent_at,
    }
    row.update(extra)
    return row


def seconds(count: float) -> datetime:
    return T0 + timedelta(seconds=count)


def test_reused_pid_gives_two_nodes():
    rows = [created(500, "a.exe", 4, "explorer.exe", seconds(0), seconds(-100)),
            created(500, "b.exe", 4, "explorer.exe", seconds(60), seconds(-100))]
    graph = build_process_graph(RowsOnly(process_events=rows))
    names = sorted(graph.nodes[n]["name"] for n in graph if graph.nodes[n]["pid"] == 500)
    assert names == ["a.exe", "b.exe"]
    assert graph.number_of_nodes() == 3


def test_missing_parent_becomes_root():
    row = created(500, "a.exe", None, None, seconds(0), None)
    graph = build_process_graph(RowsOnly(process_events=[row]))
    (node,) = graph.nodes
    assert graph.in_degree(node) == 0
    assert graph.nodes[node]["seen_created"] is True


def test_initiating_process_becomes_node_with_grandparent():
    row = created(500, "whoami.exe", 300, "cmd.exe", seconds(1), seconds(0),
                  InitiatingProcessParentId=200, InitiatingProcessParentFileName="explorer.exe",
                  InitiatingProcessParentCreationTime=seconds(-500))
    graph = build_process_graph(RowsOnly(process_events=[row]))
    names = {graph.nodes[n]["name"]: n for n in graph}
    assert graph.has_edge(names["explorer.exe"], names["cmd.exe"])
    assert graph.has_edge(names["cmd.exe"], names["whoami.exe"])
    assert graph.nodes[names["cmd.exe"]]["seen_created"] is False
    assert graph.nodes[names["explorer.exe"]]["created"] == "2026-12-02T14:33:45.120Z"


@pytest.mark.parametrize("moment", [
    T0, T0.replace(microsecond=0), T0.replace(microsecond=999_999),
    datetime(1969, 12, 31, 23, 59, 59, 1000, tzinfo=timezone.utc),
    datetime(2026, 12, 31, 23, 59, 59, 999_500, tzinfo=timezone.utc),
])
def test_instant_text_cuts_to_milliseconds(moment):
    expected = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert instant_text(moment) == expected


def test_index_nearest_creation_within_tolerance():
    index = ProcessIndex()
    first = index.key_for(DEVICE, None, 500, seconds(0))
    later = index.key_for(DEVICE, None, 500, seconds(1.8))
    assert first != later
    assert index.key_for(DEVICE, None, 500, seconds(0.7)) == first
    assert index.key_for(DEVICE, None, 500, seconds(1.2)) == later
    assert index.key_for(DEVICE, None, 500, seconds(1.8)) == later
    assert index.key_for(DEVICE, None, 504, seconds(0)) not in (first, later)
    assert index.find(DEVICE, 500, seconds(-1.1)) is None
    assert index.latest_before(DEVICE, 500, seconds(1)) == first
    assert index.latest_before(DEVICE, 500, seconds(60)) == later


def test_unique_id_beats_pid_and_time():
    same_pid_time = dict(at=seconds(0), parent_at=seconds(-10))
    rows = [created(500, "a.exe", 4, "x.exe", ProcessUniqueId=11, **same_pid_time),
            created(500, "b.exe", 4, "x.exe", ProcessUniqueId=12, **same_pid_time),
            # The same process reported with a creation time a little off stays one node.
            created(500, "a.exe", 4, "x.exe", seconds(0.0004), seconds(-10), ProcessUniqueId=11)]
    graph = build_process_graph(RowsOnly(process_events=rows))
    assert f"{DEVICE}:u:11" in graph
    assert f"{DEVICE}:u:12" in graph
    assert len([n for n in graph if graph.nodes[n]["pid"] == 500]) == 2


def test_initiating_unique_id_links_to_parent():
    parent = created(300, "cmd.exe", 4, "explorer.exe", seconds(0), seconds(-10), ProcessUniqueId=7)
    child = created(500, "net.exe", 300, "cmd.exe", seconds(1), seconds(0), InitiatingProcessUniqueId=7)
    graph = build_process_graph(RowsOnly(process_events=[child, parent]))
    assert graph.has_edge(f"{DEVICE}:u:7", next(n for n in graph if graph.nodes[n]["name"] == "net.exe"))
    assert graph.number_of_nodes() == 3


def test_attachment_lands_on_actor():
    reg = created(700, "reg.exe", 300, "cmd.exe", seconds(10), seconds(0))
    other = created(700, "notepad.exe", 300, "cmd.exe", seconds(90), seconds(0))
    run_key = {
        "Timestamp": seconds(10.5), "DeviceId": DEVICE, "DeviceName": "host1",
        "ActionType": "RegistryValueSet", "RegistryKey": "HKCU\\Run", "RegistryValueName": "Upd",
        "RegistryValueData": "C:\\odupdate.exe", "InitiatingProcessFileName": "reg.exe",
        "InitiatingProcessId": 700, "InitiatingProcessCreationTime": seconds(10),
    }
    graph = build_process_graph(RowsOnly(process_events=[reg, other], run_keys=[run_key]))
    reg_node = next(n for n in graph if graph.nodes[n]["name"] == "reg.exe")
    (attachment,) = attachments_of(graph, reg_node)
    assert attachment["category"] == "registry"
    assert attachment["target"] == "HKCU\\Run\\Upd"
    assert graph.nodes[reg_node]["attachment_count"] == 1
    notepad = next(n for n in graph if graph.nodes[n]["name"] == "notepad.exe")
    assert attachments_of(graph, notepad) == []


def test_attachment_without_process_row_makes_node():
    connection = {
        "FirstSeen": seconds(5), "DeviceId": DEVICE, "DeviceName": "host1", "RemoteIP": "198.51.100.9",
        "RemotePort": 443, "Connections": 3, "ActionType": "ConnectionSuccess",
        "InitiatingProcessFileName": "svchost.exe", "InitiatingProcessId": 900,
        "InitiatingProcessCreationTime": seconds(-9000),
    }
    graph = build_process_graph(RowsOnly(outbound_connections=[connection]))
    (node,) = graph.nodes
    assert graph.nodes[node]["seen_created"] is False
    assert attachments_of(graph, node)[0]["target"] == "198.51.100.9:443"


def fan_out_graph(children: int) -> ProcessGraph:
    rows = [created(100 + 4 * i, "conhost.exe", 300, "cmd.exe", seconds(i), seconds(-1))
            for i in range(children)]
    rows.append(created(90, "whoami.exe", 300, "cmd.exe", seconds(0.5), seconds(-1)))
    return build_process_graph(RowsOnly(process_events=rows))


def test_fan_out_collapse_label():
    (root,) = process_tree(fan_out_graph(42).to_networkx())
    assert root.name == "cmd.exe"
    labels = [child.label for child in root.children]
    assert labels.count("+37 more conhost.exe") == 1
    assert len([c for c in root.children if c.name == "conhost.exe" and not c.collapsed_count]) == 5
    assert "whoami.exe (90)" in labels
    assert root.children[-1].collapsed_count == 37


def test_fan_out_keeps_marked_child():
    graph = fan_out_graph(20)
    last = max((n for n in graph if graph.nodes[n]["name"] == "conhost.exe"),
               key=lambda n: graph.nodes[n]["created"])
    mark_processes(graph, [last], "finding: test")
    (root,) = process_tree(graph.to_networkx())
    shown = [c for c in root.children if c.name == "conhost.exe" and not c.collapsed_count]
    assert len(shown) == 6
    assert shown[-1].marked is True
    assert root.children[-1].label == "+14 more conhost.exe"


def test_mark_reasons_join_once():
    graph = fan_out_graph(1)
    count = mark_processes(graph, lambda key, node: node["name"] == "whoami.exe", "alert: A")
    mark_processes(graph, lambda key, node: node["name"] == "whoami.exe", "alert: A")
    mark_processes(graph, lambda key, node: node["name"] == "whoami.exe", "finding: B")
    node = next(n for n in graph if graph.nodes[n]["name"] == "whoami.exe")
    assert count == 1
    assert graph.nodes[node]["mark_reasons"] == "alert: A; finding: B"


def test_alert_evidence_marks_by_command_line_and_sha1():
    rows = [created(300, "cmd.exe", 4, "explorer.exe", seconds(0), seconds(-9),
                    command_line='cmd.exe /c "x.cmd"'),
            created(500, "m.exe", 4, "explorer.exe", seconds(5), seconds(-9), SHA1="ABC123")]
    graph = build_process_graph(RowsOnly(process_events=rows))
    evidence = [
        {"EntityType": "Process", "ProcessCommandLine": 'CMD.EXE /c "x.cmd"', "Title": "Script"},
        {"EntityType": "File", "SHA1": "abc123", "FileName": "other.exe", "Title": "Mimikatz"},
        {"EntityType": "Ip", "RemoteIP": "203.0.113.77", "Title": "C2"},
    ]
    mark_from_alert_evidence(graph, evidence)
    reasons = {graph.nodes[n]["name"]: graph.nodes[n]["mark_reasons"] for n in graph}
    assert reasons["cmd.exe"] == "alert: Script"
    assert reasons["m.exe"] == "alert: Mimikatz"
    assert reasons["explorer.exe"] == ""


def test_alert_process_evidence_spares_other_runs():
    rows = [created(300, "net.exe", 4, "explorer.exe", seconds(0), seconds(-9),
                    command_line="net.exe user x /add", SHA1="ab"),
            created(500, "net.exe", 4, "explorer.exe", seconds(5), seconds(-9),
                    command_line="net.exe user", SHA1="ab")]
    graph = build_process_graph(RowsOnly(process_events=rows))
    evidence = [{"EntityType": "Process", "SHA1": "AB", "FileName": "net.exe",
                 "ProcessCommandLine": "net.exe user x /add", "Title": "New account"}]
    assert mark_from_alert_evidence(graph, evidence) == 1
    marked = [graph.nodes[n]["command_line"] for n in graph if graph.nodes[n]["marked"]]
    assert marked == ["net.exe user x /add"]


def test_focused_subgraph_is_ancestry_and_descendants():
    rows = [created(300, "cmd.exe", 4, "explorer.exe", seconds(0), seconds(-9)),
            created(500, "net.exe", 300, "cmd.exe", seconds(1), seconds(0)),
            created(600, "net1.exe", 500, "net.exe", seconds(2), seconds(1)),
            created(700, "notepad.exe", 4, "explorer.exe", seconds(3), seconds(-9))]
    graph = build_process_graph(RowsOnly(process_events=rows))
    cmd = next(n for n in graph if graph.nodes[n]["name"] == "cmd.exe")
    names = sorted(graph.nodes[n]["name"] for n in focused_subgraph(graph, cmd))
    assert names == ["cmd.exe", "explorer.exe", "net.exe", "net1.exe"]


def test_graphml_and_json_round_trip(tmp_path: Path):
    graph = fan_out_graph(3)
    mark_processes(graph, lambda key, node: node["name"] == "whoami.exe", "alert: A")
    graphml, node_link = write_graph(graph, tmp_path)
    loaded = nx.read_graphml(graphml)
    assert loaded.number_of_nodes() == graph.number_of_nodes()
    assert loaded.number_of_edges() == graph.number_of_edges()
    whoami = next(n for n in loaded if loaded.nodes[n]["name"] == "whoami.exe")
    assert loaded.nodes[whoami]["marked"] is True
    assert node_link.stat().st_size > 0


def test_drawing_writes_png_and_svg(tmp_path: Path):
    graph = fan_out_graph(40)
    png = draw_process_tree(graph.to_networkx(), tmp_path / "tree.png")
    svg = draw_process_tree(graph.to_networkx(), tmp_path / "tree.svg")
    assert png.stat().st_size > 1000
    assert svg.read_text(encoding="utf-8").startswith("<?xml")


def test_drawing_hostile_label(tmp_path: Path):
    row = created(500, "$\\alpha$<script>.exe", 4, "$x^{2}$.exe", seconds(0), seconds(-9),
                  command_line="$\\frac{1}{0}$ \u202eexe.txt")
    graph = build_process_graph(RowsOnly(process_events=[row]))
    mark_processes(graph, lambda key, node: True, "alert: $\\beta$")
    svg = draw_process_tree(graph.to_networkx(), tmp_path / "hostile.svg")
    assert svg.stat().st_size > 0


def drawn_text(graph: ProcessGraph, path: Path) -> str:
    """Return the SVG of *graph*'s drawing with its labels kept as text, not outlines."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        return draw_process_tree(graph.to_networkx(), path).read_text(encoding="utf-8")


def test_drawing_dates_a_tree_over_days(tmp_path: Path):
    two_days = 2 * 86400
    rows = [created(500, "whoami.exe", 40, "cmd.exe", seconds(0), seconds(-60)),
            created(40, "cmd.exe", 4, "explorer.exe", seconds(-60), seconds(-two_days))]
    graph = build_process_graph(RowsOnly(process_events=rows))
    text = drawn_text(graph, tmp_path / "days.svg")
    start = seconds(0).strftime("%Y-%m-%d")
    assert f"whoami.exe (500)  {start} " in text
    assert seconds(-two_days).strftime("%Y-%m-%d") in text


def test_drawing_shows_clock_within_a_day(tmp_path: Path):
    rows = [created(500, "whoami.exe", 40, "cmd.exe", seconds(0), seconds(-60))]
    graph = build_process_graph(RowsOnly(process_events=rows))
    text = drawn_text(graph, tmp_path / "day.svg")
    assert f"whoami.exe (500)  {seconds(0).strftime('%H:%M:%S')}" in text
    assert seconds(0).strftime("%Y-%m-%d") not in text


def test_drawing_prunes_large_tree_keeping_marks(tmp_path: Path):
    rows = [created(100 + 4 * i, f"tool{i}.exe", 300, "cmd.exe", seconds(i), seconds(-1))
            for i in range(200)]
    graph = build_process_graph(RowsOnly(process_events=rows))
    mark_processes(graph, lambda key, node: node["name"] == "tool199.exe", "alert: last")
    path = draw_process_tree(graph.to_networkx(), tmp_path / "big.png", max_nodes=40)
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("empty", [nx.DiGraph()])
def test_drawing_empty_graph(tmp_path: Path, empty):
    assert draw_process_tree(empty, tmp_path / "empty.png").stat().st_size > 0


def named(graph: ProcessGraph, name: str, command_part: str = "") -> list[str]:
    return [n for n in graph if graph.nodes[n]["name"] == name
            and command_part in graph.nodes[n]["command_line"]]


@pytest.fixture(scope="module")
def sample_graph(sample_collection):
    graph = build_process_graph(sample_collection)
    mark_from_alert_evidence(graph, sample_collection.rows("alert-evidence"))
    return graph


def test_sample_script_children(sample_graph):
    (script,) = named(sample_graph, "cmd.exe", "VeryCoolScript.cmd")
    children = sorted(sample_graph.nodes[c]["name"] for c in sample_graph.successors(script))
    assert children == ["conhost.exe", "findstr.exe", "findstr.exe", "ipconfig.exe", "net.exe",
                        "net.exe", "netstat.exe", "nltest.exe", "systeminfo.exe", "tasklist.exe",
                        "whoami.exe"]
    for net in (c for c in sample_graph.successors(script) if sample_graph.nodes[c]["name"] == "net.exe"):
        grandchildren = sorted(sample_graph.nodes[g]["name"] for g in sample_graph.successors(net))
        assert grandchildren == ["conhost.exe", "net1.exe"]
    (parent,) = sample_graph.predecessors(script)
    assert sample_graph.nodes[parent]["name"] == "explorer.exe"


def test_sample_script_marked_by_alerts(sample_graph):
    (script,) = named(sample_graph, "cmd.exe", "VeryCoolScript.cmd")
    assert sample_graph.nodes[script]["marked"] is True
    assert "alert: Password stealing from files" in sample_graph.nodes[script]["mark_reasons"]


def test_sample_run_key_on_reg_exe(sample_graph):
    (reg,) = named(sample_graph, "reg.exe", "OneDriveUpdate")
    targets = [a["target"] for a in attachments_of(sample_graph, reg) if a["category"] == "registry"]
    assert len(targets) == 1
    assert targets[0].endswith("\\CurrentVersion\\Run\\OneDriveUpdate")


def test_sample_connection_on_odupdate(sample_graph):
    (odupdate,) = named(sample_graph, "odupdate.exe")
    targets = {a["target"] for a in attachments_of(sample_graph, odupdate) if a["category"] == "network"}
    assert targets == {"203.0.113.77:443", "198.51.100.200:8443"}


def test_sample_script_drawing(sample_graph, tmp_path: Path):
    (script,) = named(sample_graph, "cmd.exe", "VeryCoolScript.cmd")
    path = draw_process_tree(focused_subgraph(sample_graph, script), tmp_path / "script.png")
    assert path.stat().st_size > 10000


def graph_facts(graph) -> tuple[list, list]:
    """Return a graph's nodes with their attributes, and its links, in order."""
    return ([(key, dict(attributes)) for key, attributes in graph.nodes(data=True)],
            list(graph.edges()))


class WithArrays(RowsOnly):
    """Process rows with the numpy columns a columnar source keeps beside them."""

    def __init__(self, rows, arrays):
        super().__init__(process_events=rows)
        self.process_arrays = arrays

    def arrays(self, query_id):
        return self.process_arrays if query_id == "process-events" else {}


class RowsOf:
    """Every result's rows of a collection, without the columns the source kept."""

    def __init__(self, collection):
        self.rows = collection.rows


def test_sample_graph_columns_match_rows(sample_collection):
    assert sample_collection.arrays("process-events"), "the offline source kept no columns"
    assert graph_facts(build_process_graph(sample_collection)) == \
        graph_facts(build_process_graph(RowsOf(sample_collection)))


def test_graph_from_columns_with_nulls():
    import duckdb

    from irreport.sources.local import _fetch

    rows = [created(500, "a.exe", 300, "cmd.exe", seconds(0), seconds(-5), SHA1="AB12"),
            # No creation time: the row's Timestamp dates the process.
            created(504, "b.exe", 300, "cmd.exe", None, seconds(-5), Timestamp=seconds(3)),
            # No parent id: the process is a root.
            created(508, "c.exe", None, None, seconds(4), None, SHA1=None),
            created(300, "cmd.exe", 4, "explorer.exe", seconds(-5), seconds(-60),
                    InitiatingProcessParentId=2, InitiatingProcessParentCreationTime=seconds(-99),
                    InitiatingProcessParentFileName="userinit.exe")]
    columns = sorted({name for row in rows for name in row})
    con = duckdb.connect()
    types = {"ProcessId": "BIGINT", "InitiatingProcessId": "BIGINT",
             "InitiatingProcessParentId": "BIGINT", "Timestamp": "TIMESTAMP",
             "ProcessCreationTime": "TIMESTAMP", "InitiatingProcessCreationTime": "TIMESTAMP",
             "InitiatingProcessParentCreationTime": "TIMESTAMP"}
    con.execute("CREATE TABLE p (" + ", ".join(
        f'"{name}" {types.get(name, "VARCHAR")}' for name in columns) + ")")
    for row in rows:
        con.execute(f"INSERT INTO p VALUES ({', '.join('?' * len(columns))})",
                    [row.get(name).replace(tzinfo=None) if isinstance(row.get(name), datetime)
                     else row.get(name) for name in columns])
    relation = con.sql("SELECT * FROM p")
    fetched, arrays = _fetch(relation, relation.columns, [str(t) for t in relation.types])
    assert arrays["InitiatingProcessId"].mask.tolist() == [False, False, True, False]
    from_columns = build_process_graph(WithArrays(fetched, arrays))
    assert graph_facts(from_columns) == graph_facts(build_process_graph(RowsOnly(process_events=fetched)))
    names = {from_columns.nodes[n]["name"]: n for n in from_columns}
    assert from_columns.nodes[names["b.exe"]]["created"] == "2026-12-02T14:42:08.120Z"
    assert from_columns.in_degree(names["c.exe"]) == 0
    assert from_columns.has_edge(names["userinit.exe"], names["explorer.exe"])
    assert from_columns.has_edge(names["cmd.exe"], names["b.exe"])
    assert from_columns.nodes[names["a.exe"]]["sha1"] == "ab12"
