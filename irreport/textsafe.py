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
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import chain, compress, repeat
from json.encoder import encode_basestring
from operator import attrgetter, itemgetter, sub
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


def list_text(value: Any) -> str:
    """Render a list, or a JSON array in a string, as "a, b"; anything else as `to_text` does.

    Sets of names (make_set, AttackTechniques) read better in a sentence or a cell than JSON.
    """
    if type(value) is str:
        if not (value.startswith("[") and value.endswith("]")):
            return value
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list) and all(isinstance(item, (str, int, float)) for item in value):
        return ", ".join(str(item) for item in value)
    return to_text(value)


def list_texts(values: list[Any]) -> list[str]:
    """Return `list_text` of every value, converting a column of text, times or numbers at once."""
    kinds = set(map(type, values))
    has_none = _NONE_TYPE in kinds
    kinds.discard(_NONE_TYPE)
    if not kinds:
        return [""] * len(values)
    if kinds == {str}:
        texts = list(map({None: ""}.get, values, values)) if has_none else values
        # Only a text in brackets may be a JSON array that list_text rewrites.
        if "[" not in set(map(_FIRST_CHARACTER, texts)):
            return texts
    elif kinds == {datetime}:
        times = _iso_times(_none_replaced(values))
        if times is not None:
            return list(map({None: ""}.get, values, times))
    elif kinds <= _NUMBER_TYPES:
        # to_text gives str() of a number, and a bool, whose type is not in the set, goes below.
        texts = list(map(str, values))
        return list(map({None: ""}.get, values, texts)) if has_none else texts
    return list(map(list_text, values))


def iso_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    utc = value.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    return text + _fraction(utc.microsecond) + "Z"


def _fraction(micro: int) -> str:
    """Return the fraction of a second: milliseconds, or microseconds when present.

    Whole seconds get ".000" as well, so that "14:44:10.000Z" sorts before "14:44:10.006Z" as
    text, which "14:44:10Z" does not, and a column of times lines up.
    """
    return f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"


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


# TextColumn returns exactly what the cell functions above return for each value. It converts
# a whole column with map() and str methods, which run in C, instead of a Python call per cell,
# because the evidence of a million events has about fifteen million cells. A column whose
# values are not all of one type in _COLUMN_TYPES, apart from None, goes cell by cell.
_COLUMN_TYPES = frozenset({str, int, float, bool, datetime})
_NUMBER_TYPES = frozenset({int, float})
_NONE_TYPE = type(None)
_CSV_PREFIXES = FORMULA_PREFIXES + ("'",)
_CSV_FIRST_CHARACTERS = frozenset(_CSV_PREFIXES)
_FIRST_CHARACTER = itemgetter(slice(0, 1))
_JSON_BOOLEANS = {"True": "true", "False": "false"}
# json.dumps writes these floats in JavaScript's spelling.
_JSON_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_TIME_ZONE = attrgetter("tzinfo")
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=timezone.utc)
_DAYS = attrgetter("days")
_SECONDS = attrgetter("seconds")
_MICROSECONDS = attrgetter("microseconds")


class TextColumn:
    """The values of one column, converted for CSV and JSON a column at a time."""

    def __init__(self, values: list[Any]):
        self.values = values
        self.kind, self.has_none = _column_type(values)
        self._present: list[Any] | None = None
        self._texts: list[str] | None = None

    @property
    def holds_plain_values(self) -> bool:
        """Whether every value is a number, a boolean, a time or None, whose text has no
        quote, comma or line break."""
        return self.kind in (int, float, bool, datetime, _NONE_TYPE)

    def csv(self) -> list[str]:
        """Return `csv_cell(value)` for every value."""
        if self.kind is _NONE_TYPE:
            return [""] * len(self.values)
        texts = self._present_texts()
        if texts is None:
            return list(map(csv_cell, self.values))
        if self.has_none:
            texts = list(map({None: ""}.get, self.values, texts))
        if self._may_look_like_formulas(texts):
            texts = ["'" + text if text.startswith(_CSV_PREFIXES) else text for text in texts]
        return texts

    def json(self) -> list[str]:
        """Return `json.dumps(json_ready(value), ensure_ascii=False)` for every value."""
        if self.kind is _NONE_TYPE:
            return ["null"] * len(self.values)
        texts = self._present_texts()
        if texts is None:
            return list(map(json_cell, self.values))
        if self.kind is bool:
            texts = list(map(_JSON_BOOLEANS.__getitem__, texts))
        elif self.kind is float:
            texts = list(map(_JSON_FLOATS.get, texts, texts))
        elif self.kind is not int:
            texts = list(map(encode_basestring, texts))
        if self.has_none:
            texts = list(map({None: "null"}.get, self.values, texts))
        return texts

    def _present_texts(self) -> list[str] | None:
        """Return `to_text` of every value, with lone surrogates repaired.

        Entries for None hold the text of a stand-in value. Returns None when the values need
        the cell functions.
        """
        if self._texts is None and self.kind is not None:
            self._present = _none_replaced(self.values) if self.has_none else self.values
            if self.kind in (str, int, bool) and _all_equal(self._present):
                # Equal values of these types have equal texts. Not so for floats (0.0 and
                # -0.0) or times (two instants can compare equal in a zone with DST).
                texts = _texts_of_type(self._present[:1], self.kind)
                self._texts = texts * len(self._present)
            else:
                self._texts = _texts_of_type(self._present, self.kind)
            if self._texts is None:
                self.kind = None
        return self._texts

    def _may_look_like_formulas(self, texts: list[str]) -> bool:
        # Times start with a four-digit year and booleans with T or F, so only text and
        # negative numbers can start with a formula prefix.
        if self.kind in (datetime, bool):
            return False
        if self.kind is int:
            return min(self._present) < 0
        return not _CSV_FIRST_CHARACTERS.isdisjoint(map(_FIRST_CHARACTER, texts))


def json_cell(value: Any) -> str:
    return json.dumps(json_ready(value), ensure_ascii=False)


def json_text(value: Any) -> str:
    """Return `json.dumps(json_ready(value), ensure_ascii=False)`, faster for big containers.

    json.dumps converts the values json_ready converts through its `default` hook, in C. The
    text differs only where a dict has a key that is not a str or a string has a lone
    surrogate. Both are checked, and json_ready runs when either occurs.
    """
    if _keys_are_all_str(value):
        text = json.dumps(value, ensure_ascii=False, default=_json_ready_scalar)
        if not _any_surrogate(text):
            return text
    return json_cell(value)


def _json_ready_scalar(value: Any) -> Any:
    if isinstance(value, (date, Decimal, bytes)):
        return json_ready(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_CONTAINER_TYPES = frozenset({dict, list, tuple})


def _keys_are_all_str(value: Any) -> bool:
    """Tell whether every dict inside *value*, through dicts, lists and tuples, has only str keys.

    The containers are checked a nesting level at a time. Returns False for a subclass of
    dict, list or tuple, and for a container met again on a deeper level, as in a cycle.
    """
    seen: set[int] = set()
    level = [value]
    while level:
        if not set(map(type, level)) <= _CONTAINER_TYPES:
            return False
        dicts = [item for item in level if type(item) is dict]
        if not set(map(type, chain.from_iterable(dicts))) <= {str}:
            return False
        sequences = [item for item in level if type(item) is not dict]
        kinds = set(map(type, _children(dicts, sequences)))
        containers = {kind for kind in kinds if issubclass(kind, (dict, list, tuple))}
        if not containers:
            return True
        # A cycle runs only through containers that hold containers, so a level without any
        # ends the walk above and only the levels before it are recorded.
        unique = dict(zip(map(id, level), level))
        if not seen.isdisjoint(unique):
            return False
        seen.update(unique)
        dicts = [item for item in unique.values() if type(item) is dict]
        sequences = [item for item in unique.values() if type(item) is not dict]
        children = list(_children(dicts, sequences))
        level = list(compress(children, map(containers.__contains__, map(type, children))))
    return True


def _children(dicts: list[dict], sequences: list[list | tuple]) -> Iterable[Any]:
    return chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(sequences))


def _column_type(values: list[Any]) -> tuple[type | None, bool]:
    """Return the one type of the column's values other than None, and whether None occurs.

    The type is None when values of several types occur, or of a type without a column
    conversion. It is NoneType when every value is None.
    """
    types = set(map(type, values))
    has_none = _NONE_TYPE in types
    types.discard(_NONE_TYPE)
    if not types:
        return _NONE_TYPE, has_none
    if len(types) == 1 and not types.isdisjoint(_COLUMN_TYPES):
        return types.pop(), has_none
    return None, has_none


def _all_equal(values: list[Any]) -> bool:
    return values[0] == values[-1] and values.count(values[0]) == len(values)


def _none_replaced(values: list[Any]) -> list[Any]:
    """Return *values* with each None replaced by the first other value.

    One conversion then fits every value, and callers put the text for None back in.
    """
    stand_in = next(value for value in values if value is not None)
    # dict.get(value, value) returns the stand-in for None and the value itself otherwise.
    return list(map({None: stand_in}.get, values, values))


def _texts_of_type(values: list[Any], kind: type) -> list[str] | None:
    """Return `to_text` of every value, all of type *kind*, with surrogates repaired.

    Returns None for a datetime column that mixes naive and aware times.
    """
    if kind is str:
        if not _any_surrogate("".join(values)):
            return values
        return list(map(without_surrogates, values))
    if kind is datetime:
        return _iso_times(values)
    # str() of an int or a float is its repr(), which json.dumps writes too.
    return list(map(str, values))


def _any_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _iso_times(values: list[datetime]) -> list[str] | None:
    """Return `iso_time` of every value, or None for a mix of naive and aware times."""
    zones = set(map(_TIME_ZONE, values))
    if None in zones:
        if len(zones) > 1:
            return None
        epoch = _EPOCH
    else:
        values = list(map(datetime.astimezone, values, repeat(timezone.utc)))
        epoch = _EPOCH_UTC
    # Each time is split into whole days, seconds of the day and microseconds since 1970.
    # Few distinct days and fractions occur, and the clock has a fixed table of texts.
    offsets = list(map(sub, values, repeat(epoch)))
    days = list(map(_DAYS, offsets))
    dates = {day: iso_time(epoch + timedelta(days=day)).partition("T")[0]
             for day in set(days)}
    microseconds = list(map(_MICROSECONDS, offsets))
    fractions = {micro: _fraction(micro) for micro in set(microseconds)}
    return list(map("".join, zip(map(dates.__getitem__, days),
                                 map(_clock_texts().__getitem__, map(_SECONDS, offsets)),
                                 map(fractions.__getitem__, microseconds), repeat("Z"))))


@functools.cache
def _clock_texts() -> list[str]:
    """Return "THH:MM:SS" for every second of a day, in order."""
    return [f"T{hour:02d}:{minute:02d}:{second:02d}"
            for hour in range(24) for minute in range(60) for second in range(60)]
