"""The whole process graph of a collection, stored as a parent per process.

Every process has at most one parent, so a parent per process and a list of children per
parent hold the whole graph. networkx keeps two adjacency dicts per node and one dict per link.
Filling them for a million processes took 2.6 s on the benchmark machine, more than half of
what the graph may take to stay ten times faster than msticpy's builder. The store gives
what the dossier reads from the whole graph (parents, children, ancestry, descendants), and
the small subgraphs that are drawn and walked as trees become networkx graphs.

Its method names are networkx's, so code that reads a networkx graph reads this one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import networkx as nx
import numpy as np


# A process's attributes, in the order its dict has them.
ATTRIBUTE_NAMES = ("device", "pid", "name", "path", "command_line", "account", "created", "sha1",
                   "seen_created", "marked", "mark_reasons", "attachment_count")


# The fields a row can fill. A process with all of them and a pid is complete.
COMPLETE_FIELDS = ("name", "path", "command_line", "account", "created", "sha1")


class NodeTable(Mapping):
    """Attributes by node key, held as one list per attribute.

    A dict per process cost 0.6 s and 650 MB for a million processes, so a node's dict is
    made when it is first asked for with `table[key]`, and kept, because the caller may change
    it. `table(data=True)` yields read-only views instead and keeps nothing, so a walk over every
    process makes no lasting dicts. Processes added later (`table[key] = attributes`) follow
    the first ones.
    """

    def __init__(self, keys: list[str], columns: dict[str, list[Any]], complete: np.ndarray):
        self._keys = keys
        self._number = dict(zip(keys, range(len(keys))))
        self._columns = [columns[name] for name in ATTRIBUTE_NAMES]
        self._complete = complete
        self._dicts: dict[str, dict[str, Any]] = {}
        # The position in node order of each process added later.
        self._added: dict[str, int] = {}

    def __getitem__(self, key: str) -> dict[str, Any]:
        attributes = self._dicts.get(key)
        if attributes is None:
            attributes = self._dicts[key] = self._made(self._number[key])
        return attributes

    def __setitem__(self, key: str, attributes: dict[str, Any]) -> None:
        if key not in self._number and key not in self._added:
            self._added[key] = len(self._keys) + len(self._added)
        self._dicts[key] = attributes

    def __iter__(self) -> Iterator[str]:
        yield from self._keys
        yield from self._added

    def __len__(self) -> int:
        return len(self._keys) + len(self._added)

    def __contains__(self, key: object) -> bool:
        return key in self._number or key in self._added

    def __call__(self, data: bool = False):
        return self._read_only_items() if data else iter(self)

    @property
    def linked_keys(self) -> list[str]:
        """The keys of the processes made with the table, which links may name, in order."""
        return self._keys

    @property
    def linked_count(self) -> int:
        return len(self._keys)

    def number(self, key: str) -> int | None:
        """Return the place of *key* among the processes made with the table, else None."""
        return self._number.get(key)

    def position(self, key: str) -> int:
        """Return the place of *key* in node order, processes added later included."""
        number = self._number.get(key)
        return self._added[key] if number is None else number

    def peek(self, key: str) -> Mapping[str, Any] | None:
        """Return the attributes of *key*, None if unknown, without keeping a dict for it."""
        attributes = self._dicts.get(key)
        if attributes is not None:
            return attributes
        number = self._number.get(key)
        return None if number is None else self._made(number)

    def is_complete(self, key: str) -> bool:
        """Tell whether *key* has every field a row could fill (COMPLETE_FIELDS)."""
        attributes = self._dicts.get(key)
        if attributes is not None:
            return attributes["pid"] != -1 and "" not in map(attributes.get, COMPLETE_FIELDS)
        number = self._number.get(key)
        return number is not None and bool(self._complete[number])

    def set_attribute(self, key: str, name: str, value: Any) -> None:
        """Set one attribute of *key*, in its dict if it has one, else in the column."""
        attributes = self._dicts.get(key)
        if attributes is not None:
            attributes[name] = value
        else:
            self._columns[ATTRIBUTE_NAMES.index(name)][self._number[key]] = value

    def column(self, name: str) -> list[Any]:
        """Return one attribute of every process, in node order."""
        values = self._columns[ATTRIBUTE_NAMES.index(name)] + [None] * len(self._added)
        for key, attributes in self._dicts.items():
            values[self.position(key)] = attributes.get(name)
        return values

    def _made(self, number: int) -> dict[str, Any]:
        return dict(zip(ATTRIBUTE_NAMES, [column[number] for column in self._columns]))

    def _read_only_items(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        dicts = self._dicts
        for key, values in zip(self._keys, zip(*self._columns)):
            attributes = dicts.get(key)
            yield key, MappingProxyType(attributes if attributes is not None
                                        else dict(zip(ATTRIBUTE_NAMES, values)))
        for key in self._added:
            yield key, MappingProxyType(dicts[key])


class ProcessGraph:
    """Processes keyed as `process_identity` keys them, each with its parent link.

    Links are numpy arrays of node numbers (a node's place in the table): the parent of each
    process and, per parent, its children in the order their links were first seen.
    Processes added to the table after the links were made have none.
    """

    def __init__(self, nodes: NodeTable, children: np.ndarray, parents: np.ndarray):
        self.nodes = nodes
        self.graph: dict[str, Any] = {}
        size = nodes.linked_count
        self._keys = nodes.linked_keys
        self._parent = np.full(size, -1, dtype=np.int64)
        self._parent[children] = parents
        by_parent = np.argsort(parents, kind="stable")
        self._link_parents = parents[by_parent]
        self._link_children = children[by_parent]
        self._child_start = np.searchsorted(self._link_parents, np.arange(size + 1))

    def __iter__(self) -> Iterator[str]:
        return iter(self.nodes)

    def __contains__(self, node: object) -> bool:
        return node in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def number_of_nodes(self) -> int:
        return len(self.nodes)

    def number_of_edges(self) -> int:
        return len(self._link_children)

    def edges(self) -> Iterator[tuple[str, str]]:
        """Yield (parent, child) links, parents in node order, as networkx's DiGraph does."""
        key = self._keys.__getitem__
        return zip(map(key, self._link_parents.tolist()), map(key, self._link_children.tolist()))

    def has_edge(self, parent: str, child: str) -> bool:
        parent_number = self._parent_of(child)
        return parent_number >= 0 and self._keys[parent_number] == parent

    def predecessors(self, node: str) -> list[str]:
        parent_number = self._parent_of(node)
        return [self._keys[parent_number]] if parent_number >= 0 else []

    def successors(self, node: str) -> list[str]:
        number = self._linked_number(node)
        if number is None:
            return []
        return [self._keys[child] for child in self._children_of(number)]

    def in_degree(self, node: str) -> int:
        return int(self._parent_of(node) >= 0)

    def ancestors(self, node: str) -> set[str]:
        """Return the parent, its parent and so on; a loop in bad data ends the walk."""
        found: set[int] = set()
        parent = self._parent_of(node)
        start = self.nodes.number(node)
        while parent >= 0 and parent not in found and parent != start:
            found.add(parent)
            parent = int(self._parent[parent])
        return {self._keys[number] for number in found}

    def descendants(self, node: str) -> set[str]:
        """Return the children, their children and so on, without *node* itself."""
        start = self._linked_number(node)
        if start is None:
            return set()
        found: set[int] = set()
        waiting = deque(self._children_of(start))
        while waiting:
            child = waiting.popleft()
            if child in found or child == start:
                continue
            found.add(child)
            waiting.extend(self._children_of(child))
        return {self._keys[number] for number in found}

    def subgraph(self, keep: Iterable[str]) -> nx.DiGraph:
        """Return a networkx copy of the processes in *keep*, with the links among them.

        Attribute dicts are copied, so marks made on the copy do not reach this graph.
        """
        chosen = {node for node in keep if node in self.nodes}
        ordered = sorted(chosen, key=self.nodes.position)
        result = nx.DiGraph()
        result.add_nodes_from((node, dict(self.nodes.peek(node))) for node in ordered)
        for child in ordered:
            for parent in self.predecessors(child):
                if parent in chosen:
                    result.add_edge(parent, child)
        return result

    def to_networkx(self) -> nx.DiGraph:
        """Return the whole graph as networkx's DiGraph; for small graphs and tests."""
        return self.subgraph(self.nodes)

    def _linked_number(self, node: str) -> int | None:
        """Return the node number of *node* when links may name it, else None."""
        number = self.nodes.number(node)
        return number if number is not None and number < len(self._parent) else None

    def _parent_of(self, node: str) -> int:
        number = self._linked_number(node)
        return -1 if number is None else int(self._parent[number])

    def _children_of(self, number: int) -> list[int]:
        return self._link_children[self._child_start[number]:self._child_start[number + 1]].tolist()
