"""The analysis results that the dossier presents: findings, indicators and actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITY_ORDER = {"High": 3, "Medium": 2, "Low": 1, "Informational": 0}


@dataclass
class Evidence:
    """Rows of one query that support a finding."""

    query_id: str
    rows: list[dict[str, Any]]
    columns: list[str]


@dataclass
class Finding:
    """A statement about the incident with the rows that support it."""

    rule: str
    title: str
    statement: str
    severity: str
    techniques: list[str]
    phase: str
    first_seen: datetime | None
    last_seen: datetime | None
    devices: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return SEVERITY_ORDER.get(self.severity, 0)


@dataclass
class Indicator:
    """One indicator of compromise, with where it was seen."""

    kind: str
    value: str
    context: str
    first_seen: datetime | None
    rules: list[str] = field(default_factory=list)


@dataclass
class Action:
    """A containment, eradication or recovery step derived from findings."""

    title: str
    detail: str
    targets: list[str]
    rules: list[str]
    priority: int = 2
