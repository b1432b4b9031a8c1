"""A dossier built from hostile telemetry: every value shows as text and nothing is fetched.

The export contains markup, CSS, spreadsheet formulas, a right-to-left override, NUL, a 2 MB
command line, mathtext and a byte that is not UTF-8. Its URLs point at a listener this module
starts on 127.0.0.1, which must receive no connection while the dossier is built or opened.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import pytest
from pypdf import PdfReader

from browser import Listener, dump_dom
from hostile_data import (ALERT_TITLE, DEVICE, DISGUISED_NAME, LONG_COMMAND_CHARS, MATH_NAME,
                          write_hostile_export)
from pages import ink_in_right_margin, page_images
from irreport.pack import text_sha256
from irreport.textsafe import original_csv_cell

VISIBLE_NAME = "invoice<U+202E>txt.exe"


@pytest.fixture(scope="module")
def listener():
    with Listener() as server:
        yield server


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, listener):
    """Build the dossier once; returns (dossier folder, export folder, values, stderr)."""
    root = tmp_path_factory.mktemp("hostile")
    source = root / "export"
    values = write_hostile_export(source, listener.port)
    done = subprocess.run(
        [sys.executable, "-m", "irreport", "build", "--device", DEVICE, "--source", str(source),
         "--out", str(root / "out"), "--name", "hostile"],
        capture_output=True, text=True, timeout=600)
    # The export lacks some tables, so their queries are listed as not available and the
    # build exits 1. No query may fail outright.
    assert done.returncode == 1, done.stderr
    assert ": not-available: " in done.stderr
    assert ": failed: " not in done.stderr
    return root / "out" / "hostile", source, values, done.stderr


@pytest.fixture(scope="module")
def dossier(hostile) -> Path:
    return hostile[0]


@pytest.fixture(scope="module")
def values(hostile) -> dict[str, str]:
    return hostile[2]


@pytest.fixture(scope="module")
def page(dossier) -> str:
    return (dossier / "dossier.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pdf_text(dossier) -> str:
    reader = PdfReader(dossier / "dossier.pdf")
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def manifest(dossier) -> dict:
    return json.loads((dossier / "manifest.json").read_text(encoding="utf-8"))


def evidence_rows(dossier: Path, query_id: str) -> list[dict]:
    return json.loads((dossier / "evidence" / f"{query_id}.json").read_text(
        encoding="utf-8"))["rows"]


class _Structure(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def structure(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Structure()
    parser.feed(text)
    parser.close()
    return parser.elements


def test_build_fetches_nothing(hostile, listener):
    assert listener.requests == []


def test_build_warns_about_latin1(hostile):
    assert "DeviceFileEvents.csv is not valid UTF-8" in hostile[3]


def test_html_has_no_markup_from_telemetry(page, listener):
    elements = structure(page)
    tags = [tag for tag, _ in elements]

    assert "script" not in tags
    assert tags.count("style") == 1
    assert not [a for _, a in elements if "style" in a or "onerror" in a or "data-x" in a]
    assert not [a for _, a in elements if a.get("id") == "pwned"]
    image_sources = [a.get("src") or "" for tag, a in elements if tag == "img"]
    assert image_sources
    assert all(src.startswith("data:image/") for src in image_sources)
    assert f"127.0.0.1:{listener.port}" not in "".join(image_sources)


def test_html_shows_values_as_text(page, values):
    text = html.unescape(page)
    for kind in ("script", "img", "css", "attribute", "formula", "plus", "at"):
        assert values[kind] in text, kind
    assert ALERT_TITLE in text


def test_html_content_security_policy(page):
    policies = [a.get("content", "") for tag, a in structure(page)
                if tag == "meta" and (a.get("http-equiv") or "").lower() ==
                "content-security-policy"]

    assert len(policies) == 1
    policy = policies[0]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert "img-src data:" in policy
    assert "http" not in policy


def test_html_marks_hidden_characters(page):
    assert VISIBLE_NAME in html.unescape(page)
    assert "adm<U+0000>in" in html.unescape(page)
    assert "\u202e" not in page
    assert "\x00" not in page


def test_html_cuts_long_value(page):
    longest = max(len(run) for run in re.findall("A{50,}", page))
    assert longest < 1000


def test_html_reads_latin1_name(page):
    assert "résumé.exe" in page


def test_evidence_keeps_long_value(dossier, values):
    rows = evidence_rows(dossier, "process-events")
    commands = [row["ProcessCommandLine"] for row in rows if row["ProcessId"] == 4102]

    assert commands == [values["long"]]
    assert len(commands[0]) > LONG_COMMAND_CHARS


def test_evidence_keeps_exact_values(dossier, values):
    rows = evidence_rows(dossier, "process-events")
    by_pid = {row["ProcessId"]: row for row in rows}

    assert by_pid[4100]["FileName"] == DISGUISED_NAME
    assert by_pid[4101]["AccountName"] == values["nul"]
    assert by_pid[4104]["ProcessCommandLine"] == values["formula"]
    assert by_pid[4103]["FileName"] == MATH_NAME


def test_indicators_from_alerted_command_lines(dossier, listener):
    indicators = json.loads((dossier / "evidence" / "indicators.json").read_text(encoding="utf-8"))
    found = {(i["kind"], i["value"]) for i in indicators if i["kind"] in ("URL", "Domain",
                                                                         "IP address")}
    base = f"http://127.0.0.1:{listener.port}"

    # Only the two processes the alert names are read, and a loopback host is no IP indicator.
    assert found == {("URL", f"{base}/attr"), ("URL", f"{base}/css"),
                     ("URL", f"{base}/import.css")}


def test_csv_neutralises_formulas(dossier, values):
    # The 2 MB command line is one cell, past the csv module's default field limit.
    default_limit = csv.field_size_limit(4 * LONG_COMMAND_CHARS)
    try:
        with (dossier / "evidence" / "process-events.csv").open(encoding="utf-8",
                                                                  newline="") as handle:
            rows = list(csv.DictReader(handle))
    finally:
        csv.field_size_limit(default_limit)
    commands = {row["ProcessId"]: row["ProcessCommandLine"] for row in rows}

    for pid, kind in (("4104", "formula"), ("4105", "plus"), ("4106", "at")):
        assert commands[pid] == "'" + values[kind], kind
        assert original_csv_cell(commands[pid]) == values[kind]
    assert commands["4102"] == values["long"]


def test_run_key_csv_neutralised(dossier, values):
    with (dossier / "evidence" / "run-keys.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert [row["RegistryValueData"] for row in rows] == ["'" + values["formula"]]


def test_pdf_shows_values_literally(pdf_text, values):
    flat = pdf_text.replace("\n", "")
    assert "<script>document.title=" in flat
    assert VISIBLE_NAME in flat
    assert "c<U+0000>md.exe" in flat
    assert "=HYPERLINK(" in flat
    assert "résumé.exe" in flat
    assert "Disguised <b>executable</b> ran" in flat


def test_pdf_cuts_long_value(pdf_text):
    longest = max(len(run) for run in re.findall("A{50,}", pdf_text.replace("\n", "")))
    assert longest < 1000
    assert "[cut]" in pdf_text


def test_pdf_long_values_stay_in_margins(dossier, tmp_path):
    # The right margin is 14 mm wide, the top one 18 mm and the bottom one 20 mm.
    for page in page_images(dossier / "dossier.pdf", tmp_path / "pages", 40):
        assert ink_in_right_margin(page, 40, margin_mm=10, top_mm=18, bottom_mm=20) == 0, \
            page.name


def test_pdf_pages_carry_manifest_hash(dossier, manifest):
    reader = PdfReader(dossier / "dossier.pdf")
    for number, pdf_page in enumerate(reader.pages, start=1):
        text = pdf_page.extract_text().replace("\n", "")
        assert manifest["core_sha256"] in text, f"page {number}"


def test_manifest_records_source_files(hostile, manifest):
    source = hostile[1]
    files = {Path(f["path"]).name: f["sha256"] for f in manifest["source"]["files"]}

    assert manifest["irreport_version"]
    assert manifest["source"]["kind"] == "local"
    assert sorted(files) == sorted(p.name for p in source.iterdir())
    for path in source.iterdir():
        assert files[path.name] == hashlib.sha256(path.read_bytes()).hexdigest(), path.name
    assert any("not valid UTF-8" in w for w in manifest["source"]["warnings"])


def test_manifest_records_each_query(dossier, page, manifest):
    shown = {html.unescape(text) for text in
             re.findall(r'<pre class="kql">(.*?)</pre>', page, flags=re.S)}
    shown_hashes = {text_sha256(text) for text in shown}
    for record in manifest["queries"]:
        if record["status"] in ("not-available", "skipped"):
            # Never sent: its tables are not in the export, or its input query returned nothing.
            assert record["message"], record["id"]
            assert record["rows"] == 0, record["id"]
            continue
        assert record["text_sha256"] in shown_hashes, record["id"]
        assert record["parameters"].get("Devices", [DEVICE]) == [DEVICE], record["id"]
        assert record["parameters"]["StartTime"] == manifest["time_range"]["start"]
        assert record["started_at"] <= record["finished_at"], record["id"]
        assert record["status"] in ("ok", "empty"), record["id"]
        assert record["retries"] == 0
        assert record["truncated"] is False
        rows = evidence_rows(dossier, record["id"])
        assert record["rows"] == len(rows), record["id"]
        for kind in ("csv", "json"):
            entry = record["result_files"][kind]
            digest = hashlib.sha256((dossier / entry["path"]).read_bytes()).hexdigest()
            assert entry["sha256"] == digest, (record["id"], kind)


def test_manifest_hashes_rendered_files(dossier, manifest):
    assert set(manifest["rendered"]) == {"dossier.html", "dossier.pdf"}
    for name, digest in manifest["rendered"].items():
        assert hashlib.sha256((dossier / name).read_bytes()).hexdigest() == digest


def test_verify_accepts_hostile_dossier(dossier):
    done = subprocess.run([sys.executable, "-m", "irreport", "verify", str(dossier)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout


def test_chromium_runs_no_script(dossier, tmp_path, listener):
    dom = dump_dom(tmp_path / "profile", dossier / "dossier.html")

    assert "<title>Incident dossier: hostile-device</title>" in dom
    # Table cells mark where they may wrap with <wbr> elements, which split the payload's text.
    text = html.unescape(dom.replace("<wbr>", ""))
    assert "pwned" not in text.replace("document.title='pwned'", "").replace(
        "<p id=pwned>pwned</p>", "")
    assert not [a for _, a in structure(dom) if a.get("id") == "pwned"]
    assert listener.requests == []


def test_chromium_would_run_script(tmp_path):
    """The check above can fail: the same Chromium does run a script in a page that allows it."""
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><html><head><title>plain</title></head><body>"
                       "<script>document.title='pwned'</script></body></html>", encoding="utf-8")
    dom = dump_dom(tmp_path / "profile", control)

    assert "<title>pwned</title>" in dom


def test_process_drawing_keeps_mathtext_literal(tmp_path):
    from test_process_graph import RowsOnly, created, seconds

    from irreport.analysis.process_drawing import draw_process_tree
    from irreport.analysis.process_graph import build_process_graph, mark_processes

    row = created(500, MATH_NAME, 4, "$x^{2}$.exe", seconds(0), seconds(-9),
                  command_line=r"$\alpha$ runs")
    graph = build_process_graph(RowsOnly(process_events=[row]))
    mark_processes(graph, lambda key, node: True, "alert: x")
    # With text kept as SVG text the labels can be read back; mathtext would draw glyph paths.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        svg = draw_process_tree(graph.to_networkx(), tmp_path / "tree.svg").read_text(encoding="utf-8")

    assert MATH_NAME in svg
    assert r"$\alpha$ runs" in svg
    assert "$x^{2}$.exe" in svg


def test_process_drawing_fits_long_command(tmp_path):
    from PIL import Image
    from test_process_graph import RowsOnly, created, seconds

    from irreport.analysis.process_drawing import draw_process_tree
    from irreport.analysis.process_graph import build_process_graph

    row = created(500, "tool.exe", 4, "cmd.exe", seconds(0), seconds(-9),
                  command_line="W" * 300)
    graph = build_process_graph(RowsOnly(process_events=[row]))
    image = Image.open(draw_process_tree(graph.to_networkx(), tmp_path / "tree.png")).convert("L")
    width, height = image.size
    pixels = image.load()
    inked = [x for x in range(width) if any(pixels[x, y] < 200 for y in range(height))]

    # A cut command ends in an ellipsis before the right edge instead of running off it.
    assert max(inked) < width - 20
