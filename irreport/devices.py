"""Matching the device names a responder types against the names a source holds.

Defender reports a device by its fully qualified name when it is joined to a domain
(testmachine3.contoso.local), while a responder usually types the host name alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def name_forms(name: str) -> set[str]:
    """Return the lower-case forms *name* can be matched by: as given and its host part."""
    lowered = name.lower()
    return {lowered, lowered.split(".")[0]}


def _known_forms(known: Iterable[str]) -> set[str]:
    forms: set[str] = set()
    for name in known:
        forms |= name_forms(name)
    return forms


def has_device(device: str, known: Iterable[str]) -> bool:
    """Return True when *device* names one of *known*, by its full name or its host part."""
    return device.lower() in _known_forms(known)


def similar_devices(device: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """Return up to *limit* names of *known* that look like a misspelling of *device*."""
    return difflib.get_close_matches(device.lower(), sorted(_known_forms(known)), n=limit)
