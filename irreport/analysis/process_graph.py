"""The process graph: which process started which, and what each one did.

A node is one process, keyed `<device>:u:<ProcessUniqueId>` where the data has the unique id
and `<device>:<pid>:<creation time>` otherwise (see `process_identity`). Edges run from the
initiating process to the process it created. Files written, connections made, registry values
set and the other events the mapping marks `attach = true` are kept per node in
`graph.graph["attachments"]`, outside the node attributes, so the attributes stay GraphML scalars.

`process_resolution` turns the process-creation rows into nodes and links, and
`process_store` keeps them as attribute columns and a parent per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx

from irreport.analysis import graph_files
from irreport.analysis.event_mapping import EventSpec, as_utc, load_specs
from irreport.analysis.process_identity import ProcessIndex, instant_text
from irreport.analysis.process_resolution import ARRAY_COLUMNS, ProcessTable, resolve_processes
from irreport.analysis.process_store import NodeTable, ProcessGraph
from irreport.memory import collector_paused

log = logging.getLogger(__name__)

PROCESS_QUERY = "process-events"
# The numpy columns the graph reads, per query, for `collect(keep_arrays=...)`.
KEPT_ARRAYS = {PROCESS_QUERY: ARRAY_COLUMNS}
ATTACHMENTS = "attachments"
# The template fields an attachment keeps, in the order `_attachment` takes them.
ATTACHED_FIELDS = ("action", "target", "details")
NodePredicate = Callable[[str, dict[str, Any]], bool]


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
    """The resolved process table, with the event rows attached to its processes."""

    def __init__(self, table: ProcessTable) -> None:
        self.table = table
        self.nodes = NodeTable(table.keys, table.columns, table.complete)
        self.device_ids = dict(table.device_ids)
        self.attachments: dict[str, list[dict[str, Any]]] = {}
        self._index: ProcessIndex | None = None

    @property
    def index(self) -> ProcessIndex:
        """The creations of the process table, indexed on first use: only attaching needs it."""
        if self._index is None:
            self._index = ProcessIndex()
            for device, pid, instant, key in self.table.creations():
                self._index.register_instant(device, pid, instant, key)
        return self._index

    def device_key(self, row: dict[str, Any], name_column: str = "DeviceName") -> str:
        return self.device_for(row.get("DeviceId"), row.get(name_column))

    def add_node(self, key: str, attributes: dict[str, Any]) -> None:
        node = self.nodes.get(key)
        if node is None:
            self.nodes[key] = attributes
            return
        # The first row with a value wins. A creation row and the rows of one process's
        # own actions carry the same values, so row order matters only for empty fields.
        for name, value in attributes.items():
            if value not in ("", -1) and node.get(name) in ("", -1):
                node[name] = value

    def device_for(self, device_id: Any, name: Any) -> str:
        """Return the DeviceId of a device, learned from rows that carry both columns."""
        if device_id:
            self.device_ids.setdefault(str(name or "").lower(), device_id)
            return str(device_id)
        return self.device_ids.get(str(name or "").lower(), str(name or ""))

    def attach(self, spec: EventSpec, row: dict[str, Any], texts: tuple[str, str, str]) -> bool:
        """Attach one event row to the process that did it; returns False when it names none.

        *texts* are the row's action, target and details, from `EventSpec.field_texts`.
        """
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
        if not self.nodes.is_complete(key):
            self.add_node(key, _process_attributes(
                str(row.get(spec.device_column) or device), pid, created, row.get(actor.name),
                row.get(actor.path), row.get(actor.command_line), str(row.get(actor.account) or ""),
                row.get(actor.sha1),
            ))
        self.attachments.setdefault(key, []).append(_attachment(spec, moment, texts))
        return True

    def graph(self) -> ProcessGraph:
        graph = ProcessGraph(self.nodes, self.table.link_children, self.table.link_parents)
        graph.graph[ATTACHMENTS] = {key: _unique(items) for key, items in self.attachments.items()}
        for key, items in graph.graph[ATTACHMENTS].items():
            graph.nodes.set_attribute(key, "attachment_count", len(items))
        return graph


def _attachment(spec: EventSpec, moment: Any, texts: tuple[str, str, str]) -> dict[str, str]:
    action, target, details = texts
    return {
        "time": instant_text(moment) if moment else "",
        "category": spec.category,
        "action": action,
        "target": target,
        "details": details,
        "query_id": spec.query_id,
    }


def _unique(items: list[dict[str, str]]) -> list[dict[str, str]]:
    # One file event can come from several queries (file-analysis and user-writable-files).
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    for item in items:
        seen.setdefault((item["time"], item["action"], item["target"]), item)
    return sorted(seen.values(), key=lambda item: item["time"])


def build_process_graph(collection) -> ProcessGraph:
    """Build the process graph of a collection from process-events and the attaching queries.

    Every node gets the scalar attributes device, pid, name, path, command_line, account,
    created (ISO 8601 UTC, empty when unknown), sha1, seen_created, marked, mark_reasons and
    attachment_count. A parent seen only in InitiatingProcess* columns becomes a node; one that no
    row names leaves its child a root.
    """
    with collector_paused():
        return _build(collection)


def _build(collection) -> ProcessGraph:
    arrays = collection.arrays(PROCESS_QUERY) if hasattr(collection, "arrays") else {}
    builder = _GraphBuilder(resolve_processes(collection.rows(PROCESS_QUERY), arrays))
    unattached = 0
    for spec in load_specs().values():
        if not spec.attach:
            continue
        rows = list(spec.selected_rows(collection.rows(spec.query_id)))
        texts = spec.field_texts(rows, ATTACHED_FIELDS)
        for row, row_texts in zip(rows, zip(*texts)):
            unattached += not builder.attach(spec, row, row_texts)
    if unattached:
        log.info("%d event rows name no process and are left out of the process graph", unattached)
    return builder.graph()


def attachments_of(graph: ProcessGraph | nx.DiGraph, node: str) -> list[dict[str, str]]:
    """Return the events attached to *node*, oldest first."""
    return graph.graph.get(ATTACHMENTS, {}).get(node, [])


def mark_processes(graph: ProcessGraph | nx.DiGraph, selector: NodePredicate | Iterable[str],
                   reason: str) -> int:
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


def command_line_index(graph: ProcessGraph) -> dict[str, list[str]]:
    """Return the node keys per command line, trimmed and lower-cased.

    One pass serves every finding, where a predicate per finding would walk every node
    once for each.
    """
    index: dict[str, list[str]] = {}
    for key, command_line in zip(graph.nodes, graph.nodes.column("command_line")):
        index.setdefault((command_line or "").strip().lower(), []).append(key)
    return index


def mark_from_alert_evidence(graph: ProcessGraph, evidence_rows: list[dict[str, Any]]) -> int:
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
    table = graph.nodes
    for key, sha1, name, command_line in zip(list(table), table.column("sha1"),
                                             table.column("name"), table.column("command_line")):
        reasons = (by_sha1.get(sha1 or "", set())
                   | by_name.get((name or "").lower(), set())
                   | by_command.get((command_line or "").strip().lower(), set()))
        for reason in sorted(reasons):
            marks += mark_processes(graph, [key], reason)
    return marks


def focused_subgraph(graph: ProcessGraph, node: str) -> nx.DiGraph:
    """Return the ancestry and all descendants of *node*, with their attachments, in networkx."""
    keep = graph.ancestors(node) | graph.descendants(node) | {node}
    subgraph = graph.subgraph(keep)
    attachments = graph.graph.get(ATTACHMENTS, {})
    subgraph.graph[ATTACHMENTS] = {key: attachments[key] for key in keep if key in attachments}
    return subgraph


def write_graph(graph: ProcessGraph, folder: Path) -> list[Path]:
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
