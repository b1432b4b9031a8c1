"""Process identity: node keys built from device, ProcessUniqueId, process id and creation time.

Windows reuses process ids, so a process id alone names nothing; with its creation time it
names one process. Defender's ProcessUniqueId, where the tenant has it, names one process on
its own and wins over the pair.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

# Kusto datetimes carry 100 ns ticks while CSV exports and the sample carry milliseconds, so
# two times of one process are compared at millisecond precision. A time within this tolerance
# of a known creation with the same process id is taken as that process, because Windows does
# not hand one id to two processes within a second in practice.
CREATION_TOLERANCE = timedelta(seconds=1)


def instant_text(moment: datetime) -> str:
    """Format a UTC time at millisecond precision with a trailing Z, as node keys use it."""
    # The zone is part of the cache key because datetimes of one instant in two zones are equal.
    return _instant_text(moment, moment.tzinfo)


# Cached because one row formats the same creation times up to five times, and a busy
# parent's creation time recurs in every row of its children.
@lru_cache(maxsize=1 << 16)
def _instant_text(moment: datetime, _zone: Any) -> str:
    # isoformat is several times faster than strftime, which matters at a million rows.
    text = moment.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def unique_key(device: str, unique_id: Any) -> str:
    return f"{device}:u:{unique_id}"


def pid_time_key(device: str, pid: int, created: datetime) -> str:
    return f"{device}:{pid}:{instant_text(created)}"


class ProcessIndex:
    """An index from the identifying columns of a row to the node key of its process.

    A lookup is a few dict operations: creations are also filed by whole second, so the
    processes within the tolerance of a time are those in its second and the two beside it.
    """

    def __init__(self) -> None:
        self._exact: dict[tuple[str, int, str], str] = {}
        self._by_second: dict[tuple[str, int, int], list[tuple[datetime, str]]] = {}
        self._creations: dict[tuple[str, int], list[tuple[datetime, str]]] = defaultdict(list)
        # Lists of _creations appended to since they were last sorted; latest_before sorts them.
        self._unsorted: set[tuple[str, int]] = set()

    def register(self, device: str, pid: int | None, created: datetime | None, key: str) -> None:
        """Record that *key* is the process with this id created at this time."""
        if pid is None or created is None:
            return
        exact = (device, pid, instant_text(created))
        if exact in self._exact:
            return
        self._exact[exact] = key
        entry = (created, key)
        self._creations[(device, pid)].append(entry)
        self._unsorted.add((device, pid))
        self._by_second.setdefault((device, pid, _second(created)), []).append(entry)

    def key_for(self, device: str, unique_id: Any, pid: int | None,
                created: datetime | None) -> str | None:
        """Return the key of the process, making one when it is new; None when unidentifiable."""
        if unique_id is not None:
            key = unique_key(device, unique_id)
            self.register(device, pid, created, key)
            return key
        if pid is None or created is None:
            return None
        found = self.find(device, pid, created)
        if found is not None:
            return found
        key = pid_time_key(device, pid, created)
        self.register(device, pid, created, key)
        return key

    def find(self, device: str, pid: int, created: datetime) -> str | None:
        """Return the known process with this id created at, or within the tolerance of, *created*."""
        exact = self._exact.get((device, pid, instant_text(created)))
        if exact is not None:
            return exact
        second = _second(created)
        best: tuple[timedelta, str] | None = None
        for near in (second - 1, second, second + 1):
            for moment, key in self._by_second.get((device, pid, near), ()):
                candidate = (abs(moment - created), key)
                if candidate[0] <= CREATION_TOLERANCE and (best is None or candidate < best):
                    best = candidate
        return best[1] if best else None

    def latest_before(self, device: str, pid: int, moment: datetime) -> str | None:
        """Return the last process with this id created at or before *moment*, for rows without a creation time."""
        candidates = self._sorted_creations(device, pid)
        position = bisect.bisect_right(candidates, (moment, "\uffff"))
        return candidates[position - 1][1] if position else None

    def _sorted_creations(self, device: str, pid: int) -> list[tuple[datetime, str]]:
        if (device, pid) in self._unsorted:
            self._creations[(device, pid)].sort()
            self._unsorted.discard((device, pid))
        return self._creations.get((device, pid), [])


def _second(moment: datetime) -> int:
    return math.floor(moment.timestamp())
