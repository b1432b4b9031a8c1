"""Benchmark: the full query pack against a throttled loopback Graph, for 1, 10 and 50 devices.

The loopback server from tests/loopback_ms.py enforces a call quota like advanced hunting's
45 calls per minute, with "one minute" scaled down so a run takes seconds, and delays every
query by a fixed latency. The real Defender source, msal and httpx talk to it over TLS on
127.0.0.1. Devices go into one list parameter per query, so the number of calls should stay the
same for any number of devices; the benchmark counts them to show it.

Run: python bench/live_quota.py [--runs 3] [--minute 10] [--write]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from loopback_ms import CLIENT_ID, TENANT, LoopbackMicrosoft, Reply, TokenBucket, hunting_body  # noqa: E402

from irreport.collect import collect  # noqa: E402
from irreport.config import load_config  # noqa: E402
from irreport.pack import QueryPack  # noqa: E402
from irreport.sources import open_source  # noqa: E402
from irreport.timerange import TimeRange  # noqa: E402

DEVICE_COUNTS = (1, 10, 50)
QUOTA_CALLS = 45
ROWS_PER_DEVICE = 20


def rows_for_devices(request, match) -> Reply:
    """Return ROWS_PER_DEVICE rows for each device named in the query's Devices list."""
    text = request.json["Query"]
    devices = text.count("bench-device-")
    rows = [{"Timestamp": "2026-12-01T10:00:00Z", "DeviceName": f"bench-device-{i % max(devices, 1)}"}
            for i in range(devices * ROWS_PER_DEVICE)]
    return Reply(body=hunting_body([("Timestamp", "DateTime"), ("DeviceName", "String")], rows))


def write_config(folder: Path, server: LoopbackMicrosoft, concurrency: int) -> Path:
    path = folder / "irreport.toml"
    path.write_text(f"""
[source]
kind = "defender"

[auth]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
token_cache = "none"

[endpoints]
authority_host = "{server.base_url}"
graph = "{server.base_url}"
ca_bundle = "{server.cert_path}"

[defender]
max_concurrency = {concurrency}

[http]
backoff_base_seconds = 0.05
backoff_cap_seconds = 1.0
max_throttle_retries = 30
""", encoding="utf-8")
    return path


def run_once(folder: Path, devices: int, minute: float, latency: float, spare_calls: int,
             concurrency: int, pack: QueryPack) -> dict[str, float]:
    """Collect the whole pack once on a fresh server; return wall time, calls and 429s."""
    server = LoopbackMicrosoft(folder / "server").start()
    try:
        server.handlers["hunting"] = rows_for_devices
        server.latency = latency
        server.quota = TokenBucket(QUOTA_CALLS, minute)
        # Other tools of the tenant may already have spent most of the minute's calls.
        server.quota.tokens = float(spare_calls)
        config = load_config(write_config(folder, server, concurrency),
                             environ={"AZURE_CLIENT_SECRET": server.client_secret})
        source = open_source(None, config)
        names = [f"bench-device-{i}" for i in range(devices)]
        started = time.perf_counter()
        now = datetime.now(timezone.utc)
        collection = collect(pack, source, names, TimeRange(now - timedelta(days=1), now))
        wall = time.perf_counter() - started
        source.close()
    finally:
        server.stop()
    hunting = server.calls("hunting")
    statuses = [r.status for r in collection.results.values()]
    return {
        "wall": wall,
        "calls": len(hunting),
        "queries": len(collection.results),
        "throttled": sum(r.retries for r in collection.results.values()),
        "failed": sum(1 for s in statuses if s == "failed"),
    }


def measure(args, pack: QueryPack, spare_calls: int) -> list[dict[str, float]]:
    rows = []
    for devices in DEVICE_COUNTS:
        runs = []
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                runs.append(run_once(Path(folder), devices, args.minute, args.latency,
                                     spare_calls, args.concurrency, pack))
        rows.append({
            "devices": devices,
            "wall_median": statistics.median(r["wall"] for r in runs),
            "calls": sorted({r["calls"] for r in runs}),
            "throttled_median": statistics.median(r["throttled"] for r in runs),
            "failed": max(r["failed"] for r in runs),
            "queries": runs[0]["queries"],
        })
    return rows


def markdown(args, results: dict[str, list[dict]]) -> str:
    lines = [
        "## Live sources",
        "",
        "`bench/live_quota.py` runs the whole query pack through the real Defender source "
        "(msal, httpx, TLS) against the loopback Graph server of the tests. The server allows "
        f"{QUOTA_CALLS} calls per \"minute\", scaled to {args.minute:g} s, returns 429 with a "
        f"fractional Retry-After past that, and delays each query by {args.latency * 1000:g} ms. "
        f"The source runs {args.concurrency} queries at once. Medians of {args.runs} runs, "
        f"Python {platform.python_version()} on {platform.machine()} "
        f"({platform.system()}), measured on the project's 2-core machine.",
        "",
    ]
    for scenario, rows in results.items():
        lines += [f"{scenario}:", "",
                  "| devices | queries | calls to Graph | 429 retries (median) | failed | wall time (median) |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for row in rows:
            calls = "/".join(str(c) for c in row["calls"])
            lines.append(f"| {row['devices']} | {row['queries']} | {calls} | "
                         f"{row['throttled_median']:g} | {row['failed']} | {row['wall_median']:.2f} s |")
        lines.append("")
    lines += [
        "\"Calls to Graph\" counts every runHuntingQuery request, 429 responses included, and "
        "lists each distinct value seen across the runs. It is the number of pack queries plus "
        "the 429 retries, whatever the number of devices, because the devices go into one "
        "`Devices` list per query and only the rows returned grow with them. With most of the "
        "minute's quota spent by other tools, the run waits as the Retry-After headers request, "
        "and no query fails. "
        "Most of those retries come from the concurrent queries waking together when a "
        "Retry-After ends while the quota refills one call at a time.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> Path:
    """Replace or append the `## Live sources` section of docs/benchmarks.md."""
    path = REPO / "docs" / "benchmarks.md"
    existing = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    start = existing.find("## Live sources")
    if start < 0:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        following = existing.find("\n## ", start + 1)
        rest = existing[following + 1:] if following >= 0 else ""
        updated = existing[:start] + text + ("\n" + rest if rest else "")
    path.write_text(updated, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per device count")
    parser.add_argument("--minute", type=float, default=10.0,
                        help="seconds that stand for the quota's minute")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per query")
    parser.add_argument("--concurrency", type=int, default=4, help="queries at once")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    pack = QueryPack.load()
    results = {
        f"A fresh quota ({QUOTA_CALLS} calls available)": measure(args, pack, QUOTA_CALLS),
        "A nearly spent quota (5 calls left at the start)": measure(args, pack, 5),
    }
    print(json.dumps(results, indent=1))
    text = markdown(args, results)
    print(text)
    if args.write:
        print(f"written to {write_section(text)}")


if __name__ == "__main__":
    main()
