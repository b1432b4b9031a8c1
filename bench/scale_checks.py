"""Checks of `scale.py` on its own results, so that a fast run proves the benchmark still works."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Rules that fire on the bundled incident alone; noise must not hide any of them.
INCIDENT_RULES = {"credential-hunting", "defender-detections", "discovery-burst", "lateral-movement",
                  "logon-after-inbound", "lsass-access", "new-local-admin", "rdp-brute-force",
                  "run-key-persistence", "scheduled-task-persistence", "tampering", "tool-download"}


def stage_problems(run: dict, events: int) -> list[str]:
    """Return what is wrong with one stages run: failed queries, lost findings, wrong sizes."""
    facts = run["facts"]
    problems = [f"query {query_id} failed" for query_id in facts["failed_queries"]]
    missing = INCIDENT_RULES - set(facts["findings"])
    if missing:
        problems.append(f"{events} events: the incident's findings {sorted(missing)} are missing")
    if facts["device_events"] != events:
        problems.append(f"{events} events requested but the device has {facts['device_events']}")
    return problems


def compare_links(ours: Path, theirs: Path) -> dict:
    """Count the parent-child links both builders found and those only one of them found."""
    con = duckdb.connect()
    columns = "parent_pid, parent_created, child_pid, child_created"
    mine = f"(SELECT DISTINCT {columns} FROM read_parquet('{ours}'))"
    other = f"(SELECT DISTINCT {columns} FROM read_parquet('{theirs}'))"
    count = lambda sql: con.execute(f"SELECT count(*) FROM {sql}").fetchone()[0]  # noqa: E731
    return {
        "irreport": count(mine), "msticpy": count(other),
        "both": count(f"({mine} INTERSECT {other})"),
        "only_irreport": count(f"({mine} EXCEPT {other})"),
        "only_msticpy": count(f"({other} EXCEPT {mine})"),
    }


def graph_problems(row: dict) -> list[str]:
    comparison = row.get("comparison")
    if not comparison:
        return []
    if comparison["only_irreport"] or comparison["only_msticpy"]:
        return [f"{row['rows']} process rows: the builders disagree on "
                f"{comparison['only_irreport']} + {comparison['only_msticpy']} links"]
    return []


def query_problems(rows: list[dict]) -> list[str]:
    problems = []
    for row in rows:
        if "error" in row:
            problems.append(f"query {row['query']}: {row['error']}")
        elif not row["same_columns"]:
            problems.append(f"query {row['query']}: columns differ: KQL {row['kql_columns']}, "
                            f"SQL {row['sql_columns']}")
        elif not row["same_rows"]:
            problems.append(f"query {row['query']}: duckdb-kql and the hand-written SQL return "
                            "different rows")
        if row.get("same_rows_let_bound") is False:
            problems.append(f"query {row['query']}: the parameterised and the let-bound text "
                            "return different rows")
    return problems
