"""A picture of a focused process tree for the PDF dossier, drawn with matplotlib alone.

The layout is an indented tree with one process per row and parents above their children, so a
reader follows it like a file tree. The figure grows with the row count to keep labels legible.
Labels are attacker-controlled, so they are made visible (`textsafe.visible`), shortened, and
drawn with mathtext and TeX off: `$\\alpha$` in a file name prints as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from irreport.analysis.process_tree import DEFAULT_FAN_OUT_LIMIT, TreeItem, process_tree
from irreport.textsafe import shorten, visible

DEFAULT_MAX_NODES = 60
ROW_HEIGHT_IN = 0.26
INDENT_IN = 0.32
LABEL_WIDTH_IN = 2.6
# Room for "2026-11-28 ": an estimate of 11 characters at about 0.055 in in 7.5 pt DejaVu Sans.
DATE_WIDTH_IN = 0.6
COMMAND_WIDTH_IN = 5.0
# 7.5 pt DejaVu Sans Mono advances about 0.07 in a character as drawn, so 72 characters
# and the ellipsis end inside the command column; 80 ran past the figure's edge.
COMMAND_CHARS = 72
FONT_SIZE = 7.5
MARKED_COLOUR = "#b03a2e"
MARKED_FILL = "#fadbd8"
PNG_DPI = 200


@dataclass
class _Row:
    item: TreeItem
    depth: int
    parent: int | None


def _prune(items: list[TreeItem], max_nodes: int) -> list[TreeItem]:
    """Keep the first *max_nodes* items in tree order plus every marked item and its ancestors.

    The children dropped under a kept parent become one "+N more" item, N counting the
    processes in the dropped subtrees.
    """
    order: list[tuple[TreeItem, TreeItem | None]] = []
    for root in items:
        stack: list[tuple[TreeItem, TreeItem | None]] = [(root, None)]
        while stack:
            item, parent = stack.pop()
            order.append((item, parent))
            stack.extend((child, item) for child in reversed(item.children))
    if len(order) <= max_nodes:
        return items

    parent_of = {id(item): parent for item, parent in order}
    keep = {id(item) for item, _ in order[:max_nodes]}
    # Tree order lists ancestors first, so climbing stops at the first ancestor already kept.
    for item, _ in order:
        node: TreeItem | None = item if item.marked else None
        while node is not None and id(node) not in keep:
            keep.add(id(node))
            node = parent_of[id(node)]
    return [_pruned_copy(root, keep) for root in items if id(root) in keep]


def _process_count(item: TreeItem) -> int:
    return sum(max(node.collapsed_count, 1) for node in item.walk())


def _pruned_copy(item: TreeItem, keep: set[int]) -> TreeItem:
    kept = [child for child in item.children if id(child) in keep]
    dropped = [child for child in item.children if id(child) not in keep]
    copy = TreeItem(**{**item.__dict__, "children": [_pruned_copy(child, keep) for child in kept]})
    if dropped:
        hidden = sum(_process_count(child) for child in dropped)
        copy.children.append(TreeItem(
            key=f"{item.key}:more", name="", pid=-1, time="", command_line="", account="",
            marked=False, reasons=[], attachments=[], attachment_summary="",
            collapsed_count=hidden, label=f"+{hidden} more processes",
        ))
    return copy


def _rows(items: list[TreeItem]) -> list[_Row]:
    rows: list[_Row] = []
    stack: list[tuple[TreeItem, int, int | None]] = [(root, 0, None) for root in reversed(items)]
    while stack:
        item, depth, parent = stack.pop()
        rows.append(_Row(item, depth, parent))
        index = len(rows) - 1
        stack.extend((child, depth + 1, index) for child in reversed(item.children))
    return rows


def _label(item: TreeItem, with_date: bool) -> str:
    if item.collapsed_count:
        return visible(item.label)
    clock = item.time[11:23] if len(item.time) >= 23 else item.time
    if with_date and len(item.time) >= 23:
        clock = f"{item.time[:10]} {clock}"
    name = shorten(visible(item.name), 40)[0]
    return f"{name} ({item.pid})  {clock}".rstrip()


def _spans_days(rows: list[_Row]) -> bool:
    """Return True when the drawn processes started on more than one day (UTC)."""
    return len({row.item.time[:10] for row in rows
                if not row.item.collapsed_count and row.item.time}) > 1


def _text(ax, x: float, y: float, text: str, **style) -> None:
    # parse_math=False and usetex=False keep "$...$" in evidence from becoming mathtext or TeX.
    ax.text(x, y, text, va="center", ha="left", fontsize=FONT_SIZE, parse_math=False,
            usetex=False, **style)


def draw_process_tree(subgraph: nx.DiGraph, path: Path, max_nodes: int = DEFAULT_MAX_NODES,
                      fan_out_limit: int = DEFAULT_FAN_OUT_LIMIT) -> Path:
    """Draw *subgraph* as an indented tree into *path* (.svg, else PNG at 200 dpi); returns path.

    Marked processes are drawn bold in red boxes, collapsed fan-outs as one grey item, and trees
    larger than *max_nodes* keep their marked processes and list the rest as "+N more".
    """
    from matplotlib.figure import Figure

    rows = _rows(_prune(process_tree(subgraph, fan_out_limit=fan_out_limit), max_nodes))
    depth = max((row.depth for row in rows), default=0)
    # A tree whose processes started on different days shows each start date, because a
    # parent started days before its children (a long-running explorer.exe) is common.
    with_date = _spans_days(rows)
    label_width = LABEL_WIDTH_IN + (DATE_WIDTH_IN if with_date else 0)
    width = 0.3 + depth * INDENT_IN + label_width + COMMAND_WIDTH_IN
    height = max(len(rows), 3) * ROW_HEIGHT_IN + 0.3
    figure = Figure(figsize=(width, height))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(max(len(rows), 3) - 0.2, -1)
    ax.axis("off")

    if not rows:
        _text(ax, 0.2, 0, "no processes to draw", color="grey")
    command_x = 0.3 + depth * INDENT_IN + label_width
    for index, row in enumerate(rows):
        _draw_row(ax, rows, index, row, command_x, with_date)

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=PNG_DPI, format="svg" if path.suffix.lower() == ".svg" else "png")
    return path


def _draw_row(ax, rows: list[_Row], index: int, row: _Row, command_x: float,
              with_date: bool) -> None:
    x = 0.2 + row.depth * INDENT_IN
    if row.parent is not None:
        parent_x = 0.2 + rows[row.parent].depth * INDENT_IN + 0.08
        ax.plot([parent_x, parent_x, x - 0.03], [row.parent + 0.35, index, index],
                color="#888888", linewidth=0.6)

    item = row.item
    if item.collapsed_count:
        _text(ax, x, index, _label(item, with_date), color="#555555", style="italic",
              bbox={"boxstyle": "round,pad=0.2", "fc": "#f2f2f2", "ec": "#aaaaaa", "ls": "--"})
        return
    style = {"bbox": {"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#999999", "lw": 0.5}}
    if item.marked:
        style = {"color": MARKED_COLOUR, "fontweight": "bold",
                 "bbox": {"boxstyle": "round,pad=0.2", "fc": MARKED_FILL, "ec": MARKED_COLOUR}}
    _text(ax, x, index, _label(item, with_date), **style)
    command = shorten(visible(item.command_line), COMMAND_CHARS)[0]
    _text(ax, command_x, index, command, color="#444444", family="monospace")
