"""Storage of the loaded exports for the offline engine: in memory, or in a temporary file.

An in-memory DuckDB database keeps every loaded row in memory: 614 MiB of fleet Parquet
(53 million rows) took 18 GiB. A database file is compressed, and DuckDB's buffer manager
pages it in and out under a memory limit, at the cost of writing it once. Small inputs, such
as the bundled sample or one device's export, stay in memory, where loading is fastest.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from irreport.errors import ConfigurationError

log = logging.getLogger(__name__)

STORAGE_VARIABLE = "IRREPORT_DATABASE"
STORAGE_CHOICES = ("auto", "memory", "disk")

# Size in memory of a loaded export per byte of file. Parquet (thirtyfold) and plain CSV
# (twofold) were measured on the benchmarks in docs/benchmarks.md. The figure for
# gzip-compressed text is an estimate: such text compresses about tenfold, then doubles.
_GROWTH = {".parquet": 30, ".gz": 20}
_TEXT_GROWTH = 2
# An in-memory load may take this share of the memory available when it starts.
_MEMORY_SHARE = 0.25


@dataclass
class Database:
    """A DuckDB connection and, for a database file, the folder to remove with it."""

    con: object
    folder: Path | None = None

    @property
    def storage(self) -> str:
        return "disk" if self.folder else "memory"

    def close(self) -> None:
        self.con.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def open_database(files: list[Path], storage: str | None = None) -> Database:
    """Open the database that *files* will be loaded into.

    *storage* is "memory", "disk" or "auto" (the default, from the IRREPORT_DATABASE variable):
    auto chooses a temporary file when the loaded rows would take more than a quarter of
    the memory available now.
    """
    import duckdb_kql

    choice = _storage_setting(storage)
    if choice == "auto":
        expected = expected_memory(files)
        choice = "disk" if expected > _MEMORY_SHARE * available_memory() else "memory"
        log.debug("expecting %d MiB in memory for %d files: %s database", expected >> 20,
                  len(files), choice)
    if choice == "memory":
        return Database(duckdb_kql.connect())
    # TMPDIR chooses the folder; the database can be several GiB for a large fleet.
    folder = Path(tempfile.mkdtemp(prefix="irreport-duckdb-"))
    try:
        con = duckdb_kql.connect(str(folder / "loaded.duckdb"), config={
            "memory_limit": f"{max(available_memory() // 2, 1 << 30) >> 20}MB",
            "temp_directory": str(folder / "spill"),
        })
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("loading into a temporary database file in %s", folder)
    return Database(con, folder)


def expected_memory(files: list[Path]) -> int:
    """Estimate the bytes that loading *files* into an in-memory database would take."""
    total = 0
    for path in files:
        try:
            size = path.stat().st_size
        except OSError:
            continue
        total += size * _GROWTH.get(path.suffix.lower(), _TEXT_GROWTH)
    return total


def available_memory() -> int:
    """Return the memory available to new allocations, in bytes, as the kernel reports it."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError):
        return 4 << 30


def _storage_setting(storage: str | None) -> str:
    value = storage or os.environ.get(STORAGE_VARIABLE) or "auto"
    if value not in STORAGE_CHOICES:
        raise ConfigurationError(
            f"{STORAGE_VARIABLE}={value!r} is invalid; expected one of "
            f"{', '.join(STORAGE_CHOICES)}; unset it to let irreport choose")
    return value
