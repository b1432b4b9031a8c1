"""Azure Data Explorer (archived Defender tables) through the v2 REST query API.

A v2 response is a JSON array of frames. HTTP 200 only means the query started: truncation and
other failures arrive inside the stream, in the QueryCompletionInformation table and in the
closing DataSetCompletion frame, so both are read before the rows are trusted.
"""

from __future__ import annotations

import json
from typing import Any

from irreport import config as settings
from irreport.errors import ConfigurationError
from irreport.sources import PARTIAL
from irreport.sources.live import LiveSource, Page, build_client, kusto_type, typed_rows
from irreport.sources.service import Attempts, ServiceError, describe_error, lookup
from irreport.timerange import TimeRange

QUERY_PATH = "/v2/rest/query"
ROW_LIMIT = 500_000
# Kusto's code for a result cut at truncationmaxrecords or truncationmaxsize.
TRUNCATION_CODES = ("E_QUERY_RESULT_SET_TOO_LARGE", "80DA0003")
PERMISSION = "the Viewer role on the database (or AllDatabasesViewer on the cluster)"


class AdxSource(LiveSource):
    """Runs pack queries against one Azure Data Explorer database."""

    kind = "adx"
    row_limit_default = ROW_LIMIT
    permission = PERMISSION

    def __init__(self, client, section: dict[str, Any], provenance: dict[str, Any]):
        super().__init__(client, section, provenance)
        self.database = str(section["database"])

    def fetch(self, text: str, time_range: TimeRange, attempts: Attempts) -> Page:
        # The pack binds StartTime and EndTime itself; Kusto has no separate timespan.
        body = {"db": self.database, "csl": text,
                "properties": {"Options": {"truncationmaxrecords": self.row_limit}}}
        frames = self.client.post_json(QUERY_PATH, body, attempts,
                                       headers={"Content-Type": "application/json; charset=utf-8"})
        return parse_frames(frames)


def parse_frames(frames: Any) -> Page:
    """Parse a v2 frame array into the primary result and any in-stream error or truncation."""
    if not isinstance(frames, list):
        raise ServiceError(f"Azure Data Explorer returned {type(frames).__name__} instead of a "
                           "v2 frame array", code="InvalidResponse")
    page = Page()
    problems: list[str] = []
    primary_found = False
    for frame in frames:
        if not isinstance(frame, dict):
            continue
        frame_type = lookup(frame, "FrameType")
        kind = lookup(frame, "TableKind")
        if frame_type == "DataTable" and kind == "PrimaryResult" and not primary_found:
            primary_found = True
            _read_primary(frame, page, problems)
        elif frame_type == "DataTable" and kind == "QueryCompletionInformation":
            problems.extend(_completion_problems(frame))
        elif frame_type == "DataSetCompletion":
            problems.extend(_dataset_problems(frame))
    if problems:
        page.message = "; ".join(dict.fromkeys(problems))
        page.truncated = any(code in page.message for code in TRUNCATION_CODES)
        if _other_than_truncation(problems):
            page.status = PARTIAL
    return page


def _read_primary(frame: dict[str, Any], page: Page, problems: list[str]) -> None:
    columns = lookup(frame, "Columns") or []
    page.columns = [str(lookup(c, "ColumnName")) for c in columns]
    page.types = [kusto_type(lookup(c, "ColumnType") or "string") for c in columns]
    positional = []
    for row in lookup(frame, "Rows") or []:
        if isinstance(row, dict):
            # An error raised while rows were streamed replaces a row with an error object.
            problems.extend(_one_api_messages(row))
        else:
            positional.append(row)
    page.rows = typed_rows(page.columns, page.types, positional)


def _completion_problems(frame: dict[str, Any]) -> list[str]:
    columns = [str(lookup(c, "ColumnName")) for c in lookup(frame, "Columns") or []]
    problems = []
    for row in lookup(frame, "Rows") or []:
        record = dict(zip(columns, row)) if isinstance(row, list) else {}
        level = str(record.get("LevelName") or "")
        payload = record.get("Payload") or ""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        if level in ("Error", "Critical") or any(code in text for code in TRUNCATION_CODES):
            problems.append(_payload_message(text))
    return problems


def _payload_message(text: str) -> str:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        return text[:300]
    if isinstance(payload, dict):
        return str(lookup(payload, "Text") or lookup(payload, "ErrorMessage") or text)[:300]
    return text[:300]


def _dataset_problems(frame: dict[str, Any]) -> list[str]:
    problems = []
    if lookup(frame, "HasErrors"):
        problems.extend(_one_api_messages(frame) or ["the query reported errors without details"])
    if lookup(frame, "Cancelled"):
        problems.append("the query was cancelled by the service")
    return problems


def _one_api_messages(container: dict[str, Any]) -> list[str]:
    messages = []
    for item in lookup(container, "OneApiErrors") or []:
        error = lookup(item, "error") if isinstance(item, dict) else None
        if isinstance(error, dict):
            messages.append(describe_error(error))
    return messages


def _other_than_truncation(problems: list[str]) -> bool:
    return any(not any(code in p for code in TRUNCATION_CODES) for p in problems)


def open_from_config(config: dict[str, Any], prompt=None, tokens=None) -> AdxSource:
    section = settings.table(config, "adx")
    missing = [key for key in ("cluster_url", "database") if not section.get(key)]
    if missing:
        raise ConfigurationError(
            f"[adx] lacks {' and '.join(missing)}; set cluster_url such as "
            "https://mycluster.westeurope.kusto.windows.net and the database name")
    cluster = str(section["cluster_url"]).rstrip("/")
    # The token audience is the cluster itself unless the configuration names another.
    audience = str(section.get("audience") or cluster).rstrip("/")
    client = build_client(config, "adx", "Azure Data Explorer", cluster, f"{audience}/.default",
                          tokens=tokens, prompt=prompt)
    provenance = {
        "kind": "adx",
        "endpoint": cluster + QUERY_PATH,
        "database": str(section["database"]),
        **settings.auth_settings(config).describe(),
    }
    return AdxSource(client, section, provenance)
