"""A misspelled device name must not read as a clean device."""

from __future__ import annotations

import json
import subprocess
import sys


def test_misspelled_device_fails_with_suggestion(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "irreport", "build", "--device", "testmachin3", "--out",
         str(tmp_path), "--name", "typo", "--format", "html"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "no query returned any row for device 'testmachin3'" in done.stderr
    assert "similar name in this source: testmachine3" in done.stderr
    html = (tmp_path / "typo" / "dossier.html").read_text()
    assert "cannot say whether the device was attacked" in html
    assert "<tr><th>Findings</th><td>none</td></tr>" in html
    assert "no malicious activity" not in html
    assert "<tr><th>Devices affected</th><td>none</td></tr>" in html
    manifest = json.loads((tmp_path / "typo" / "manifest.json").read_text())
    assert manifest["devices"] == ["testmachin3"]
    assert "testmachin3" in manifest["unseen_devices"]


def test_range_without_data_names_covered_range(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "irreport", "build", "--device", "testmachine3", "--start",
         "2025-01-01", "--end", "2025-01-02", "--out", str(tmp_path), "--name", "early",
         "--format", "html"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "though the source has data for it; check the range" in done.stderr
    assert "(the source's data covers 2026-" in done.stderr
    assert "similar name" not in done.stderr


def test_query_run_warns_of_misspelled_device():
    done = subprocess.run(
        [sys.executable, "-m", "irreport", "queries", "run", "logons", "--device", "testmachin3",
         "--device", "testmachine3", "--last", "48h", "--format", "json"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert ("warning: the source has no data for device 'testmachin3'; check the name "
            "(devices with a similar name: testmachine3)") in done.stderr
    assert "'testmachine3'" not in done.stderr
    # The rows of the device that exists are still printed.
    assert json.loads(done.stdout)


def test_host_name_matches_qualified_device():
    from irreport.devices import has_device, similar_devices

    known = ["testmachine3.contoso.local", "srv-files01"]
    assert has_device("TESTMACHINE3", known)
    assert has_device("testmachine3.contoso.local", known)
    assert not has_device("testmachin3", known)
    assert similar_devices("testmachin3", known) == ["testmachine3"]
    assert similar_devices("dc01", known) == []
