"""Making attacker-controlled strings inert and readable.

Command lines, file names and URLs in telemetry are written by the attacker. Before a person
sees them they are made visible (control and bidirectional override characters shown as
`<U+202E>`, so `exe.txt` hiding as `txt.exe` is recognisable) and cut to a readable length.
HTML escaping is left to jinja2's autoescape; this module never produces markup.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

# Bidirectional controls (embedding, override, isolate, marks) and other invisible formatting.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + _INVISIBLE + "\ud800-\udfff]"
)
_UNSAFE_WITH_BREAKS = re.compile(
    "[\x00-\x1f\x7f-\x9f" + _BIDI + _INVISIBLE + "\ud800-\udfff]"
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _marker(match: re.Match) -> str:
    return f"<U+{ord(match.group()):04X}>"


def visible(value: Any, keep_breaks: bool = False) -> str:
    """Return *value* as text with every control, bidi and invisible character shown as <U+XXXX>.

    Tabs and newlines are kept when *keep_breaks* is true (multi-line cells in HTML) and marked
    otherwise (one-line terminal tables).
    """
    text = to_text(value)
    pattern = _UNSAFE if keep_breaks else _UNSAFE_WITH_BREAKS
    return pattern.sub(_marker, text)


def has_hidden_characters(value: Any) -> bool:
    return bool(_UNSAFE.search(to_text(value)))


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
    evidence keeps the exact value.
    """
    text = to_text(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


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
        # Lone surrogates come from undecodable bytes; JSON cannot carry them as text.
        return value.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace") \
            if _has_surrogates(value) else value
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    return value


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)
