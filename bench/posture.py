"""Benchmark: the weekly posture report over a generated fleet in Parquet, stage by stage.

DuckDB writes the fleet with SQL over generate_series (no Python rows): two weeks of
DeviceEvents, DeviceNetworkEvents and DeviceRegistryEvents sharing --events rows, plus DeviceInfo
every six hours, one secure configuration assessment per device, control and day, and alerts.
The report then runs as `irreport posture` would, timed in four stages: load (exports into the
offline engine), queries (both weeks), analysis (figures, summary) and render (HTML and PDF).
Memory is the process's peak resident set size after each stage, DuckDB's included. The
analysis stage is timed alone; the render stage computes the figures again as part of writing.

Run: .venv/bin/python bench/posture.py [--small] [--devices N] [--events N] [--keep-data]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

END = datetime(2026, 12, 7, tzinfo=timezone.utc)
DAYS = 14
CONTROL_IDS = ["scid-2003", "scid-2012", "scid-2016", "scid-96"] + [
    f"scid-{n}" for n in range(2500, 2515)]
# Shares of --events per table; the rest of a real tenant's tables play no part in the report.
EVENT_SHARES = {"DeviceEvents": 0.5, "DeviceNetworkEvents": 0.35, "DeviceRegistryEvents": 0.15}
MALICIOUS_ACTIONS = ["AsrOfficeChildProcessBlocked", "SmartScreenUrlWarning",
                     "AntivirusDetection", "TamperingAttempt",
                     "ExploitGuardNetworkProtectionBlocked", "AmsiScriptDetection"]
SMALL = {"devices": 200, "events": 200_000}
FULL = {"devices": 10_000, "events": 50_000_000}


def time_sql(row: str, salt: int) -> str:
    """Return SQL for a Timestamp spread over the two weeks, from a hash of the row number."""
    span = DAYS * 86_400_000_000
    return (f"TIMESTAMP '2026-11-23 00:00:00' + "
            f"to_microseconds(CAST(hash({row}, {salt}) % {span} AS BIGINT))")


def device_sql(row: str, devices: int, salt: int) -> str:
    return f"CAST(hash({row}, {salt}) % {devices} AS BIGINT)"


def name_columns(index: str) -> str:
    return f"md5(CAST({index} AS VARCHAR)) AS DeviceId, 'bench-' || {index} AS DeviceName"


def table_queries(devices: int, events: int) -> dict[str, str]:
    """Return {table: SELECT ...} producing each table of the generated fleet."""
    counts = {t: int(events * share) for t, share in EVENT_SHARES.items()}
    actions = "[" + ", ".join(f"'{a}'" for a in MALICIOUS_ACTIONS) + "]"
    controls = "[" + ", ".join(f"'{c}'" for c in CONTROL_IDS) + "]"
    groups = "['Workstations', 'Laptops', 'Servers - Critical', 'Servers - Standard', 'Kiosks']"
    reports = devices * DAYS * 4
    assessments = devices * DAYS * len(CONTROL_IDS)
    alerts = max(devices // 5, 10)
    return {
        "DeviceEvents": f"""
            SELECT {time_sql('i', 1)} AS Timestamp, {name_columns(device_sql('i', devices, 2))},
                CASE WHEN hash(i, 3) % 100 < 3 THEN {actions}[CAST(hash(i, 4) % 6 AS INT) + 1]
                     ELSE 'ProcessCreatedUsingWmiQuery' END AS ActionType,
                'explorer.exe' AS InitiatingProcessFileName
            FROM generate_series(0, {counts['DeviceEvents'] - 1}) AS t(i)""",
        "DeviceNetworkEvents": f"""
            SELECT {time_sql('i', 5)} AS Timestamp, {name_columns(device_sql('i', devices, 6))},
                CASE WHEN hash(i, 7) % 5 = 0 THEN 'InboundConnectionAccepted'
                     ELSE 'ConnectionSuccess' END AS ActionType,
                '198.51.100.' || CAST(hash(i, 8) % 250 AS VARCHAR) AS RemoteIP,
                CASE WHEN hash(i, 9) % 50 = 0 THEN 'Public' ELSE 'Private' END AS RemoteIPType,
                [3389, 445, 443, 80, 135][CAST(hash(i, 10) % 5 AS INT) + 1] AS LocalPort
            FROM generate_series(0, {counts['DeviceNetworkEvents'] - 1}) AS t(i)""",
        "DeviceRegistryEvents": f"""
            SELECT {time_sql('i', 11)} AS Timestamp, {name_columns(device_sql('i', devices, 12))},
                'RegistryValueSet' AS ActionType,
                CASE WHEN hash(i, 13) % 1000 = 0
                     THEN 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run'
                     ELSE 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Vendor\\Settings' END AS RegistryKey,
                'Value' || CAST(hash(i, 14) % 40 AS VARCHAR) AS RegistryValueName,
                'C:\\Program Files\\App' || CAST(hash(i, 15) % 40 AS VARCHAR) || '.exe'
                    AS RegistryValueData,
                'msiexec.exe' AS InitiatingProcessFileName
            FROM generate_series(0, {counts['DeviceRegistryEvents'] - 1}) AS t(i)""",
        "DeviceInfo": f"""
            SELECT TIMESTAMP '2026-11-23 00:00:00' + INTERVAL 6 HOUR * (i // {devices})
                    + INTERVAL 1 SECOND * (i % {devices} % 3600) AS Timestamp,
                {name_columns(f'i % {devices}')},
                {groups}[CAST(i % {devices} % 5 AS INT) + 1] AS MachineGroup,
                CASE WHEN i % {devices} % 97 = 0 THEN 'ImpairedCommunication'
                     ELSE 'Active' END AS SensorHealthState,
                'Onboarded' AS OnboardingStatus, 'Windows11' AS OSPlatform
            FROM generate_series(0, {reports - 1}) AS t(i)""",
        "DeviceTvmSecureConfigurationAssessment": f"""
            SELECT TIMESTAMP '2026-11-23 21:00:00'
                    + INTERVAL 1 DAY * (i // {devices * len(CONTROL_IDS)}) AS Timestamp,
                {name_columns(f'i % {devices}')},
                {controls}[CAST(i // {devices} % {len(CONTROL_IDS)} AS INT) + 1]
                    AS ConfigurationId,
                hash(i % {devices}, i // {devices} % {len(CONTROL_IDS)}) % 40 <> 0
                    AS IsCompliant,
                true AS IsApplicable
            FROM generate_series(0, {assessments - 1}) AS t(i)""",
        "AlertInfo": f"""
            SELECT {time_sql('i', 16)} AS Timestamp, 'bench-alert-' || i AS AlertId,
                'Bench alert' AS Title, ['Malware', 'Execution'][CAST(i % 2 AS INT) + 1]
                    AS Category,
                ['High', 'Medium', 'Low'][CAST(i % 3 AS INT) + 1] AS Severity,
                'EDR' AS DetectionSource
            FROM generate_series(0, {alerts - 1}) AS t(i)""",
        "AlertEvidence": f"""
            SELECT {time_sql('i', 16)} AS Timestamp, 'bench-alert-' || i AS AlertId,
                'Machine' AS EntityType, {name_columns(device_sql('i', devices, 17))}
            FROM generate_series(0, {alerts - 1}) AS t(i)""",
    }


def generate(folder: Path, devices: int, events: int) -> dict[str, int]:
    """Write one Parquet file per table into *folder*; returns the rows per table."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    counts = {}
    for table, select in table_queries(devices, events).items():
        path = folder / f"{table}.parquet"
        con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
        counts[table] = con.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0]
    con.close()
    return counts


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_report(data: Path, out: Path) -> list[tuple[str, float, float]]:
    """Build the report the way the CLI does; returns (stage, seconds, peak RSS MiB)."""
    from irreport.pack import QueryPack
    from irreport.posture import report as posture_report
    from irreport.posture.figures import posture_week
    from irreport.posture.summary import build_summary
    from irreport.posture.weeks import last_complete_week
    from irreport.sources.local import open_path

    stages = []
    started = time.perf_counter()
    source = open_path(data)
    stages.append(("load", time.perf_counter() - started, peak_rss_mib()))
    folder = source.database.folder
    on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder else 0
    print(f"storage: {source.database.storage}, database file {on_disk / 2**20:.0f} MiB")

    pack = QueryPack.load()
    week = last_complete_week(END)
    started = time.perf_counter()
    current, before = posture_report.collect_weeks(pack, source, week, [])
    stages.append(("queries", time.perf_counter() - started, peak_rss_mib()))
    failed = {q: r.message for c in (current, before) for q, r in c.results.items() if not r.ok}
    if failed:
        raise SystemExit(f"queries failed: {failed}")

    started = time.perf_counter()
    figures = posture_week(current, "this week", before)
    posture_week(before, "week before")
    build_summary(figures, {"week": "bench", "time_range": week, "device_groups": [],
                            "source_kind": "local", "source_label": "bench",
                            "pack_version": "bench", "generated_at": "bench"})
    stages.append(("analysis", time.perf_counter() - started, peak_rss_mib()))

    started = time.perf_counter()
    request = posture_report.PostureRequest(out_dir=out, force=True)
    posture_report.write_posture_report(request, pack, current, before)
    stages.append(("render", time.perf_counter() - started, peak_rss_mib()))
    source.close()
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help=f"use {SMALL['devices']} devices and {SMALL['events']} events "
                             "instead of the full size")
    parser.add_argument("--devices", type=int, help=f"number of devices (default {FULL['devices']})")
    parser.add_argument("--events", type=int,
                        help=f"rows shared by the three event tables (default {FULL['events']})")
    parser.add_argument("--data", type=Path, help="folder for the Parquet files "
                        "(default: a temporary folder)")
    parser.add_argument("--keep-data", action="store_true", help="keep the Parquet files")
    arguments = parser.parse_args()
    sizes = SMALL if arguments.small else FULL
    devices = arguments.devices or sizes["devices"]
    events = arguments.events or sizes["events"]
    work = Path(tempfile.mkdtemp(prefix="irreport-bench-posture-"))
    data = arguments.data or work / "data"
    try:
        started = time.perf_counter()
        counts = generate(data, devices, events)
        generated = time.perf_counter() - started
        size = sum(p.stat().st_size for p in data.glob("*.parquet")) / 2**20
        print(f"{platform.python_version()} on {platform.machine()}, "
              f"{len(os.sched_getaffinity(0))} cores")
        print(f"generated {devices} devices, {sum(counts.values())} rows "
              f"({size:.0f} MiB Parquet) in {generated:.1f} s: {counts}")
        for stage, seconds, peak in run_report(data, work / "out"):
            print(f"{stage:<9} {seconds:8.1f} s   peak RSS {peak:8.0f} MiB")
    finally:
        if not arguments.keep_data:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
