"""The Sentinel and Azure Data Explorer sources against the loopback server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from live_helpers import last_day, open_live, server  # noqa: F401
from loopback_ms import WORKSPACE, Reply, adx_frames, log_analytics_body

from irreport.collect import collect
from irreport.sources import EMPTY, FAILED, NOT_AVAILABLE, OK, PARTIAL, TRUNCATED
from irreport.timerange import TimeRange

QUERY = "DeviceProcessEvents | where Timestamp > StartTime | take 5"


def test_sentinel_rows_and_timespan(tmp_path, server):
    server.script("loganalytics", [Reply(body=log_analytics_body(
        [("Timestamp", "datetime"), ("DeviceName", "string"), ("count_", "long"),
         ("AdditionalFields", "dynamic")],
        [["2026-01-02T03:04:05.1234567Z", "testmachine3", 3, "{\"Key\": 1}"]]))])
    source = open_live(tmp_path, server, kind="sentinel")
    time_range = TimeRange(datetime(2026, 1, 2, tzinfo=timezone.utc),
                           datetime(2026, 1, 3, tzinfo=timezone.utc))

    result = source.run("q", QUERY, time_range)

    assert result.status == OK
    assert result.rows[0]["Timestamp"] == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    assert result.rows[0]["count_"] == 3
    assert result.rows[0]["AdditionalFields"] == {"Key": 1}
    sent = server.calls("loganalytics")[0]
    assert sent.path == f"/v1/workspaces/{WORKSPACE}/query"
    # One hour earlier for clock skew and 48 hours later for late-arriving rows.
    assert sent.json["timespan"] == "2026-01-01T23:00:00Z/2026-01-05T00:00:00Z"


def test_sentinel_aliases_timestamp(tmp_path, server):
    source = open_live(tmp_path, server, kind="sentinel")

    result = source.run("q", QUERY, last_day())

    assert result.status == EMPTY
    sent = server.calls("loganalytics")[0].json["query"]
    assert sent.startswith('let DeviceProcessEvents = DeviceProcessEvents | extend Timestamp = '
                           'column_ifexists("Timestamp", TimeGenerated);')
    assert sent.endswith(QUERY)
    assert "DeviceEvents =" not in sent
    assert result.text == sent


def test_sentinel_partial_error_marks_partial(tmp_path, server):
    error = {"code": "PartialError", "message": "There were some errors when processing your query.",
             "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server."}]}
    server.script("loganalytics", [Reply(body=log_analytics_body(
        [("DeviceName", "string")], [["testmachine3"]], error=error))])
    source = open_live(tmp_path, server, kind="sentinel")

    result = source.run("q", QUERY, last_day())

    assert result.status == PARTIAL
    assert result.ok is False
    assert len(result.rows) == 1
    assert "PartialError" in result.message
    assert "Something went wrong processing your query" in result.message
    assert result.truncated is False


def test_sentinel_row_limit_flagged(tmp_path, server):
    rows = [["testmachine3"]] * 5
    server.script("loganalytics", [Reply(body=log_analytics_body([("DeviceName", "string")], rows))])
    source = open_live(tmp_path, server, kind="sentinel", section="row_limit = 5")

    result = source.run("q", QUERY, last_day())

    assert result.status == TRUNCATED
    assert result.truncated is True
    assert result.row_limit == 5


def test_sentinel_no_content_is_empty(tmp_path, server):
    server.script("loganalytics", [Reply(204)])
    source = open_live(tmp_path, server, kind="sentinel")

    result = source.run("q", QUERY, last_day())

    assert result.status == EMPTY
    assert result.rows == []


def test_sentinel_tvm_tables_not_available(tmp_path, server, pack):
    source = open_live(tmp_path, server, kind="sentinel")

    assert "DeviceTvmSecureConfigurationAssessment" in source.unavailable_tables()
    collection = collect(pack, source, ["testmachine3"], last_day(), only=["secure-configuration"])
    result = collection.results["secure-configuration"]

    assert result.status == NOT_AVAILABLE
    assert "not sent to Sentinel" in result.message
    assert server.calls("loganalytics") == []


def test_sentinel_403_names_service_message(tmp_path, server):
    server.script("loganalytics", [Reply(403, {"error": {
        "code": "InsufficientAccessError",
        "message": "The provided credentials have insufficient access to perform the requested operation"}})])
    source = open_live(tmp_path, server, kind="sentinel")

    result = source.run("q", QUERY, last_day())

    assert result.status == FAILED
    assert "HTTP 403" in result.message
    assert "InsufficientAccessError" in result.message


def test_adx_rows_parsed(tmp_path, server):
    server.script("adx", [Reply(body=adx_frames(
        [("Timestamp", "datetime"), ("DeviceName", "string"), ("IsAudit", "bool")],
        [["2026-01-02T03:04:05Z", "testmachine3", True]]))])
    source = open_live(tmp_path, server, kind="adx")

    result = source.run("q", QUERY, last_day())

    assert result.status == OK
    assert result.rows == [{"Timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                            "DeviceName": "testmachine3", "IsAudit": True}]
    sent = server.calls("adx")[0].json
    assert sent["db"] == "archive"
    assert sent["csl"] == QUERY
    assert result.retries == 0


def test_adx_truncation_flagged(tmp_path, server):
    error = {"error": {
        "code": "LimitsExceeded", "message": "Request is invalid and cannot be executed.",
        "@type": "Kusto.Data.Exceptions.KustoServicePartialQueryFailureLimitsExceededException",
        "@message": "Query execution has exceeded the allowed limits (80DA0003): The results of "
                    "this query exceed the set limit of 500000 records, so not all records were "
                    "returned (E_QUERY_RESULT_SET_TOO_LARGE, 0x80DA0003)."}}
    completion = [["2026-01-01T00:00:00Z", "", "", "", "", 2, "Error", -2133196797,
                   "LimitsExceeded (E_QUERY_RESULT_SET_TOO_LARGE)", 0, "QueryInfo",
                   "{\"Count\":1,\"Text\":\"Query result set has exceeded the internal record count "
                   "limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)\"}"]]
    server.script("adx", [Reply(body=adx_frames([("DeviceName", "string")], [["a"], ["b"]],
                                                completion_rows=completion, errors=[error]))])
    source = open_live(tmp_path, server, kind="adx")

    result = source.run("q", QUERY, last_day())

    assert result.status == TRUNCATED
    assert result.truncated is True
    assert len(result.rows) == 2
    assert "E_QUERY_RESULT_SET_TOO_LARGE" in result.message


def test_adx_in_stream_error_is_partial(tmp_path, server):
    error = {"error": {"code": "General_InternalServerError",
                       "message": "Query execution lacks memory resources to complete (80DA0007)"}}
    server.script("adx", [Reply(body=adx_frames([("DeviceName", "string")], [["a"]], errors=[error]))])
    source = open_live(tmp_path, server, kind="adx")

    result = source.run("q", QUERY, last_day())

    assert result.status == PARTIAL
    assert result.truncated is False
    assert "lacks memory resources" in result.message


def test_adx_error_row_inside_results(tmp_path, server):
    frames = adx_frames([("DeviceName", "string")], [["a"]])
    frames[1]["Rows"].append({"OneApiErrors": [{"error": {"code": "LimitsExceeded",
                                                          "message": "Request is invalid"}}]})
    server.script("adx", [Reply(body=frames)])
    source = open_live(tmp_path, server, kind="adx")

    result = source.run("q", QUERY, last_day())

    assert result.status == PARTIAL
    assert result.rows == [{"DeviceName": "a"}]
    assert "LimitsExceeded" in result.message


def test_adx_503_then_success(tmp_path, server):
    server.script("adx", [Reply(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}},
                                headers={"Retry-After": "0.05"})])
    source = open_live(tmp_path, server, kind="adx")

    result = source.run("q", QUERY, last_day())

    assert result.status == EMPTY
    assert result.retries == 1
    assert "retried after 0.05 s" in result.warnings[0]


def test_adx_not_a_frame_array_fails(tmp_path, server):
    server.script("adx", [Reply(body={"Tables": []})])
    source = open_live(tmp_path, server, kind="adx")

    result = source.run("q", QUERY, last_day())

    assert result.status == FAILED
    assert "v2 frame array" in result.message


def test_range_split_keeps_boundary_row_once(tmp_path, server, pack):
    time_range = last_day()
    middle = time_range.start + timedelta(hours=12)
    stamps = [time_range.start + timedelta(hours=1), middle, time_range.end - timedelta(hours=1)]

    def handler(request, match):
        text = request.json["csl"]
        rows = [[s.isoformat().replace("+00:00", "Z"), "testmachine3"] for s in stamps
                if _bound(text, "StartTime") <= s <= _bound(text, "EndTime")]
        return Reply(body=adx_frames([("Timestamp", "datetime"), ("DeviceName", "string")], rows))

    server.handlers["adx"] = handler
    source = open_live(tmp_path, server, kind="adx", section="row_limit = 3")

    result = collect(pack, source, ["testmachine3"], time_range,
                     only=["process-events"]).results["process-events"]

    assert result.status == OK
    assert [r["Timestamp"] for r in result.rows] == stamps


def _bound(text: str, name: str) -> datetime:
    marker = f"let {name} = datetime("
    value = text[text.index(marker) + len(marker):].split(")")[0]
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
