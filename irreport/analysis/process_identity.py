"""Process identity: node keys built from device, ProcessUniqueId, process id and creation time.

Windows reuses process ids, so a process id alone names nothing; with its creation time it
names one process. Defender's ProcessUniqueId, where the tenant has it, names one process on
its own and wins over the pair.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

# Kusto datetimes carry 100 ns ticks while CSV exports and the sample carry milliseconds, so
# two times of one process are compared at millisecond precision. A time within this tolerance
# of a known creation with the same process id is taken as that process, because Windows does
# not hand one id to two processes within a second in practice.
CREATION_TOLERANCE = timedelta(seconds=1)
TOLERANCE_MS = CREATION_TOLERANCE // timedelta(milliseconds=1)
# Creations are filed in slots twice the tolerance wide, so the times within the tolerance of
# any instant lie in at most two slots.
_SLOT_MS = 2 * TOLERANCE_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)


# The last time formatted and its text. A new process's key and its "created" attribute
# format the same datetime object one after the other; one tuple keeps the pair consistent
# across threads.
_last_formatted: tuple[datetime | None, str] = (None, "")


def instant_text(moment: datetime) -> str:
    """Format a UTC time at millisecond precision with a trailing Z, as node keys use it."""
    global _last_formatted
    last = _last_formatted
    if last[0] is moment:
        return last[1]
    # isoformat is several times faster than strftime, which matters at a million rows.
    text = moment.isoformat(timespec="milliseconds")
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    _last_formatted = (moment, text)
    return text


def unique_key(device: str, unique_id: Any) -> str:
    return f"{device}:u:{unique_id}"


def pid_time_key(device: str, pid: int, created: datetime) -> str:
    return f"{device}:{pid}:{instant_text(created)}"


class ProcessIndex:
    """An index from the identifying columns of a row to the node key of its process.

    Creation times are compared as whole milliseconds since the epoch, the precision of the
    keys. A lookup is one dict operation when the time matches a known creation exactly, and
    two more when it does not. Creations are also filed in slots of twice the tolerance, so
    the processes within the tolerance of a time are in its slot or the nearer one beside it.
    """

    def __init__(self) -> None:
        self._exact: dict[tuple[str, int, int], str] = {}
        self._by_slot: dict[tuple[str, int, int], list[tuple[int, str]]] = {}
        # The creations of each process id in time order, for latest_before. Built on its first
        # call, because the rows of the process table, which make most keys, never need it.
        self._creations: dict[tuple[str, int], list[tuple[int, str]]] | None = None
        # Lists of _creations appended to since they were last sorted; latest_before sorts them.
        self._unsorted: set[tuple[str, int]] = set()

    def register(self, device: str, pid: int | None, created: datetime | None, key: str) -> None:
        """Record that *key* is the process with this id created at this time."""
        if pid is None or created is None:
            return
        self._register(device, pid, milliseconds(created), key)

    def _register(self, device: str, pid: int, instant: int, key: str) -> None:
        exact = (device, pid, instant)
        if exact in self._exact:
            return
        self._exact[exact] = key
        entry = (instant, key)
        if self._creations is not None:
            self._creations.setdefault((device, pid), []).append(entry)
            self._unsorted.add((device, pid))
        slot = (device, pid, instant // _SLOT_MS)
        bucket = self._by_slot.get(slot)
        if bucket is None:
            self._by_slot[slot] = [entry]
        else:
            bucket.append(entry)

    def key_for(self, device: str, unique_id: Any, pid: int | None,
                created: datetime | None) -> str | None:
        """Return the key of the process, making one when it is new; None when unidentifiable."""
        if unique_id is not None:
            key = unique_key(device, unique_id)
            self.register(device, pid, created, key)
            return key
        if pid is None or created is None:
            return None
        instant = milliseconds(created)
        found = self._exact.get((device, pid, instant)) or self._nearest(device, pid, instant)
        if found is not None:
            return found
        key = pid_time_key(device, pid, created)
        self._register(device, pid, instant, key)
        return key

    def find(self, device: str, pid: int, created: datetime) -> str | None:
        """Return the known process with this id created at, or within the tolerance of, *created*."""
        instant = milliseconds(created)
        return self._exact.get((device, pid, instant)) or self._nearest(device, pid, instant)

    def _nearest(self, device: str, pid: int, instant: int) -> str | None:
        # The times within the tolerance of *instant* span its slot and one beside it.
        slot = instant // _SLOT_MS
        beside = slot - 1 if instant - TOLERANCE_MS < slot * _SLOT_MS else slot + 1
        best: tuple[int, str] | None = None
        for near in (slot, beside):
            for moment, key in self._by_slot.get((device, pid, near), ()):
                candidate = (abs(moment - instant), key)
                if candidate[0] <= TOLERANCE_MS and (best is None or candidate < best):
                    best = candidate
        return best[1] if best else None

    def latest_before(self, device: str, pid: int, moment: datetime) -> str | None:
        """Return the last process with this id created at or before *moment*, for rows without a creation time."""
        candidates = self._sorted_creations(device, pid)
        position = bisect.bisect_right(candidates, (milliseconds(moment), "\uffff"))
        return candidates[position - 1][1] if position else None

    def _sorted_creations(self, device: str, pid: int) -> list[tuple[int, str]]:
        if self._creations is None:
            self._creations = defaultdict(list)
            for (known_device, known_pid, instant), key in self._exact.items():
                self._creations[(known_device, known_pid)].append((instant, key))
            self._unsorted = set(self._creations)
        if (device, pid) in self._unsorted:
            self._creations[(device, pid)].sort()
            self._unsorted.discard((device, pid))
        return self._creations.get((device, pid), [])


def milliseconds(moment: datetime) -> int:
    """Return *moment* as whole milliseconds since the epoch, cut as the key's text is cut."""
    return (moment - _EPOCH) // _MILLISECOND
