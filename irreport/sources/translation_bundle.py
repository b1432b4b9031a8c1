"""Write the translations of the query pack that ship with irreport.

    python -m irreport.sources.translation_bundle

The bundled sample is opened twice, in memory and in a database file, the two ways the
offline source keeps loaded rows, because the name of the database is part of a
translation's key. Every pack query runs on it, and the translation of each parameterised
query is written to `translation_cache.BUNDLE_FOLDER` after its old files are removed. Run
it after changing a pack query, the table schema or duckdb-kql.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from irreport.sources.translation_cache import BUNDLE_FOLDER, TranslationCache


def write_bundle(folder: Path = BUNDLE_FOLDER) -> int:
    """Write the pack's translations into *folder*; returns the number of files."""
    from irreport.collect import collect
    from irreport.pack import QueryPack
    from irreport.sources.database import STORAGE_VARIABLE
    from irreport.sources.local import open_sample

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    pack = QueryPack.load()
    before = os.environ.get(STORAGE_VARIABLE)
    try:
        for storage in ("memory", "disk"):
            os.environ[STORAGE_VARIABLE] = storage
            source = open_sample()
            try:
                source.translations = TranslationCache(folder, bundle=None)
                collect(pack, source, ["testmachine3"], source.default_range())
            finally:
                source.close()
    finally:
        if before is None:
            os.environ.pop(STORAGE_VARIABLE, None)
        else:
            os.environ[STORAGE_VARIABLE] = before
    return len(list(folder.glob("*.json")))


def main() -> None:
    count = write_bundle()
    print(f"{count} translations written to {BUNDLE_FOLDER}", file=sys.stderr)


if __name__ == "__main__":
    main()
