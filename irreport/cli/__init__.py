"""The `irreport` command line: a thin layer over the library.

Each command group lives in its own module and registers itself on `app`. Errors that irreport
raises on purpose become one line on standard error and a non-zero exit code; `-v` shows the
traceback as well.
"""

from __future__ import annotations

import logging
import sys

import typer

app = typer.Typer(
    help="Incident dossiers and posture reports from Microsoft Defender for Endpoint telemetry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"verbose": False}


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v",
                                       help="Log debug messages and show tracebacks.")):
    _state["verbose"] = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    # Imported for their side effect: each module adds its commands to `app`.
    from irreport.cli import build, queries  # noqa: F401


def main() -> None:
    from irreport.errors import IrreportError

    _register()
    try:
        # Outside standalone mode click returns the code of a typer.Exit instead of exiting.
        code = app(standalone_mode=False)
    except IrreportError as exc:
        if _state["verbose"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here with standalone_mode off
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(code, int):
        sys.exit(code)
