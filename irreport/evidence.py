"""Evidence files, the provenance manifest, `irreport verify`, and atomic output folders.

The manifest records where every result came from and the SHA-256 of every file in the
dossier folder. Its `core_sha256` is the hash of the manifest without its `rendered` member:
that value is printed on the PDF cover and footers, because the PDF cannot contain the hash of
a manifest that contains the PDF's own hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irreport import __version__
from irreport.collect import Collection
from irreport.errors import RenderError
from irreport.output import result_json, write_csv
from irreport.pack import describe, text_sha256
from irreport.textsafe import iso_time, json_ready

MANIFEST = "manifest.json"
PARTIAL_MARKER = ".incomplete"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_evidence(collection: Collection, folder: Path) -> dict[str, dict[str, str]]:
    """Write each query's raw result as JSON (exact values) and CSV (safe for spreadsheets)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, str]] = {}
    for query_id, result in collection.results.items():
        json_path = folder / f"{query_id}.json"
        csv_path = folder / f"{query_id}.csv"
        with json_path.open("w", encoding="utf-8") as handle:
            json.dump(result_json(result), handle, ensure_ascii=False, indent=1)
        with csv_path.open("w", encoding="utf-8", newline="") as handle:
            write_csv(result, handle, for_people=True)
        files[query_id] = {"json": json_path.name, "csv": csv_path.name}
    return files


def query_records(collection: Collection, evidence_dir: Path,
                  files: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Return one manifest record per query run."""
    records = []
    for query_id, result in collection.results.items():
        query = collection.queries.get(query_id)
        names = files.get(query_id, {})
        records.append({
            "id": query_id,
            "title": query.title if query else query_id,
            "text_sha256": text_sha256(result.text) if result.text else None,
            "parameters": json_ready(result.parameters),
            "started_at": iso_time(result.started_at) if result.started_at else None,
            "finished_at": iso_time(result.finished_at) if result.finished_at else None,
            "status": result.status,
            "message": result.message,
            "retries": result.retries,
            "rows": len(result.rows),
            "truncated": result.truncated,
            "row_limit": result.row_limit,
            "warnings": result.warnings,
            "result_files": {kind: {"path": f"evidence/{name}",
                                    "sha256": file_sha256(evidence_dir / name)}
                             for kind, name in names.items()},
            "metadata": describe(query) if query else None,
        })
    return records


def build_manifest(collection: Collection, folder: Path, records: list[dict[str, Any]],
                   generated_at: str) -> dict[str, Any]:
    """Return the manifest's core: everything except the hashes of the rendered files."""
    evidence = {}
    for path in sorted((folder / "evidence").rglob("*")):
        if path.is_file():
            evidence[path.relative_to(folder).as_posix()] = file_sha256(path)
    core = {
        "irreport_version": __version__,
        "generated_at": generated_at,
        "devices": collection.devices,
        "time_range": {"start": iso_time(collection.time_range.start),
                       "end": iso_time(collection.time_range.end)},
        "source": json_ready(collection.source_provenance),
        "pack_version": collection.pack_version,
        "queries": records,
        "evidence": evidence,
    }
    core["core_sha256"] = core_hash(core)
    return core


def core_hash(manifest: dict[str, Any]) -> str:
    """Hash the manifest without `rendered` and without the hash itself, in canonical JSON."""
    core = {k: v for k, v in manifest.items() if k not in ("rendered", "core_sha256")}
    text = json.dumps(core, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(manifest: dict[str, Any], folder: Path) -> None:
    """Add the hashes of the rendered files and write manifest.json."""
    rendered = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and relative not in manifest["evidence"] and relative not in (
                MANIFEST, PARTIAL_MARKER):
            rendered[relative] = file_sha256(path)
    manifest["rendered"] = rendered
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False),
                                   encoding="utf-8")


@dataclass
class Verification:
    """What `irreport verify` found."""

    changed: list[str]
    missing: list[str]
    added: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added or self.problems)


def verify(folder: Path) -> Verification:
    """Recompute every hash the manifest lists and compare the folder with it."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return Verification([], [MANIFEST], [], [f"{folder} has no {MANIFEST}; it is not a "
                                                 "finished dossier folder"])
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return Verification([MANIFEST], [], [], [f"{MANIFEST} is not valid JSON: {exc}"])
    listed = {**manifest.get("evidence", {}), **manifest.get("rendered", {})}
    changed, missing = [], []
    for relative, expected in sorted(listed.items()):
        path = folder / relative
        if not path.is_file():
            missing.append(relative)
        elif file_sha256(path) != expected:
            changed.append(relative)
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    added = sorted(present - set(listed) - {MANIFEST})
    problems = []
    if manifest.get("core_sha256") != core_hash(manifest):
        problems.append("the manifest's own content no longer matches its core_sha256")
    if (folder / PARTIAL_MARKER).exists():
        problems.append("the folder is marked incomplete: its build did not finish")
    return Verification(changed, missing, added, problems)


class AtomicFolder:
    """A dossier folder built under a temporary name and renamed into place when complete.

    An interrupted build leaves only the temporary folder, marked incomplete and without a
    manifest, so nothing half-written can pass `irreport verify`.
    """

    def __init__(self, target: Path, force: bool = False):
        self.target = target
        self.force = force
        self.work: Path | None = None

    def check_target(self) -> None:
        if self.target.exists() and not self.force:
            raise RenderError(
                f"{self.target} already exists; pass --force to replace it or --name to "
                "write a new dossier beside it")

    def __enter__(self) -> Path:
        self.check_target()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".partial",
                                          dir=self.target.parent))
        (self.work / PARTIAL_MARKER).write_text("build in progress\n", encoding="utf-8")
        return self.work

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.work is not None
        if exc_type is not None:
            # The marker stays, so the leftover folder is recognisably incomplete.
            return
        (self.work / PARTIAL_MARKER).unlink()
        if self.target.exists():
            retired = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
            os.replace(self.target, retired)
            os.replace(self.work, self.target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(self.work, self.target)
