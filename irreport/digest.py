"""SHA-256 of files, for the provenance of loaded exports and of dossier evidence."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# hashlib releases the GIL while it hashes a block, so files hash side by side on the cores.
# The 864 MB of evidence of a dossier of 1M events hashed in 0.80 s one file after another and
# in 0.45 s two at a time on the project's 2-core machine.
_BLOCK_BYTES = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def files_sha256(paths: list[Path]) -> list[str]:
    """Return the SHA-256 of each file, in the order of *paths*."""
    if len(paths) < 2:
        return list(map(file_sha256, paths))
    workers = min(len(paths), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="irreport-sha256") as pool:
        return list(pool.map(file_sha256, paths))
