"""`irreport verify` on a real dossier: every changed, missing or added file is named.

Also the atomic output folder: a build killed halfway leaves nothing that verify accepts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from irreport.evidence import (MANIFEST, PARTIAL_MARKER, STALE_AFTER, AtomicFolder, core_hash,
                               manifest_text, remove_stale_work)

# One hour of the sample incident builds in seconds and still fills every kind of file.
RANGE = ["--start", "2026-12-02T15:00:00Z", "--end", "2026-12-02T16:00:00Z"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irreport", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verify")
    done = run_cli("build", "--device", "testmachine3", *RANGE, "--out", str(out),
                   "--name", "dossier")
    assert done.returncode == 0, done.stderr
    return out / "dossier"


@pytest.fixture
def dossier(built, tmp_path) -> Path:
    """A private copy of the built dossier, free to damage."""
    copy = tmp_path / "dossier"
    shutil.copytree(built, copy)
    return copy


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    index = len(data) // 2 if offset is None else offset
    data[index] ^= 0x01
    path.write_bytes(bytes(data))


def test_untouched_dossier_passes(dossier):
    done = run_cli("verify", str(dossier))

    assert done.returncode == 0, done.stdout
    assert "every file matches its manifest" in done.stdout


def test_manifest_lists_every_file(dossier):
    manifest = json.loads((dossier / MANIFEST).read_text(encoding="utf-8"))
    listed = set(manifest["evidence"]) | set(manifest["rendered"])
    present = {p.relative_to(dossier).as_posix() for p in dossier.rglob("*") if p.is_file()}

    assert present - listed == {MANIFEST}
    assert listed == present - {MANIFEST}
    for relative, digest in listed_hashes(manifest).items():
        assert hashlib.sha256((dossier / relative).read_bytes()).hexdigest() == digest, relative


def listed_hashes(manifest: dict) -> dict[str, str]:
    return {**manifest["evidence"], **manifest["rendered"]}


@pytest.mark.parametrize("relative", [
    "evidence/failed-logons.csv",
    "evidence/failed-logons.json",
    "evidence/timeline.csv",
    "evidence/process-graph.graphml",
    "dossier.html",
    "dossier.pdf",
    "manifest.json",
])
def test_changed_byte_fails(dossier, relative):
    flip_byte(dossier / relative)
    done = run_cli("verify", str(dossier))

    assert done.returncode == 1, done.stdout
    assert f"changed: {relative}" in done.stdout


def test_manifest_whitespace_change_fails(dossier):
    text = (dossier / MANIFEST).read_text(encoding="utf-8")
    (dossier / MANIFEST).write_text(text.replace("\n ", "\n\t", 1), encoding="utf-8")
    done = run_cli("verify", str(dossier))

    assert done.returncode == 1, done.stdout
    assert f"changed: {MANIFEST}" in done.stdout


def test_first_and_last_byte_of_pdf(dossier):
    for offset in (0, -1):
        copy = dossier.parent / f"copy{offset}"
        shutil.copytree(dossier, copy)
        flip_byte(copy / "dossier.pdf", offset)
        done = run_cli("verify", str(copy))

        assert done.returncode == 1, done.stdout
        assert "changed: dossier.pdf" in done.stdout


@pytest.mark.parametrize("relative", ["evidence/logons.json", "dossier.pdf", "dossier.html"])
def test_deleted_file_fails(dossier, relative):
    (dossier / relative).unlink()
    done = run_cli("verify", str(dossier))

    assert done.returncode == 1, done.stdout
    assert f"missing: {relative}" in done.stdout


def test_deleted_manifest_fails(dossier):
    (dossier / MANIFEST).unlink()
    done = run_cli("verify", str(dossier))

    assert done.returncode == 1, done.stdout
    assert f"missing: {MANIFEST}" in done.stdout


@pytest.mark.parametrize("relative", ["notes.txt", "evidence/extra.csv", "evidence/deep/x.json",
                                      ".hidden"])
def test_added_file_fails(dossier, relative):
    path = dossier / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("added after the build\n", encoding="utf-8")
    done = run_cli("verify", str(dossier))

    assert done.returncode == 1, done.stdout
    assert f"added: {relative}" in done.stdout


def test_resealed_manifest_fails(dossier):
    """Changing evidence and rewriting every hash still differs from the printed hash."""
    evidence = dossier / "evidence" / "logons.csv"
    evidence.write_text(evidence.read_text(encoding="utf-8") + "forged,row\r\n", encoding="utf-8")
    manifest = json.loads((dossier / MANIFEST).read_text(encoding="utf-8"))
    manifest["evidence"]["evidence/logons.csv"] = hashlib.sha256(
        evidence.read_bytes()).hexdigest()
    manifest["core_sha256"] = core_hash(manifest)
    (dossier / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")
    done = run_cli("verify", str(dossier))

    assert done.returncode == 1, done.stdout
    assert "does not carry the manifest's core_sha256" in done.stdout


def test_manifest_path_outside_folder_fails(dossier):
    manifest = json.loads((dossier / MANIFEST).read_text(encoding="utf-8"))
    manifest["evidence"]["../outside.txt"] = "0" * 64
    manifest["core_sha256"] = core_hash(manifest)
    (dossier / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")
    (dossier.parent / "outside.txt").write_text("x", encoding="utf-8")
    done = run_cli("verify", str(dossier))

    assert done.returncode == 1, done.stdout
    assert "'../outside.txt', which is outside the dossier folder" in done.stdout


def test_not_a_folder(tmp_path):
    done = run_cli("verify", str(tmp_path / "nothing-here"))

    assert done.returncode == 2
    assert "is not a folder" in done.stderr


def test_killed_build_leaves_nothing_verifiable(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    command = [sys.executable, "-m", "irreport", "build", "--device", "testmachine3", *RANGE,
               "--out", str(out), "--name", "killed"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = None
    try:
        deadline = time.monotonic() + 120
        while work is None and time.monotonic() < deadline and process.poll() is None:
            marker = next(out.glob(f".killed.*.partial/{PARTIAL_MARKER}"), None)
            work = marker.parent if marker else None
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    assert work is not None, "the build finished or failed before its work folder appeared"
    assert process.returncode == -signal.SIGKILL
    assert not (out / "killed").exists()
    for folder in [p for p in out.iterdir() if p.is_dir()]:
        done = run_cli("verify", str(folder))
        assert done.returncode == 1, f"{folder.name} passed verify: {done.stdout}"
    assert (work / PARTIAL_MARKER).is_file()
    assert not (work / MANIFEST).exists()


def test_failed_build_removes_work_folder(tmp_path):
    target = tmp_path / "dossier"
    with pytest.raises(RuntimeError):
        with AtomicFolder(target) as work:
            (work / "evidence").mkdir()
            raise RuntimeError("rendering failed")

    assert list(tmp_path.iterdir()) == []


def test_existing_dossier_needs_force(built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built, out / "dossier")
    before = (out / "dossier" / MANIFEST).read_bytes()
    done = run_cli("build", "--device", "testmachine3", *RANGE, "--out", str(out),
                   "--name", "dossier", "--format", "html")

    assert done.returncode == 2
    assert "already exists; pass --force" in done.stderr
    assert (out / "dossier" / MANIFEST).read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["dossier"]


def test_force_replaces_dossier(built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built, out / "dossier")
    (out / "dossier" / "stray.txt").write_text("from the old folder", encoding="utf-8")
    done = run_cli("build", "--device", "testmachine3", *RANGE, "--out", str(out),
                   "--name", "dossier", "--format", "html", "--force")

    assert done.returncode == 0, done.stderr
    assert not (out / "dossier" / "stray.txt").exists()
    assert not (out / "dossier" / "dossier.pdf").exists()
    assert run_cli("verify", str(out / "dossier")).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["dossier"]


def _work_folder(parent: Path, name: str, age_seconds: float) -> Path:
    folder = parent / name
    folder.mkdir()
    marker = folder / PARTIAL_MARKER
    marker.write_text("build in progress\n", encoding="utf-8")
    stamp = time.time() - age_seconds
    os.utime(marker, (stamp, stamp))
    return folder


def test_stale_work_folders_removed(tmp_path):
    old = STALE_AFTER.total_seconds() + 60
    stale = _work_folder(tmp_path, ".case.abc123.partial", old)
    fresh = _work_folder(tmp_path, ".case.def456.partial", 60)
    other_target = _work_folder(tmp_path, ".other.abc123.partial", old)
    unmarked = tmp_path / ".case.ghi789.partial"
    unmarked.mkdir()

    removed = remove_stale_work(tmp_path / "case")

    assert removed == [stale]
    assert not stale.exists()
    assert fresh.exists()
    assert other_target.exists()
    assert unmarked.exists()
