"""Generate the bundled sample: the incident in <Table>.jsonl, the fleet weeks in <Table>.jsonl.gz.

The scenario, with its devices, times, names and hashes, is laid out in docs/sample-incident.md.
The output depends only on SEED and this package's code, with no clock and no network, so running

    python -m irreport.sample.generate [--out DIR]

twice writes the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from irreport.sample.alerts import raise_alerts
from irreport.sample.attack import simulate_intrusion
from irreport.sample.benign import simulate_everyday_activity
from irreport.sample.fleet import build_fleet
from irreport.sample.fleet_activity import generate_fleet_weeks
from irreport.sample.fleet_weeks import POSTURE_END
from irreport.sample.posture import assess_configurations, report_inventory
from irreport.sample.rows import DATA_END, DATA_START, Telemetry

SEED = 20261202
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
ANCHOR_DESCRIPTION = (
    "Made-up Defender for Endpoint incident: RDP brute force against testmachine3, a discovery "
    "script, persistence, a blocked credential theft and lateral movement to srv-files01, amid "
    "three days of ordinary activity on seven devices."
)

POSTURE_DESCRIPTION = (
    "Three weeks (2026-W47 to W49) of 30 devices, the incident's seven among them, in the "
    "<Table>.jsonl.gz files; the posture report takes posture_end as now."
)


def generate_telemetry(seed: int = SEED) -> Telemetry:
    """Build every table of the sample in memory."""
    tel = Telemetry()
    fleet = build_fleet(seed)
    simulate_everyday_activity(tel, fleet)
    intrusion = simulate_intrusion(tel, fleet)
    raise_alerts(tel, intrusion, fleet.rng("alerts"))
    report_inventory(tel, fleet)
    assess_configurations(tel, fleet)
    check_time_range(tel)
    return tel


def check_time_range(tel: Telemetry) -> None:
    """Raise ValueError if a row's Timestamp falls outside the range that anchor.json promises."""
    first, last = iso_bounds()
    for table, rows in tel.rows.items():
        for row in rows:
            stamp = row.get("Timestamp")
            if stamp is not None and not first <= str(stamp) < last:
                raise ValueError(f"{table} row at {stamp} lies outside {first} to {last}")


def iso_bounds() -> tuple[str, str]:
    return f"{DATA_START:%Y-%m-%dT%H:%M:%S}.000Z", f"{DATA_END:%Y-%m-%dT%H:%M:%S}.000Z"


def write_sample(out: Path, seed: int = SEED) -> dict[str, int]:
    """Write the incident's and the fleet weeks' files per table and anchor.json into out.

    Returns the row count per file.
    """
    tel = generate_telemetry(seed)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in sorted(tel.rows):
        rows = tel.ordered_rows(table)
        lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in rows]
        (out / f"{table}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
        counts[table] = len(rows)
    fleet = generate_fleet_weeks(seed)
    for table in sorted(fleet.rows):
        rows = fleet.ordered_rows(table)
        write_gzip_lines(out / f"{table}.jsonl.gz", rows)
        counts[f"{table} (fleet weeks)"] = len(rows)
    anchor = {
        "start": f"{DATA_START:%Y-%m-%dT%H:%M:%SZ}",
        "end": f"{DATA_END:%Y-%m-%dT%H:%M:%SZ}",
        "description": ANCHOR_DESCRIPTION,
        "posture_end": f"{POSTURE_END:%Y-%m-%dT%H:%M:%SZ}",
        "posture_description": POSTURE_DESCRIPTION,
    }
    (out / "anchor.json").write_text(json.dumps(anchor, indent=2) + "\n", encoding="utf-8", newline="\n")
    return counts


def write_gzip_lines(path: Path, rows: list[dict[str, object]]) -> None:
    """Write JSON lines gzipped with no name and no time in the header, so the bytes repeat."""
    lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in rows]
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                               compresslevel=9) as packed:
        packed.write(("\n".join(lines) + "\n").encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the bundled sample incident as JSON-lines files.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    arguments = parser.parse_args(argv)
    counts = write_sample(arguments.out)
    for table, count in counts.items():
        print(f"{table}: {count} rows")
    print(f"{sum(counts.values())} rows written to {arguments.out}")


if __name__ == "__main__":
    main()
