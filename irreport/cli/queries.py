"""`irreport queries`: list, show, run and check the query pack."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from irreport.cli import app
from irreport.cli.common import (DeviceOption, EndOption, LastOption, ParamOption, StartOption,
                                 SourceOption, TimezoneOption, open_source_announced, parse_params,
                                 time_range_for)
from irreport.devices import has_device, similar_devices
from irreport.errors import ConfigurationError
from irreport.plural import counted

queries_app = typer.Typer(help="List, show, run and check the KQL query pack.",
                          no_args_is_help=True)
app.add_typer(queries_app, name="queries")

PackOption = typer.Option(None, "--pack", metavar="FOLDER",
                          help="Folder of .kql files; default: the bundled pack.")


def _load(pack_dir: Path | None):
    from irreport.pack import QueryPack

    return QueryPack.load(pack_dir)


@queries_app.command("list")
def list_queries(pack_dir: Path = PackOption,
                 as_json: bool = typer.Option(False, "--json", metavar="", help="Print JSON.")):
    """List the pack's queries with their NIST phase and scope."""
    from irreport.pack import describe

    pack = _load(pack_dir)
    if as_json:
        typer.echo(json.dumps([describe(q) for q in pack], indent=2, default=str))
        return
    width = max(len(q.id) for q in pack)
    for query in pack:
        typer.echo(f"{query.id.ljust(width)}  {query.scope:6}  {query.phase_title:38}  "
                   f"{query.title}")


@queries_app.command("show")
def show_query(
    query_id: str = typer.Argument(..., help="Query id, as 'irreport queries list' shows it."),
    devices: list[str] = typer.Option(
        None, "--device", "-d", metavar="NAME",
        help="Print the query bound for these devices, ready to paste into the Defender portal."),
    start: str = StartOption,
    end: str = EndOption,
    last: str = typer.Option(None, "--last", metavar="DURATION",
                             help="Range ending now by the wall clock, as the portal runs "
                                  "it: 48h, 7d, 90m."),
    params: list[str] = ParamOption,
    pack_dir: Path = PackOption,
):
    """Show one query: the question it covers, its parameters and its KQL.

    With --device, print only the KQL with its parameters bound as let statements, for the
    given range (default: the last 48 hours by the wall clock).
    """
    query = _load(pack_dir).get(query_id)
    if devices:
        typer.echo(_bound_text(query, devices, start, end, last, params))
        return
    typer.echo(f"{query.id}: {query.title}")
    typer.echo(f"answers:    {query.answers}")
    typer.echo(f"phase:      {query.phase_title}")
    typer.echo(f"scope:      {query.scope}")
    typer.echo(f"tables:     {', '.join(query.tables)}")
    typer.echo(f"techniques: {', '.join(query.techniques) or '-'}")
    typer.echo("parameters:")
    for param in query.parameters:
        default = "" if param.default is None else f" = {param.default!r}"
        feeds = f" <- {'.'.join(param.feeds_from)}" if param.feeds_from else ""
        typer.echo(f"  {param.name}: {param.type}{default}{feeds}  {param.description}")
    typer.echo("")
    typer.echo(query.body.rstrip())


def _bound_text(query, devices, start, end, last, params) -> str:
    from irreport.sources import utcnow
    from irreport.timerange import resolve

    time_range = resolve(start, end, last, now=utcnow())
    values = {"Devices": list(devices), "StartTime": time_range.start,
              "EndTime": time_range.end, **parse_params(params, [query])}
    for param in query.parameters:
        if param.type == "devices":
            values[param.name] = list(devices)
        elif param.feeds_from and param.name not in values:
            values[param.name] = []
    return query.bind(values)


def unknown_device_warnings(devices: list[str], known: list[str] | None) -> list[str]:
    """Return a warning for each requested device that the source has no data for.

    A misspelled device matches nothing, and its empty result would read as a quiet device.
    Only a source that can list its devices (an export) can tell.
    """
    if known is None:
        return []
    warnings = []
    for device in devices:
        if has_device(device, known):
            continue
        warning = f"the source has no data for device {device!r}; check the name"
        close = similar_devices(device, known)
        if close:
            warning += f" (devices with a similar name: {', '.join(close)})"
        warnings.append(warning)
    return warnings


@queries_app.command("run")
def run_query(
    query_id: str,
    devices: list[str] = DeviceOption,
    start: str = StartOption,
    end: str = EndOption,
    last: str = LastOption,
    source_spec: str = SourceOption,
    timezone_name: str = TimezoneOption,
    params: list[str] = ParamOption,
    output_format: str = typer.Option("table", "--format", "-f", metavar="FORMAT",
                                      help="table, csv or json."),
    pack_dir: Path = PackOption,
):
    """Run one query of the pack and print its rows.

    Example: `irreport queries run inbound-then-logon --device testmachine3 --last 48h`
    """
    from irreport.collect import collect
    from irreport.output import format_table, write_csv, write_json

    if output_format not in ("table", "csv", "json"):
        raise ConfigurationError(f"--format {output_format!r} is not one of table, csv, json")
    pack = _load(pack_dir)
    query = pack.get(query_id)
    overrides = parse_params(params, list(pack))
    source = open_source_announced(source_spec, timezone_name)
    try:
        time_range = time_range_for(source, start, end, last)
        collection = collect(pack, source, devices, time_range, overrides, only=[query_id])
        known = source.known_devices() if hasattr(source, "known_devices") else None
    finally:
        source.close()
    result = collection.results[query.id]
    unknown = unknown_device_warnings(devices, known)
    for warning in unknown:
        typer.echo(f"warning: {warning}", err=True)
    if output_format == "csv":
        write_csv(result, sys.stdout)
    elif output_format == "json":
        write_json(result, sys.stdout)
    else:
        typer.echo(format_table(result), nl=False)
        typer.echo(f"{counted(len(result.rows), 'row')}, {time_range.label()}", err=True)
    if not result.ok:
        typer.echo(f"error: query {query.id} {result.status}: {result.message}", err=True)
        raise typer.Exit(1)
    if unknown:
        raise typer.Exit(1)


@queries_app.command("check")
def check_queries(pack_dir: Path = PackOption):
    """Translate every query offline and lint it; exits 1 when any query has a fault."""
    from irreport.lint import lint

    pack = _load(pack_dir)
    faults = [fault for query in pack for fault in lint(query)]
    for fault in faults:
        typer.echo(f"{fault.query_id}: {fault.message}" if not fault.line else str(fault),
                   err=True)
    errors = [f for f in faults if f.error]
    typer.echo(f"{counted(len(pack), 'query')} checked, {counted(len(errors), 'fault')}")
    if errors:
        raise typer.Exit(1)
