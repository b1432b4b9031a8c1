"""End to end: `irreport build` on the bundled incident, checked by reading the PDF back."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from pdf_words import split_occurrences
from irreport.pack import QueryPack

FINDING_TITLES = [
    "Password guessing from the internet",
    "Logon from an internet address after its connection",
    "Scripted discovery burst",
    "Credential hunting in files",
    "Run key persistence",
    "Attempt to turn off Defender protection",
    "Defender detections: Antivirus",
    "Hop to another device",
]
PHASES = ["Preparation", "Detection and Analysis", "Containment, Eradication and Recovery",
          "Post-Incident Activity"]
DETECTION_CATEGORIES = ["AMSI", "Attack surface reduction", "Antivirus", "SmartScreen",
                        "Exploit Guard"]
# A count of one before a plural noun that irreport prints, such as "1 rows".
ONE_BEFORE_PLURAL = re.compile(r"\b1 (?:more )?(?:findings|events|rows|devices|queries|alerts|"
                               r"indicators|controls|retries|bursts|faults|warnings|days)\b")
# A time of day as the tables print it, with a line break allowed between any two characters.
TIME_OF_DAY = re.compile(r"\n?".join([r"\d", r"\d", ":", r"\d", r"\d", ":", r"\d", r"\d"])
                         + r"(?:\n?\.(?:\n?\d){1,3})?\n?Z")


def dossier_queries():
    """Return the pack queries the dossier runs; a `report` key claims a query for another report."""
    return [q for q in QueryPack.load() if "report" not in q.extra]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irreport", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def dossier(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dossiers")
    done = run_cli("build", "--device", "testmachine3", "--out", str(out), "--name", "sample")
    assert done.returncode == 0, done.stderr
    assert "sample data" in done.stderr
    return out / "sample"


@pytest.fixture(scope="module")
def pdf_text(dossier) -> str:
    reader = PdfReader(dossier / "dossier.pdf")
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def flat_text(pdf_text) -> str:
    """The PDF text with line breaks removed, since table cells wrap long values."""
    return pdf_text.replace("\n", "")


@pytest.fixture(scope="module")
def prose_text(pdf_text) -> str:
    """The PDF text with every run of white space made one space, as wrapped sentences read."""
    return " ".join(pdf_text.split())


@pytest.fixture(scope="module")
def html_text(dossier) -> str:
    """The text of the HTML dossier without its style sheet and tags."""
    page = (dossier / "dossier.html").read_text(encoding="utf-8")
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_folder_layout(dossier):
    assert (dossier / "dossier.html").is_file()
    assert (dossier / "dossier.pdf").is_file()
    assert (dossier / "manifest.json").is_file()
    assert (dossier / "evidence" / "process-graph.graphml").is_file()
    for query in dossier_queries():
        assert (dossier / "evidence" / f"{query.id}.csv").is_file(), query.id
        assert (dossier / "evidence" / f"{query.id}.json").is_file(), query.id


def test_pdf_has_every_phase(pdf_text):
    for heading in PHASES:
        assert heading in pdf_text, heading


def test_pdf_names_the_attack(flat_text):
    for text in ["203.0.113.77", "administrator1", "VeryCoolScript.cmd", "findstr",
                 "OneDriveUpdate", "odupdate.exe", "srv-files01"]:
        assert text in flat_text, text


def test_pdf_lists_every_finding(pdf_text):
    for title in FINDING_TITLES:
        assert title in pdf_text, title


def test_appendix_lists_every_query(pdf_text):
    appendix = pdf_text[pdf_text.index("Appendix: queries run"):]
    for query in dossier_queries():
        assert f"{query.id}: {query.title}" in appendix, query.id


def test_every_page_says_sample_data(dossier):
    reader = PdfReader(dossier / "dossier.pdf")
    for number, page in enumerate(reader.pages, start=1):
        assert "SAMPLE DATA" in page.extract_text(), f"page {number}"


def test_every_page_carries_manifest_hash(dossier):
    manifest = json.loads((dossier / "manifest.json").read_text())
    reader = PdfReader(dossier / "dossier.pdf")
    for number, page in enumerate(reader.pages, start=1):
        assert manifest["core_sha256"] in page.extract_text().replace("\n", ""), f"page {number}"


def test_manifest_records_every_query(dossier):
    manifest = json.loads((dossier / "manifest.json").read_text())
    ids = [q["id"] for q in manifest["queries"]]
    assert sorted(ids) == sorted(q.id for q in dossier_queries())
    for record in manifest["queries"]:
        assert record["status"] == "ok", record["id"]
        assert len(record["text_sha256"]) == 64
        assert record["result_files"]["json"]["sha256"]
    assert set(manifest["rendered"]) == {"dossier.html", "dossier.pdf"}


def test_verify_accepts_untouched_dossier(dossier):
    done = run_cli("verify", str(dossier))
    assert done.returncode == 0, done.stdout


def test_existing_dossier_not_overwritten(dossier):
    done = run_cli("build", "--device", "testmachine3", "--out", str(dossier.parent),
                   "--name", "sample", "--format", "html")
    assert done.returncode == 2
    assert "already exists; pass --force" in done.stderr
    # The name is checked before any query runs.
    assert "Collecting" not in done.stderr


def test_counts_agree_with_nouns(html_text, prose_text):
    assert ONE_BEFORE_PLURAL.findall(html_text) == []
    assert ONE_BEFORE_PLURAL.findall(prose_text) == []


def test_summary_groups_detections_in_order(prose_text):
    summary = prose_text[prose_text.index("Executive summary"):prose_text.index("Preparation")]

    # AMSI caught the encoded PowerShell before the LSASS dump, the other detections came after.
    assert ("Defender detections (AMSI), credential dumping from LSASS, Defender detections "
            "(attack surface reduction, antivirus, SmartScreen, Exploit Guard)") in summary
    assert "defender detections:" not in summary.lower()


def test_detection_findings_stay_separate(pdf_text):
    for category in DETECTION_CATEGORIES:
        assert f"Defender detections: {category}" in pdf_text, category


def test_pdf_tables_keep_times_whole(pdf_text):
    times = TIME_OF_DAY.findall(pdf_text)

    assert len(times) > 100
    assert [t for t in times if "\n" in t] == []


def test_pdf_tables_keep_names_whole(pdf_text):
    for word in ["testmachine3", "powershell.exe", "certutil.exe", "odupdate.exe", "support_svc"]:
        assert word in pdf_text, word
        assert split_occurrences(pdf_text, word) == [], word


def test_bursts_say_what_they_count(html_text):
    # The script's run on testmachine3 is both a device burst and a burst of cmd.exe.
    assert "every event of the device" in html_text
    assert html_text.count("one program's events") >= 2  # the sentence and a table row
    assert "a program's burst can lie inside its device's burst" in html_text


def test_sample_process_events_has_no_column_note(dossier):
    # process-events names the sample's missing version columns only in project-away.
    manifest = json.loads((dossier / "manifest.json").read_text())
    (record,) = [r for r in manifest["queries"] if r["id"] == "process-events"]
    assert record["warnings"] == []


def test_sample_column_note_asks_no_export(pack):
    from types import SimpleNamespace

    from irreport.collect import _missing_column_notes
    from irreport.sources import QueryResult

    query = pack.get("lsass-access")
    sample = SimpleNamespace(kind="sample",
                             missing_columns=lambda: {"DeviceEvents": ["InitiatingProcessId"]})
    result = QueryResult(query_id=query.id, columns=[], rows=[])

    (note,) = _missing_column_notes(sample, query, result)
    assert note.startswith("DeviceEvents lacks InitiatingProcessId")
    assert note.endswith("the bundled sample does not have the column.")

def test_attack_window_chart(dossier, html_text):
    # From five minutes before the 14:37:12 logon to five minutes after the last alert.
    assert "The attack, 2026-12-02T14:32:12Z to 2026-12-02T15:38:55Z" in html_text
    page = (dossier / "dossier.html").read_text(encoding="utf-8")
    assert 'alt="events of the attack window by category"' in page


def test_no_attack_window_without_alerts():
    from types import SimpleNamespace

    from irreport.render.context import attack_window

    analysis = SimpleNamespace(alerts=[], review=SimpleNamespace(intrusion=None), timeline=[])
    assert attack_window(analysis) is None
