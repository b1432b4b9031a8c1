"""The loading benchmark in its small mode: results only, never timings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "load_exports.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("load_exports_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_loads_every_row(bench, tmp_path):
    comparisons = bench.run([1], 1, 1, tmp_path)
    assert [c["label"].split(",")[0] for c in comparisons] == [
        "union CSV", "Streaming API JSON folder"]
    for comparison in comparisons:
        assert comparison["irreport"]["rows"] > 0
        assert comparison["irreport"]["rows"] == comparison["duckdb"]["rows"]


def test_bench_section_replaced_in_place(bench, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkept\n\n## Loading exports\n\nold\n\n"
                   "## Later\n\nalso kept\n", encoding="utf-8")
    bench.write_section("## Loading exports\n\nnew\n", doc)
    text = doc.read_text(encoding="utf-8")
    assert "old" not in text
    assert "## Loading exports\n\nnew\n" in text
    assert "## Other\n\nkept\n" in text
    assert "## Later\n\nalso kept\n" in text


def test_bench_section_appended_when_absent(bench, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkept\n", encoding="utf-8")
    bench.write_section("## Loading exports\n\nnew\n", doc)
    assert doc.read_text(encoding="utf-8") == (
        "# Benchmarks\n\n## Other\n\nkept\n\n## Loading exports\n\nnew\n")
