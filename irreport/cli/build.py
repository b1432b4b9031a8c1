"""`irreport build`: the incident dossier."""

from __future__ import annotations

from pathlib import Path

import typer

from irreport.cli import app
from irreport.cli.common import (EndOption, LastOption, ParamOption, SourceOption, StartOption,
                                 TimezoneOption, open_source_announced, parse_params,
                                 time_range_for)
from irreport.errors import ConfigurationError


@app.command("build")
def build(
    devices: list[str] = typer.Option(None, "--device", "-d",
                                      help="Device name to report on; repeat for several."),
    start: str = StartOption,
    end: str = EndOption,
    last: str = LastOption,
    out_dir: Path = typer.Option(Path("dossiers"), "--out", "-o",
                                 help="Folder that receives the dossier folder."),
    name: str = typer.Option(None, "--name", help="Name of the dossier folder; default: "
                             "the devices and the range's end date."),
    formats: str = typer.Option("html,pdf", "--format", help="html, pdf or html,pdf."),
    force: bool = typer.Option(False, "--force", help="Replace an existing dossier folder."),
    tlp: str = typer.Option("AMBER", "--tlp", help="TLP marking: CLEAR, GREEN, AMBER, "
                            "AMBER+STRICT or RED."),
    source_spec: str = SourceOption,
    timezone_name: str = TimezoneOption,
    params: list[str] = ParamOption,
):
    """Collect the query pack for the devices, analyse it and write an HTML and PDF dossier.

    Exits 0 when every query succeeded, 1 when the dossier was written but some queries
    failed, were skipped or truncated (the dossier lists them), 2 on an error.

    Example: irreport build --device testmachine3
    """
    from irreport.build import BuildRequest, build_dossier, check_tlp, parse_formats
    from irreport.pack import QueryPack

    if not devices:
        raise ConfigurationError("no device given; pass --device NAME (repeat for several)")
    request = BuildRequest(devices=list(devices), out_dir=out_dir, name=name,
                           formats=parse_formats(formats), force=force, tlp=check_tlp(tlp))
    pack = QueryPack.load()
    request.overrides = parse_params(params, list(pack))
    source = open_source_announced(source_spec, timezone_name)
    try:
        time_range = time_range_for(source, start, end, last)
        typer.echo(f"Collecting {len(pack)} queries for {', '.join(devices)}, "
                   f"{time_range.label()}", err=True)
        with _progress(len(pack)) as progress:
            outcome = build_dossier(request, source, pack, time_range, progress)
    finally:
        source.close()
    _report(outcome)
    if not outcome.all_ok:
        raise typer.Exit(1)


def _report(outcome) -> None:
    failed = [r for r in outcome.collection.results.values() if not r.ok or r.truncated]
    typer.echo(f"Dossier written to {outcome.folder}", err=True)
    typer.echo(f"  {len(outcome.analysis.findings)} findings, "
               f"{len(outcome.analysis.indicators)} indicators, "
               f"{len(outcome.collection.results) - len(failed)} of "
               f"{len(outcome.collection.results)} queries complete", err=True)
    typer.echo(f"  manifest core SHA-256 {outcome.manifest['core_sha256']}", err=True)
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
