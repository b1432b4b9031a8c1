"""KQL literals and the statements that bind parameter values in query text.

Kusto string literals accept the escapes backslash-quote, backslash-backslash, \\t, \\n and \\r.
Other control characters have no documented escape, so a value holding one is rejected rather
than guessed at: a device or file name never legitimately contains them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from irreport.errors import ParameterError

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def string_literal(value: str) -> str:
    """Quote *value* as a double-quoted KQL string literal."""
    if not isinstance(value, str):
        raise ParameterError(f"expected a string, got {type(value).__name__} {value!r}")
    bad = _FORBIDDEN.search(value)
    if bad:
        raise ParameterError(
            f"value {value!r} contains the control character U+{ord(bad.group()):04X}, which a "
            "KQL string literal cannot carry; remove it from the value"
        )
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def datetime_literal(value: datetime) -> str:
    """Write *value* as an absolute UTC `datetime(...)` literal; naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    utc = value.astimezone(timezone.utc)
    return f"datetime({utc.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z)"


def timespan_literal(value: timedelta) -> str:
    """Write *value* as a KQL timespan in whole seconds, such as `150s`."""
    seconds = value.total_seconds()
    if seconds != int(seconds):
        return f"{int(seconds * 1000)}ms"
    return f"{int(seconds)}s"


def long_literal(value: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"expected an integer, got {value!r}")
    return f"long({value})"


def real_literal(value: float) -> str:
    if not math.isfinite(value):
        raise ParameterError(f"expected a finite number, got {value!r}")
    return f"real({value!r})"


def bool_literal(value: bool) -> str:
    return "true" if value else "false"


def string_list_literal(values: Iterable[str]) -> str:
    """Write *values* as a `dynamic([...])` array of string literals."""
    items = ", ".join(string_literal(v) for v in values)
    return f"dynamic([{items}])"


def let_statement(name: str, literal: str) -> str:
    _check_identifier(name)
    return f"let {name} = {literal};"


def declare_statement(declarations: Iterable[tuple[str, str]]) -> str:
    """Write `declare query_parameters(Name:type, ...);` for (name, KQL type) pairs."""
    items = []
    for name, kind in declarations:
        _check_identifier(name)
        items.append(f"{name}:{kind}")
    return f"declare query_parameters({', '.join(items)});"


def _check_identifier(name: str) -> None:
    if not _IDENTIFIER.match(name):
        raise ParameterError(f"parameter name {name!r} is not a KQL identifier")
