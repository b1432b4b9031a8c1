"""Counts printed next to a noun: the helper, and the texts built with it."""

from __future__ import annotations

import pytest

from irreport.plural import counted, pluralize
from irreport.posture.summary import method_changes
from irreport.render.html import environment


@pytest.mark.parametrize(("count", "noun", "expected"), [
    (0, "finding", "0 findings"),
    (1, "finding", "1 finding"),
    (2, "finding", "2 findings"),
    (0, "query", "0 queries"),
    (1, "query", "1 query"),
    (2, "query", "2 queries"),
    (2, "day", "2 days"),
    (2, "retry", "2 retries"),
    (2, "address", "2 addresses"),
    (2, "more row", "2 more rows"),
    (1, "loading warning", "1 loading warning"),
    (1.0, "day", "1 day"),
    (1.5, "day", "1.5 days"),
    (7.0, "day", "7 days"),
])
def test_counted_agrees(count, noun, expected):
    assert counted(count, noun) == expected


def test_pluralize_irregular():
    assert pluralize(0, "was", "were") == "were"
    assert pluralize(1, "was", "were") == "was"
    assert pluralize(2, "was", "were") == "were"
    assert counted(1, "is", "are") == "1 is"


@pytest.mark.parametrize(("count", "expected"), [
    (0, "0 controls are not compliant"),
    (1, "1 control is not compliant"),
    (2, "2 controls are not compliant"),
])
def test_template_filters_agree(count, expected):
    template = environment().from_string(
        '{{ n | counted("control") }} {{ n | pluralize("is", "are") }} not compliant')
    assert template.render(n=count) == expected


def table_html(total_rows: int) -> str:
    """Render the table macro for a view that shows one row of *total_rows*."""
    from irreport.render.views import Cell, TableView

    view = TableView(["Name"], [[Cell("a")]], total_rows, "q")
    template = environment().from_string(
        '{% from "macros.html.j2" import table %}{{ table(view) }}')
    return template.render(view=view)


def test_table_macro_counts_left_out_rows():
    assert "more row" not in table_html(1)
    assert "1 more row in evidence/q.csv" in table_html(2)
    assert "2 more rows in evidence/q.csv" in table_html(3)


@pytest.mark.parametrize(("days", "expected"), [
    (1, "(1 day then, 7 days now)"),
    (2, "(2 days then, 7 days now)"),
])
def test_range_length_change_agrees(days, expected):
    current = {"pack_version": "b", "source": {"kind": "sample", "label": "sample"},
               "device_groups": [],
               "time_range": {"start": "2026-11-30T00:00:00Z", "end": "2026-12-07T00:00:00Z"}}
    previous = {**current,
                "time_range": {"start": "2026-11-22T00:00:00Z",
                               "end": f"2026-11-{22 + days}T00:00:00Z"}}
    assert expected in " ".join(method_changes(current, previous))
