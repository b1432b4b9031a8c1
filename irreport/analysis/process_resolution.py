"""The processes a whole process table names, resolved at once with numpy.

A process-creation row names up to three processes, each by a reference: the process it
created (the Process* columns), the process that created it (InitiatingProcess*) and that
one's parent (InitiatingProcessParent*). References that name one process become one node:

- a reference with a ProcessUniqueId names one process per device and unique id;
- the others name a process by device, process id and creation time. Sorted by time, the
  references of one device and process id that follow each other within the creation
  tolerance name one process, and where such a run holds a reference with a unique id, they
  name that process.

A node takes its key time from its first reference in row order, and each attribute from its
first reference in row order that has a value for it, as adding the rows one at a time did.
The work is a few sorts of numpy arrays instead of a dict lookup per reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from irreport.analysis.process_columns import (
    NO_VALUE, device_keys, integer_column, learned_device_ids, milliseconds_column,
    object_values, present_column, text,
)
from irreport.analysis.process_identity import TOLERANCE_MS, instant_texts
from irreport.analysis.process_store import ATTRIBUTE_NAMES, COMPLETE_FIELDS

CHILD, PARENT, GRANDPARENT = range(3)
ROLES = 3
# The columns of each role; a grandparent has only a process id, time and file name.
ROLE_COLUMNS: tuple[dict[str, str], ...] = (
    {"unique_id": "ProcessUniqueId", "pid": "ProcessId", "created": "ProcessCreationTime",
     "name": "FileName", "path": "FolderPath", "command_line": "ProcessCommandLine",
     "domain": "AccountDomain", "account": "AccountName", "sha1": "SHA1"},
    {"unique_id": "InitiatingProcessUniqueId", "pid": "InitiatingProcessId",
     "created": "InitiatingProcessCreationTime", "name": "InitiatingProcessFileName",
     "path": "InitiatingProcessFolderPath", "command_line": "InitiatingProcessCommandLine",
     "domain": "InitiatingProcessAccountDomain", "account": "InitiatingProcessAccountName",
     "sha1": "InitiatingProcessSHA1"},
    {"pid": "InitiatingProcessParentId", "created": "InitiatingProcessParentCreationTime",
     "name": "InitiatingProcessParentFileName"},
)
# The row order of a node with no reference of a kind, above every real one.
_NO_ORDER = np.iinfo(np.int64).max
# Attributes a later reference fills when the first one left them empty.
TEXT_FIELDS = ("name", "path", "command_line", "account", "sha1")
# The columns the resolution reads, which a caller may hand over as numpy arrays.
ARRAY_COLUMNS = ("DeviceId", "DeviceName", "Timestamp", *dict.fromkeys(
    name for columns in ROLE_COLUMNS for name in columns.values()))


@dataclass
class ProcessTable:
    """The nodes a process table names, in the order their first reference appears.

    Links from the rows come before the guesses from grandparents. `device_ids` maps a
    lower-case device name to its DeviceId, for event rows that carry only the name.
    """

    keys: list[str]
    # One list per attribute (process_store.ATTRIBUTE_NAMES), in node order.
    columns: dict[str, list[Any]]
    # Whether each node has every field a row could fill.
    complete: np.ndarray
    # Node numbers of each link's child and parent, in the order the links were first seen.
    link_children: np.ndarray
    link_parents: np.ndarray
    device_ids: dict[str, str]
    # The first reference of each run: its row, process id, time in milliseconds and node.
    devices: list[str]
    run_rows: np.ndarray
    run_pids: np.ndarray
    run_times: np.ndarray
    run_nodes: np.ndarray

    def creations(self) -> Iterator[tuple[str, int, int, str]]:
        """Yield (device, process id, milliseconds, key) per run, to match later event rows."""
        keys, devices = self.keys, self.devices
        for row, pid, instant, node in zip(self.run_rows.tolist(), self.run_pids.tolist(),
                                           self.run_times.tolist(), self.run_nodes.tolist()):
            yield devices[row], pid, instant, keys[node]


def resolve_processes(rows: list[dict[str, Any]], arrays: dict[str, Any] | None = None
                      ) -> ProcessTable:
    """Resolve the references of *rows*, process-creation rows, to nodes and parent links.

    *arrays* are numpy columns of the same rows (`QueryResult.arrays`). A column is read from
    them where they have it, and from the row dicts otherwise.
    """
    empty = np.zeros(0, dtype=np.int64)
    if not rows:
        return ProcessTable([], {name: [] for name in ATTRIBUTE_NAMES}, empty.astype(bool),
                            empty, empty, {}, [], empty, empty, empty, empty)
    refs = _References(rows, arrays or {})
    nodes = _Nodes(refs)
    columns = nodes.columns()
    starts = nodes.run_starts
    return ProcessTable(
        nodes.keys, columns, nodes.complete, *nodes.links(), nodes.device_ids(), refs.devices,
        starts % refs.count, refs.pid[starts], refs.time[starts], nodes.node[starts])


class _References:
    """The three references of every row, as arrays indexed role * rows + row."""

    def __init__(self, rows: list[dict[str, Any]], arrays: dict[str, Any]):
        self.rows = rows
        self.arrays = arrays
        count = self.count = len(rows)

        self.devices = device_keys(rows, arrays)
        distinct = set(self.devices)
        if len(distinct) == 1:
            device_codes = np.zeros(count, dtype=np.int64)
        else:
            codes = {device: code for code, device in enumerate(distinct)}
            device_codes = np.array([codes[device] for device in self.devices], dtype=np.int64)
        self.device = np.tile(device_codes, ROLES)

        self.pid = np.concatenate([integer_column(rows, arrays, columns["pid"])
                                   for columns in ROLE_COLUMNS])
        times = [milliseconds_column(rows, arrays, columns["created"]) for columns in ROLE_COLUMNS]
        missing = times[CHILD] == NO_VALUE
        if missing.any():
            # A created process without its creation time is dated by its row.
            times[CHILD] = np.where(missing, milliseconds_column(rows, arrays, "Timestamp"),
                                    times[CHILD])
        self.time = np.concatenate(times)

        self.has_unique = np.concatenate(
            [present_column(rows, arrays, columns["unique_id"]) for columns in ROLE_COLUMNS[:2]]
            + [np.zeros(count, dtype=bool)])
        self.unique_ids = np.concatenate(
            [integer_column(rows, arrays, columns["unique_id"]) for columns in ROLE_COLUMNS[:2]]
            + [np.full(count, NO_VALUE, dtype=np.int64)])

        self.point = (self.pid != NO_VALUE) & (self.time != NO_VALUE)
        known = self.has_unique | self.point
        child = known[:count]
        parent = child & known[count:2 * count]
        grandparent = parent & self.point[2 * count:]
        self.valid = np.concatenate([child, parent, grandparent])

        positions = np.arange(count, dtype=np.int64)
        # Row order: a row's child, then its parent, then its grandparent.
        self.order = np.concatenate([positions * ROLES + role for role in range(ROLES)])

    def texts(self, name: str, rows: np.ndarray) -> list[str]:
        """Return column *name* of the rows numbered *rows* as text, "" where a row has none."""
        array = self.arrays.get(name)
        if array is None or array.dtype != object:
            return [text(self.rows[row].get(name)) for row in rows.tolist()]
        # A VARCHAR column: str values, masked where NULL.
        return object_values(array[rows], "")

    def unique_id(self, ref: int) -> Any:
        role, row = divmod(ref, self.count)
        return self.rows[row].get(ROLE_COLUMNS[role]["unique_id"])


class _Nodes:
    """Node numbers for the references, and what the nodes are made of."""

    def __init__(self, refs: _References):
        self.refs = refs
        self.node = np.full(len(refs.valid), -1, dtype=np.int64)
        unique_keys = self._number_unique_ids()
        self.unique_count = len(unique_keys)
        self._number_runs(self.unique_count)
        self._renumber_by_first_reference()
        self.keys = self._keys(unique_keys)

    def _number_unique_ids(self) -> list[str]:
        """Number the processes named by a unique id; returns their keys by number."""
        refs = self.refs
        found = np.flatnonzero(refs.valid & refs.has_unique)
        ids = refs.unique_ids[found]
        if (ids == NO_VALUE).any():
            return self._number_unique_texts(found)
        order = np.lexsort((ids, refs.device[found]))
        found, ids, device = found[order], ids[order], refs.device[found[order]]
        starts = np.ones(len(found), dtype=bool)
        starts[1:] = (device[1:] != device[:-1]) | (ids[1:] != ids[:-1])
        self.node[found] = np.cumsum(starts) - 1
        rows = (found[starts] % refs.count).tolist()
        return [f"{refs.devices[row]}:u:{unique_id}"
                for row, unique_id in zip(rows, ids[starts].tolist())]

    def _number_unique_texts(self, found: np.ndarray) -> list[str]:
        # Unique ids that are not integers, which the schema does not have, go one by one.
        refs = self.refs
        numbers: dict[str, int] = {}
        for ref in found.tolist():
            key = f"{refs.devices[ref % refs.count]}:u:{refs.unique_id(ref)}"
            self.node[ref] = numbers.setdefault(key, len(numbers))
        return list(numbers)

    def _number_runs(self, first_number: int) -> None:
        """Number the runs of references to one device and process id close in time."""
        refs = self.refs
        points = np.flatnonzero(refs.valid & refs.point)
        points = points[_by_device_pid_time(refs.device[points], refs.pid[points],
                                            refs.time[points])]
        device, pid, moment = refs.device[points], refs.pid[points], refs.time[points]
        starts = np.ones(len(points), dtype=bool)
        starts[1:] = ((device[1:] != device[:-1]) | (pid[1:] != pid[:-1])
                      | (moment[1:] - moment[:-1] > TOLERANCE_MS))
        run = np.cumsum(starts) - 1
        run_count = int(run[-1]) + 1 if len(run) else 0
        known = self.node[points]
        # A run that holds a unique id's reference belongs to that process.
        run_node = np.full(run_count, -1, dtype=np.int64)
        with_unique = np.flatnonzero(known >= 0)
        first_runs, first_at = np.unique(run[with_unique], return_index=True)
        run_node[first_runs] = known[with_unique[first_at]]
        fresh = run_node < 0
        run_node[fresh] = first_number + np.arange(int(fresh.sum()), dtype=np.int64)
        self.node[points] = np.where(known >= 0, known, run_node[run])
        self.node_count = first_number + int(fresh.sum())
        self.run_starts = points[starts]

    def _renumber_by_first_reference(self) -> None:
        refs = self.refs
        resolved = np.flatnonzero(self.node >= 0)
        nodes, order = self.node[resolved], refs.order[resolved]
        first = np.full(self.node_count, _NO_ORDER, dtype=np.int64)
        np.minimum.at(first, nodes, order)
        timed = refs.time[resolved] != NO_VALUE
        first_timed = np.full(self.node_count, _NO_ORDER, dtype=np.int64)
        np.minimum.at(first_timed, nodes[timed], order[timed])

        self.sequence = np.argsort(first, kind="stable")
        rank = np.empty(self.node_count, dtype=np.int64)
        rank[self.sequence] = np.arange(self.node_count, dtype=np.int64)
        self.node[resolved] = rank[nodes]
        self.first_ref = self._ref_of_order(first[self.sequence])
        has_time = first_timed[self.sequence] != _NO_ORDER
        self.created = np.full(self.node_count, NO_VALUE, dtype=np.int64)
        self.created[has_time] = refs.time[self._ref_of_order(first_timed[self.sequence][has_time])]

    def _ref_of_order(self, order: np.ndarray) -> np.ndarray:
        return (order % ROLES) * self.refs.count + order // ROLES

    def _keys(self, unique_keys: list[str]) -> list[str]:
        refs = self.refs
        devices = self.devices = [refs.devices[row]
                                  for row in (self.first_ref % refs.count).tolist()]
        pids = refs.pid[self.first_ref].tolist()
        timed = self.created != NO_VALUE
        texts = instant_texts(self.created[timed])
        if timed.all():
            self.created_texts = texts
        else:
            self.created_texts = [""] * self.node_count
            for number, created in zip(np.flatnonzero(timed).tolist(), texts):
                self.created_texts[number] = created
        unique_count = self.unique_count
        return [unique_keys[number] if number < unique_count else f"{device}:{pid}:{created}"
                for number, device, pid, created in zip(self.sequence.tolist(), devices, pids,
                                                        self.created_texts)]

    def columns(self) -> dict[str, list[Any]]:
        """Return each attribute of every node, as `process_graph` documents them."""
        refs = self.refs
        count, nodes = refs.count, self.node_count
        seen = np.zeros(nodes, dtype=bool)
        seen[self.node[:count][refs.valid[:count]]] = True
        first_rows = self.first_ref % count
        texts = dict(zip(TEXT_FIELDS, _attribute_texts(refs, first_rows, self.first_ref // count)))
        self.labels = [label or device for label, device in zip(
            refs.texts("DeviceName", first_rows), self.devices)]
        pids = refs.pid[self.first_ref]
        columns = {
            "device": self.labels, "pid": np.where(pids == NO_VALUE, -1, pids).tolist(),
            **texts, "created": self.created_texts, "seen_created": seen.tolist(),
            "marked": [False] * nodes, "mark_reasons": [""] * nodes,
            "attachment_count": [0] * nodes,
        }
        incomplete = _incomplete(columns, nodes)
        if incomplete.any():
            self._fill_empty(columns, np.flatnonzero(incomplete))
            incomplete = _incomplete(columns, nodes)
        self.complete = ~incomplete
        return columns

    def _fill_empty(self, columns: dict[str, list[Any]], incomplete: np.ndarray) -> None:
        """Fill what a node's first reference left empty from its later references, in order.

        A grandparent reference names only the file, so it is read only for a node without a
        name: a process that is every row's grandparent would otherwise be read once a row.
        """
        refs = self.refs
        needs_fill = np.zeros(self.node_count, dtype=bool)
        needs_fill[incomplete] = True
        names = columns["name"]
        unnamed = np.zeros(self.node_count, dtype=bool)
        unnamed[[number for number in incomplete.tolist() if not names[number]]] = True
        node = np.where(self.node >= 0, self.node, 0)
        role = np.arange(len(node)) // refs.count
        later = (self.node >= 0) & needs_fill[node] & ((role < GRANDPARENT) | unnamed[node])
        later[self.first_ref] = False
        found = np.flatnonzero(later)
        found = found[np.lexsort((refs.order[found], node[found]))]
        texts = _attribute_texts(refs, found % refs.count, role[found])
        pids = columns["pid"]
        for position, (number, pid) in enumerate(zip(node[found].tolist(),
                                                     refs.pid[found].tolist())):
            for field, values in zip(TEXT_FIELDS, texts):
                if values[position] and not columns[field][number]:
                    columns[field][number] = values[position]
            if pids[number] == -1 and pid != NO_VALUE:
                pids[number] = pid

    def device_ids(self) -> dict[str, str]:
        """Return DeviceId by lower-case device name, the first id each name has."""
        return learned_device_ids(zip(self.devices, self.labels))

    def links(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the child and parent numbers of each link.

        A child's parent is the one its last row names, else the first grandparent guess. Links
        are in the order their child first appears, the guesses after the others.
        """
        refs, count = self.refs, self.refs.count
        rows = np.flatnonzero(refs.valid[count:2 * count])
        child, parent = self.node[rows], self.node[count + rows]
        keep = child != parent
        child, parent = child[keep], parent[keep]
        first, last = _first_and_last(child)
        children, parents = child[first], parent[last]

        linked = np.zeros(self.node_count, dtype=bool)
        linked[children] = True
        rows = np.flatnonzero(refs.valid[2 * count:])
        parent, grandparent = self.node[count + rows], self.node[2 * count + rows]
        keep = (grandparent != parent) & ~linked[parent]
        parent, grandparent = parent[keep], grandparent[keep]
        first, _ = _first_and_last(parent)
        return (np.concatenate([children, parent[first]]),
                np.concatenate([parents, grandparent[first]]))


def _incomplete(columns: dict[str, list[Any]], count: int) -> np.ndarray:
    """Tell for each node whether a field a row could fill is still empty."""
    incomplete = np.array(columns["pid"], dtype=np.int64) == -1
    for field in COMPLETE_FIELDS:
        values = columns[field]
        if "" in values:
            incomplete |= np.fromiter(values, dtype=object, count=count) == ""
    return incomplete


# The attribute columns of a child and of a parent reference, in TEXT_FIELDS order with the
# account's domain before its name.
_TEXT_COLUMNS = tuple(
    tuple(columns[field] for field in ("name", "path", "command_line", "domain", "account", "sha1"))
    for columns in ROLE_COLUMNS[:GRANDPARENT])


def _attribute_texts(refs: _References, rows: np.ndarray, roles: np.ndarray) -> list[list[str]]:
    """Return name, path, command line, account and SHA1 lists of the given rows and roles."""
    texts: list[list[str]] = [[""] * len(rows) for _ in TEXT_FIELDS]
    for role in range(ROLES):
        chosen = np.flatnonzero(roles == role)
        if not len(chosen):
            continue
        picked = rows[chosen]
        if role == GRANDPARENT:
            blank = [""] * len(chosen)
            values = [refs.texts(ROLE_COLUMNS[GRANDPARENT]["name"], picked), blank, blank, blank,
                      blank]
        else:
            name, path, command_line, domain, account, sha1 = (
                refs.texts(name, picked) for name in _TEXT_COLUMNS[role])
            values = [name, path, command_line, _accounts(domain, account), _lower(sha1)]
        if len(chosen) == len(rows):
            texts = values
            continue
        for field, field_values in enumerate(values):
            target = texts[field]
            for number, value in zip(chosen.tolist(), field_values):
                target[number] = value
    return texts


def _accounts(domains: list[str], names: list[str]) -> list[str]:
    """Return DOMAIN\\name per entry, or the name alone; one string per distinct account."""
    joined = {(domain, name): f"{domain}\\{name}" if domain and name else name
              for domain, name in dict.fromkeys(zip(domains, names))}
    return list(map(joined.__getitem__, zip(domains, names)))


def _lower(values: list[str]) -> list[str]:
    """Return *values* in lower case, the same strings where they already are."""
    joined = "".join(values)
    if joined.lower() == joined:
        return values
    return [value.lower() for value in values]


def _by_device_pid_time(device: np.ndarray, pid: np.ndarray, moment: np.ndarray) -> np.ndarray:
    """Return the order that sorts references by device, process id and time.

    Where the three fit one 63-bit number, as they do for any real device and range, one sort
    of that number does it. Three sorts of a million references took six times as long.
    """
    if not len(device):
        return np.zeros(0, dtype=np.int64)
    spans = [int(values.max() - values.min()) for values in (device, pid, moment)]
    widths = [span.bit_length() for span in spans]
    if sum(widths) <= 63:
        key = device - device.min()
        key = (key << widths[1]) | (pid - pid.min())
        key = (key << widths[2]) | (moment - moment.min())
        return np.argsort(key)
    return np.lexsort((moment, pid, device))


def _first_and_last(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return where each distinct value first and last occurs, in order of first occurrence."""
    if not len(values):
        return values, values
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)] - 1
    first, last = order[starts], order[ends]
    sequence = np.argsort(first, kind="stable")
    return first[sequence], last[sequence]
