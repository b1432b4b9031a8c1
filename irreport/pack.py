"""The query pack: KQL files with a metadata header, and binding their parameters.

A pack query is a `.kql` file whose leading `//` comment lines hold `key: value` metadata and
`param` declarations; the rest is plain Advanced Hunting KQL. Parameters are bound by prepending
one `let` statement per parameter, so the file itself stays runnable in the portal once its
parameters are pasted in front of it. An engine that binds values itself gets the body behind a
`declare query_parameters(...)` statement instead, with the values passed beside the text.

    // id: inbound-connections
    // title: Inbound connections accepted
    // param Devices: devices            Device names to report on
    // param StartTime: datetime
    // param MaxDelay: long = 150        Seconds between connection and logon
    // param Sha1s: string[] = [] <- alert-evidence.SHA1
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from irreport import kql
from irreport.errors import ParameterError, QueryPackError

PHASES = {
    "preparation": "Preparation",
    "detection-analysis": "Detection and Analysis",
    "containment": "Containment, Eradication and Recovery",
    "post-incident": "Post-Incident Activity",
}
SCOPES = ("device", "fleet")
PARAM_TYPES = ("devices", "datetime", "string", "string[]", "long", "real", "bool", "timespan")
# The KQL type each parameter type is declared as in `declare query_parameters`. A list of
# strings travels as a dynamic JSON array.
DECLARED_TYPES = {"devices": "dynamic", "string[]": "dynamic", "datetime": "datetime",
                  "string": "string", "long": "long", "real": "real", "bool": "bool",
                  "timespan": "timespan"}
REQUIRED_KEYS = ("id", "title", "answers", "phase", "section", "techniques", "tables", "scope")

_KEY_LINE = re.compile(r"^//\s*([a-z]+):\s*(.*?)\s*$")
_PARAM_LINE = re.compile(
    r"^//\s*param\s+(?P<name>[A-Za-z_]\w*)\s*:\s*(?P<type>[a-z\[\]]+)"
    r"(?:\s*=\s*(?P<default>\[\]|\"[^\"]*\"|\S+))?"
    r"(?:\s*<-\s*(?P<source>[\w-]+)\.(?P<column>\w+))?"
    r"(?:\s+(?P<description>.*?))?\s*$"
)
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


@dataclass(frozen=True)
class Parameter:
    """A typed query parameter; `feeds_from` names the query and column its values come from."""

    name: str
    type: str
    default: Any = None
    description: str = ""
    feeds_from: tuple[str, str] | None = None

    @property
    def required(self) -> bool:
        return self.default is None and self.feeds_from is None


@dataclass(frozen=True)
class Query:
    """One pack query: its metadata, its parameters and its KQL body."""

    id: str
    title: str
    answers: str
    phase: str
    section: str
    techniques: tuple[str, ...]
    tables: tuple[str, ...]
    scope: str
    parameters: tuple[Parameter, ...]
    body: str
    path: Path
    body_line: int
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def phase_title(self) -> str:
        return PHASES[self.phase]

    @property
    def parameterisable(self) -> bool:
        """Whether an engine may take the values as query parameters instead of `let` literals.

        The header `parameterised: no` forbids it, for a query whose translation is slow
        without literal values.
        """
        return self.extra.get("parameterised") != "no"

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def bind(self, values: dict[str, Any]) -> str:
        """Return the query text with one `let` statement per parameter prepended.

        Values missing from *values* take the declared default; a required parameter with no
        value raises ParameterError naming it.
        """
        lines = []
        for param in self.parameters:
            value = self._value_of(param, values)
            lines.append(kql.let_statement(param.name, literal_for(param, value)))
        return "\n".join(lines + [self.body])

    def parameterise(self, values: dict[str, Any]) -> ParameterisedQuery:
        """Return the body behind a `declare query_parameters` statement, with typed values.

        Defaults and errors are those of `bind`, and the rows are the same. The text does not
        depend on the values, so an engine can translate it once and reuse the translation.
        """
        declarations = []
        typed: dict[str, Any] = {}
        for param in self.parameters:
            declarations.append((param.name, DECLARED_TYPES[param.type]))
            typed[param.name] = typed_value(param, self._value_of(param, values))
        if not declarations:
            return ParameterisedQuery(self.body, typed)
        return ParameterisedQuery(kql.declare_statement(declarations) + "\n" + self.body, typed)

    def _value_of(self, param: Parameter, values: dict[str, Any]) -> Any:
        value = values.get(param.name, param.default)
        if value is None:
            raise ParameterError(
                f"query {self.id!r} needs a value for parameter {param.name!r} "
                f"({param.type}); pass it with --param {param.name}=VALUE"
            )
        return value


@dataclass(frozen=True)
class ParameterisedQuery:
    """A query's text with `declare query_parameters`, and the values the engine binds to it.

    Lists of strings are Python lists, and the other values have their parameter's type.
    """

    text: str
    values: dict[str, Any]


def literal_for(param: Parameter, value: Any) -> str:
    """Write *value* as the KQL literal of *param*'s declared type."""
    value = typed_value(param, value)
    kind = param.type
    if kind in ("devices", "string[]"):
        return kql.string_list_literal(value)
    if kind == "datetime":
        return kql.datetime_literal(value)
    if kind == "timespan":
        return kql.timespan_literal(value)
    if kind == "long":
        return kql.long_literal(value)
    if kind == "real":
        return kql.real_literal(value)
    if kind == "bool":
        return kql.bool_literal(value)
    return kql.string_literal(value)


def typed_value(param: Parameter, value: Any) -> Any:
    """Convert *value* to the Python type of *param*: a list for list types, int for long.

    Raises ParameterError when the value cannot be of that type.
    """
    kind = param.type
    if kind in ("devices", "string[]"):
        items = [value] if isinstance(value, str) else list(value)
        for item in items:
            if not isinstance(item, str):
                raise ParameterError(f"parameter {param.name!r} expects strings, got {item!r}")
        return items
    if kind == "datetime":
        if not isinstance(value, datetime):
            raise ParameterError(f"parameter {param.name!r} expects a datetime, got {value!r}")
        return value
    if kind == "timespan":
        # NOTE: kql.timespan_literal writes whole milliseconds, so a value with finer
        # precision binds more exactly as a parameter than in the let-bound text.
        if not isinstance(value, timedelta):
            raise ParameterError(f"parameter {param.name!r} expects a timespan, got {value!r}")
        return value
    if kind == "long":
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(f"parameter {param.name!r} expects an integer, got {value!r}")
        return value
    if kind == "real":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ParameterError(
                f"parameter {param.name!r} expects a number, got {value!r}") from None
    if kind == "bool":
        return _parse_bool(param, value)
    if not isinstance(value, str):
        raise ParameterError(f"parameter {param.name!r} expects a string, got {value!r}")
    return value


def parse_value(param: Parameter, text: str) -> Any:
    """Convert command-line *text* into a value of *param*'s type."""
    if param.type in ("devices", "string[]"):
        return [item.strip() for item in text.split(",") if item.strip()]
    if param.type == "long":
        try:
            return int(text)
        except ValueError:
            raise ParameterError(
                f"parameter {param.name!r} expects an integer, got {text!r}"
            ) from None
    if param.type == "real":
        try:
            return float(text)
        except ValueError:
            raise ParameterError(f"parameter {param.name!r} expects a number, got {text!r}") from None
    if param.type == "bool":
        return _parse_bool(param, text)
    if param.type == "datetime":
        from irreport.timerange import parse_instant

        return parse_instant(text, option=f"--param {param.name}")
    if param.type == "timespan":
        from irreport.timerange import parse_duration

        return parse_duration(text, option=f"--param {param.name}")
    return text


def _parse_bool(param: Parameter, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ParameterError(f"parameter {param.name!r} expects true or false, got {value!r}")


def _parse_default(kind: str, text: str | None, path: Path, line: int) -> Any:
    if text is None:
        return None
    if text == "[]":
        return []
    if text.startswith('"'):
        return text[1:-1]
    probe = Parameter(name="default", type=kind)
    try:
        return parse_value(probe, text)
    except ParameterError as exc:
        raise QueryPackError(f"invalid default {text!r}: {exc}", str(path), line) from None


def parse_query(path: Path) -> Query:
    """Read one `.kql` file and validate its header."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    meta: dict[str, str] = {}
    params: list[Parameter] = []
    body_start = len(lines)
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("//"):
            body_start = number - 1
            break
        if re.match(r"^//\s*param\b", stripped):
            params.append(_parse_param(stripped, path, number))
            continue
        match = _KEY_LINE.match(stripped)
        if match:
            meta[match.group(1)] = match.group(2)
    body = "\n".join(lines[body_start:]).strip() + "\n"
    return _build_query(meta, params, body, path, body_start + 1)


def _parse_param(line: str, path: Path, number: int) -> Parameter:
    match = _PARAM_LINE.match(line)
    if not match:
        raise QueryPackError(
            "invalid param line; expected '// param Name: type [= default] [<- query.Column] "
            "description'", str(path), number,
        )
    kind = match.group("type")
    if kind not in PARAM_TYPES:
        raise QueryPackError(
            f"unknown parameter type {kind!r}; expected one of {', '.join(PARAM_TYPES)}",
            str(path), number,
        )
    feeds = None
    if match.group("source"):
        feeds = (match.group("source"), match.group("column"))
    return Parameter(
        name=match.group("name"),
        type=kind,
        default=_parse_default(kind, match.group("default"), path, number),
        description=(match.group("description") or "").strip(),
        feeds_from=feeds,
    )


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _build_query(meta: dict[str, str], params: list[Parameter], body: str, path: Path,
                 body_line: int) -> Query:
    missing = [key for key in REQUIRED_KEYS if not meta.get(key)]
    if missing:
        raise QueryPackError(f"header lacks {', '.join(missing)}", str(path), 1)
    if meta["id"] != path.stem:
        raise QueryPackError(f"id {meta['id']!r} does not match the file name {path.name!r}",
                             str(path), 1)
    if meta["phase"] not in PHASES:
        raise QueryPackError(
            f"unknown phase {meta['phase']!r}; expected one of {', '.join(PHASES)}", str(path), 1
        )
    if meta["scope"] not in SCOPES:
        raise QueryPackError(f"unknown scope {meta['scope']!r}; expected device or fleet",
                             str(path), 1)
    if meta.get("parameterised", "yes") not in ("yes", "no"):
        raise QueryPackError(f"parameterised is {meta['parameterised']!r}; expected yes or no",
                             str(path), 1)
    techniques = _split_list(meta["techniques"])
    bad = [t for t in techniques if t != "none" and not _TECHNIQUE.match(t)]
    if bad:
        raise QueryPackError(f"invalid ATT&CK technique ids {bad}; expected such as T1110.001",
                             str(path), 1)
    known = set(REQUIRED_KEYS)
    return Query(
        id=meta["id"],
        title=meta["title"],
        answers=meta["answers"],
        phase=meta["phase"],
        section=meta["section"],
        techniques=tuple(t for t in techniques if t != "none"),
        tables=_split_list(meta["tables"]),
        scope=meta["scope"],
        parameters=tuple(params),
        body=body,
        path=path,
        body_line=body_line,
        extra={k: v for k, v in meta.items() if k not in known},
    )


def default_pack_dir() -> Path:
    """Locate the bundled `queries/` folder, inside the wheel or at the top of a checkout."""
    installed = Path(str(resources.files("irreport"))) / "queries"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "queries"


class QueryPack:
    """The set of queries in one folder, in file-name order."""

    def __init__(self, queries: list[Query], folder: Path):
        self.queries = queries
        self.folder = folder
        self._by_id = {q.id: q for q in queries}

    @classmethod
    def load(cls, folder: Path | None = None) -> "QueryPack":
        folder = folder or default_pack_dir()
        paths = sorted(folder.glob("*.kql"))
        if not paths:
            raise QueryPackError(f"no .kql files in {folder}; expected the query pack there")
        return cls([parse_query(p) for p in paths], folder)

    def __iter__(self):
        return iter(self.queries)

    def __len__(self) -> int:
        return len(self.queries)

    def get(self, query_id: str) -> Query:
        try:
            return self._by_id[query_id]
        except KeyError:
            raise QueryPackError(
                f"no query {query_id!r} in the pack; run 'irreport queries list' to see the ids"
            ) from None

    def version(self) -> str:
        """Return a short hash of every query file, so reports can tell when the pack changed."""
        digest = hashlib.sha256()
        for query in self.queries:
            digest.update(query.path.name.encode())
            digest.update(query.path.read_bytes())
        return digest.hexdigest()[:12]

    def ordered(self) -> list[Query]:
        """Return the queries so that each comes after the queries its parameters feed from."""
        done: list[Query] = []
        seen: set[str] = set()

        def visit(query: Query, chain: tuple[str, ...]) -> None:
            if query.id in seen:
                return
            if query.id in chain:
                raise QueryPackError(f"parameter feeds form a cycle: {' -> '.join(chain)}",
                                     str(query.path))
            for param in query.parameters:
                if param.feeds_from:
                    visit(self.get(param.feeds_from[0]), chain + (query.id,))
            seen.add(query.id)
            done.append(query)

        for query in self.queries:
            visit(query, ())
        return done


def describe(query: Query) -> dict[str, Any]:
    """Return the query's metadata as plain data, for JSON output and the manifest."""
    return {
        "id": query.id,
        "title": query.title,
        "answers": query.answers,
        "phase": query.phase_title,
        "section": query.section,
        "techniques": list(query.techniques),
        "tables": list(query.tables),
        "scope": query.scope,
        "parameters": [
            {"name": p.name, "type": p.type, "default": p.default, "description": p.description,
             "from": ".".join(p.feeds_from) if p.feeds_from else None}
            for p in query.parameters
        ],
    }


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, indent=2)
