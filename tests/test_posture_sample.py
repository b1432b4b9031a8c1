"""End to end: two consecutive weekly posture reports on the bundled fleet, read back from the PDF.

The expected figures are counted here straight from the sample's JSON-lines files, not through
irreport's queries, so a wrong query cannot agree with itself.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from pypdf import PdfReader

from irreport.sources.local import sample_dir

W47 = ("2026-11-16T00:00:00.000Z", "2026-11-23T00:00:00.000Z")
W48 = ("2026-11-23T00:00:00.000Z", "2026-11-30T00:00:00.000Z")
W49 = ("2026-11-30T00:00:00.000Z", "2026-12-07T00:00:00.000Z")
MALICIOUS_PREFIXES = ("Asr", "SmartScreen", "ExploitGuard", "ControlledFolderAccess")
MALICIOUS_ACTIONS = {"AntivirusDetection", "AntivirusReport", "AntivirusDetectionActionType",
                     "TamperingAttempt", "AmsiScriptDetection"}
RUN_KEY_ENDINGS = ("\\CurrentVersion\\Run", "\\CurrentVersion\\RunOnce",
                   "\\Policies\\Explorer\\Run")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irreport", *args], capture_output=True,
                          text=True, timeout=600)


def read_table(name: str) -> list[dict]:
    """Read a table's incident file and its fleet weeks file with plain json."""
    rows = []
    plain = sample_dir() / f"{name}.jsonl"
    packed = sample_dir() / f"{name}.jsonl.gz"
    if plain.exists():
        rows += [json.loads(line) for line in plain.read_text(encoding="utf-8").splitlines()]
    if packed.exists():
        with gzip.open(packed, "rt", encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle]
    return rows


def in_week(row: dict, week: tuple[str, str]) -> bool:
    return week[0] <= row["Timestamp"] < week[1]


def expected_figures(week: tuple[str, str]) -> dict[str, int]:
    """Count the headline figures of one week from the raw rows."""
    devices = {r["DeviceId"] for r in read_table("DeviceInfo") if in_week(r, week)}
    alerts = [r for r in read_table("AlertInfo") if in_week(r, week)]
    malicious = [r for r in read_table("DeviceEvents") if in_week(r, week)
                 and (r["ActionType"].startswith(MALICIOUS_PREFIXES)
                      or r["ActionType"] in MALICIOUS_ACTIONS)]
    exposed = {r["DeviceName"] for r in read_table("DeviceNetworkEvents") if in_week(r, week)
               and r["ActionType"] == "InboundConnectionAccepted"
               and r.get("RemoteIPType") == "Public" and r.get("LocalPort") in (3389, 445, 139)}
    run_keys = [r for r in read_table("DeviceRegistryEvents") if in_week(r, week)
                and r["ActionType"] in ("RegistryValueSet", "RegistryValueDeleted")
                and r["RegistryKey"].endswith(RUN_KEY_ENDINGS)]
    return {
        "Devices reporting": len(devices),
        "Alerts": len(alerts),
        "High-severity alerts": sum(1 for r in alerts if r["Severity"] == "High"),
        "Malicious activity events": len(malicious),
        "Devices with malicious activity": len({r["DeviceName"] for r in malicious}),
        "Devices accepting RDP or SMB from the internet": len(exposed),
        "Run key changes": len(run_keys),
        "Devices without tamper protection": len(failing_devices("scid-2003", week)),
    }


def failing_devices(configuration_id: str, week: tuple[str, str]) -> set[str]:
    """Return the devices whose last assessment of the configuration in the week failed."""
    latest: dict[str, dict] = {}
    for row in read_table("DeviceTvmSecureConfigurationAssessment"):
        if row["ConfigurationId"] != configuration_id or not in_week(row, week):
            continue
        if row["DeviceName"] not in latest or row["Timestamp"] > latest[row["DeviceName"]]["Timestamp"]:
            latest[row["DeviceName"]] = row
    return {name for name, row in latest.items() if row["IsCompliant"] is False}


def headline_from_pdf(text: str) -> dict[str, tuple[int, int, str]]:
    """Return {figure: (this week, week before, since the last report)} from the PDF text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Figure This week"))
    found = {}
    for line in lines[start + 1:]:
        match = re.match(r"^(.+?) (\d+) (\d+) ([+-]?\d+) (.+)$", line)
        if not match:
            break
        found[match.group(1)] = (int(match.group(2)), int(match.group(3)), match.group(5))
    return found


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("posture")
    stale = out / "posture-2026-W40"
    stale.mkdir()
    first = run_cli("posture", "--start", "2026-11-23", "--end", "2026-11-30", "--out", str(out))
    assert first.returncode == 0, first.stderr
    second = run_cli("posture", "--out", str(out), "--keep", "2")
    assert second.returncode == 0, second.stderr
    assert "sample data" in second.stderr
    return out


@pytest.fixture(scope="module")
def pdf_headline(reports) -> dict[str, dict[str, tuple[int, int, str]]]:
    headline = {}
    for week in ("2026-W48", "2026-W49"):
        reader = PdfReader(reports / f"posture-{week}" / f"posture-{week}.pdf")
        headline[week] = headline_from_pdf("\n".join(p.extract_text() for p in reader.pages))
    return headline


def test_folders_named_by_iso_week(reports):
    for week in ("2026-W48", "2026-W49"):
        folder = reports / f"posture-{week}"
        for suffix in (".html", ".pdf", ".summary.json"):
            assert (folder / f"posture-{week}{suffix}").is_file(), suffix
        assert (folder / "manifest.json").is_file()
        assert (folder / "evidence" / "posture-alerts.json").is_file()
        assert (folder / "evidence" / "posture-alerts.week-before.json").is_file()


def test_keep_prunes_oldest_report(reports):
    assert not (reports / "posture-2026-W40").exists()


def test_report_passes_verify(reports):
    done = run_cli("verify", str(reports / "posture-2026-W49"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("week,own_range,range_before",
                         [("2026-W48", W48, W47), ("2026-W49", W49, W48)])
def test_pdf_headline_matches_raw_counts(pdf_headline, week, own_range, range_before):
    shown = pdf_headline[week]
    for figure, value in expected_figures(own_range).items():
        assert figure in shown, figure
        assert shown[figure][0] == value, figure
    for figure, value in expected_figures(range_before).items():
        assert shown[figure][1] == value, f"{figure} of the week before"


def test_second_report_shows_change(pdf_headline):
    first, second = pdf_headline["2026-W48"], pdf_headline["2026-W49"]
    for figure, (value, _before, since_last) in second.items():
        delta = value - first[figure][0]
        if delta == 0:
            assert since_last == "unchanged", figure
        else:
            assert since_last.startswith(("▲" if delta > 0 else "▼") + f" {delta:+d}"), figure
    assert second["Alerts"][2].endswith("(worse)")
    assert all(since == "no earlier figure" for _v, _b, since in first.values())


def test_summary_json_matches_pdf(reports, pdf_headline):
    path = reports / "posture-2026-W49" / "posture-2026-W49.summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    assert summary["week"] == "2026-W49"
    assert summary["source"]["kind"] == "sample"
    labels = summary["labels"]
    for key, value in summary["headline"].items():
        assert pdf_headline["2026-W49"][labels[key]][0] == value, key


def test_tamper_protection_scenario():
    assert failing_devices("scid-2003", W48) == {"wks-hr01", "kiosk-lobby02"}
    assert failing_devices("scid-2003", W49) == {"wks-hr01", "wks-mkt14"}


def test_rerun_without_force_exits_2(reports):
    done = run_cli("posture", "--out", str(reports), "--format", "html")
    assert done.returncode == 2
    assert "already exists" in done.stderr
    assert "Collecting" not in done.stderr
    assert "--out to write the report into another folder" in done.stderr
    assert "--name" not in done.stderr


def test_invalid_last_exits_2(tmp_path):
    done = run_cli("posture", "--last", "a week", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "--last 'a week'" in done.stderr


def test_unknown_device_group_exits_2(tmp_path):
    done = run_cli("posture", "--device-group", "Workstatons", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "--device-group 'Workstatons' is not a machine group of this source" in done.stderr
    assert "pass one of: Kiosks, Laptops, Servers - Critical, Servers - Standard, Workstations" in done.stderr
    assert list(tmp_path.iterdir()) == []
