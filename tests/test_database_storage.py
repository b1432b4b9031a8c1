"""The offline engine's storage: large inputs go to a temporary database file, small stay in memory."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from irreport.errors import ConfigurationError
from irreport.sources import database
from irreport.sources.local import open_files, sample_dir

QUESTION = ("SELECT DeviceName, ActionType, count(*) FROM DeviceEvents "
            "GROUP BY ALL ORDER BY ALL")


def sample_files() -> list[Path]:
    from irreport.sources.exports import table_file_name

    return sorted(p for p in sample_dir().iterdir() if p.is_file() and table_file_name(p))


def test_storage_disk_matches_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    files = sample_files()
    in_memory = open_files(files, sample_dir(), storage="memory")
    on_disk = open_files(files, sample_dir(), storage="disk")
    try:
        assert in_memory.database.storage == "memory"
        assert on_disk.database.storage == "disk"
        assert on_disk.provenance()["storage"] == "disk"
        assert on_disk.row_counts == in_memory.row_counts
        assert sum(on_disk.row_counts.values()) > 10_000
        expected = in_memory.con.execute(QUESTION).fetchall()
        assert expected and on_disk.con.execute(QUESTION).fetchall() == expected
        folder = on_disk.database.folder
        assert folder.parent == tmp_path
        assert (folder / "loaded.duckdb").stat().st_size > 0
    finally:
        in_memory.close()
        on_disk.close()
    assert not folder.exists()


def test_failed_load_removes_database_file(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    broken = tmp_path / "exports" / "DeviceEvents.csv"
    broken.parent.mkdir()
    broken.write_text("Timestamp,DeviceName\nnot a time,host\n", encoding="utf-8")
    with pytest.raises(Exception):
        open_files([broken], broken.parent, storage="disk")
    assert [p.name for p in tmp_path.iterdir()] == ["exports"]


def test_auto_storage_follows_available_memory(tmp_path, monkeypatch):
    parquet = tmp_path / "DeviceEvents.parquet"
    text = tmp_path / "DeviceEvents.csv"
    parquet.write_bytes(b"\0" * 1000)
    text.write_bytes(b"\0" * 1000)
    assert database.expected_memory([parquet, text, tmp_path / "gone.csv"]) == 32_000
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(database, "available_memory", lambda: 100_000)
    chosen = database.open_database([parquet])
    assert chosen.storage == "disk"
    chosen.close()
    monkeypatch.setattr(database, "available_memory", lambda: 10_000_000)
    chosen = database.open_database([parquet])
    assert chosen.storage == "memory"
    chosen.close()


def test_storage_variable_overrides_and_is_checked(monkeypatch):
    monkeypatch.setenv(database.STORAGE_VARIABLE, "memory")
    monkeypatch.setattr(database, "available_memory", lambda: 1)
    chosen = database.open_database(sample_files())
    assert chosen.storage == "memory"
    chosen.close()
    monkeypatch.setenv(database.STORAGE_VARIABLE, "ssd")
    with pytest.raises(ConfigurationError, match="IRREPORT_DATABASE='ssd'.*auto, memory, disk"):
        database.open_database([])


def test_available_memory_read():
    assert database.available_memory() > 64 << 20
