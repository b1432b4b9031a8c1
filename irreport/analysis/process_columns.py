"""Columns of the process table, read from numpy arrays where the source kept them.

The offline source keeps the columns the process graph reads as numpy arrays beside the row
dicts (`QueryResult.arrays`); live sources give only the dicts. Each reader here takes
either and returns the same values. Integers and times become int64 arrays with NO_VALUE
where a row has none; times are milliseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from typing import Any

import numpy as np

from irreport.analysis.event_mapping import as_utc
from irreport.analysis.process_identity import _EPOCH, _MILLISECOND, milliseconds

NO_VALUE = np.iinfo(np.int64).min


def column(rows: list[dict[str, Any]], name: str) -> list[Any]:
    """Return the values of one column, None where a row lacks it."""
    try:
        return list(map(itemgetter(name), rows))
    except KeyError:
        return [row.get(name) for row in rows]


def milliseconds_column(rows: list[dict[str, Any]], arrays: dict[str, Any],
                        name: str) -> np.ndarray:
    """Return a time column as milliseconds since the epoch, NO_VALUE where there is none."""
    array = arrays.get(name)
    if array is not None and array.dtype == np.dtype("datetime64[us]"):
        present = ~np.ma.getmaskarray(array)
        ticks = np.ma.getdata(array).view(np.int64)
        present &= ticks != np.iinfo(np.int64).min  # NaT
        return np.where(present, ticks // 1000, NO_VALUE)
    values = column(rows, name)
    try:
        # Aware datetimes, which the sources give, subtract directly.
        instants = [NO_VALUE if value is None else (value - _EPOCH) // _MILLISECOND
                    for value in values]
    except TypeError:
        instants = []
        for value in values:
            moment = as_utc(value)
            instants.append(NO_VALUE if moment is None else milliseconds(moment))
    return np.array(instants, dtype=np.int64)


def integer_column(rows: list[dict[str, Any]], arrays: dict[str, Any], name: str) -> np.ndarray:
    """Return an integer column, NO_VALUE where there is none or it is not a number."""
    array = arrays.get(name)
    if array is not None and array.dtype.kind in "iu":
        return np.ma.filled(np.ma.asarray(array).astype(np.int64), NO_VALUE)
    values = column(rows, name)
    try:
        return np.array(values, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        pass
    numbers = []
    for value in values:
        try:
            numbers.append(NO_VALUE if value is None or value == "" else int(value))
        except (TypeError, ValueError):
            numbers.append(NO_VALUE)
    return np.array(numbers, dtype=np.int64)


def present_column(rows: list[dict[str, Any]], arrays: dict[str, Any], name: str) -> np.ndarray:
    """Tell for each row whether it has a value in column *name*."""
    array = arrays.get(name)
    if array is not None:
        return ~np.ma.getmaskarray(array)
    return np.array([value is not None for value in column(rows, name)], dtype=bool)


def device_keys(rows: list[dict[str, Any]], arrays: dict[str, Any]) -> list[str]:
    """Return each row's device key: its DeviceId, else the id another row gives its name."""
    array = arrays.get("DeviceId")
    if array is not None and array.dtype == object:
        ids = object_values(array, None)
        if None not in ids and "" not in ids:
            return ids  # a VARCHAR column: every value is text
    else:
        ids = column(rows, "DeviceId")
        if all(type(device_id) is str and device_id for device_id in ids):
            return ids
    names = column(rows, "DeviceName")
    learned = learned_device_ids((str(device_id), str(name or ""))
                                 for device_id, name in zip(ids, names) if device_id)
    return [str(device_id) if device_id else learned.get(str(name or "").lower(), str(name or ""))
            for device_id, name in zip(ids, names)]


def learned_device_ids(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return DeviceId by lower-case device name from (id, name) pairs, the first id a name has."""
    learned: dict[str, str] = {}
    for device_id, name in dict.fromkeys(pairs):
        learned.setdefault(name.lower(), device_id)
    return learned


def object_values(array: np.ndarray, missing: Any) -> list[Any]:
    """Return the values of an object array, *missing* where a masked array is masked."""
    if not np.ma.isMaskedArray(array):
        return array.tolist()
    values = np.ma.getdata(array).copy()
    values[np.ma.getmaskarray(array)] = missing
    return values.tolist()


def text(value: Any) -> str:
    """Return a value as text, "" for None."""
    return value if type(value) is str else str(value or "")
