"""The timeline: the declared mapping, merging, burst detection and the chart."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irreport.analysis.event_mapping import load_specs
from irreport.analysis.timeline import TimelineEvent, build_timeline, find_bursts, timeline_chart

T0 = datetime(2026, 12, 2, 14, 42, 5, 120000, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(seconds: float, process: str = "cmd.exe", device: str = "host1",
          category: str = "process", alert: bool = False) -> TimelineEvent:
    return TimelineEvent(time=at(seconds), device=device, table="DeviceProcessEvents",
                         category=category, action="ProcessCreated", process=process,
                         account="administrator1", target="x.exe", details="", query_id="process-events",
                         alert=alert)


class RowsOnly:
    """A stand-in for Collection that returns hand-written rows per query id."""

    def __init__(self, **rows_by_query):
        self.by_query = {key.replace("_", "-"): rows for key, rows in rows_by_query.items()}
        self.devices = ["host1"]
        self.queries = {}

    def rows(self, query_id):
        return self.by_query.get(query_id, [])


def test_mapping_names_only_pack_queries(pack):
    pack_ids = {query.id for query in pack}
    for query_id in load_specs():
        assert query_id in pack_ids, f"{query_id} is mapped but not in the pack"


def test_mapping_tables_belong_to_query(pack):
    for query_id, spec in load_specs().items():
        assert spec.table in pack.get(query_id).tables, query_id


def test_mapping_covers_graph_inputs():
    attached = {query_id for query_id, spec in load_specs().items() if spec.attach}
    assert attached >= {"file-analysis", "user-writable-files", "outbound-connections", "run-keys",
                        "malicious-activity", "lsass-access", "scheduled-tasks-services",
                        "local-accounts"}


def test_summary_becomes_one_event_at_first_seen():
    summary = {"DeviceName": "host1", "RemoteIP": "192.0.2.10", "AccountName": "admin",
               "AccountDomain": "host1", "LogonType": "Network", "Attempts": 42,
               "FirstSeen": at(0), "LastSeen": at(86400), "FailureReasons": ["UnknownUser"]}
    (only,) = build_timeline(RowsOnly(failed_logons=[summary]))
    assert only.time == at(0)
    assert only.category == "failed logon"
    assert only.target == "192.0.2.10"
    assert only.details.startswith("failed logons: 42, the last at 2026-12-03T14:42:05.120Z")


def test_alerts_one_event_per_alert():
    evidence = [
        {"AlertId": "da1", "AlertTime": at(60), "Title": "Mimikatz", "EntityType": "File"},
        {"AlertId": "da1", "AlertTime": at(60), "Title": "Mimikatz", "EntityType": "Machine",
         "DeviceName": "host1"},
        {"AlertId": "da2", "AlertTime": at(30), "Title": "Run key", "DeviceName": "host1"},
    ]
    events = build_timeline(RowsOnly(alert_evidence=evidence))
    assert [e.action for e in events] == ["Run key", "Mimikatz"]
    assert all(e.alert for e in events)
    assert events[1].device == "host1"


def test_alert_event_merges_evidence_rows():
    base = {"AlertId": "da7", "AlertTime": at(60), "Title": "Suspicious download",
            "Severity": "High", "Category": "Execution"}
    evidence = [
        {**base, "EntityType": "Machine", "DeviceName": "host1"},
        {**base, "EntityType": "User", "AccountDomain": "contoso", "AccountName": "alice"},
        {**base, "EntityType": "File", "FileName": "odupdate.exe"},
        {**base, "EntityType": "Ip", "RemoteIP": "198.51.100.200"},
    ]
    (only,) = build_timeline(RowsOnly(alert_evidence=evidence))
    assert only.device == "host1"
    assert only.account == "contoso\\alice"
    assert only.target == "odupdate.exe 198.51.100.200"
    assert only.details.startswith("High severity, Execution")


def test_repeated_file_event_kept_once():
    row = {"Timestamp": at(5), "DeviceName": "host1", "ActionType": "FileCreated",
           "FolderPath": "C:\\Users\\Public\\odupdate.exe", "InitiatingProcessFileName": "certutil.exe",
           "Evidence": "File"}
    events = build_timeline(RowsOnly(file_analysis=[row], user_writable_files=[dict(row)]))
    assert len(events) == 1
    assert events[0].query_id == "file-analysis"


def test_timeline_sorted_across_queries():
    process = {"Timestamp": at(10), "DeviceName": "host1", "ActionType": "ProcessCreated",
               "FileName": "whoami.exe", "InitiatingProcessFileName": "cmd.exe"}
    registry = {"Timestamp": at(2), "DeviceName": "host1", "ActionType": "RegistryValueSet",
                "RegistryKey": "HKCU\\Run", "RegistryValueName": "Upd", "InitiatingProcessFileName": "reg.exe"}
    events = build_timeline(RowsOnly(process_events=[process], run_keys=[registry]))
    assert [e.process for e in events] == ["reg.exe", "cmd.exe"]
    assert events[0].target == "HKCU\\Run\\Upd"


def test_bursts_exact_on_hand_made_events():
    # Six events 0.2 s apart, a pause, four more (too few), then human-paced ones.
    times = [0, 0.2, 0.4, 0.6, 0.8, 1.0, 10, 10.5, 11, 11.5, 100, 200, 300, 400, 500]
    bursts = find_bursts([event(t) for t in times])
    device_bursts = [b for b in bursts if b.kind == "device"]
    assert len(device_bursts) == 1
    (burst,) = device_bursts
    assert burst.count == 6
    assert burst.start == at(0)
    assert burst.end == at(1.0)
    assert burst.events_per_second == pytest.approx(6.0)
    assert burst.processes == ["cmd.exe"]


def test_bursts_per_process_and_device():
    # Two processes interleave: together a burst of 8, alone neither reaches five.
    events = [event(i * 0.1, process="a.exe" if i % 2 else "b.exe") for i in range(8)]
    bursts = find_bursts(events)
    assert [(b.kind, b.count) for b in bursts] == [("device", 8)]
    assert bursts[0].processes == ["b.exe", "a.exe"]


def test_bursts_separate_devices():
    events = [event(i * 0.1, device="host1") for i in range(3)]
    events += [event(i * 0.1 + 0.05, device="host2") for i in range(3)]
    assert find_bursts(sorted(events, key=lambda e: e.time)) == []


def test_bursts_unsorted_input():
    events = [event(t) for t in (0.4, 0.0, 0.2, 0.8, 0.6)]
    (device_burst, process_burst) = find_bursts(events)
    assert device_burst.start == at(0)
    assert process_burst.kind == "process"


def test_burst_zero_duration_rate_is_finite():
    (burst, _) = find_bursts([event(0) for _ in range(5)])
    assert burst.events_per_second == pytest.approx(5000.0)


def test_chart_writes_png(tmp_path: Path):
    events = [event(i * 0.1) for i in range(10)] + [event(3600, category="file")]
    events.append(event(4000, category="alert", alert=True))
    path = timeline_chart(events, tmp_path / "timeline.png", bursts=find_bursts(events))
    assert path.stat().st_size > 5000


def test_chart_empty_says_no_events(tmp_path: Path):
    path = timeline_chart([], tmp_path / "empty.svg")
    assert "no events" in path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sample_events(sample_collection):
    return build_timeline(sample_collection)


def test_sample_script_burst(sample_events):
    script_start = datetime(2026, 12, 2, 14, 42, 5, tzinfo=timezone.utc)
    bursts = [b for b in find_bursts(sample_events) if b.kind == "device"
              and script_start <= b.start < script_start + timedelta(seconds=1)]
    assert len(bursts) == 1
    assert bursts[0].device == "testmachine3"
    assert bursts[0].count >= 20
    assert bursts[0].processes[0] == "cmd.exe"
    assert bursts[0].seconds < 3


def test_sample_brute_force_no_burst(sample_events):
    failed = [e for e in sample_events if e.category == "failed logon"]
    assert (failed[-1].time - failed[0].time) > timedelta(days=2)
    for burst in find_bursts(sample_events):
        assert not any(e.category == "failed logon" for e in burst.events), burst


def test_sample_alerts_one_per_alert(sample_events, sample_collection):
    alert_ids = {row["AlertId"] for row in sample_collection.rows("alert-evidence")}
    assert len([e for e in sample_events if e.alert]) == len(alert_ids)


def test_sample_timeline_sorted(sample_events):
    assert all(a.time <= b.time for a, b in zip(sample_events, sample_events[1:]))


def test_sample_chart(sample_events, tmp_path: Path):
    path = timeline_chart(sample_events, tmp_path / "timeline.png", find_bursts(sample_events))
    assert path.stat().st_size > 20000


def test_template_empty_without_its_values():
    from irreport.analysis.event_mapping import compile_template

    details = compile_template("logon on {TargetDevice} as {AccountName} {LogonType}")
    assert details({"TargetDevice": "", "AccountName": None}) == ""
    assert details({"TargetDevice": "srv-files01", "AccountName": "admin1",
                    "LogonType": "Network"}) == "logon on srv-files01 as admin1 Network"


def test_connection_without_logon_says_nothing_of_one():
    connection = {"ConnectionTime": at(0), "SourceDevice": "host1", "SourceIP": "10.0.4.13",
                  "TargetIP": "10.0.4.21", "RemotePort": 445, "InitiatingProcessFileName": "System",
                  "InitiatingProcessAccountName": "system"}
    linked = {**connection, "ConnectionTime": at(60), "TargetDevice": "srv-files01",
              "AccountName": "admin1", "LogonType": "Network", "LogonTime": at(60.04)}
    unlinked = {**connection, "TargetDevice": "", "AccountName": "", "LogonType": "",
                "LogonTime": None}
    events = build_timeline(RowsOnly(lateral_movement=[unlinked, linked]))
    assert [e.category for e in events] == ["connection to another device"] * 2
    assert events[0].details == ""
    assert events[1].details == "logon on srv-files01 as admin1 Network"


def test_template_joins_a_list_of_names():
    from irreport.analysis.event_mapping import compile_template

    details = compile_template("failed logons: {Attempts}: {FailureReasons}")
    assert details({"Attempts": 2, "FailureReasons": ["UnknownUser", "WrongPassword"]}) == (
        "failed logons: 2: UnknownUser, WrongPassword")


def test_template_drops_separators_of_empty_fields():
    from irreport.analysis.event_mapping import compile_template

    account = compile_template("{AccountDomain}\\{AccountName}")
    assert account({"AccountDomain": "", "AccountName": "rdp"}) == "rdp"
    assert account({"AccountDomain": "corp", "AccountName": "rdp"}) == "corp\\rdp"
    target = compile_template("{RemoteIP}:{RemotePort}")
    assert target({"RemoteIP": "203.0.113.7", "RemotePort": None}) == "203.0.113.7"
    evidence = compile_template("{FileName} {RemoteIP} {RemoteUrl}")
    assert evidence({"FileName": "powershell.exe", "RemoteIP": "",
                     "RemoteUrl": "http://203.0.113.77/a.ps1"}) == (
        "powershell.exe http://203.0.113.77/a.ps1")
    assert evidence({"FileName": "", "RemoteIP": "", "RemoteUrl": "http://x.test/"}) == "http://x.test/"


def test_template_optional_parts_need_values():
    from irreport.analysis.event_mapping import compile_template

    details = compile_template("[SHA1 {SHA1}][, renamed from {PreviousFileName}]")
    sha1 = "fc98c75eec53f4ab6dc0be9559b1000276c22ffb"
    assert details({"SHA1": sha1, "PreviousFileName": "a.tmp"}) == f"SHA1 {sha1}, renamed from a.tmp"
    assert details({"SHA1": "", "PreviousFileName": "a.tmp"}) == "renamed from a.tmp"
    assert details({"SHA1": sha1, "PreviousFileName": None}) == f"SHA1 {sha1}"
    assert details({}) == ""


def test_template_keeps_one_space_after_a_label():
    from irreport.analysis.event_mapping import compile_template

    details = compile_template("logon on {TargetDevice} as {AccountName} {LogonType}")
    assert details({"TargetDevice": "srv-files01", "LogonType": "Network"}) == (
        "logon on srv-files01 as Network")


def test_template_reads_a_json_list_text():
    from irreport.analysis.event_mapping import compile_template

    details = compile_template("{Severity} severity, {DetectionSource}, {AttackTechniques}")
    row = {"Severity": "High", "DetectionSource": "EDR",
           "AttackTechniques": '["Brute Force (T1110)", "Valid Accounts (T1078)"]'}
    assert details(row) == "High severity, EDR, Brute Force (T1110), Valid Accounts (T1078)"
    row["AttackTechniques"] = "[not json"
    assert details(row) == "High severity, EDR, [not json"


def test_timeline_device_column_for_several_devices():
    from types import SimpleNamespace

    from irreport.render.context import timeline_view

    moment = datetime(2026, 12, 2, 14, 42, tzinfo=timezone.utc)
    events = [TimelineEvent(moment, device, "DeviceProcessEvents", "process", "ProcessCreated",
                            "cmd.exe", "corp\\user1", "whoami.exe", "whoami /all", "process-events")
              for device in ("host1", "host2")]
    analysis = SimpleNamespace(timeline=events, findings=[], alerts=[])

    single, _ = timeline_view(analysis, ["host1"])
    assert "Device" not in single.columns
    assert [cell.text for cell in single.rows[0]][:2] == ["2026-12-02 14:42:00.000Z", "process"]

    several, _ = timeline_view(analysis, ["host1", "host2"])
    assert several.columns[1] == "Device"
    assert [row[1].text for row in several.rows] == ["host1", "host2"]


def test_powershell_command_line_shown_by_process_event():
    command = "powershell.exe -NoProfile -Command Get-Date"
    created = {"Timestamp": at(0), "DeviceName": "host1", "ActionType": "ProcessCreated",
               "FileName": "powershell.exe", "ProcessCommandLine": command,
               "InitiatingProcessFileName": "cmd.exe", "AccountName": "user1"}
    command_line = {"Timestamp": at(0), "DeviceName": "host1", "Kind": "Command line",
                    "Command": command, "AccountName": "user1"}
    cmdlet = {**command_line, "Timestamp": at(0.5), "Kind": "Command", "Command": "Get-Date"}
    elsewhere = {**command_line, "DeviceName": "host2"}

    events = build_timeline(RowsOnly(process_events=[created],
                                     powershell_commands=[command_line, cmdlet, elsewhere]))

    assert [(e.query_id, e.device) for e in events] == [
        ("process-events", "host1"), ("powershell-commands", "host2"),
        ("powershell-commands", "host1")]
    assert events[2].details == "Get-Date"


def test_connection_summary_shown_by_lateral_movement():
    summary = {"FirstSeen": at(0), "LastSeen": at(0), "DeviceName": "host1", "RemoteIP": "10.0.4.21",
               "RemotePort": 3389, "Connections": 1, "InitiatingProcessFileName": "mstsc.exe"}
    hop = {"ConnectionTime": at(0), "SourceDevice": "host1", "TargetIP": "10.0.4.21",
           "RemotePort": 3389, "InitiatingProcessFileName": "mstsc.exe", "TargetDevice": "srv1",
           "AccountName": "admin1", "LogonType": "RemoteInteractive"}
    other = {**summary, "InitiatingProcessFileName": "chrome.exe", "RemotePort": 443}

    events = build_timeline(RowsOnly(outbound_connections=[summary, other],
                                     lateral_movement=[hop]))

    assert sorted((e.category, e.process) for e in events) == [
        ("connection to another device", "mstsc.exe"), ("network", "chrome.exe")]


def test_sample_attack_steps_appear_once(sample_events):
    for moment in ("2026-12-02T14:46:30+00:00", "2026-12-02T14:49:00+00:00",
                   "2026-12-02T14:49:21.655000+00:00", "2026-12-02T14:58:31.207000+00:00"):
        at_moment = [e for e in sample_events if e.time == datetime.fromisoformat(moment)]
        assert len(at_moment) == 1, [(e.category, e.action) for e in at_moment]


def test_sample_successful_logons_in_timeline(sample_events):
    logons = {e.account: e for e in sample_events if e.query_id == "logons"}
    assert logons["corp\\svc_qa"].details.startswith("logons: 360, the last at ")
    assert "corp\\noah.berger" in logons
    # The attacker's logon shows as the logon after the inbound connection, once.
    attacker = [e for e in sample_events if e.account == "testmachine3\\administrator1"
                and e.category == "logon"]
    assert [e.query_id for e in attacker] == ["inbound-then-logon"]


def test_summary_event_keeps_its_last_time(tmp_path: Path):
    row = {"FirstSeen": at(0), "LastSeen": at(9 * 3600), "DeviceName": "host1",
           "InitiatingProcessFileName": "odupdate.exe", "RemoteIP": "203.0.113.77",
           "RemotePort": 443, "Connections": 113, "ActionType": "ConnectionSuccess"}
    (only,) = build_timeline(RowsOnly(outbound_connections=[row]))
    assert only.time == at(0)
    assert only.until == at(9 * 3600)
    chart = timeline_chart([only, event(60)], tmp_path / "span.png")
    assert chart.stat().st_size > 5000


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60), st.lists(st.integers(-7, 47), max_size=6))
def test_events_near_anchors_as_a_scan(minutes, anchor_minutes):
    from irreport.render.context import _events_near, _near

    # Whole minutes, so that events fall exactly on the edge of a ten-minute window.
    events = [event(m * 60) for m in sorted(minutes)]
    anchors = sorted(at(m * 60) for m in anchor_minutes)
    window = timedelta(minutes=10)

    scanned = [e for e in events if _near(e.time, anchors, window)]
    assert list(_events_near(events, anchors, window)) == scanned


def test_timeline_view_stops_at_its_row_limit():
    from types import SimpleNamespace

    from irreport.render.context import TIMELINE_ROWS, timeline_view

    events = [event(s, category="protection") for s in range(1000)]
    alert = {"time": at(900)}
    analysis = SimpleNamespace(timeline=events, findings=[], alerts=[alert])

    view, left_out = timeline_view(analysis, ["host1"])
    assert view.total == TIMELINE_ROWS
    assert view.rows[0][0].text == "2026-12-02 14:47:05.120Z"
    assert left_out == 1000 - TIMELINE_ROWS


def test_chart_marks_one_per_slot_past_its_limit():
    from irreport.analysis.timeline_chart import MARK_SLOTS, _mark_times

    few = [at(s) for s in range(MARK_SLOTS)]
    assert _mark_times(few, few[0], few[-1] - few[0]) == few

    many = [at(s * 0.37) for s in range(4 * MARK_SLOTS)]
    span = many[-1] - many[0]
    marks = _mark_times(many, many[0], span)
    assert len(marks) <= MARK_SLOTS
    half_slot = span / MARK_SLOTS / 2
    nearest = [min(abs(moment - mark) for mark in marks) for moment in many[::97]]
    assert max(nearest) <= half_slot


def _mapping_templates() -> list[str]:
    import tomllib

    from irreport.analysis.event_mapping import MAPPING_FILE, TEMPLATE_FIELDS

    raw = tomllib.loads((Path(__file__).parents[1] / "irreport" / "analysis" / MAPPING_FILE)
                        .read_text(encoding="utf-8"))
    return sorted({entry[name] for entry in raw.values() for name in TEMPLATE_FIELDS
                   if isinstance(entry, dict) and isinstance(entry.get(name), str)})


_TEMPLATES = _mapping_templates() + ["{A}:{B}", "x {A} y {A} z", "{A}, {B} {C}", "plain"]
_CELL = st.one_of(
    st.none(), st.just(""), st.sampled_from(["a", " b ", "[x", '["T1110", "T1078"]', "[]"]),
    st.text(max_size=4), st.integers(-3, 3), st.booleans(),
    st.lists(st.sampled_from(["x", "y", 1]), max_size=2),
    st.datetimes(min_value=datetime(1969, 12, 31), max_value=datetime(2030, 1, 1)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1),
                 timezones=st.just(timezone.utc)))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_TEMPLATES), st.data())
def test_column_fill_equals_row_fill(template, data):
    """Rows mix value types, and one column contains a single type with NULLs, which list_texts
    converts at once."""
    from string import Formatter

    from irreport.analysis.event_mapping import compile_column_template, compile_template

    names = {name for _, name, _, _ in Formatter().parse(template.replace("[", "").replace(
        "]", "")) if name}
    count = data.draw(st.integers(0, 6))
    columns = {name: data.draw(st.lists(st.one_of(st.none(), _CELL), min_size=count,
                                        max_size=count)) for name in sorted(names)}
    one_kind = data.draw(st.sampled_from(sorted(columns) or [None]))
    if one_kind is not None:
        kind = data.draw(st.sampled_from(["text", "time", "aware time", "number"]))
        cell = {"text": st.one_of(st.text(max_size=5), st.sampled_from(['["a", "b"]', "[x"])),
                "time": st.datetimes(max_value=datetime(2030, 1, 1)),
                "aware time": st.datetimes(timezones=st.just(timezone.utc)),
                "number": st.one_of(st.integers(), st.floats())}[kind]
        columns[one_kind] = data.draw(st.lists(st.one_of(st.none(), cell), min_size=count,
                                               max_size=count))
    rows = [{name: values[index] for name, values in columns.items()} for index in range(count)]
    row_text = compile_template(template)
    assert compile_column_template(template)(rows) == [row_text(row) for row in rows]
