"""The process graph as a nested tree that a template indents and a drawing lays out.

Fan-outs are collapsed: when one parent starts more than `fan_out_limit` children with the same
image name (conhost.exe under every console program, svchost.exe under services.exe), the
first ones are listed and the rest become one item such as "+37 more conhost.exe". A marked
child, or one with a marked descendant, is always listed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from irreport.analysis.process_graph import attachments_of

DEFAULT_FAN_OUT_LIMIT = 5


@dataclass
class TreeItem:
    """One process in the tree, or the collapsed rest of a fan-out when `collapsed_count` > 0."""

    key: str
    name: str
    pid: int
    time: str
    command_line: str
    account: str
    marked: bool
    reasons: list[str]
    attachments: list[dict[str, str]]
    attachment_summary: str
    children: list[TreeItem] = field(default_factory=list)
    collapsed_count: int = 0
    label: str = ""

    def walk(self) -> Iterable[TreeItem]:
        """Yield this item and every item below it, depth first."""
        stack = [self]
        while stack:
            item = stack.pop()
            yield item
            stack.extend(reversed(item.children))


def summarise_attachments(attachments: list[dict[str, str]]) -> str:
    """Return counts per category, such as "file: 2, network: 1"."""
    # The category names are phrases ("connection to another device"), so the count follows.
    counts = Counter(item["category"] for item in attachments)
    return ", ".join(f"{category}: {count}" for category, count in sorted(counts.items()))


def _item(graph: nx.DiGraph, key: str) -> TreeItem:
    node = graph.nodes[key]
    attachments = attachments_of(graph, key)
    return TreeItem(
        key=key, name=node.get("name") or "(unknown)", pid=node.get("pid", -1),
        time=node.get("created", ""), command_line=node.get("command_line", ""),
        account=node.get("account", ""), marked=bool(node.get("marked")),
        reasons=[r for r in node.get("mark_reasons", "").split("; ") if r],
        attachments=attachments, attachment_summary=summarise_attachments(attachments),
        label=f"{node.get('name') or '(unknown)'} ({node.get('pid', -1)})",
    )


def _collapsed(name: str, hidden: list[str], parent: str) -> TreeItem:
    return TreeItem(
        key=f"{parent}:more:{name.lower()}", name=name, pid=-1, time="", command_line="",
        account="", marked=False, reasons=[], attachments=[], attachment_summary="",
        collapsed_count=len(hidden), label=f"+{len(hidden)} more {name}",
    )


def _keeps_marks(graph: nx.DiGraph, marked_below: dict[str, bool], key: str) -> bool:
    return bool(graph.nodes[key].get("marked")) or marked_below.get(key, False)


def _marked_below(graph: nx.DiGraph) -> dict[str, bool]:
    """Return for each node whether it or a descendant is marked, in one pass from the leaves."""
    result: dict[str, bool] = {}
    order = list(nx.topological_sort(graph)) if nx.is_directed_acyclic_graph(graph) else list(graph)
    for key in reversed(order):
        result[key] = bool(graph.nodes[key].get("marked")) or any(
            result.get(child, False) for child in graph.successors(key))
    return result


def _children(graph: nx.DiGraph, key: str, limit: int, marked_below: dict[str, bool]) -> tuple[list[str], list[TreeItem]]:
    """Return the children to expand and the collapsed items for the rest, both in time order."""
    children = sorted(graph.successors(key), key=lambda c: (graph.nodes[c].get("created", ""), c))
    by_name: dict[str, list[str]] = {}
    for child in children:
        by_name.setdefault((graph.nodes[child].get("name") or "").lower(), []).append(child)

    shown: list[str] = []
    collapsed: list[TreeItem] = []
    for same_name in by_name.values():
        if len(same_name) <= limit:
            shown.extend(same_name)
            continue
        kept = same_name[:limit] + [c for c in same_name[limit:] if _keeps_marks(graph, marked_below, c)]
        kept_set = set(kept)
        hidden = [c for c in same_name if c not in kept_set]
        shown.extend(kept)
        if hidden:
            collapsed.append(_collapsed(graph.nodes[same_name[0]].get("name") or "(unknown)", hidden, key))
    shown.sort(key=lambda c: (graph.nodes[c].get("created", ""), c))
    return shown, collapsed


def process_tree(graph: nx.DiGraph, roots: Iterable[str] | None = None,
                 fan_out_limit: int = DEFAULT_FAN_OUT_LIMIT) -> list[TreeItem]:
    """Return the nested tree below *roots*, by default every node without a parent.

    Each process appears once even if the data has a cycle; collapsed fan-outs follow the
    listed children of their parent.
    """
    if roots is None:
        roots = [key for key in graph if graph.in_degree(key) == 0]
    marked_below = _marked_below(graph)
    visited: set[str] = set()
    top: list[TreeItem] = []
    # An explicit stack instead of recursion: malformed data can make a chain thousands deep.
    stack: list[tuple[str, list[TreeItem]]] = [(root, top) for root in reversed(list(roots))]
    while stack:
        key, siblings = stack.pop()
        if key in visited or key not in graph:
            continue
        visited.add(key)
        item = _item(graph, key)
        siblings.append(item)
        shown, collapsed = _children(graph, key, fan_out_limit, marked_below)
        item.children.extend(collapsed)
        stack.extend((child, item.children) for child in reversed(shown))
    _order_collapsed_last(top)
    return top


def _order_collapsed_last(items: list[TreeItem]) -> None:
    for root in items:
        for item in root.walk():
            item.children.sort(key=lambda child: child.collapsed_count > 0)
