"""The wheel carries the query pack, the templates and the sample data inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(out), str(REPO)], check=True, timeout=600,
                   capture_output=True)
    return next(out.glob("irreport-*.whl"))


def test_wheel_contains_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "irreport/queries/inbound-then-logon.kql" in names
    assert "irreport/templates/dossier.html.j2" in names
    assert "irreport/templates/dossier.css" in names
    assert "irreport/sample/data/anchor.json" in names
    assert "irreport/sample/data/DeviceProcessEvents.jsonl" in names
    assert "irreport/data/schemas/advanced-hunting.json" in names


def test_installed_wheel_runs_outside_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, timeout=600, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    work = tmp_path / "elsewhere"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "irreport", "queries", "run", "inbound-then-logon",
         "--device", "testmachine3", "--format", "csv"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "203.0.113.77" in done.stdout
    assert "administrator1" in done.stdout
    located = subprocess.run(
        [sys.executable, "-c", "import irreport.pack as p; print(p.default_pack_dir())"],
        cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert located.stdout.strip().startswith(str(target))
