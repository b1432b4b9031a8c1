"""The Defender XDR source against the loopback Graph: parsing, retries, failures, truncation."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

from live_helpers import SHORT_TIMEOUT_HTTP, last_day, open_live, server  # noqa: F401
from loopback_ms import Reply, hunting_body

from irreport.collect import collect
from irreport.pack import text_sha256
from irreport.sources import EMPTY, FAILED, OK, TRUNCATED
from irreport.timerange import TimeRange

QUERY = "DeviceProcessEvents | take 5"


def test_rows_parsed_with_types(tmp_path, server):
    body = {
        "Schema": [{"Name": "Timestamp", "Type": "DateTime"}, {"Name": "DeviceName", "Type": "String"},
                   {"Name": "ProcessId", "Type": "Int64"}, {"Name": "AdditionalFields", "Type": "Object"},
                   {"Name": "Tags", "Type": "Object"}],
        "Results": [{"Timestamp": "2026-03-26T09:39:50.7688641Z", "DeviceName": "testmachine3",
                     "ProcessId": "4242", "AdditionalFields": "{\"IsAudit\": true}",
                     "Tags": ["a", "b"]}],
    }
    server.script("hunting", [Reply(body=body)])
    source = open_live(tmp_path, server)

    result = source.run("q", QUERY, last_day())

    assert result.status == OK
    assert result.columns == ["Timestamp", "DeviceName", "ProcessId", "AdditionalFields", "Tags"]
    assert result.types == ["datetime", "string", "long", "dynamic", "dynamic"]
    row = result.rows[0]
    assert row["Timestamp"] == datetime(2026, 3, 26, 9, 39, 50, 768864, tzinfo=timezone.utc)
    assert row["ProcessId"] == 4242
    assert row["AdditionalFields"] == {"IsAudit": True}
    assert row["Tags"] == ["a", "b"]
    assert result.retries == 0


def test_request_carries_query_and_timespan(tmp_path, server):
    source = open_live(tmp_path, server)
    time_range = TimeRange(datetime(2026, 1, 2, tzinfo=timezone.utc),
                           datetime(2026, 1, 3, tzinfo=timezone.utc))

    result = source.run("q", QUERY, time_range)

    assert result.status == EMPTY
    sent = server.calls("hunting")[0]
    assert sent.json == {"Query": QUERY, "Timespan": "2026-01-02T00:00:00Z/2026-01-03T00:00:00Z"}
    assert sent.headers["authorization"].startswith("Bearer loopback-at-")


def test_429_honours_fractional_retry_after(tmp_path, server):
    throttled = Reply(429, {"error": {"code": "TooManyRequests", "message": "Please retry again later."}},
                      headers={"Retry-After": "0.15"})
    server.script("hunting", [throttled, throttled, throttled])
    source = open_live(tmp_path, server)

    started = time.monotonic()
    result = source.run("q", QUERY, last_day())
    elapsed = time.monotonic() - started

    assert result.status == EMPTY
    assert result.retries == 3
    assert elapsed >= 0.45
    notes = " ".join(result.warnings)
    assert notes.count("retried after 0.15 s") == 3
    assert "Retry-After" in notes
    gaps = [b.at - a.at for a, b in zip(server.calls("hunting"), server.calls("hunting")[1:])]
    assert all(gap >= 0.15 for gap in gaps)


def test_429_without_retry_after_backs_off_then_fails(tmp_path, server):
    throttled = Reply(429, {"error": {"code": "TooManyRequests", "message": "Please retry again later."}})
    server.script("hunting", [throttled] * 10)
    source = open_live(tmp_path, server)

    result = source.run("q", QUERY, last_day())

    assert result.status == FAILED
    assert result.retries == 3
    assert "HTTP 429" in result.message
    assert "still throttled after 3 retries" in result.message
    delays = [float(d) for d in re.findall(r"retried after ([0-9.]+) s", " ".join(result.warnings))]
    assert len(delays) == 3
    # Equal jitter: each delay lies between half and all of min(cap, base * 2^n).
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(0.04, 0.01 * 2 ** (attempt - 1))
        assert ceiling / 2 - 0.005 <= delay <= ceiling + 0.005
    assert len(server.calls("hunting")) == 4


def test_5xx_then_success(tmp_path, server):
    server.script("hunting", [
        Reply(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}),
        Reply(500, {"error": {"code": "UnknownError", "message": ""}}),
    ])
    source = open_live(tmp_path, server)

    result = source.run("q", QUERY, last_day())

    assert result.status == EMPTY
    assert result.retries == 2
    assert "HTTP 503" in result.warnings[0]
    assert "HTTP 500" in result.warnings[0]


def test_5xx_gives_up_after_bound(tmp_path, server):
    server.script("hunting", [Reply(504, {"error": {"code": "UnknownError", "message": "Gateway Timeout"}})] * 5)
    source = open_live(tmp_path, server)

    result = source.run("q", QUERY, last_day())

    assert result.status == FAILED
    assert result.retries == 2
    assert "HTTP 504" in result.message
    assert "gave up after 2 retries" in result.message
    assert len(server.calls("hunting")) == 3


def test_timeout_is_retried_then_fails(tmp_path, server):
    server.script("hunting", [Reply(delay=0.6)] * 3)
    source = open_live(tmp_path, server, http=SHORT_TIMEOUT_HTTP)

    result = source.run("q", QUERY, last_day())

    assert result.status == FAILED
    assert "timed out after 0.2 s" in result.message
    assert result.retries == 2


def test_timeout_then_success(tmp_path, server):
    server.script("hunting", [Reply(delay=0.6)])
    source = open_live(tmp_path, server, http=SHORT_TIMEOUT_HTTP)

    result = source.run("q", QUERY, last_day())

    assert result.status == EMPTY
    assert result.retries == 1
    assert "timed out" in result.warnings[0]


def test_malformed_json_fails_with_preview(tmp_path, server):
    server.script("hunting", [Reply(raw=b'{"schema": [ {"name": "Timestamp"')])
    source = open_live(tmp_path, server)

    result = source.run("q", QUERY, last_day())

    assert result.status == FAILED
    assert "invalid JSON" in result.message
    assert '{"schema"' in result.message
    assert result.retries == 0


def test_400_reports_service_message(tmp_path, server):
    message = ("'summarize' operator: Failed to resolve scalar expression named 'TimeGenerated'. "
               "Fix semantic errors in your query.")
    server.script("hunting", [Reply(400, {"error": {"code": "BadRequest", "message": message,
                                                    "innerError": {"request-id": "r1"}}})])
    source = open_live(tmp_path, server)

    result = source.run("q", QUERY, last_day())

    assert result.status == FAILED
    assert "HTTP 400" in result.message
    assert "BadRequest" in result.message
    assert "Failed to resolve scalar expression named 'TimeGenerated'" in result.message
    assert result.retries == 0
    assert len(server.calls("hunting")) == 1


def test_expired_token_gets_one_fresh_token(tmp_path, server):
    source = open_live(tmp_path, server)
    first = source.run("q", QUERY, last_day())
    server.revoke_tokens()

    second = source.run("q", QUERY, last_day())

    assert first.status == EMPTY
    assert second.status == EMPTY
    assert second.retries == 1
    assert "HTTP 401" in second.warnings[0]
    assert len(server.calls("token")) == 2


def test_rejected_token_fails_after_one_refresh(tmp_path, server):
    denied = Reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}})
    server.script("hunting", [denied, denied])
    source = open_live(tmp_path, server)

    result = source.run("q", QUERY, last_day())

    assert result.status == FAILED
    assert "HTTP 401" in result.message
    assert result.retries == 1


def test_range_older_than_retention_warns(tmp_path, server):
    source = open_live(tmp_path, server)
    now = datetime.now(timezone.utc)

    result = source.run("q", QUERY, TimeRange(now - timedelta(days=40), now))

    assert result.status == EMPTY
    assert any("30 days" in w for w in result.warnings)


def _events_handler(events: list[datetime], limit: int):
    """Serve the events inside the request's Timespan, cut at *limit* rows as the service does."""
    def handler(request, match):
        start, end = (datetime.fromisoformat(p.replace("Z", "+00:00"))
                      for p in request.json["Timespan"].split("/"))
        inside = [e for e in events if start <= e <= end][:limit]
        rows = [{"Timestamp": e.isoformat().replace("+00:00", "Z"), "DeviceName": "testmachine3"}
                for e in inside]
        return Reply(body=hunting_body([("Timestamp", "DateTime"), ("DeviceName", "String")], rows))
    return handler


def test_truncated_result_rerun_over_halves(tmp_path, server, pack):
    time_range = last_day()
    events = [time_range.start + timedelta(minutes=50 * i + 7) for i in range(25)]
    server.handlers["hunting"] = _events_handler(events, limit=10)
    source = open_live(tmp_path, server, section="row_limit = 10")

    collection = collect(pack, source, ["testmachine3"], time_range, only=["process-events"])
    result = collection.results["process-events"]

    assert result.status == OK
    assert result.truncated is False
    assert result.row_limit == 10
    assert len(result.rows) == 25
    assert [r["Timestamp"] for r in result.rows] == events
    assert any("run as 4 shorter ranges" in w for w in result.warnings)
    calls = server.calls("hunting")
    assert len(calls) == 1 + 2 + 4
    # Each re-run binds the query's own StartTime to the start of its Timespan.
    for call in calls[3:]:
        span_start = call.json["Timespan"].split("/")[0][:19]
        assert f"let StartTime = datetime({span_start}" in call.json["Query"]
    # The record names the four texts that made the rows, not the whole-range one.
    # Calls: whole range, first half, its two quarters, second half, its two quarters.
    sent = {text_sha256(calls[i].json["Query"]) for i in (2, 3, 5, 6)}
    assert [label for label, _ in result.parts] == [
        sub.label() for half in time_range.halves() for sub in half.halves()]
    assert {text_sha256(text) for _, text in result.parts} == sent
    assert len(sent) == 4


def test_truncation_split_stops_at_max_depth(tmp_path, server, pack):
    time_range = last_day()
    events = [time_range.start + timedelta(seconds=43 * i) for i in range(2000)]
    server.handlers["hunting"] = _events_handler(events, limit=10)
    source = open_live(tmp_path, server, section="row_limit = 10\nmax_split_depth = 2")

    result = collect(pack, source, ["testmachine3"], time_range,
                     only=["process-events"]).results["process-events"]

    assert result.status == TRUNCATED
    assert result.truncated is True
    assert "4 of 4 time ranges still reached the 10-row limit" in result.message


def test_unsplittable_truncated_result_flagged(tmp_path, server):
    time_range = last_day()
    events = [time_range.start + timedelta(minutes=i) for i in range(50)]
    server.handlers["hunting"] = _events_handler(events, limit=10)
    source = open_live(tmp_path, server, section="row_limit = 10")

    result = source.run("q", "DeviceProcessEvents | summarize count() by DeviceName", time_range)

    assert result.status == TRUNCATED
    assert result.truncated is True
    assert result.row_limit == 10
    assert "cannot be split by time" in result.message
    assert len(server.calls("hunting")) == 1
