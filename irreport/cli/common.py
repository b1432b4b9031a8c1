"""Options and helpers shared by the commands."""

from __future__ import annotations

from typing import Any

import typer

from irreport.errors import ConfigurationError
from irreport.pack import Query
from irreport.sources import Source
from irreport.timerange import TimeRange, resolve

DeviceOption = typer.Option(..., "--device", "-d", metavar="NAME",
                            help="Device name to report on; repeat for several devices.")
StartOption = typer.Option(None, "--start", metavar="TIME",
                           help="Start of the range, ISO 8601 (UTC if no zone).")
EndOption = typer.Option(None, "--end", metavar="TIME",
                         help="End of the range, ISO 8601 (UTC if no zone).")
LastOption = typer.Option(None, "--last", metavar="DURATION",
                          help="Range ending now (for the sample or an export, at the end of "
                          "its data): 48h, 7d, 90m.")
SourceOption = typer.Option(
    None, "--source", metavar="PATH",
    help="Exported data to query offline: an Advanced Hunting CSV, a Sentinel export, Streaming "
         "API JSON, per-table CSV, JSON lines or Parquet files, or a folder of them; default: "
         "the configured tenant, else the bundled sample incident.",
)
TimezoneOption = typer.Option(
    None, "--timezone", metavar="ZONE",
    help="IANA time zone of exported timestamps that carry none, such as Europe/Berlin.",
)
ParamOption = typer.Option(None, "--param", "-p", metavar="NAME=VALUE",
                           help="Query parameter as NAME=VALUE; lists are comma-separated.")


def loaded_config() -> dict[str, Any]:
    """Return the configuration from --config or the usual places, with the environment applied."""
    from irreport.cli import _state
    from irreport.config import load_config

    return load_config(_state.get("config"))


def show_prompt(message: str) -> None:
    """Show a sign-in instruction, such as the device code, on standard error."""
    typer.echo(message, err=True)


def open_source_announced(spec: str | None, timezone_name: str | None = None) -> Source:
    """Open the source and tell the user on standard error when it is the bundled sample."""
    from irreport.sources import open_source

    source = open_source(spec, config=loaded_config(), timezone_name=timezone_name,
                         prompt=show_prompt)
    if source.kind == "sample":
        typer.echo("No tenant configured and no --source given: using the bundled sample "
                   "incident (sample data).", err=True)
    return source


def time_range_for(source: Source, start: str | None, end: str | None,
                   last: str | None) -> TimeRange:
    return resolve(start, end, last, now=source.now(), default=source.default_range())


def parse_params(pairs: list[str] | None, queries: list[Query]) -> dict[str, Any]:
    """Turn NAME=VALUE pairs into typed values, using the first query that declares NAME."""
    from irreport.pack import parse_value

    values: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ConfigurationError(f"--param {pair!r} is not NAME=VALUE; write such as "
                                     "--param Sha1s=5c1e7f1a...")
        declared = next((q.parameter(name) for q in queries if q.parameter(name)), None)
        if declared is None:
            raise ConfigurationError(
                f"no query in this run declares parameter {name!r}; "
                "'irreport queries show ID' lists a query's parameters")
        values[name] = parse_value(declared, text)
    return values
