"""The process graph: which process started which, and what each one did.

A node is one process, keyed `<device>:u:<ProcessUniqueId>` where the data has the unique id
and `<device>:<pid>:<creation time>` otherwise (see `process_identity`). Edges run from the
initiating process to the process it created. Files written, connections made, registry values
set and the other events the mapping marks `attach = true` are kept per node in
`graph.graph["attachments"]`, outside the node attributes, so the attributes stay GraphML scalars.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx

from irreport.analysis import graph_files
from irreport.analysis.event_mapping import EventSpec, as_utc, load_specs
from irreport.analysis.process_identity import ProcessIndex, instant_text
from irreport.memory import collector_paused

log = logging.getLogger(__name__)

PROCESS_QUERY = "process-events"
# The columns of a process-creation row that the graph reads, in the order
# `_GraphBuilder.add_process_rows` unpacks them.
PROCESS_COLUMNS = (
    "DeviceId", "DeviceName", "ProcessUniqueId", "ProcessId", "ProcessCreationTime", "Timestamp",
    "FileName", "FolderPath", "ProcessCommandLine", "AccountDomain", "AccountName", "SHA1",
    "InitiatingProcessUniqueId", "InitiatingProcessId", "InitiatingProcessCreationTime",
    "InitiatingProcessFileName", "InitiatingProcessFolderPath", "InitiatingProcessCommandLine",
    "InitiatingProcessAccountDomain", "InitiatingProcessAccountName", "InitiatingProcessSHA1",
    "InitiatingProcessParentId", "InitiatingProcessParentCreationTime",
    "InitiatingProcessParentFileName",
)
ATTACHMENTS = "attachments"
NodePredicate = Callable[[str, dict[str, Any]], bool]


def _account(domain: Any, name: Any) -> str:
    if domain and name:
        return f"{domain}\\{name}"
    return str(name or "")


def _process_attributes(device: str, pid: Any, created: datetime | None, name: Any,
                        path: Any = "", command_line: Any = "", account: str = "",
                        sha1: Any = "") -> dict[str, Any]:
    """Return the node attributes of a process; *created* is a UTC time, as `as_utc` makes."""
    return {
        "device": device,
        "pid": int(pid) if pid is not None else -1,
        "name": str(name or ""),
        "path": str(path or ""),
        "command_line": str(command_line or ""),
        "account": account,
        "created": instant_text(created) if created else "",
        "sha1": str(sha1 or "").lower(),
        "seen_created": False,
        "marked": False,
        "mark_reasons": "",
        "attachment_count": 0,
    }


class _GraphBuilder:
    """Collects nodes and parent links in dicts; the networkx graph is made once at the end."""

    def __init__(self) -> None:
        self.index = ProcessIndex()
        self.nodes: dict[str, dict[str, Any]] = {}
        self.parent_of: dict[str, str] = {}
        self.parent_guess: dict[str, str] = {}
        self.device_ids: dict[str, str] = {}
        self.attachments: dict[str, list[dict[str, Any]]] = {}

    def device_key(self, row: dict[str, Any], name_column: str = "DeviceName") -> str:
        return self.device_for(row.get("DeviceId"), row.get(name_column))

    def register_unique_ids(self, row: dict[str, Any], device: str) -> None:
        for unique_id, pid, created in (
            ("ProcessUniqueId", "ProcessId", "ProcessCreationTime"),
            ("InitiatingProcessUniqueId", "InitiatingProcessId", "InitiatingProcessCreationTime"),
        ):
            if row.get(unique_id) is not None:
                self.index.key_for(device, row[unique_id], row.get(pid), as_utc(row.get(created)))

    def add_node(self, key: str, attributes: dict[str, Any], created_row: bool = False) -> None:
        node = self.nodes.get(key)
        if node is None:
            self.nodes[key] = attributes
            node = attributes
        else:
            # The first row with a value wins. A creation row and the rows of one process's
            # own actions carry the same values, so row order matters only for empty fields.
            for name, value in attributes.items():
                if value not in ("", -1) and node.get(name) in ("", -1):
                    node[name] = value
        if created_row:
            node["seen_created"] = True

    def device_for(self, device_id: Any, name: Any) -> str:
        """Return the DeviceId of a device, learned from rows that carry both columns."""
        if device_id:
            self.device_ids.setdefault(str(name or "").lower(), device_id)
            return str(device_id)
        return self.device_ids.get(str(name or "").lower(), str(name or ""))

    def add_process_rows(self, rows: list[dict[str, Any]]) -> None:
        """Add the process, its parent and grandparent named by each process-creation row.

        One loop over tuples of the columns, because this runs once per process row and a
        busy server has millions of them.
        """
        key_for = self.index.key_for
        nodes = self.nodes
        for (device_id, device_name, unique_id, pid, created, timestamp, name, path, command_line,
             domain, account, sha1, parent_unique_id, parent_pid, parent_created, parent_name,
             parent_path, parent_command_line, parent_domain, parent_account, parent_sha1,
             grand_pid, grand_created, grand_name) in _column_values(rows, PROCESS_COLUMNS):
            device = self.device_for(device_id, device_name)
            device_name = str(device_name or device)
            created = as_utc(created) or as_utc(timestamp)
            child = key_for(device, unique_id, pid, created)
            if child is None:
                continue
            self.add_node(child, _process_attributes(
                device_name, pid, created, name, path, command_line, _account(domain, account),
                sha1), created_row=True)

            parent_created = as_utc(parent_created)
            parent = key_for(device, parent_unique_id, parent_pid, parent_created)
            if parent is None:
                continue
            known = nodes.get(parent)
            if known is None or not (known["name"] and known["command_line"]):
                self.add_node(parent, _process_attributes(
                    device_name, parent_pid, parent_created, parent_name, parent_path,
                    parent_command_line, _account(parent_domain, parent_account), parent_sha1))
            grand_created = as_utc(grand_created)
            grandparent = key_for(device, None, grand_pid, grand_created)
            if grandparent is not None and grandparent != parent:
                if grandparent not in nodes:
                    self.add_node(grandparent, _process_attributes(
                        device_name, grand_pid, grand_created, grand_name))
                self.parent_guess.setdefault(parent, grandparent)
            if parent != child:
                self.parent_of[child] = parent

    def attach(self, spec: EventSpec, row: dict[str, Any]) -> bool:
        """Attach one event row to the process that did it; returns False when it names none."""
        device = self.device_key(row, spec.device_column)
        actor = spec.actor
        pid = row.get(actor.pid)
        created = as_utc(row.get(actor.created))
        moment = as_utc(row.get(spec.time_column))
        key = None
        if created is None and pid is not None and moment is not None:
            key = self.index.latest_before(device, pid, moment)
        if key is None:
            key = self.index.key_for(device, row.get(actor.unique_id), pid, created)
        if key is None:
            return False
        if not _complete(self.nodes.get(key)):
            self.add_node(key, _process_attributes(
                str(row.get(spec.device_column) or device), pid, created, row.get(actor.name),
                row.get(actor.path), row.get(actor.command_line), str(row.get(actor.account) or ""),
                row.get(actor.sha1),
            ))
        self.attachments.setdefault(key, []).append(_attachment(spec, row, moment))
        return True

    def graph(self) -> nx.DiGraph:
        for child, parent in self.parent_guess.items():
            self.parent_of.setdefault(child, parent)
        graph = _digraph(self.nodes, self.parent_of)
        graph.graph[ATTACHMENTS] = {key: _unique(items) for key, items in self.attachments.items()}
        for key, items in graph.graph[ATTACHMENTS].items():
            graph.nodes[key]["attachment_count"] = len(items)
        return graph


def _complete(node: dict[str, Any] | None) -> bool:
    """Tell whether *node* has every field a row could fill, so `add_node` would change nothing."""
    if node is None or node["pid"] == -1:
        return False
    return "" not in (node["name"], node["path"], node["command_line"], node["account"],
                      node["created"], node["sha1"])


def _digraph(nodes: dict[str, dict[str, Any]], parent_of: dict[str, str]) -> nx.DiGraph:
    """Return a DiGraph of *nodes*, which it takes without copying, with parent-to-child edges.

    Both ends of every link must be in *nodes*; the builder adds a process before it links it.

    `add_nodes_from` copies every attribute dict and `add_edges_from` checks both ends of each
    edge. For a million nodes they took 33 s on the 2-core benchmark machine (loaded by other
    jobs), and filling the adjacency dicts at once took 9.5 s.
    """
    # NOTE: this writes networkx's own storage (`_node`, `_succ`, `_pred`, and `_adj` is
    # `_succ`) as its add methods do, checked with networkx 3.6. tests/test_process_graph.py
    # checks the edges, degrees and GraphML output of graphs built here.
    successors: dict[str, dict[str, dict]] = {key: {} for key in nodes}
    predecessors: dict[str, dict[str, dict]] = {key: {} for key in nodes}
    for child, parent in parent_of.items():
        data: dict[str, Any] = {}
        successors[parent][child] = data
        predecessors[child][parent] = data
    graph = nx.DiGraph()
    graph._node = nodes
    graph._succ = graph._adj = successors
    graph._pred = predecessors
    return graph


def _attachment(spec: EventSpec, row: dict[str, Any], moment: Any) -> dict[str, str]:
    fields = spec.fields
    return {
        "time": instant_text(moment) if moment else "",
        "category": spec.category,
        "action": fields["action"](row),
        "target": fields["target"](row),
        "details": fields["details"](row),
        "query_id": spec.query_id,
    }


def _column_values(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Iterator[tuple]:
    """Yield the values of *columns* from each row, None where a row lacks a column."""
    if rows and all(column in rows[0] for column in columns):
        # itemgetter takes all columns in one call; only a row without one of them pays more.
        take = itemgetter(*columns)
        for row in rows:
            try:
                yield take(row)
            except KeyError:
                yield tuple(map(row.get, columns))
    else:
        for row in rows:
            yield tuple(map(row.get, columns))


def _unique(items: list[dict[str, str]]) -> list[dict[str, str]]:
    # One file event can come from several queries (file-analysis and user-writable-files).
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    for item in items:
        seen.setdefault((item["time"], item["action"], item["target"]), item)
    return sorted(seen.values(), key=lambda item: item["time"])


def build_process_graph(collection) -> nx.DiGraph:
    """Build the process graph of a collection from process-events and the attaching queries.

    Every node gets the scalar attributes device, pid, name, path, command_line, account,
    created (ISO 8601 UTC, empty when unknown), sha1, seen_created, marked, mark_reasons and
    attachment_count. A parent seen only in InitiatingProcess* columns becomes a node; one that no
    row names leaves its child a root.
    """
    with collector_paused():
        return _build(collection)


def _build(collection) -> nx.DiGraph:
    # TODO: the builder is about 4 times faster than msticpy's at 1M rows, not 10. Reading
    # the row dicts, the attribute dicts and networkx's storage alone take 4.25 s of the 4.97 s
    # that ten times allows (bench/graph_floor.py), and matching in DuckDB instead still took
    # 4.70 s for exact matches alone (bench/graph_sql_sketch.py).
    builder = _GraphBuilder()
    process_rows = collection.rows(PROCESS_QUERY)
    # Unique ids first, so a process named by id and time before its own row still gets one key.
    for row in process_rows:
        if row.get("ProcessUniqueId") is not None or row.get("InitiatingProcessUniqueId") is not None:
            builder.register_unique_ids(row, builder.device_key(row))
    builder.add_process_rows(process_rows)

    unattached = 0
    for spec in load_specs().values():
        if not spec.attach:
            continue
        for row in spec.selected_rows(collection.rows(spec.query_id)):
            unattached += not builder.attach(spec, row)
    if unattached:
        log.info("%d event rows name no process and are left out of the process graph", unattached)
    return builder.graph()


def attachments_of(graph: nx.DiGraph, node: str) -> list[dict[str, str]]:
    """Return the events attached to *node*, oldest first."""
    return graph.graph.get(ATTACHMENTS, {}).get(node, [])


def mark_processes(graph: nx.DiGraph, selector: NodePredicate | Iterable[str], reason: str) -> int:
    """Mark the processes that *selector* picks, a predicate on (key, attributes) or node keys.

    The reason is added to the node's `mark_reasons` once; returns the number of nodes marked.
    """
    if callable(selector):
        keys = [key for key, attributes in graph.nodes(data=True) if selector(key, attributes)]
    else:
        keys = [key for key in selector if key in graph]
    for key in keys:
        attributes = graph.nodes[key]
        reasons = [r for r in attributes.get("mark_reasons", "").split("; ") if r]
        if reason not in reasons:
            reasons.append(reason)
        attributes["marked"] = True
        attributes["mark_reasons"] = "; ".join(reasons)
    return len(keys)


def command_line_index(graph: nx.DiGraph) -> dict[str, list[str]]:
    """Return the node keys per command line, trimmed and lower-cased.

    One pass serves every finding, where a predicate per finding would walk every node
    once for each.
    """
    index: dict[str, list[str]] = {}
    for key, attributes in graph.nodes(data=True):
        index.setdefault((attributes.get("command_line") or "").strip().lower(), []).append(key)
    return index


def mark_from_alert_evidence(graph: nx.DiGraph, evidence_rows: list[dict[str, Any]]) -> int:
    """Mark processes named by alert evidence of type Process or File; returns the marks made.

    A Process entity matches on its command line, or on its SHA1 when it has no command line, so
    one `net.exe user x /add` in an alert does not mark every net.exe. A File entity matches on
    its SHA1 or file name. Matching ignores case; the reason is "alert: <title>".
    """
    by_sha1: dict[str, set[str]] = {}
    by_name: dict[str, set[str]] = {}
    by_command: dict[str, set[str]] = {}
    for row in evidence_rows:
        entity = str(row.get("EntityType") or "")
        if entity not in ("Process", "File"):
            continue
        reason = f"alert: {row.get('Title') or row.get('AlertId') or 'untitled'}"
        command_line = str(row.get("ProcessCommandLine") or "").strip().lower()
        if entity == "Process" and command_line:
            by_command.setdefault(command_line, set()).add(reason)
        elif row.get("SHA1"):
            by_sha1.setdefault(str(row["SHA1"]).lower(), set()).add(reason)
        if entity == "File" and row.get("FileName"):
            by_name.setdefault(str(row["FileName"]).lower(), set()).add(reason)

    marks = 0
    for key, attributes in list(graph.nodes(data=True)):
        reasons = (by_sha1.get(attributes.get("sha1", ""), set())
                   | by_name.get(attributes.get("name", "").lower(), set())
                   | by_command.get(attributes.get("command_line", "").strip().lower(), set()))
        for reason in sorted(reasons):
            marks += mark_processes(graph, [key], reason)
    return marks


def focused_subgraph(graph: nx.DiGraph, node: str) -> nx.DiGraph:
    """Return the ancestry and all descendants of *node*, with their attachments."""
    keep = nx.ancestors(graph, node) | nx.descendants(graph, node) | {node}
    subgraph = graph.subgraph(keep).copy()
    attachments = graph.graph.get(ATTACHMENTS, {})
    subgraph.graph[ATTACHMENTS] = {key: attachments[key] for key in keep if key in attachments}
    return subgraph


def write_graph(graph: nx.DiGraph, folder: Path) -> list[Path]:
    """Write the graph as GraphML and as node-link JSON into *folder*; returns the files.

    GraphML carries the scalar node attributes only; the JSON also carries the attachments,
    under the graph attribute "attachments".
    """
    folder.mkdir(parents=True, exist_ok=True)
    graphml_path = folder / "process-graph.graphml"
    json_path = folder / "process-graph.json"

    scalars = {name: value for name, value in graph.graph.items() if name != ATTACHMENTS}
    graph_files.write_graphml(graph, graphml_path, scalars)
    graph_files.write_node_link_json(graph, json_path)
    return [graphml_path, json_path]
