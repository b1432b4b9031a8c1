"""One regular expression per group of duckdb-kql's `has` tests, behind a cheaper one.

duckdb-kql 1.1.2 writes `X has "t"` as

    regexp_matches(X, '(?i)(?:^|[^\\pL\\pN])' || regexp_escape('t') || '(?:$|[^\\pL\\pN])')

and `X has_any ("t1", "t2")` as one such test per term, joined by OR. Each test is a pass of
RE2 over the value, and the leading character class keeps RE2 from scanning for the term as
a literal. DuckDB also compiles each test's pattern when it plans the statement, 6 to 7 ms
each here because of the Unicode classes, and duckdb-kql writes every test twice, the second
time for a JSON value. At 1M events, file-analysis ran 14 tests on every process row and
took 216 ms to plan.

Where an OR joins two or more such tests of the same value X with the same case rule, the
rewrite puts the terms into one test, which runs only on values that a cheaper expression,
the bare terms as alternatives, matches:

    CASE WHEN X IS NULL THEN NULL
         WHEN regexp_matches(X, '(?i)(?:' || regexp_escape('t1') || '|' || regexp_escape('t2') || ')')
         THEN regexp_matches(X, '(?i)(?:^|[^\\pL\\pN])(?:' || regexp_escape('t1') || '|'
                                || regexp_escape('t2') || ')(?:$|[^\\pL\\pN])')
         ELSE FALSE END

A value matches the one test exactly when some term occurs in it with a boundary on each
side, as the OR of the tests requires, because a regular expression matches when any of its
alternatives does. A value that a term's test matches contains that term, which the bare
alternatives match with the same engine and flags, and a NULL value makes every test NULL.
So the group's result is unchanged. It is a CASE because duckdb-kql wraps each condition in
coalesce(..., FALSE), and there DuckDB 2.0 evaluated both sides of an AND for every row. On
120k command lines, seven separate terms took 260 ms alone, 282 ms behind an AND and 76 ms
behind the CASE, whose THEN runs only on the rows its WHEN selects. Fourteen terms took 694 ms
as separate tests, 177 ms behind the CASE, and 47 ms as one test behind it.

DuckDB's own json_serialize_sql and json_deserialize_sql parse and write the SQL, so a string
literal or a quoted name can never be taken for a test. SQL without such a group is returned
as it was.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

# The fixed parts of duckdb-kql's pattern for has (case-insensitive) and has_cs.
_TERM_START = "(?:^|[^\\pL\\pN])"
_TERM_END = "(?:$|[^\\pL\\pN])"
_CASE_INSENSITIVE = "(?i)"

# The form of the rewritten group; the three names stand for expressions put in their place.
_GUARD_SQL = "SELECT CASE WHEN value IS NULL THEN NULL WHEN prefilter THEN test ELSE FALSE END"

Node = dict[str, Any]


def add_has_prefilters(con, sql: str) -> str:
    """Return *sql* with each group of has tests joined and prefiltered, or unchanged without one.

    *con* is any DuckDB connection. It only parses and writes SQL.
    """
    if sql.count(_TERM_START) < 2:
        return sql
    tree = json.loads(_scalar(con, "SELECT json_serialize_sql(?)", sql))
    if tree.get("error"):
        # The statement is still valid for DuckDB to run; only the serialiser gave up on it.
        log.debug("SQL left without has prefilters: %s", tree.get("error_message"))
        return sql
    guard = json.loads(_scalar(con, "SELECT json_serialize_sql(?)", _GUARD_SQL))
    groups = _rewrite(tree, guard["statements"][0]["node"]["select_list"][0])
    if not groups:
        return sql
    return _scalar(con, "SELECT json_deserialize_sql(?::JSON)", json.dumps(tree))


def _scalar(con, query: str, value: str) -> str:
    # fetchall, because a half-read result would block the connection's next statement.
    return con.execute(query, [value]).fetchall()[0][0]


def _rewrite(node: Any, guard: Node) -> int:
    """Rewrite every OR below *node* in place, operands first; return the groups rewritten."""
    count = 0
    if isinstance(node, list):
        for item in node:
            count += _rewrite(item, guard)
        return count
    if not isinstance(node, dict):
        return 0
    if not _is_or(node):
        for value in node.values():
            count += _rewrite(value, guard)
        return count
    # A chain of ORs is taken whole, so that has_any's terms form one group.
    operands = _or_operands(node)
    for operand in operands:
        count += _rewrite(operand, guard)
    return count + _prefilter_or(node, operands, guard)


def _prefilter_or(node: Node, operands: list[Node], guard: Node) -> int:
    """Replace each group of has tests among the OR's operands with the guarded group."""
    groups: dict[tuple[str, str], list[int]] = {}
    terms: dict[int, Node] = {}
    for position, operand in enumerate(operands):
        test = _has_test(operand)
        if test is not None:
            subject, flags, terms[position] = test
            groups.setdefault((_shape(subject), flags), []).append(position)
    groups = {key: members for key, members in groups.items() if len(members) > 1}
    if not groups:
        return 0
    replaced: dict[int, Node] = {}
    grouped: set[int] = set()
    for (_, flags), members in groups.items():
        tests = [operands[position] for position in members]
        escaped = [terms[position] for position in members]
        replaced[members[0]] = _guarded(guard, {
            "value": _copy(tests[0]["arguments"][0]["expression"]),
            "prefilter": _matching(tests[0], flags + "(?:", escaped, ")"),
            "test": _matching(tests[0], flags + _TERM_START + "(?:", escaped, ")" + _TERM_END)})
        grouped.update(members)
    new_operands = [replaced.get(position, operand) for position, operand in enumerate(operands)
                    if position in replaced or position not in grouped]
    if len(new_operands) == 1:
        node.clear()
        node.update(new_operands[0])
    else:
        node["children"] = new_operands
    return len(groups)


def _or_operands(node: Node) -> list[Node]:
    """Return the operands of a chain of ORs, which the parser nests two at a time."""
    operands = []
    for child in node["children"]:
        if _is_or(child):
            operands.extend(_or_operands(child))
        else:
            operands.append(child)
    return operands


def _is_or(node: Node) -> bool:
    return node.get("class") == "CONJUNCTION" and node.get("type") == "CONJUNCTION_OR"


def _has_test(node: Node) -> tuple[Node, str, Node] | None:
    """Return (value, flags, regexp_escape call) when *node* is a test duckdb-kql writes for has."""
    if node.get("class") != "FUNCTION" or node.get("function_name") != "regexp_matches":
        return None
    arguments = node.get("arguments") or []
    if len(arguments) != 2:
        return None
    parts = _concatenated(arguments[1]["expression"])
    if len(parts) != 3 or _text(parts[2]) != _TERM_END:
        return None
    start, term = _text(parts[0]), parts[1]
    if start not in (_CASE_INSENSITIVE + _TERM_START, _TERM_START):
        return None
    if term.get("class") != "FUNCTION" or term.get("function_name") != "regexp_escape":
        return None
    return arguments[0]["expression"], start[: -len(_TERM_START)], term


def _matching(test: Node, start: str, terms: list[Node], end: str) -> Node:
    """Build regexp_matches(value, start || term1 || '|' || term2 ... || end).

    *test* is the group's first has test, whose value and node fields the call copies, and
    *terms* are the regexp_escape calls of every test in the group.
    """
    pattern_parts = [_constant_like(test, start)]
    for index, term in enumerate(terms):
        if index:
            pattern_parts.append(_constant_like(test, "|"))
        pattern_parts.append(_copy(term))
    pattern_parts.append(_constant_like(test, end))
    call = _copy(test)
    call["arguments"][1]["expression"] = _concatenate(test, pattern_parts)
    return call


def _concatenated(node: Node) -> list[Node]:
    """Return the operands of a chain of || operators."""
    if node.get("class") == "FUNCTION" and node.get("function_name") == "||":
        parts = []
        for argument in node.get("arguments") or []:
            parts.extend(_concatenated(argument["expression"]))
        return parts
    return [node]


def _concatenate(test: Node, parts: list[Node]) -> Node:
    """Join *parts* with ||, copying the || node of *test*'s pattern for this DuckDB's fields."""
    template = test["arguments"][1]["expression"]
    joined = parts[0]
    for part in parts[1:]:
        step = _copy(template)
        step["arguments"] = [{**template["arguments"][0], "expression": joined},
                             {**template["arguments"][1], "expression": part}]
        joined = step
    return joined


def _constant_like(test: Node, text: str) -> Node:
    """Return a copy of the first string constant of *test*'s pattern, holding *text*."""
    constant = _copy(_concatenated(test["arguments"][1]["expression"])[0])
    constant["literal"]["text"] = text
    return constant


def _text(node: Node) -> str | None:
    literal = node.get("literal") if node.get("class") == "CONSTANT" else None
    if isinstance(literal, dict) and literal.get("kind") == "STRING":
        return literal.get("text")
    return None


def _guarded(guard: Node, parts: dict[str, Node]) -> Node:
    """Return a copy of the CASE of _GUARD_SQL with its named columns replaced by *parts*."""
    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(item) for item in value]
        if not isinstance(value, dict):
            return value
        names = value.get("column_names") if value.get("class") == "COLUMN_REF" else None
        if names and len(names) == 1 and names[0] in parts:
            return parts[names[0]]
        return {key: fill(item) for key, item in value.items()}

    return fill(_copy(guard))


def _copy(node: Any) -> Any:
    # A JSON round trip copies these plain trees faster than copy.deepcopy does.
    return json.loads(json.dumps(node))


def _shape(node: Node) -> str:
    """Return *node* as JSON without source positions, so equal expressions compare equal."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith("query_location")}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return json.dumps(strip(node), sort_keys=True)
