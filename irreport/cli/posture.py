"""`irreport posture`: the weekly posture report of the whole fleet."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from irreport.cli import _state, app
from irreport.cli.common import (EndOption, SourceOption, StartOption,
                                 TimezoneOption, loaded_config, open_source_announced)
from irreport.errors import ConfigurationError, IrreportError

log = logging.getLogger(__name__)

# Exit codes a scheduler can act on.
EXIT_OK = 0
EXIT_GAPS = 1
EXIT_ERROR = 2


@app.command("posture")
def posture(
    start: str = StartOption,
    end: str = EndOption,
    last: str = typer.Option(None, "--last", metavar="DURATION",
                             help="Range ending now (for the sample, at the "
                                  "end of its fleet data), such as 7d; default: the last complete "
                                  "ISO week, Monday to Monday UTC."),
    device_groups: list[str] = typer.Option(None, "--device-group", "-g", metavar="GROUP",
                                            help="Machine group to report on; repeat for "
                                                 "several; default: the whole fleet."),
    out_dir: Path = typer.Option(Path("posture"), "--out", "-o", metavar="FOLDER",
                                 help="Folder that contains one report folder per ISO week, such "
                                      "as posture-2026-W49; the previous report is read from "
                                      "here."),
    keep: int = typer.Option(None, "--keep", metavar="COUNT", min=1,
                             help="After writing, keep only the newest N report folders."),
    formats: str = typer.Option("html,pdf", "--format", metavar="FORMATS",
                                help="html, pdf or html,pdf."),
    force: bool = typer.Option(False, "--force", metavar="",
                               help="Replace this week's report if it "
                                    "exists."),
    tlp: str = typer.Option("AMBER", "--tlp", metavar="LEVEL",
                            help="TLP marking: CLEAR, GREEN, AMBER, "
                                 "AMBER+STRICT or RED."),
    source_spec: str = SourceOption,
    timezone_name: str = TimezoneOption,
):
    """Write the weekly posture report: alerts, malicious activity, exposure, run keys,
    secure configuration, sensor health and automation advice across the fleet.

    Exits 0 when every query succeeded, 1 when the report was written but some queries
    failed, were skipped or cut (the report lists them), 2 on an error.

    Example: `irreport posture --last 7d --out reports/ --keep 12`
    """
    try:
        code = _run(start, end, last, list(device_groups or []), out_dir, keep, formats,
                    force, tlp, source_spec, timezone_name)
    except IrreportError:
        raise
    except Exception as exc:  # a scheduler needs exit 2 for any failure, not Python's 1
        if _state["verbose"]:
            raise
        typer.echo(f"error: the posture report failed unexpectedly: {exc!r}; rerun with -v "
                   "for the traceback", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    raise typer.Exit(code)


def _run(start, end, last, device_groups, out_dir, keep, formats, force, tlp, source_spec,
         timezone_name) -> int:
    from irreport.build import check_tlp, parse_formats
    from irreport.pack import QueryPack
    from irreport.posture.report import (PostureRequest, build_posture_report,
                                         check_report_folder)
    from irreport.posture.weeks import report_now, report_range

    _check_groups(device_groups)
    request = PostureRequest(out_dir=out_dir, device_groups=device_groups,
                             formats=parse_formats(formats), force=force, keep=keep,
                             tlp=check_tlp(tlp),
                             automation_levels=loaded_config().get("device_groups"))
    pack = QueryPack.load()
    source = open_source_announced(source_spec, timezone_name)
    try:
        _check_groups_known(device_groups, source)
        time_range = report_range(start, end, last, report_now(source))
        check_report_folder(request, time_range)
        typer.echo(f"Collecting the posture queries for {time_range.label()} and the week "
                   "before", err=True)
        outcome = build_posture_report(request, source, pack, time_range)
    finally:
        source.close()
    _report(outcome, source.kind)
    return EXIT_OK if outcome.all_ok else EXIT_GAPS


def _check_groups(groups: list[str]) -> None:
    for group in groups:
        if not group.strip():
            raise ConfigurationError("--device-group '' is empty; pass a machine group name "
                                     "as the Defender portal shows it, such as Workstations")


def _check_groups_known(groups: list[str], source) -> None:
    """Reject a group the source has no device in, because its report would be all zeros."""
    # Live sources cannot list their machine groups without a query. For them the report
    # names a group that no row matched as a gap, and the command exits 1.
    known = source.known_machine_groups() if hasattr(source, "known_machine_groups") else None
    if not groups or known is None:
        return
    for group in groups:
        if group not in known:
            raise ConfigurationError(
                f"--device-group {group!r} is not a machine group of this source, so its report "
                f"would be all zeros; pass one of: {', '.join(known) or 'none found'} (names are "
                "case-sensitive)")


def _report(outcome, source_kind: str) -> None:
    typer.echo(f"Posture report {outcome.week} written to {outcome.folder}", err=True)
    for change in outcome.changes:
        # The report also shows the week before; this line compares with the earlier report.
        since = ("no earlier report in this folder" if change.delta is None
                 else f"{change.text} since the last report")
        typer.echo(f"  {change.label}: {change.value}, {since}", err=True)
    for note in outcome.method_notes:
        typer.echo(f"  method changed: {note}", err=True)
    for gap in outcome.gaps:
        typer.echo(f"  {gap['query']} ({gap['week']}): {gap['status']}: {gap['message']}",
                   err=True)
    for folder in outcome.pruned:
        typer.echo(f"  removed old report {folder}", err=True)
    if source_kind == "sample":
        typer.echo("  (sample data)", err=True)
