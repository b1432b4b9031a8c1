"""Evidence files, the provenance manifest, `irreport verify`, and atomic output folders.

The manifest records where every result came from and the SHA-256 of every file in the
dossier folder. Its `core_sha256` is the hash of the manifest without its `rendered` member:
that value is printed on the PDF cover and footers, because the PDF cannot contain the hash of
a manifest that contains the PDF's own hash.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from irreport import __version__
from irreport.collect import Collection
from irreport.digest import file_sha256, files_sha256
from irreport.errors import RenderError
from irreport.output import write_result_files
from irreport.pack import describe, text_sha256
from irreport.textsafe import iso_time, json_ready

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
PARTIAL_MARKER = ".incomplete"


def write_evidence(collection: Collection, folder: Path) -> dict[str, dict[str, str]]:
    """Write each query's raw result as JSON (exact values) and CSV (safe for spreadsheets)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, str]] = {}
    for query_id, result in collection.results.items():
        json_path = folder / f"{query_id}.json"
        csv_path = folder / f"{query_id}.csv"
        with (json_path.open("w", encoding="utf-8") as json_handle,
              csv_path.open("w", encoding="utf-8", newline="") as csv_handle):
            write_result_files(result, json_handle, csv_handle)
        files[query_id] = {"json": json_path.name, "csv": csv_path.name}
    return files


def query_records(collection: Collection, evidence_dir: Path, files: dict[str, dict[str, str]],
                  hashes: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Return one manifest record per query run.

    *hashes*, from `evidence_hashes`, saves reading the result files again.
    """
    hashes = hashes or {}
    records = []
    for query_id, result in collection.results.items():
        query = collection.queries.get(query_id)
        names = files.get(query_id, {})
        records.append({
            "id": query_id,
            "title": query.title if query else query_id,
            "text_sha256": text_sha256(result.text) if result.text else None,
            # A query split into shorter ranges sent one text per range, not the one above.
            "parts": [{"range": label, "text_sha256": text_sha256(text)}
                      for label, text in result.parts],
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
                                    "sha256": hashes.get(f"evidence/{name}")
                                    or file_sha256(evidence_dir / name)}
                             for kind, name in names.items()},
            "metadata": describe(query) if query else None,
        })
    return records


def evidence_hashes(folder: Path) -> dict[str, str]:
    """Return the SHA-256 of every file in the dossier folder's evidence, by relative path."""
    paths = [path for path in sorted((folder / "evidence").rglob("*")) if path.is_file()]
    return {path.relative_to(folder).as_posix(): digest
            for path, digest in zip(paths, files_sha256(paths))}


def build_manifest(collection: Collection, folder: Path, records: list[dict[str, Any]],
                   generated_at: str, evidence: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the manifest's core: everything except the hashes of the rendered files.

    *evidence* is `evidence_hashes(folder)`, computed here when not given.
    """
    if evidence is None:
        evidence = evidence_hashes(folder)
    core = {
        "irreport_version": __version__,
        "generated_at": generated_at,
        "devices": collection.devices,
        "time_range": {"start": iso_time(collection.time_range.start),
                       "end": iso_time(collection.time_range.end)},
        "source": json_ready(collection.source_provenance),
        "pack_version": collection.pack_version,
        "unseen_devices": collection.unseen_devices,
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
    (folder / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")


def manifest_text(manifest: dict[str, Any]) -> str:
    """Serialise the manifest exactly as `seal` writes it, so `verify` can compare bytes."""
    return json.dumps(manifest, indent=1, ensure_ascii=False)


@dataclass
class Verification:
    """The outcome of `irreport verify`: files changed, missing or added, and other problems."""

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
        text = manifest_path.read_text(encoding="utf-8")
        manifest = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return Verification([MANIFEST], [], [], [f"{MANIFEST} is not valid JSON: {exc}"])
    if not isinstance(manifest, dict):
        return Verification([MANIFEST], [], [], [f"{MANIFEST} is not a JSON object"])
    listed = {**manifest.get("evidence", {}), **manifest.get("rendered", {})}
    problems = [f"{MANIFEST} lists {relative!r}, which is outside the dossier folder"
                for relative in sorted(listed) if not _inside(folder, relative)]
    missing, existing = [], []
    for relative in sorted(listed):
        if not _inside(folder, relative):
            continue
        if (folder / relative).is_file():
            existing.append(relative)
        else:
            missing.append(relative)
    # A dossier of 1M events lists 864 MB of evidence, which hashes faster two files at a time.
    digests = files_sha256([folder / relative for relative in existing])
    changed = [relative for relative, digest in zip(existing, digests)
               if digest != listed[relative]]
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    added = sorted(present - set(listed) - {MANIFEST})
    if manifest.get("core_sha256") != core_hash(manifest):
        changed.insert(0, MANIFEST)
        problems.append("the manifest's own content no longer matches its core_sha256")
    elif text != manifest_text(manifest):
        # Whitespace or key order changed: the values still hash, but the file was edited.
        changed.insert(0, MANIFEST)
    # NOTE: only the HTML is searched for the printed hash, so a PDF-only dossier whose
    # manifest was resealed with new hashes still passes.
    html = folder / "dossier.html"
    if "dossier.html" not in changed and html.is_file() and str(
            manifest.get("core_sha256")) not in html.read_text(encoding="utf-8", errors="replace"):
        problems.append("dossier.html does not carry the manifest's core_sha256, so the manifest "
                        "was rewritten after the dossier was rendered")
    if (folder / PARTIAL_MARKER).exists():
        problems.append("the folder is marked incomplete: its build did not finish")
    return Verification(changed, missing, added, problems)


def _inside(folder: Path, relative: str) -> bool:
    parts = Path(relative).parts
    return bool(parts) and not Path(relative).is_absolute() and ".." not in parts


class AtomicFolder:
    """A dossier folder built under a temporary name and renamed into place when complete.

    The work folder `.NAME.<random>.partial` sits beside the target and carries an
    `.incomplete` marker until the rename. A build that fails or is interrupted removes its
    work folder. One that is killed cannot, so it leaves the work folder with the marker and
    without a manifest, and `irreport verify` rejects it. The next build of the same name
    removes such folders once they are older than `STALE_AFTER`.
    """

    def __init__(self, target: Path, force: bool = False,
                 other_place: str = "--name to write a new dossier beside it"):
        self.target = target
        self.force = force
        #: how the command that builds the folder writes it elsewhere, for the error message
        self.other_place = other_place
        self.work: Path | None = None

    def check_target(self) -> None:
        if self.target.exists() and not self.force:
            raise RenderError(
                f"{self.target} already exists; pass --force to replace it or "
                f"{self.other_place}")

    def __enter__(self) -> Path:
        self.check_target()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_work(self.target)
        self.work = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".partial",
                                          dir=self.target.parent))
        (self.work / PARTIAL_MARKER).write_text("build in progress\n", encoding="utf-8")
        return self.work

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.work is not None
        if exc_type is not None:
            shutil.rmtree(self.work, ignore_errors=True)
            return
        if self.target.exists() and not self.force:
            shutil.rmtree(self.work, ignore_errors=True)
            raise RenderError(
                f"{self.target} was created by another run while this one was building, so "
                "nothing was replaced; run again with --force to replace it")
        (self.work / PARTIAL_MARKER).unlink()
        if self.target.exists():
            # NOTE: between these two renames the target is briefly absent; a build killed
            # there leaves the previous dossier in `.NAME.old-PID`, which nothing removes.
            retired = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
            os.replace(self.target, retired)
            os.replace(self.work, self.target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(self.work, self.target)


# A build of the same name may still be running from another shell, and a live tenant's pack
# with retries can take an hour, so only work folders older than this are taken as abandoned.
STALE_AFTER = timedelta(hours=6)


def remove_stale_work(target: Path, now: float | None = None) -> list[Path]:
    """Remove the abandoned work folders of *target*; returns those removed.

    Only folders named like a work folder of this target that still carry the `.incomplete`
    marker are removed, so a folder a person renamed or finished by hand stays.
    """
    now = time.time() if now is None else now
    removed = []
    for candidate in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):
        marker = candidate / PARTIAL_MARKER
        if not candidate.is_dir() or candidate.is_symlink() or not marker.is_file():
            continue
        if now - marker.stat().st_mtime < STALE_AFTER.total_seconds():
            continue
        log.info("removing %s, left by a build that did not finish", candidate)
        shutil.rmtree(candidate, ignore_errors=True)
        removed.append(candidate)
    return removed
