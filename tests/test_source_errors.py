"""Bad --source inputs stop the CLI with one clear message and no partial output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "exports"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irreport", *args], capture_output=True,
                          text=True, timeout=120)


def _run_query(source: Path, *extra: str) -> subprocess.CompletedProcess:
    return _run("queries", "run", "logons", "--device", "x", "--source", str(source), *extra)


def _not_an_export(tmp_path: Path) -> Path:
    path = tmp_path / "fruit.csv"
    path.write_text("name,colour\napple,red\npear,green\n", encoding="utf-8")
    return path


def _corrupt_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "DeviceLogonEvents.parquet"
    path.write_bytes(b"this is not parquet at all\n" * 10)
    return path


def _bad_timestamp(tmp_path: Path) -> Path:
    path = tmp_path / "DeviceLogonEvents.csv"
    path.write_text("Timestamp,DeviceName,ActionType\nyesterday at noon,x,LogonSuccess\n",
                    encoding="utf-8")
    return path


def _folder_without_exports(tmp_path: Path) -> Path:
    folder = tmp_path / "case-notes"
    folder.mkdir()
    (folder / "notes.txt").write_text("call the user back\n", encoding="utf-8")
    return folder


def _empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "DeviceLogonEvents.csv"
    path.write_bytes(b"")
    return path


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "no-such-export.csv"


CASES = [
    (_not_an_export, ["fruit.csv", "is not a Microsoft Defender export", "colour, name"]),
    (_corrupt_parquet, ["DeviceLogonEvents.parquet", "could not be read"]),
    (_bad_timestamp, ["DeviceLogonEvents.csv", "column Timestamp", "'yesterday at noon'",
                      "expected ISO 8601"]),
    (_folder_without_exports, ["case-notes", "contains no CSV, JSON or Parquet export",
                               "notes.txt"]),
    (_empty_file, ["DeviceLogonEvents.csv", "is empty"]),
    (_missing, ["no-such-export.csv", "does not exist"]),
]


@pytest.mark.parametrize("make_input, fragments", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_bad_source_stops_with_message(tmp_path, make_input, fragments):
    result = _run_query(make_input(tmp_path))
    assert result.returncode != 0
    assert result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0]
    assert "Traceback" not in result.stderr


def test_portal_time_without_timezone_stops():
    result = _run_query(FIXTURES / "portal-local-time.csv")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "pass --timezone" in result.stderr


def test_invalid_timezone_stops():
    result = _run_query(FIXTURES / "portal-local-time.csv", "--timezone", "Mars/Olympus")
    assert result.returncode != 0
    assert "'Mars/Olympus' is not an IANA time zone" in result.stderr


def test_skipped_files_are_warned(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "README.txt").write_text("exported on request\n", encoding="utf-8")
    (folder / "DeviceLogonEvents.csv").write_text(
        "Timestamp,DeviceName,ActionType,AccountName\n"
        "2024-10-09T14:00:00Z,ws1,LogonSuccess,alice\n", encoding="utf-8")
    result = _run("sources", "inspect", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tables"]["DeviceLogonEvents"]["rows"] == 1
    assert len(summary["warnings"]) == 1
    assert "README.txt" in summary["warnings"][0]
    assert "README.txt" in result.stderr


def test_inspect_shared_export_json(shared_export):
    result = _run("sources", "inspect", str(shared_export), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == 129
    assert summary["devices"] == ["test-hostname"]
    assert summary["first"] == "2023-11-24T07:32:08Z"
    assert summary["last"] == "2023-12-21T20:06:04Z"
    assert summary["tables"]["DeviceEvents"] == {
        "rows": 63, "devices": ["test-hostname"], "has_device_column": True,
        "first": "2023-12-12T07:09:16Z", "last": "2023-12-21T20:06:04Z"}
    assert summary["inferred"]["DeviceNetworkEvents"] == 32
    assert summary["missing_columns"] == {
        "DeviceFileEvents": {"FileOriginUrl": ["user-writable-files"]}}
    assert summary["missing_tables"]["AlertInfo"] == ["alert-evidence", "posture-alerts"]
    assert "DeviceProcessEvents" not in summary["missing_tables"]


def test_inspect_text_suggests_build(shared_export):
    result = _run("sources", "inspect", str(shared_export))
    assert result.returncode == 0, result.stderr
    assert "DeviceEvents" in result.stdout
    assert "devices: test-hostname" in result.stdout
    assert ("--device test-hostname --start 2023-11-24T07:32:08Z --end 2023-12-21T20:06:05Z"
            in result.stdout)
    assert ("DeviceFileEvents lacks columns that queries read, which will see no values: "
            "FileOriginUrl (user-writable-files)") in result.stdout


def test_query_runs_over_export(shared_export):
    result = _run("queries", "run", "malicious-activity", "--device", "test-hostname",
                  "--source", str(shared_export), "--start", "2023-11-01",
                  "--end", "2024-01-01", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "Virus:Win32/Virut.BN" in result.stdout


def test_inspect_bundled_sample_folder():
    from irreport.sources.local import sample_dir

    result = _run("sources", "inspect", str(sample_dir()))
    assert result.returncode == 0, result.stderr
    assert "anchor.json" not in result.stderr
    # 30 devices: the command names the three with the most alerts and prints a note.
    assert ("--device testmachine3 --device wks-eng21 --device wks-mkt14" in result.stdout)
    assert ("# 3 of 30 devices, those with the most alerts; add --device NAME for others"
            in result.stdout)


def test_inspect_copy_of_sample_folder(tmp_path):
    import shutil

    from irreport.sources.local import sample_dir

    copy = tmp_path / "data"
    shutil.copytree(sample_dir(), copy)
    result = _run("sources", "inspect", str(copy))
    assert result.returncode == 0, result.stderr
    assert "anchor.json" not in result.stderr
    assert "testmachine3" in result.stdout
    # AlertInfo has no DeviceName column, so it counts no devices rather than 0.
    (alert_info,) = [line for line in result.stdout.splitlines() if line.startswith("AlertInfo ")]
    assert alert_info.split()[2] == "-"


def test_reversed_range_names_both_times_in_utc():
    from irreport.errors import ConfigurationError
    from irreport.timerange import TimeRange, parse_instant

    with pytest.raises(ConfigurationError) as caught:
        TimeRange(parse_instant("2026-12-02"), parse_instant("2026-12-01"))
    assert str(caught.value) == (
        "time range end 2026-12-01T00:00:00Z is not after its start 2026-12-02T00:00:00Z; "
        "pass an --end later than --start")
