"""Benchmark: load time and peak memory of `--source` on large exports, against plain DuckDB.

Generates a union CSV as the Advanced Hunting page exports it and a folder of Streaming API
blobs in Azure Storage's layout. Each load runs in a fresh subprocess, so that its peak RSS
belongs to one measurement, and is compared with DuckDB reading the same files into one table:

    python bench/load_exports.py                  # 200 MB CSV, 100 MB JSON, 3 runs each
    python bench/load_exports.py --csv-mb 200 1024   # the record, with a 1 GB CSV
    python bench/load_exports.py --quick          # a few MB, for the test suite

Results go to docs/benchmarks.md under "## Loading exports" unless --no-write is given.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
HEADING = "## Loading exports"

UNION_COLUMNS = [
    "Timestamp", "DeviceId", "DeviceName", "ActionType", "FileName", "FolderPath", "SHA1",
    "ProcessCommandLine", "ProcessId", "RemoteIP", "RemotePort", "RemoteUrl", "LocalIP",
    "LocalPort", "RegistryKey", "RegistryValueName", "RegistryValueData", "AccountName",
    "LogonType", "InitiatingProcessFileName", "InitiatingProcessCommandLine",
    "InitiatingProcessId", "ReportId_long", "ReportId_string", "AdditionalFields",
]
TABLES = ("DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents",
          "DeviceRegistryEvents", "DeviceLogonEvents", "DeviceEvents")


def synthetic_row(rng: random.Random, number: int, start: datetime) -> tuple[str, dict]:
    """Return (table, row) for one made-up event of a fleet of 50 workstations."""
    table = TABLES[number % len(TABLES)]
    stamp = start + timedelta(milliseconds=number * 37)
    device = f"ws-{number % 50:03d}"
    row = {
        "Timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z",
        "DeviceId": f"{number % 50:040x}", "DeviceName": device,
        "InitiatingProcessFileName": rng.choice(["explorer.exe", "svchost.exe", "powershell.exe"]),
        "InitiatingProcessCommandLine": f"svchost.exe -k netsvcs -p -s Schedule {number}",
        "InitiatingProcessId": str(rng.randint(100, 60000)),
        "ReportId_long": str(number),
    }
    if table == "DeviceProcessEvents":
        row.update(ActionType="ProcessCreated", FileName="cmd.exe",
                   FolderPath="C:\\Windows\\System32\\cmd.exe", SHA1=f"{number:040x}",
                   ProcessCommandLine=f'cmd.exe /c "echo {number}\nexit"',
                   ProcessId=str(rng.randint(100, 60000)), AccountName="alice")
    elif table == "DeviceNetworkEvents":
        row.update(ActionType="ConnectionSuccess", RemoteIP=f"192.0.2.{number % 250}",
                   RemotePort="443", RemoteUrl=f"host{number % 997}.example.com",
                   LocalIP="10.0.0.5", LocalPort=str(49152 + number % 1000))
    elif table == "DeviceFileEvents":
        row.update(ActionType="FileCreated", FileName=f"report{number}.docx",
                   FolderPath=f"C:\\Users\\alice\\Documents\\report{number}.docx",
                   SHA1=f"{number:040x}")
    elif table == "DeviceRegistryEvents":
        row.update(ActionType="RegistryValueSet",
                   RegistryKey="HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
                   RegistryValueName=f"Updater{number % 7}", RegistryValueData="C:\\x\\u.exe")
    elif table == "DeviceLogonEvents":
        row.update(ActionType="LogonSuccess", AccountName="alice", LogonType="Network",
                   RemoteIP=f"198.51.100.{number % 250}")
    else:
        row.update(ActionType="PowerShellCommand", FileName="powershell.exe",
                   AdditionalFields=json.dumps({"Command": f"Get-Item C:\\temp\\{number}"}))
    return table, row


def write_union_csv(path: Path, megabytes: float, seed: int = 7) -> int:
    """Write a union export of about *megabytes* MB; returns the number of rows."""
    rng = random.Random(seed)
    start = datetime(2024, 10, 9, tzinfo=timezone.utc)
    limit = int(megabytes * 1024 * 1024)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=UNION_COLUMNS)
        writer.writeheader()
        while handle.tell() < limit:
            for _ in range(1000):
                writer.writerow(synthetic_row(rng, rows, start)[1])
                rows += 1
    return rows


def write_streaming_folder(folder: Path, megabytes: float, seed: int = 11) -> int:
    """Write Streaming API blobs in Azure Storage's folder layout; returns the record count."""
    rng = random.Random(seed)
    start = datetime(2024, 10, 9, tzinfo=timezone.utc)
    per_table = megabytes * 1024 * 1024 / len(TABLES)
    records = 0
    for table_number, table in enumerate(TABLES):
        hour = folder / f"insights-logs-advancedhunting-{table.lower()}" / "y=2024" / "m=10"
        hour.mkdir(parents=True, exist_ok=True)
        with (hour / "PT1H.json").open("w", encoding="utf-8") as handle:
            number = table_number
            while handle.tell() < per_table:
                _, row = synthetic_row(rng, number, start)
                row["ReportId"] = row.pop("ReportId_long")
                record = {"time": row["Timestamp"], "tenantId": "bench-tenant",
                          "operationName": "Publish", "category": f"AdvancedHunting-{table}",
                          "properties": row}
                handle.write(json.dumps(record) + "\n")
                number += len(TABLES)
                records += 1
    return records


def measure(kind: str, path: str) -> dict:
    """Run one load in this process and return its time, peak RSS and rows loaded."""
    started = time.perf_counter()
    if kind.startswith("irreport"):
        from irreport.sources.local import open_path

        source = open_path(Path(path))
        rows = sum(source.row_counts.values())
        source.close()
    else:
        import duckdb

        con = duckdb.connect()
        reader = (f"read_csv('{path}', header=true, all_varchar=true)" if kind == "duckdb-csv"
                  else f"read_json('{path}/**/*.json', format='newline_delimited')")
        con.execute(f"CREATE TABLE raw AS SELECT * FROM {reader}")
        rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
        con.close()
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_rss_mb": peak_kib / 1024, "rows": rows}


def measure_in_subprocess(kind: str, path: Path) -> dict:
    output = subprocess.run([sys.executable, __file__, "--measure", kind, str(path)],
                            capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def compare(label: str, path: Path, irreport_kind: str, duckdb_kind: str, runs: int) -> dict:
    """Return medians of *runs* loads by irreport and by plain DuckDB over *path*."""
    results = {}
    for kind in (irreport_kind, duckdb_kind):
        samples = [measure_in_subprocess(kind, path) for _ in range(runs)]
        results[kind] = {
            "seconds": statistics.median(s["seconds"] for s in samples),
            "peak_rss_mb": statistics.median(s["peak_rss_mb"] for s in samples),
            "rows": samples[0]["rows"],
        }
    ours, plain = results[irreport_kind], results[duckdb_kind]
    return {"label": label, "irreport": ours, "duckdb": plain,
            "time_ratio": ours["seconds"] / plain["seconds"],
            "memory_ratio": ours["peak_rss_mb"] / plain["peak_rss_mb"]}


def file_size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / (1024 * 1024)


def run(csv_sizes: list[float], json_mb: float, runs: int, workdir: Path) -> list[dict]:
    workdir.mkdir(parents=True, exist_ok=True)
    comparisons = []
    for csv_mb in csv_sizes:
        union = workdir / f"union-{csv_mb:g}mb.csv"
        if not union.exists():
            write_union_csv(union, csv_mb)
        comparisons.append(compare(f"union CSV, {file_size_mb(union):.0f} MB", union,
                                   "irreport-csv", "duckdb-csv", runs))
    streaming = workdir / f"streaming-{json_mb:g}mb"
    if not streaming.exists():
        write_streaming_folder(streaming, json_mb)
    comparisons.append(compare(f"Streaming API JSON folder, {file_size_mb(streaming):.0f} MB",
                               streaming, "irreport-json", "duckdb-json", runs))
    return comparisons


def markdown(comparisons: list[dict], runs: int, command: str, load: float) -> str:
    lines = [
        HEADING, "",
        f"`{command}` on {platform.machine()}, Python {platform.python_version()}, "
        f"{_cpu_count()} cores; median of {runs} runs, each in its own process. The baseline is "
        "DuckDB reading the same files into one table (`read_csv(all_varchar=true)`, "
        "`read_json`) with no per-table placement or type conversion. Peak RSS is the whole "
        "process, interpreter included. irreport reads a union CSV once to count the rows per "
        "table and once more per table to insert them, so that the export is never staged in "
        "memory; those passes account for most of its time ratio.", "",
        f"The one-minute load average was {load:.1f} when the run started; other jobs on the "
        "machine lengthen the times.", "",
        "| input | rows | irreport s | DuckDB s | time ratio | irreport peak RSS MB | "
        "DuckDB peak RSS MB | memory ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        ours, plain = c["irreport"], c["duckdb"]
        lines.append(f"| {c['label']} | {ours['rows']} | {ours['seconds']:.1f} | "
                     f"{plain['seconds']:.1f} | {c['time_ratio']:.2f} | "
                     f"{ours['peak_rss_mb']:.0f} | {plain['peak_rss_mb']:.0f} | "
                     f"{c['memory_ratio']:.2f} |")
    return "\n".join(lines) + "\n"


def _cpu_count() -> int:
    return os.cpu_count() or 1


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace this benchmark's section of *doc*, or append it; other sections stay as they are."""
    existing = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    start = existing.find(HEADING + "\n")
    if start < 0:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        following = existing.find("\n## ", start + len(HEADING))
        tail = existing[following + 1:] if following >= 0 else ""
        updated = existing[:start] + text + ("\n" + tail if tail else "")
    doc.write_text(updated, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-mb", type=float, nargs="+", default=[200],
                        help="Sizes of the union CSVs in MB; give several to measure each.")
    parser.add_argument("--json-mb", type=float, default=100,
                        help="Size of the Streaming API folder in MB.")
    parser.add_argument("--runs", type=int, default=3, help="Loads per measurement.")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/irreport-bench"),
                        help="Folder for the generated inputs, reused across runs.")
    parser.add_argument("--quick", action="store_true", help="4 MB inputs, one run, no write.")
    parser.add_argument("--no-write", action="store_true", help="Do not update the docs page.")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    if args.quick:
        args.csv_mb, args.json_mb, args.runs, args.no_write = [4], 4, 1, True
    load = os.getloadavg()[0]
    comparisons = run(args.csv_mb, args.json_mb, args.runs, args.workdir)
    command = "python bench/load_exports.py " + " ".join(argv if argv is not None
                                                         else sys.argv[1:])
    text = markdown(comparisons, args.runs, command.strip(), load)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
