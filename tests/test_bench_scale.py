"""The scale benchmark in its quick mode: what it finds and checks, never how fast."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def scale():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("scale")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def figures(scale, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scale")
    return scale.main(["--quick", "--msticpy", "none", "--workdir", str(workdir),
                       "--json", str(workdir / "figures.json")])


def test_quick_run_passes_its_checks(figures):
    assert figures["problems"] == []


def test_quick_run_keeps_the_incident(figures, scale):
    (row,) = figures["stages"]
    assert row["facts"]["device_events"] == 6_000
    assert set(row["facts"]["findings"]) >= scale.scale_checks.INCIDENT_RULES
    assert row["facts"]["failed_queries"] == []
    assert row["facts"]["pdf_pages"] > 0


def test_quick_run_times_every_stage(figures, scale):
    (row,) = figures["stages"]
    assert list(row["stages"]) == scale.STAGES
    for stage in scale.STAGES:
        assert row["stages"][stage]["peak_mib"] > 0
        assert row["stages"][stage]["cpu_seconds"] >= 0
    assert row["total_cpu_seconds"] > 0


def test_hand_written_sql_matches_every_pack_query(figures):
    from irreport.build import incident_query_ids
    from irreport.pack import QueryPack

    compared = {row["query"] for row in figures["queries"] if row.get("same_rows")}
    assert compared == set(incident_query_ids(QueryPack.load()))


def test_parameterised_queries_match_let_bound(figures):
    differ = [row["query"] for row in figures["queries"] if not row.get("same_rows_let_bound")]
    assert figures["queries"]
    assert differ == []


def test_query_figures_have_every_way(figures):
    for row in figures["queries"]:
        for way in ("let", "cold", "first", "warm", "sql"):
            assert row[f"{way}_seconds"] > 0, (row["query"], way)


def test_graph_links_every_generated_process(figures):
    (row,) = figures["graph"]
    # 2,000 processes, the eight services and services.exe: every process but services.exe
    # has a parent.
    assert row["links"] == 2_008


def test_docs_tables_replaced_between_markers(scale, figures, tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text(f"# Benchmarks\n\n## Other\n\nkept\n\n## Scale\n\nprose\n\n"
                    f"{scale.scale_report.BEGIN}\nold\n{scale.scale_report.END}\n\nafter\n",
                    encoding="utf-8")
    scale.scale_report.write_docs(page, figures, scale.STAGES)
    text = page.read_text(encoding="utf-8")
    assert "\nold\n" not in text
    assert "## Other\n\nkept\n" in text
    assert "prose" in text
    assert "after" in text
    assert "| query pack |" in text


def _stage_row(events: int, seconds: float, cpu_seconds: float) -> dict:
    return {"events": events, "total_seconds": seconds, "total_cpu_seconds": cpu_seconds,
            "stages": {"load": {"seconds": seconds, "cpu_seconds": cpu_seconds}}}


def test_growth_table_ratios_per_span(scale):
    rows = [_stage_row(10_000, 0.1, 0.1), _stage_row(100_000, 1.0, 0.5),
            _stage_row(1_000_000, 10.0, 5.0), _stage_row(5_000_000, 60.0, 25.0)]

    table = scale.scale_report.growth_table(rows, ["load"])

    caption, _, header, *_ = table.splitlines()
    assert "at 100k (50 times fewer events) and 1M (5 times fewer events)" in caption
    assert "| wall 5M / 100k | CPU 5M / 100k | wall 5M / 1M | CPU 5M / 1M |" in header
    assert "| load | 60.0 | 50.0 | 6.0 | 5.0 |" in table
    assert "| dossier | 60.0 | 50.0 | 6.0 | 5.0 |" in table


def test_growth_table_needs_a_larger_size(scale):
    rows = [_stage_row(10_000, 0.1, 0.1), _stage_row(100_000, 1.0, 0.5)]
    assert scale.scale_report.growth_table(rows, ["load"]).startswith("(growth needs")
