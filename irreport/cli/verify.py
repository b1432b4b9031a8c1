"""`irreport verify`: check a dossier folder against its manifest."""

from __future__ import annotations

from pathlib import Path

import typer

from irreport.cli import app


@app.command("verify")
def verify_dossier(folder: Path = typer.Argument(..., help="Dossier folder to check.")):
    """Recompute every hash in the folder's manifest; exits 1 when any file changed, is
    missing or was added."""
    from irreport.evidence import verify

    if not folder.is_dir():
        typer.echo(f"error: {folder} is not a folder; pass the dossier folder that holds "
                   "manifest.json", err=True)
        raise typer.Exit(2)
    result = verify(folder)
    for path in result.changed:
        typer.echo(f"changed: {path}")
    for path in result.missing:
        typer.echo(f"missing: {path}")
    for path in result.added:
        typer.echo(f"added: {path}")
    for problem in result.problems:
        typer.echo(f"problem: {problem}")
    if not result.ok:
        raise typer.Exit(1)
    typer.echo(f"{folder}: every file matches its manifest")
