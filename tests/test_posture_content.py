"""Each section of the posture report on the bundled fleet, computed through the library."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from irreport.posture.figures import posture_week
from irreport.posture.report import collect_weeks
from irreport.posture.summary import Change, method_changes
from irreport.posture.weeks import last_complete_week, prune, report_now, week_label
from irreport.timerange import TimeRange

W49 = TimeRange(datetime(2026, 11, 30, tzinfo=timezone.utc),
                datetime(2026, 12, 7, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def weeks(pack, sample_source):
    return collect_weeks(pack, sample_source, W49, [])


@pytest.fixture(scope="module")
def figures(weeks):
    current, before = weeks
    return posture_week(current, "this week", before)


def failing(figures, control: str) -> set[str]:
    return {f["device"] for f in figures.control(control).failing}


def test_every_posture_query_completes(weeks):
    for collection in weeks:
        assert {q: r.status for q, r in collection.results.items() if not r.ok} == {}
        assert len(collection.results) == 6


def test_sample_now_is_end_of_w49(sample_source):
    assert report_now(sample_source) == W49.end
    assert last_complete_week(report_now(sample_source)) == W49


def test_fleet_has_thirty_devices(figures):
    assert len(figures.devices) == 30


def test_tamper_protection_off_devices(figures):
    assert failing(figures, "Tamper protection") == {"wks-hr01", "wks-mkt14"}


def test_other_controls_name_devices(figures):
    assert failing(figures, "Real-time protection") == {"wks-eng21"}
    assert failing(figures, "Cloud-delivered protection") == {"srv-print01"}
    assert failing(figures, "Network protection in block mode") == {"testmachine3", "wks-mkt14"}
    assert failing(figures, "ASR rules in block mode") == {"testmachine3", "laptop-field22",
                                                           "wks-eng21"}
    asr = {f["device"]: f["configurations"] for f in figures.control("ASR rules in block mode").failing}
    assert asr["testmachine3"] == "scid-2505"


def test_compliance_counts_devices(figures):
    tamper = figures.control("Tamper protection")
    assert tamper.assessed == 30
    assert tamper.compliant == 28


def test_exposed_devices(figures):
    services = {(r["DeviceName"], r["Service"]) for r in figures.exposure}
    assert services == {("testmachine3", "RDP"), ("srv-jump01", "RDP"), ("srv-ftp03", "SMB")}
    for row in figures.exposure:
        assert row["RemoteAddresses"] >= 1


def test_sensor_issues(figures):
    issues = {(i["device"], i["issue"]) for i in figures.sensor_issues}
    assert issues == {("laptop-field22", "Inactive"), ("wks-lab09", "Misconfigured"),
                      ("laptop-sales07", "Impaired communication")}
    # Defender still reports laptop-field22 Active, so the report gives the reason it is inactive.
    (silent,) = [i for i in figures.sensor_issues if i["device"] == "laptop-field22"]
    assert silent["state"].startswith("Active, but silent for ")


def test_rare_run_key_first(figures):
    rare = [r for r in figures.run_keys if r["RegistryValueName"] == "QuickAssistHelper"]
    assert len(rare) == 1
    assert rare[0]["DeviceName"] == "wks-support12"
    assert rare[0]["DevicesWithValue"] == 1
    assert figures.run_keys[0]["DevicesWithValue"] == 1
    assert "OneDriveUpdate" in {r["RegistryValueName"] for r in figures.run_keys}


def test_top_device_is_the_victim(figures):
    top = figures.top_devices()
    assert top[0]["device"] == "testmachine3"
    assert set(top[0]["categories"]) == {"Attack surface reduction", "SmartScreen", "Antivirus",
                                         "Tampering", "Exploit Guard", "AMSI"}
    assert [d["total"] for d in top] == sorted((d["total"] for d in top), reverse=True)


def test_daily_trend_covers_week(figures):
    trend = figures.daily_trend()
    days = {day for counts in trend.values() for day in counts}
    assert min(days) >= "2026-11-30"
    assert max(days) <= "2026-12-06"
    assert sum(sum(c.values()) for c in trend.values()) == sum(figures.events_by_category().values())


def test_alerts_by_severity(figures):
    severities = figures.alerts_by("Severity")
    assert sum(severities.values()) == len(figures.alerts)
    assert severities["High"] >= 7


def test_device_group_filter(pack, sample_source):
    current, _before = collect_weeks(pack, sample_source, W49, ["Kiosks"])
    week = posture_week(current, "this week")
    assert {d["DeviceName"] for d in week.devices} == {"kiosk-lobby02", "kiosk-shop01"}
    assert {r["DeviceName"] for r in week.malicious} <= {"kiosk-lobby02", "kiosk-shop01"}
    assert {a["DeviceName"] for a in week.alerts} <= {"kiosk-lobby02", "kiosk-shop01"}
    assert week.exposure == []


def test_week_label_uses_middle():
    monday_morning = datetime(2026, 12, 7, 6, tzinfo=timezone.utc)
    assert week_label(TimeRange(monday_morning.replace(day=30, month=11), monday_morning)) == "2026-W49"
    assert week_label(W49) == "2026-W49"


def test_last_complete_week_mid_week():
    wednesday = datetime(2026, 12, 9, 15, tzinfo=timezone.utc)
    assert last_complete_week(wednesday) == W49


def test_prune_keeps_newest(tmp_path):
    for week in ("2026-W47", "2026-W48", "2026-W49"):
        (tmp_path / f"posture-{week}").mkdir()
    (tmp_path / "notes").mkdir()
    removed = prune(tmp_path, 2)
    assert [p.name for p in removed] == ["posture-2026-W47"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "posture-2026-W48",
                                                          "posture-2026-W49"]


def test_change_direction_and_verdict():
    worse = Change("alerts", "Alerts", 12, 10, True)
    assert (worse.delta, worse.direction, worse.verdict) == (2, "up", "worse")
    better = Change("devices_reporting", "Devices reporting", 29, 30, False)
    assert (better.direction, better.verdict) == ("down", "worse")
    assert Change("gaps", "Gaps", 0, None, True).text == "no earlier figure"


def test_method_change_named():
    current = {"pack_version": "b", "source": {"kind": "defender", "label": "Defender XDR"},
               "device_groups": ["Kiosks"],
               "time_range": {"start": "2026-11-30T00:00:00Z", "end": "2026-12-07T00:00:00Z"}}
    previous = json.loads(json.dumps(current))
    assert method_changes(current, previous) == []
    previous.update(pack_version="a", source={"kind": "sample", "label": "sample"},
                    device_groups=[])
    notes = " ".join(method_changes(current, previous))
    assert "pack version a then, b now" in notes
    assert "source changed" in notes
    assert "all groups then, Kiosks now" in notes


def test_unmatched_device_group_is_a_gap(pack, sample_source, tmp_path):
    from irreport.posture.report import PostureRequest, build_posture_report

    request = PostureRequest(out_dir=tmp_path, device_groups=["Kiosks", "Workstatons"],
                             formats=("html",))
    outcome = build_posture_report(request, sample_source, pack, W49)
    assert not outcome.all_ok
    (gap,) = [g for g in outcome.gaps if g["query"].startswith("device group")]
    assert gap["query"] == "device group 'Workstatons'"
    html = (outcome.folder / f"{outcome.folder.name}.html").read_text()
    assert "no posture query returned a device of machine group &#39;Workstatons&#39;" in html


def test_group_advice_says_why_critical():
    from irreport.analysis.settings import automation_advice

    rows = [{"MachineGroup": "Servers - Standard", "DeviceName": "srv-app02"}]
    (guessed,) = automation_advice(rows, {})
    assert "its name contains 'Server'" in guessed.reason
    assert 'critical = false under [device_groups."Servers - Standard"]' in guessed.reason
    (configured,) = automation_advice(rows, {"Servers - Standard": {"critical": True}})
    assert configured.reason.startswith("Critical machines (marked critical in irreport.toml)")
