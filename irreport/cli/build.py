"""`irreport build`: the incident dossier."""

from __future__ import annotations

from pathlib import Path

import typer

from irreport.cli import app
from irreport.cli.common import (EndOption, LastOption, ParamOption, SourceOption, StartOption,
                                 TimezoneOption, loaded_config, open_source_announced,
                                 parse_params, show_prompt)
from irreport.errors import ConfigurationError
from irreport.plural import counted
from irreport.timerange import resolve


@app.command("build")
def build(
    devices: list[str] = typer.Option(None, "--device", "-d", metavar="NAME",
                                      help="Device name to report on; repeat for several."),
    incident: str = typer.Option(None, "--incident", metavar="ID",
                                 help="Defender incident id: report on its "
                                      "devices over its alerts' time range (needs a tenant)."),
    start: str = StartOption,
    end: str = EndOption,
    last: str = LastOption,
    out_dir: Path = typer.Option(Path("dossiers"), "--out", "-o", metavar="FOLDER",
                                 help="Folder that receives the dossier folder."),
    name: str = typer.Option(None, "--name", metavar="NAME",
                             help="Name of the dossier folder; default: "
                                  "the devices and the range's end date."),
    formats: str = typer.Option("html,pdf", "--format", metavar="FORMATS",
                                help="html, pdf or html,pdf."),
    force: bool = typer.Option(False, "--force", metavar="",
                               help="Replace an existing dossier folder."),
    tlp: str = typer.Option("AMBER", "--tlp", metavar="LEVEL",
                            help="TLP marking: CLEAR, GREEN, AMBER, "
                                 "AMBER+STRICT or RED."),
    source_spec: str = SourceOption,
    timezone_name: str = TimezoneOption,
    params: list[str] = ParamOption,
):
    """Collect the query pack for the devices, analyse it and write an HTML and PDF dossier.

    Without --start, --end or --last the range is the incident's with --incident, the
    sample's three incident days, all the data of an export, or the last 48 hours on a tenant.

    Exits 0 when every query succeeded. Exits 1 when the dossier was written but some
    queries failed, were skipped, were truncated or lacked their tables, or no query
    returned a row for a requested device (the dossier lists them). Exits 2 on an error.

    Examples:

    * `irreport build --device testmachine3`
    * `irreport build --incident 2972395`
    """
    from irreport.build import (BuildRequest, build_dossier, check_tlp, dossier_folder,
                                incident_query_ids, parse_formats)
    from irreport.pack import QueryPack

    config = loaded_config()
    scope = _incident_scope(config, incident) if incident else None
    devices = list(devices or (scope.device_names if scope else []))
    if not devices:
        raise ConfigurationError("no device given; pass --device NAME (repeat for several) "
                                 "or --incident ID")
    request = BuildRequest(devices=devices, out_dir=out_dir, name=name,
                           formats=parse_formats(formats), force=force, tlp=check_tlp(tlp),
                           device_groups=config.get("device_groups"),
                           incident=_incident_cover(scope) if scope else None)
    pack = QueryPack.load()
    request.overrides = parse_params(params, list(pack))
    source = open_source_announced(source_spec, timezone_name)
    try:
        default = scope.time_range if scope and scope.time_range else source.default_range()
        time_range = resolve(start, end, last, now=source.now(), default=default)
        dossier_folder(request, time_range)
        count = len(incident_query_ids(pack))
        typer.echo(f"Collecting {counted(count, 'query')} for {', '.join(devices)}, "
                   f"{time_range.label()}", err=True)
        with _progress(count) as progress:
            outcome = build_dossier(request, source, pack, time_range, progress)
    finally:
        source.close()
    _report(outcome)
    if not outcome.all_ok:
        raise typer.Exit(1)


def _incident_scope(config, incident_id: str):
    from irreport.incidents import scope_for_incident

    scope = scope_for_incident(config, incident_id, prompt=show_prompt)
    typer.echo(f"Incident {scope.incident_id}: {scope.title} ({scope.severity}, {scope.status}),"
               f" {counted(len(scope.alerts), 'alert')}, "
               f"devices {', '.join(scope.device_names) or 'none'}", err=True)
    return scope


def _incident_cover(scope) -> dict:
    """Return the incident facts the dossier cover shows."""
    return {
        "id": scope.incident_id, "title": scope.title, "severity": scope.severity,
        "status": scope.status,
        "alerts": [{"title": a.title, "severity": a.severity} for a in scope.alerts],
    }


def _report(outcome) -> None:
    failed = [r for r in outcome.collection.results.values() if not r.ok or r.truncated]
    typer.echo(f"Dossier written to {outcome.folder}", err=True)
    results = outcome.collection.results
    typer.echo(f"  {counted(len(outcome.analysis.findings), 'finding')}, "
               f"{counted(len(outcome.analysis.indicators), 'indicator')}, "
               f"{len(results) - len(failed)} of {counted(len(results), 'query')} complete",
               err=True)
    typer.echo(f"  manifest core SHA-256 {outcome.manifest['core_sha256']}", err=True)
    for note in outcome.collection.unseen_devices.values():
        typer.echo(f"  warning: {note}", err=True)
    for result in failed:
        typer.echo(f"  {result.query_id}: {result.status}: {result.message}", err=True)
    if outcome.collection.source_kind == "sample":
        typer.echo("  (sample data)", err=True)


class _progress:
    """A progress bar on standard error, one step per query."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.bar = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total}"),
                            console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task("collecting", total=total)

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc_info):
        self.bar.stop()

    def __call__(self, query, result) -> None:
        if result is None:
            self.bar.update(self.task, description=query.id)
        else:
            self.bar.advance(self.task)
