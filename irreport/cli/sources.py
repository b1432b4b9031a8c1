"""`irreport sources`: look into exported telemetry before building a dossier from it."""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import timedelta
from pathlib import Path

import typer

from irreport.cli import app
from irreport.cli.common import TimezoneOption
from irreport.plural import counted
from irreport.timerange import iso, parse_instant

sources_app = typer.Typer(help="Inspect exported telemetry used with --source.",
                          no_args_is_help=True)
app.add_typer(sources_app, name="sources")


# A suggested build command names every device up to this many, else the first three.
MAX_COMMAND_DEVICES = 5


@sources_app.command("inspect")
def inspect_source(
    path: Path = typer.Argument(..., help="Exported file or folder, as given to --source."),
    timezone_name: str = TimezoneOption,
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print JSON."),
):
    """List the tables, row counts, devices and time range that exported data holds.

    Example: `irreport sources inspect ./export.csv`
    """
    from irreport.sources.inventory import describe_source
    from irreport.sources.local import open_path

    source = open_path(path, timezone_name=timezone_name)
    try:
        summary = describe_source(source)
    finally:
        source.close()
    summary["path"] = str(path)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
    tables = summary["tables"]
    if not tables:
        typer.echo(f"{summary['path']}: no rows loaded")
    else:
        width = max(len(t) for t in tables)
        typer.echo(f"{'table'.ljust(width)}  {'rows':>8}  {'devices':>7}  first                 last")
        for table, entry in tables.items():
            # A table without a DeviceName column (AlertInfo) shows "-", not 0 devices.
            devices = len(entry["devices"]) if entry.get("has_device_column", True) else "-"
            typer.echo(f"{table.ljust(width)}  {entry['rows']:>8}  {devices:>7}  "
                       f"{entry['first'] or '-':20}  {entry['last'] or '-'}")
        typer.echo(f"{counted(summary['rows'], 'row')} from {summary['first']} to "
                   f"{summary['last']}")
    if summary["inferred"]:
        placed = ", ".join(f"{t} {n}" for t, n in summary["inferred"].items())
        typer.echo(f"tables inferred from a union export: {placed}")
    if summary["devices"]:
        width = shutil.get_terminal_size().columns
        typer.echo(textwrap.fill(f"devices: {', '.join(summary['devices'])}", width=width,
                                 subsequent_indent="  ", break_on_hyphens=False))
        typer.echo("to report on them: " + _build_command(summary))
    if summary["missing_tables"]:
        typer.echo("tables that queries read and this data lacks: " + "; ".join(
            f"{table} ({', '.join(ids)})" for table, ids in summary["missing_tables"].items()))
    for table, columns in summary["missing_columns"].items():
        named = "; ".join(f"{column} ({', '.join(ids)})" for column, ids in columns.items())
        typer.echo(f"{table} lacks columns that queries read, which will see no values: {named}")
    if summary["warnings"]:
        # Each warning was logged to standard error while loading; --json lists them too.
        typer.echo(f"{counted(len(summary['warnings']), 'loading warning')}, shown above")


def _build_command(summary: dict) -> str:
    names = summary["devices"]
    alerted = summary.get("devices_by_alerts") or []
    if len(names) <= MAX_COMMAND_DEVICES:
        named = names
    else:
        named = (alerted + [name for name in names if name not in alerted])[:3]
    devices = " ".join(f"--device {d}" for d in named)
    # The summary's times are cut to whole seconds, so the end is moved one second on to keep
    # the last event inside the half-open range.
    end = iso(parse_instant(summary["last"]) + timedelta(seconds=1))
    command = (f"irreport build --source {summary['path']} {devices} --start {summary['first']} "
               f"--end {end}")
    if len(named) < len(names):
        chosen = ", those with the most alerts" if alerted else ""
        command += (f"   # {len(named)} of {len(names)} devices{chosen}; "
                    "add --device NAME for others")
    return command
