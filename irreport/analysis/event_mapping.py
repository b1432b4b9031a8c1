"""The declared mapping from query result columns to timeline events and process attachments.

The mapping itself is data, `timeline_events.toml` beside this module; this module only loads it
and turns each template into a fast function of one row.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from string import Formatter
from typing import Any

from irreport.output import concatenate_rows
from irreport.textsafe import list_text, list_texts

MAPPING_FILE = "timeline_events.toml"
TEMPLATE_FIELDS = ("action", "process", "account", "target", "details")
_SINGLE_COLUMN = re.compile(r"^\{(\w+)\}$")
_OPTIONAL_PART = re.compile(r"\[([^\[\]]*)\]")
# Characters that only join two fields of a template: a domain and a name, an address and a port.
_SEPARATORS = "\\:,; "

Row = dict[str, Any]
RowText = Callable[[Row], str]
RowsText = Callable[[list[Row]], list[str]]
# A field with one of these values counts as empty in a template, as it has no text.
_EMPTY_VALUES = (None, "")


class _RowText:
    """A read-only view of a row that returns every column as text, empty when absent."""

    __slots__ = ("row",)

    def __init__(self, row: Row):
        self.row = row

    def __getitem__(self, column: str) -> str:
        return list_text(self.row.get(column))


def compile_column_template(template: str) -> RowsText:
    """Return a function that fills *template* for each of a list of rows.

    It gives what `compile_template`'s function gives row by row, but converts each column of
    values to text at once, because a dossier of a million events fills templates for 400,000
    rows.
    """
    row_text = compile_template(template)
    single = _SINGLE_COLUMN.match(template)
    if _OPTIONAL_PART.search(template):
        return lambda rows: list(map(row_text, rows))
    if single:
        column = single.group(1)
        return lambda rows: list_texts([row.get(column) for row in rows])
    if "{" not in template:
        return lambda rows: [template] * len(rows)
    pieces = list(Formatter().parse(template))
    columns = list(dict.fromkeys(name for _, name, _, _ in pieces if name))

    def fill(rows: list[Row]) -> list[str]:
        values = {column: [row.get(column) for row in rows] for column in columns}
        texts = {column: list_texts(column_values) for column, column_values in values.items()}
        parts: list[str | list[str]] = []
        for literal, column, _, _ in pieces:
            parts += [literal, texts[column]] if column else [literal]
        filled = list(map(str.strip, concatenate_rows(parts, len(rows))))
        empty = [list(map(_EMPTY_VALUES.__contains__, column_values))
                 for column_values in values.values()]
        for index, flags in enumerate(zip(*empty)):
            if any(flags):
                filled[index] = "" if all(flags) else _fill_partly(
                    pieces, {column: texts[column][index] for column in columns}.__getitem__)
        return filled

    return fill


def compile_template(template: str) -> RowText:
    """Return a function that fills *template*'s {Column} fields from a row.

    The text is empty when every field of the template is empty in the row. A part in
    [brackets] is left out unless every field in it has a value.
    """
    if _OPTIONAL_PART.search(template):
        return _compile_with_optional_parts(template)
    single = _SINGLE_COLUMN.match(template)
    if single:
        column = single.group(1)
        return lambda row: list_text(row.get(column))
    if "{" not in template:
        return lambda row: template
    pieces = list(Formatter().parse(template))
    columns = [name for _, name, _, _ in pieces if name]

    def fill(row: Row) -> str:
        empty = [row.get(column) in (None, "") for column in columns]
        if not any(empty):
            return template.format_map(_RowText(row)).strip()
        # Without any of its values, "logon on {TargetDevice} as {AccountName}" would still
        # read as a logon, so such a text is left empty.
        if all(empty):
            return ""
        return _fill_partly(pieces, _RowText(row).__getitem__)

    return fill


def _compile_with_optional_parts(template: str) -> RowText:
    # re.split with one group alternates the text outside brackets with the text inside.
    parts = []
    for index, text in enumerate(_OPTIONAL_PART.split(template)):
        if text:
            columns = [name for _, name, _, _ in Formatter().parse(text) if name]
            parts.append((index % 2 == 1, columns, text))

    def fill(row: Row) -> str:
        texts = []
        for optional, columns, text in parts:
            if optional and any(row.get(column) in (None, "") for column in columns):
                continue
            texts.append(text.format_map(_RowText(row)))
        return "".join(texts).strip(" " + _SEPARATORS)

    return fill


def _fill_partly(pieces: list[tuple], text_of: Callable[[str], str]) -> str:
    """Fill a template some of whose fields are empty, without their separators.

    A literal made only of separators ("\\", ":", ", ", " ") stands between two values only
    when both are there, so "{AccountDomain}\\{AccountName}" gives "rdp" rather than "\\rdp"
    for an account without a domain, and "{FileName} {RemoteIP} {RemoteUrl}" keeps one space
    between the file and the address when the IP is missing.
    """
    parts: list[str] = []
    separator = ""
    for literal, column, _, _ in pieces:
        if literal and literal.strip(_SEPARATORS) == "":
            separator = literal
        elif literal:
            parts.append(literal)
            separator = ""
        value = text_of(column) if column else ""
        if value:
            text = "".join(parts)
            if separator and text.strip() and not (separator.isspace() and text[-1].isspace()):
                parts.append(separator)
            parts.append(value)
            separator = ""
    return "".join(parts).strip(" " + _SEPARATORS)


@dataclass(frozen=True)
class ActorColumns:
    """The result columns that identify the process behind a row."""

    unique_id: str
    pid: str
    created: str
    name: str
    path: str
    command_line: str
    account: str
    sha1: str


@dataclass(frozen=True)
class EventSpec:
    """One compiled mapping entry: the rules that turn one query's rows into events."""

    query_id: str
    table: str
    category: str
    time_column: str
    device_column: str
    #: the templates, each filling a list of rows at once
    fields: dict[str, RowsText]
    where: dict[str, Any]
    one_per: str | None
    alert: bool
    attach: bool
    actor: ActorColumns
    #: queries whose event at the same time and device, with equal `same` fields, already
    #: shows this query's event, which the timeline then leaves out
    shown_by: tuple[str, ...] = ()
    same: tuple[str, ...] = ()
    #: the column holding when a summary row's activity last happened (its LastSeen)
    until_column: str | None = None

    def field_texts(self, rows: list[Row], names: tuple[str, ...] = TEMPLATE_FIELDS
                    ) -> list[list[str]]:
        """Return the text of each named field for every row, one list per field."""
        return [self.fields[name](rows) for name in names]

    def selected_rows(self, rows: list[Row]) -> Iterator[Row]:
        """Yield the rows matching `where`, merged into one row per `one_per` value if set."""
        if self.where:
            rows = [r for r in rows if all(r.get(k) == v for k, v in self.where.items())]
        if self.one_per is None:
            yield from rows
            return
        yield from self._merged_per_group(rows)

    def _merged_per_group(self, rows: list[Row]) -> Iterator[Row]:
        # An alert has one row per evidence entity (device, user, file, address), each with
        # its own columns filled, so the event takes each column from the first row that has it.
        merged: dict[Any, Row] = {}
        for row in rows:
            group = row.get(self.one_per)
            group_row = merged.get(group)
            if group_row is None:
                merged[group] = dict(row)
                continue
            for column, value in row.items():
                if value not in (None, "") and group_row.get(column) in (None, ""):
                    group_row[column] = value
        yield from merged.values()


def load_specs(text: str | None = None) -> dict[str, EventSpec]:
    """Load the mapping, the bundled file unless *text* is given; keys are query ids."""
    if text is None:
        text = resources.files("irreport.analysis").joinpath(MAPPING_FILE).read_text("utf-8")
    raw = tomllib.loads(text)
    defaults = raw.pop("defaults", {})
    actors = {name: ActorColumns(**columns) for name, columns in raw.pop("actors", {}).items()}
    return {query_id: _spec(query_id, {**defaults, **entry}, actors)
            for query_id, entry in raw.items()}


def _spec(query_id: str, entry: dict[str, Any], actors: dict[str, ActorColumns]) -> EventSpec:
    return EventSpec(
        query_id=query_id,
        table=entry["table"],
        category=entry["category"],
        time_column=entry["time"],
        device_column=entry["device"],
        fields={name: compile_column_template(entry[name]) for name in TEMPLATE_FIELDS},
        where=dict(entry.get("where", {})),
        one_per=entry.get("one_per"),
        alert=bool(entry.get("alert", False)),
        attach=bool(entry.get("attach", False)),
        actor=actors[entry["actor"]],
        shown_by=tuple(entry.get("shown_by", ())),
        same=tuple(entry.get("same", ())),
        until_column=entry.get("until"),
    )


def as_utc(value: Any) -> datetime | None:
    """Return a timezone-aware UTC datetime from a datetime or an ISO 8601 string, else None."""
    if type(value) is datetime and value.tzinfo is timezone.utc:
        return value
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
