"""Process identity: node keys built from device, ProcessUniqueId, process id and creation time.

Windows reuses process ids, so a process id alone names nothing; with its creation time it
names one process. Defender's ProcessUniqueId, where the tenant has it, names one process on
its own and wins over the pair.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import numpy as np

from irreport.timerange import datetime_limits

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
# The milliseconds of 0001-01-01 and of the end of 9999-12-31, the range of Python's datetime.
_FIRST_MS, _LAST_MS = datetime_limits(_MILLISECOND)


# The last time formatted and its text. A new process's key and its "created" attribute
# format the same datetime object one after the other; one tuple keeps the pair consistent
# across threads.
_last_formatted: tuple[datetime | None, str] = (None, "")
# Text of whole minutes since the epoch, up to the "THH:MM:" part, and of the seconds and
# milliseconds after it. The dict is emptied when it grows past _MAX_MINUTES (69 days), which
# bounds its memory on any input.
_minute_texts: dict[int, str] = {}
_MAX_MINUTES = 100_000
_SECOND_TEXTS = [f"{second:02d}" for second in range(60)]
_MILLISECOND_TEXTS = [f".{millisecond:03d}Z" for millisecond in range(1000)]


def instant_text(moment: datetime) -> str:
    """Format a UTC time at millisecond precision with a trailing Z, as node keys use it."""
    global _last_formatted
    last = _last_formatted
    if last[0] is moment:
        return last[1]
    text = milliseconds_text(milliseconds(moment))
    _last_formatted = (moment, text)
    return text


def milliseconds_text(instant: int) -> str:
    """Format milliseconds since the epoch as instant_text does.

    A million isoformat calls took 1.4 s on the benchmark machine; a cached minute and two
    table lookups take 0.4 to 0.5 s.
    """
    minute, rest = divmod(instant, 60_000)
    prefix = _minute_texts.get(minute)
    if prefix is None:
        if len(_minute_texts) >= _MAX_MINUTES:
            _minute_texts.clear()
        prefix = (_EPOCH + timedelta(minutes=minute)).isoformat()[:17]
        _minute_texts[minute] = prefix
    second, millisecond = divmod(rest, 1000)
    return prefix + _SECOND_TEXTS[second] + _MILLISECOND_TEXTS[millisecond]


def unique_key(device: str, unique_id: Any) -> str:
    return f"{device}:u:{unique_id}"


def pid_time_key(device: str, pid: int, created: datetime, instant: int) -> str:
    """Return the key of a process without a unique id; *instant* is *created* in milliseconds."""
    global _last_formatted
    text = milliseconds_text(instant)
    # The new process's "created" attribute formats the same time next.
    _last_formatted = (created, text)
    return f"{device}:{pid}:{text}"


class ProcessIndex:
    """An index from the identifying columns of a row to the node key of its process.

    Creation times are compared as whole milliseconds since the epoch, the precision of the
    keys. Creations are filed in slots of twice the tolerance, keyed by device, process id and
    slot, so the processes within the tolerance of a time are in its slot or the nearer one
    beside it. A slot rarely contains more than one creation, so a time that matches a known
    creation exactly costs one dict lookup, and a new process three lookups and one insert.
    """

    def __init__(self) -> None:
        self._by_slot: dict[tuple[str, int, int], list[tuple[int, str]]] = {}
        # The creations of each process id in time order, for latest_before. Built on its first
        # call, because the rows of the process table, which make most keys, never need it.
        self._creations: dict[tuple[str, int], list[tuple[int, str]]] | None = None
        # Lists of _creations appended to since they were last sorted; latest_before sorts them.
        self._unsorted: set[tuple[str, int]] = set()

    def register(self, device: str, pid: int | None, created: datetime | None, key: str) -> None:
        """Record that *key* is the process with this id created at this time.

        The first key recorded for a time stays.
        """
        if pid is None or created is None:
            return
        self.register_instant(device, pid, milliseconds(created), key)

    def register_instant(self, device: str, pid: int, instant: int, key: str) -> None:
        """Record *key* as the process with this id created at *instant*, in epoch milliseconds."""
        entry = (instant, key)
        slot = (device, pid, instant // _SLOT_MS)
        bucket = self._by_slot.get(slot)
        if bucket is None:
            self._by_slot[slot] = [entry]
        elif any(moment == instant for moment, _ in bucket):
            return
        else:
            bucket.append(entry)
        if self._creations is not None:
            self._creations.setdefault((device, pid), []).append(entry)
            self._unsorted.add((device, pid))

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
        found = self._nearest(device, pid, instant)
        if found is not None:
            return found
        key = pid_time_key(device, pid, created, instant)
        self.register_instant(device, pid, instant, key)
        return key

    def find(self, device: str, pid: int, created: datetime) -> str | None:
        """Return the known process with this id created at, or within the tolerance of, *created*."""
        return self._nearest(device, pid, milliseconds(created))

    def _nearest(self, device: str, pid: int, instant: int) -> str | None:
        slot = instant // _SLOT_MS
        best: tuple[int, str] | None = None
        for moment, key in self._by_slot.get((device, pid, slot), ()):
            if moment == instant:
                return key
            candidate = (abs(moment - instant), key)
            if candidate[0] <= TOLERANCE_MS and (best is None or candidate < best):
                best = candidate
        # The times within the tolerance of *instant* span its slot and one beside it.
        beside = slot - 1 if instant - TOLERANCE_MS < slot * _SLOT_MS else slot + 1
        for moment, key in self._by_slot.get((device, pid, beside), ()):
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
            for (known_device, known_pid, _), bucket in self._by_slot.items():
                self._creations[(known_device, known_pid)].extend(bucket)
            self._unsorted = set(self._creations)
        if (device, pid) in self._unsorted:
            self._creations[(device, pid)].sort()
            self._unsorted.discard((device, pid))
        return self._creations.get((device, pid), [])


def milliseconds(moment: datetime) -> int:
    """Return *moment* as whole milliseconds since the epoch, cut as the key's text is cut."""
    return (moment - _EPOCH) // _MILLISECOND


def instant_texts(instants: np.ndarray) -> list[str]:
    """Write milliseconds since the epoch as `instant_text` does, for a whole array at once.

    A million times took 0.2 to 0.6 s with numpy's datetime_as_string. Here each distinct
    minute is written once and each time's seconds come from a table, about 0.15 s.
    """
    if len(instants) and (instants.min() < _FIRST_MS or instants.max() > _LAST_MS):
        return [milliseconds_text(instant) for instant in instants.tolist()]
    minutes, rest = np.divmod(instants, 60_000)
    distinct, minute_numbers = np.unique(minutes, return_inverse=True)
    # numpy's str arrays hold one 4-byte code point per character: fill a row of 24 for each
    # "YYYY-MM-DDTHH:MM:SS.mmmZ" and read the rows back as text.
    points = np.empty((len(instants), 24), dtype=np.uint32)
    points[:, :17] = _minute_points(distinct)[minute_numbers]
    points[:, 17:] = _second_points()[rest]
    return points.reshape(-1).view("<U24").tolist()


# The code points of the two digits of 0 to 99.
_DIGITS = np.array([[ord(text[0]), ord(text[1])] for text in (f"{n:02d}" for n in range(100))],
                   dtype=np.uint32)


def _minute_points(minutes: np.ndarray) -> np.ndarray:
    """Return the code points of "YYYY-MM-DDTHH:MM:" for minutes since the epoch."""
    days, minute_of_day = np.divmod(minutes, 1440)
    year, month, day = _civil_dates(days)
    points = np.empty((len(minutes), 17), dtype=np.uint32)
    points[:, 0:2] = _DIGITS[year // 100]
    points[:, 2:4] = _DIGITS[year % 100]
    points[:, 5:7] = _DIGITS[month]
    points[:, 8:10] = _DIGITS[day]
    points[:, 11:13] = _DIGITS[minute_of_day // 60]
    points[:, 14:16] = _DIGITS[minute_of_day % 60]
    for place, separator in ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")):
        points[:, place] = ord(separator)
    return points


@cache
def _second_points() -> np.ndarray:
    """Return the code points of "SS.mmmZ" for each millisecond of a minute."""
    texts = [f"{second:02d}.{millisecond:03d}Z" for second in range(60)
             for millisecond in range(1000)]
    return np.array(texts, dtype="<U7").view(np.uint32).reshape(len(texts), 7)


def _civil_dates(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return year, month and day of days since 1970-01-01 in the proleptic Gregorian calendar.

    The arithmetic counts 400-year eras from 0000-03-01, so that leap days end each year.
    """
    shifted = days + 719_468
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524
                   - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_from_march + 2) // 5 + 1
    month = np.where(month_from_march < 10, month_from_march + 3, month_from_march - 9)
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day
