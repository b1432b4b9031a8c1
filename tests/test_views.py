"""Which rows of a query result the dossier's tables show first."""

from __future__ import annotations

from irreport.render.views import result_view
from irreport.sources import QueryResult


def test_lateral_movement_shows_remote_control_first():
    columns = ["ConnectionTime", "SourceDevice", "TargetIP", "RemotePort"]
    rows = [{"ConnectionTime": f"2026-12-02T10:{minute:02d}:00Z", "SourceDevice": "host1",
             "TargetIP": "10.0.4.21", "RemotePort": port}
            for minute, port in enumerate([445] * 40 + [3389, 445, 5985])]
    view = result_view(QueryResult("lateral-movement", columns=columns, rows=rows),
                       "lateral-movement")

    shown_ports = [int(row[3].text) for row in view.rows]
    assert shown_ports[:2] == [3389, 5985]
    assert set(shown_ports[2:]) == {445}
    # Within each group the query's time order stays.
    assert [row[0].text for row in view.rows[:2]] == ["2026-12-02T10:40:00Z", "2026-12-02T10:42:00Z"]
    assert view.more == len(rows) - len(view.rows)


def test_secure_configuration_shows_failures_first():
    columns = ["DeviceName", "ConfigurationId", "IsCompliant"]
    rows = [{"DeviceName": "host1", "ConfigurationId": f"scid-{n}", "IsCompliant": n != 7}
            for n in range(30)]
    view = result_view(QueryResult("secure-configuration", columns=columns, rows=rows),
                       "secure-configuration")

    assert view.rows[0][1].text == "scid-7"
    assert view.rows[0][2].text == "False"


def test_table_times_have_one_width():
    from datetime import datetime, timezone

    from irreport.render.views import table_time

    whole = datetime(2026, 12, 2, 14, 41, 30, tzinfo=timezone.utc)
    assert table_time(whole) == "2026-12-02 14:41:30.000Z"
    assert table_time(whole.replace(microsecond=120000)) == "2026-12-02 14:41:30.120Z"
    assert table_time(whole.replace(microsecond=620204)) == "2026-12-02 14:41:30.620204Z"


def test_rows_naming_indicators_shown_first():
    from irreport.render.views import DISPLAY, result_view
    from irreport.sources import QueryResult

    limit = DISPLAY["outbound-connections"][1]
    benign = [{"DeviceName": "host1", "InitiatingProcessFileName": "msedge.exe",
               "RemoteIP": f"192.0.2.{i}", "Connections": 1} for i in range(limit + 5)]
    implant = {"DeviceName": "host1", "InitiatingProcessFileName": "odupdate.exe",
               "RemoteIP": "203.0.113.77", "Connections": 113}
    result = QueryResult(query_id="outbound-connections", columns=list(implant),
                         rows=benign + [implant])

    view = result_view(result, "outbound-connections", frozenset({"203.0.113.77"}))

    assert view.rows[0][1].text == "odupdate.exe"
    assert [row[2].text for row in view.rows[1:3]] == ["192.0.2.0", "192.0.2.1"]
    assert len(view.rows) == limit
    assert view.more == 6
    assert view.chosen.startswith("the 1 row naming an indicator first")


def test_short_table_keeps_query_order():
    from irreport.render.views import result_view
    from irreport.sources import QueryResult

    rows = [{"InitiatingProcessFileName": "msedge.exe", "RemoteIP": "192.0.2.1"},
            {"InitiatingProcessFileName": "odupdate.exe", "RemoteIP": "203.0.113.77"}]
    result = QueryResult(query_id="outbound-connections", columns=list(rows[0]), rows=rows)

    view = result_view(result, "outbound-connections", frozenset({"203.0.113.77"}))

    assert [row[0].text for row in view.rows] == ["msedge.exe", "odupdate.exe"]
    assert view.chosen == ""
