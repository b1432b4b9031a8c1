"""Counts printed next to a noun: the singular for exactly one, the plural for any other count."""

from __future__ import annotations

import re

# English forms the regular plural of a noun ending in a consonant and y with -ies (query,
# queries), and of a noun ending in a sibilant with -es (address, addresses).
_CONSONANT_Y = re.compile(r"[^aeiou]y$")
_SIBILANT = re.compile(r"(s|x|z|ch|sh)$")


def pluralize(count: float, singular: str, plural: str | None = None) -> str:
    """Return *singular* when *count* is 1, else *plural*.

    Without *plural*, the regular English plural of *singular*'s last word is used, so a
    phrase such as "loading warning" becomes "loading warnings". Pass *plural* for an
    irregular word or a verb ("was", "were").
    """
    if count == 1:
        return singular
    if plural is not None:
        return plural
    if _CONSONANT_Y.search(singular):
        return singular[:-1] + "ies"
    if _SIBILANT.search(singular):
        return singular + "es"
    return singular + "s"


def counted(count: float, singular: str, plural: str | None = None) -> str:
    """Return *count* and the noun that agrees with it, such as "1 finding" or "0 findings"."""
    number = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{number} {pluralize(count, singular, plural)}"
