"""Shared fixtures: the bundled pack, the sample source and the shared real export."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Tests assert results, never speed: a deadline would fail a property test on a busy machine.
settings.register_profile("irreport", deadline=None)
settings.load_profile("irreport")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def translation_cache_folder(tmp_path_factory):
    """Keep duckdb-kql translations out of the user's cache folder, here and in child processes."""
    folder = tmp_path_factory.mktemp("kql-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IRREPORT_KQL_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def pack():
    from irreport.pack import QueryPack

    return QueryPack.load()


@pytest.fixture(scope="session")
def sample_source():
    from irreport.sources.local import open_sample

    source = open_sample()
    yield source
    source.close()


@pytest.fixture(scope="session")
def shared_export() -> Path:
    """The real Advanced Hunting export; CI has it, so a missing file fails there."""
    path = SHARED_DATA / "advanced-hunting-export" / "workstation-export.csv"
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing; CI must have ../shared/data beside the checkout")
        pytest.skip(f"{path} not present on this machine")
    return path


@pytest.fixture(scope="session")
def sample_collection(pack, sample_source):
    """The whole pack run on the bundled sample for testmachine3, the victim of its incident."""
    from irreport.analysis.process_graph import KEPT_ARRAYS
    from irreport.collect import collect

    return collect(pack, sample_source, ["testmachine3"], sample_source.default_range(),
                   keep_arrays=KEPT_ARRAYS)
