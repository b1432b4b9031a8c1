"""The `irreport` command line: a thin layer over the library.

Each command group lives in its own module and registers itself on `app`. Errors that irreport
raises on purpose become one line on standard error and a non-zero exit code; `-v` shows the
traceback as well.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

app = typer.Typer(
    help="Incident dossiers and posture reports from Microsoft Defender for Endpoint telemetry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

_state = {"verbose": False, "config": None}


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", metavar="",
                                       help="Log debug messages and show tracebacks."),
          config: Path = typer.Option(None, "--config", metavar="FILE",
                                      help="irreport.toml to use instead of the usual places.")):
    _state["verbose"] = verbose
    _state["config"] = config
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    # Imported for their side effect: each module adds its commands to `app`.
    from irreport.cli import auth, build, posture, queries, sources, verify  # noqa: F401


def main() -> None:
    from irreport.errors import IrreportError

    _register()
    try:
        # Standalone mode handles usage errors and exit codes itself and lets every other
        # exception through, so irreport's own errors are caught here.
        app()
    except IrreportError as exc:
        if _state["verbose"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
