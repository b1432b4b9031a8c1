"""Defender XDR advanced hunting through Microsoft Graph `POST /v1.0/security/runHuntingQuery`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from irreport import config as settings
from irreport.sources.live import LiveSource, Page, build_client, kusto_type, timespan, typed_rows
from irreport.sources.service import Attempts, ServiceError, lookup
from irreport.timerange import TimeRange, iso

HUNTING_PATH = "/v1.0/security/runHuntingQuery"
# Advanced hunting keeps 30 days of Defender data and returns at most 100,000 rows per call.
RETENTION = timedelta(days=30)
ROW_LIMIT = 100_000
PERMISSION = ("the Microsoft Graph permission ThreatHunting.Read.All (application, with admin "
              "consent; a delegated user also needs a Defender role that allows advanced hunting)")


class DefenderSource(LiveSource):
    """Runs pack queries as Defender XDR advanced hunting queries."""

    kind = "defender"
    row_limit_default = ROW_LIMIT
    permission = PERMISSION

    def fetch(self, text: str, time_range: TimeRange, attempts: Attempts) -> Page:
        body = {"Query": text, "Timespan": timespan(time_range)}
        data = self.client.post_json(HUNTING_PATH, body, attempts,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        return parse_hunting_results(data)

    def range_warnings(self, time_range: TimeRange) -> list[str]:
        oldest = self.now() - RETENTION
        if time_range.start >= oldest:
            return []
        return [f"the range starts at {iso(time_range.start)}, before the 30 days advanced "
                f"hunting keeps; events before about {iso(oldest)} are missing"]


def parse_hunting_results(data: Any) -> Page:
    """Parse a huntingQueryResults body; keys are matched case-insensitively (schema/Schema)."""
    if not isinstance(data, dict):
        raise ServiceError(f"Microsoft Graph returned {type(data).__name__} instead of a "
                           "huntingQueryResults object", code="InvalidResponse")
    schema = lookup(data, "schema") or []
    columns = [str(lookup(item, "name")) for item in schema]
    types = [kusto_type(lookup(item, "type") or "string") for item in schema]
    rows = []
    for record in lookup(data, "results") or []:
        by_name = {key.lower(): value for key, value in record.items()}
        rows.append([record.get(c, by_name.get(c.lower())) for c in columns])
    return Page(columns=columns, types=types, rows=typed_rows(columns, types, rows))


def open_from_config(config: dict[str, Any], prompt=None, tokens=None) -> DefenderSource:
    endpoints = settings.endpoints(config)
    client = build_client(config, "defender", "Microsoft Graph advanced hunting", endpoints.graph,
                          f"{endpoints.graph_audience}/.default", tokens=tokens, prompt=prompt)
    provenance = {
        "kind": "defender",
        "endpoint": endpoints.graph + HUNTING_PATH,
        "cloud": endpoints.cloud,
        **settings.auth_settings(config).describe(),
    }
    return DefenderSource(client, settings.table(config, "defender"), provenance)
