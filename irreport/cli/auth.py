"""`irreport auth`: check sign-in and what the configured sources let the app read."""

from __future__ import annotations

import typer

from irreport.cli import app
from irreport.cli.common import show_prompt

auth_app = typer.Typer(help="Check sign-in to Microsoft Entra ID and access to the sources.",
                       no_args_is_help=True)
app.add_typer(auth_app, name="auth")


@auth_app.command("check")
def check(
    tenant_id: str = typer.Option(None, "--tenant-id", metavar="ID",
                                  help="Entra tenant id; overrides "
                                       "AZURE_TENANT_ID and the configuration file."),
    client_id: str = typer.Option(None, "--client-id", metavar="ID",
                                  help="App (client) id; overrides "
                                       "AZURE_CLIENT_ID and the configuration file."),
    method: str = typer.Option(None, "--method", metavar="METHOD",
                               help="Sign-in method: secret, certificate or device-code."),
):
    """Sign in, run a one-day probe query on each configured source and list visible tables.

    A source that rejects the app (HTTP 401 or 403) is reported with the permission it needs.
    Exits with 1 when any check fails.
    """
    from irreport.access import check_incidents, check_source, pack_tables
    from irreport.cli import _state
    from irreport.config import load_config

    overrides = {"auth": {"tenant_id": tenant_id, "client_id": client_id, "method": method}}
    config = load_config(_state.get("config"), overrides=overrides)
    tokens = _token_provider(config)
    sources = _configured_sources(config, tokens)
    reports = [check_source(source, pack_tables(_pack())) for source in sources]
    if any(r.target == "defender" for r in reports):
        reports.append(_incidents_report(config, tokens, check_incidents))
    for source in sources:
        source.close()
    for report in reports:
        _show(report)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def _pack():
    from irreport.pack import QueryPack

    return QueryPack.load()


def _token_provider(config):
    from irreport import config as settings
    from irreport.auth import TokenProvider

    return TokenProvider(settings.auth_settings(config), settings.endpoints(config),
                         prompt=show_prompt)


def _configured_sources(config, tokens):
    """Open every live source the configuration has a table for, sharing one sign-in."""
    from importlib import import_module

    from irreport.errors import ConfigurationError
    from irreport.sources import LIVE_KINDS

    kinds = [k for k in LIVE_KINDS
             if k in config or (config.get("source") or {}).get("kind") == k]
    if not kinds:
        raise ConfigurationError(
            "no live source is configured; add [source] kind = \"defender\", \"sentinel\" or "
            "\"adx\" to irreport.toml (see docs/irreport.example.toml)")
    return [import_module(f"irreport.sources.{kind}").open_from_config(config, tokens=tokens)
            for kind in kinds]


def _incidents_report(config, tokens, check_incidents):
    from irreport import config as settings
    from irreport.incidents import PERMISSION
    from irreport.sources.live import build_client

    endpoints = settings.endpoints(config)
    client = build_client(config, "defender", "Microsoft Graph incidents", endpoints.graph,
                          f"{endpoints.graph_audience}/.default", tokens=tokens)
    try:
        return check_incidents(client, PERMISSION)
    finally:
        client.close()


def _show(report) -> None:
    status = "ok" if report.ok else "FAILED"
    typer.echo(f"{report.target}: {status} ({report.endpoint})")
    if report.error:
        typer.echo(f"  error: {report.error}")
    if report.missing_permission:
        typer.echo(f"  missing permission: the app needs {report.missing_permission}")
    if report.visible:
        typer.echo(f"  tables with rows in the last day: {', '.join(report.visible)}")
    if report.not_visible:
        typer.echo("  tables not visible or without rows in the last day: "
                   f"{', '.join(report.not_visible)}")
    for table, reason in report.not_sent.items():
        typer.echo(f"  {table}: not available here ({reason})")
