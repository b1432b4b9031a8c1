"""Making attacker-controlled strings inert and readable.

Command lines, file names and URLs in telemetry are written by the attacker. Before a person
sees them they are made visible (control and bidirectional override characters shown as
`<U+202E>`, so `exe.txt` hiding as `txt.exe` is recognisable) and cut to a readable length.
HTML escaping is left to jinja2's autoescape; this module never produces markup.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

# Control (Cc) and format (Cf) characters draw nothing or move text around: Cf contains the
# bidirectional overrides and isolates, zero-width spaces and joiners, the byte order mark and
# the invisible tag characters. Line and paragraph separators (Zl, Zp) break lines unseen, and
# lone surrogates (Cs) come from undecodable bytes.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@functools.cache
def _hidden_class() -> str:
    """Return a regex character class of every hidden code point in Python's Unicode data."""
    ranges = []
    start = None
    for code in range(sys.maxunicode + 2):
        hidden = code <= sys.maxunicode and unicodedata.category(chr(code)) in HIDDEN_CATEGORIES
        if hidden and start is None:
            start = code
        elif not hidden and start is not None:
            ranges.append(re.escape(chr(start)) + "-" + re.escape(chr(code - 1)))
            start = None
    return "[" + "".join(ranges) + "]"


@functools.cache
def _hidden_pattern(keep_breaks: bool) -> re.Pattern[str]:
    if keep_breaks:
        return re.compile("(?![\t\n])" + _hidden_class())
    return re.compile(_hidden_class())


_SURROGATE = re.compile("[\ud800-\udfff]")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _marker(match: re.Match) -> str:
    return f"<U+{ord(match.group()):04X}>"


def visible(value: Any, keep_breaks: bool = False) -> str:
    """Return *value* as text with every hidden character shown as <U+XXXX>.

    Tabs and newlines are kept when *keep_breaks* is true (multi-line cells in HTML) and marked
    otherwise (one-line terminal tables).
    """
    return _hidden_pattern(keep_breaks).sub(_marker, to_text(value))


def has_hidden_characters(value: Any) -> bool:
    """Tell whether *value* contains a character that `visible` marks, tabs and newlines aside."""
    return bool(_hidden_pattern(True).search(to_text(value)))


def shorten(text: str, limit: int) -> tuple[str, bool]:
    """Cut *text* to *limit* characters; returns the text and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[: max(limit - 1, 0)] + "…", True


def to_text(value: Any) -> str:
    """Render any result value as text: ISO 8601 UTC times, JSON for lists and dicts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def iso_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    utc = value.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def csv_cell(value: Any) -> str:
    """Return a CSV cell that a spreadsheet will not evaluate as a formula.

    A leading apostrophe is the convention spreadsheets honour for "this is text"; the JSON
    evidence keeps the exact value. A value that already starts with an apostrophe gets a
    second one, so `original_csv_cell` can always strip exactly one.
    """
    text = without_surrogates(to_text(value))
    if text.startswith(FORMULA_PREFIXES + ("'",)):
        return "'" + text
    return text


def original_csv_cell(cell: str) -> str:
    """Undo `csv_cell` on a cell read back from a CSV file meant for people."""
    return cell[1:] if cell.startswith("'") else cell


def json_ready(value: Any) -> Any:
    """Convert a result value into something json.dumps writes without losing it."""
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    return value


def without_surrogates(text: str) -> str:
    """Return *text* without lone surrogates, which UTF-8 files and JSON cannot carry.

    Surrogates made by Python's `surrogateescape` from undecodable bytes get those bytes back
    where they form UTF-8; any other surrogate, such as half of a UTF-16 pair sent as a JSON
    escape, becomes U+FFFD.
    """
    if not _SURROGATE.search(text):
        return text
    try:
        return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
