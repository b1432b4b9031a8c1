"""Print the figures of `scale.py` and write them into the benchmark page."""

from __future__ import annotations

import re
from pathlib import Path

BEGIN = "<!-- bench/scale.py writes from here -->"
END = "<!-- bench/scale.py writes up to here -->"


def print_stages(row: dict, stages: list[str]) -> None:
    print(f"{'stage':14} {'seconds':>8} {'CPU s':>8} {'peak MiB':>9}")
    for stage in stages:
        figures = row["stages"][stage]
        print(f"{stage:14} {figures['seconds']:8.2f} {figures['cpu_seconds']:8.2f} "
              f"{figures['peak_mib']:9.0f}")
    print(f"{'dossier':14} {row['total_seconds']:8.2f} {row['total_cpu_seconds']:8.2f} "
          f"{row['peak_mib']:9.0f}", flush=True)


def print_graph(row: dict) -> None:
    text = f"{row['rows']:>9} process rows: irreport {row['irreport_seconds']:.2f} s"
    if "msticpy_seconds" in row:
        ratio = row["msticpy_seconds"] / row["irreport_seconds"]
        links = row["comparison"]
        text += (f", msticpy {row['msticpy_seconds']:.2f} s ({ratio:.1f} times slower); links: "
                 f"{links['both']:,} found by both, {links['only_irreport']:,} only by irreport, "
                 f"{links['only_msticpy']:,} only by msticpy")
    else:
        text += ", msticpy not run"
    print(text, flush=True)


def print_queries(rows: list[dict]) -> None:
    for row in rows:
        if "error" in row:
            print(f"{row['query']:28} {row['error']}")
            continue
        print(f"{row['query']:28} {row['rows']:>8} rows  let-bound {row['let_seconds']:7.3f} s  "
              f"cold {row['cold_seconds']:7.3f} s  first run {row['first_seconds']:7.3f} s  "
              f"warm {row['warm_seconds']:7.3f} s  "
              f"SQL {row['sql_seconds']:7.3f} s  same rows: {row['same_rows']}", flush=True)


def print_heading(text: str) -> None:
    print(f"\n{text}", flush=True)


def print_render(row: dict) -> None:
    print(f"{row['rows']:>6} table rows: {row['pages']} pages in {row['seconds']:.2f} s, "
          f"{row['seconds'] / row['pages']:.3f} s per page", flush=True)


def _size(events: int) -> str:
    if events >= 1_000_000 and events % 1_000_000 == 0:
        return f"{events // 1_000_000}M"
    if events >= 1_000 and events % 1_000 == 0:
        return f"{events // 1_000}k"
    return str(events)


def stage_tables(figures: dict, stages: list[str]) -> list[str]:
    rows = figures["stages"]
    sizes = [_size(row["events"]) for row in rows]
    lines = ["| stage | " + " | ".join(f"{s} s" for s in sizes) + " | "
             + " | ".join(f"{s} MiB" for s in sizes) + " |",
             "|---|" + "---:|" * (2 * len(rows))]
    for stage in stages:
        seconds = " | ".join(f"{row['stages'][stage]['seconds']:.2f}" for row in rows)
        peaks = " | ".join(f"{row['stages'][stage]['peak_mib']:.0f}" for row in rows)
        lines.append(f"| {stage} | {seconds} | {peaks} |")
    lines.append("| **dossier** | " + " | ".join(f"**{row['total_seconds']:.1f}**" for row in rows)
                 + " | " + " | ".join(f"**{row['peak_mib']:.0f}**" for row in rows) + " |")
    lines += ["", "CPU seconds of each stage, every thread of the process, medians:", "",
              "| stage | " + " | ".join(f"{s} CPU s" for s in sizes) + " |",
              "|---|" + "---:|" * len(rows)]
    for stage in stages + ["dossier"]:
        cpu = " | ".join(f"{_stage_figure(row, stage, 'cpu_seconds'):.2f}" for row in rows)
        lines.append(f"| {stage} | {cpu} |")
    lines += ["", growth_table(rows, stages)]
    lines += ["", "| events | rows loaded | graph nodes | timeline events | bursts | findings | PDF pages |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        facts = row["facts"]
        lines.append(f"| {row['events']} | {facts['rows_loaded']} | {facts['graph_nodes']} | "
                     f"{facts['timeline_events']} | {facts['bursts']} | {len(facts['findings'])} | "
                     f"{facts['pdf_pages']} |")
    return lines


def growth_table(rows: list[dict], stages: list[str]) -> str:
    """Return each stage's time at the largest size divided by its time at 100k and at 1M events.

    A stage that grows in proportion to the events shows the ratio of the sizes, and a
    quadratic one its square. The CPU ratios leave out time spent waiting for the disk or for
    a core, which the wall-clock ratios include.
    """
    top = rows[-1]
    bases = [row for row in rows if row["events"] in (100_000, 1_000_000) and row is not top]
    if not bases:
        return "(growth needs the 100k or 1M size and a larger one)"
    top_size = _size(top["events"])
    factors = " and ".join(f"{_size(base['events'])} ({top['events'] / base['events']:.0f} times "
                           "fewer events)" for base in bases)
    header, rule = "| stage |", "|---|"
    for base in bases:
        span = f"{top_size} / {_size(base['events'])}"
        header += f" wall {span} | CPU {span} |"
        rule += "---:|---:|"
    lines = [f"Growth: each stage's time at {top_size} divided by its time at {factors}:", "",
             header, rule]
    for stage in stages + ["dossier"]:
        ratios = [_stage_figure(top, stage, figure) / max(_stage_figure(base, stage, figure), 1e-6)
                  for base in bases for figure in ("seconds", "cpu_seconds")]
        lines.append(f"| {stage} | " + " | ".join(f"{ratio:.1f}" for ratio in ratios) + " |")
    return "\n".join(lines)


def _stage_figure(row: dict, stage: str, figure: str) -> float:
    if stage == "dossier":
        return row[f"total_{figure}"]
    return row["stages"][stage][figure]


def graph_table(figures: dict) -> list[str]:
    lines = ["| process rows | irreport s | msticpy s | msticpy / irreport | irreport MiB | "
             "msticpy MiB | links | same links |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in figures["graph"]:
        if "msticpy_seconds" not in row:
            lines.append(f"| {row['rows']} | {row['irreport_seconds']:.2f} | not run | | "
                         f"{row['irreport_peak_mib']:.0f} | | {row['links']} | |")
            continue
        comparison = row["comparison"]
        same = ("yes" if not (comparison["only_irreport"] or comparison["only_msticpy"]) else
                f"no: {comparison['only_irreport']} only irreport, "
                f"{comparison['only_msticpy']} only msticpy")
        lines.append(f"| {row['rows']} | {row['irreport_seconds']:.2f} | {row['msticpy_seconds']:.2f} | "
                     f"{row['msticpy_seconds'] / row['irreport_seconds']:.1f} | "
                     f"{row['irreport_peak_mib']:.0f} | {row['msticpy_peak_mib']:.0f} | "
                     f"{comparison['both']} | {same} |")
    return lines


def query_table(figures: dict) -> list[str]:
    rows = [row for row in figures["queries"] if "error" not in row]
    lines = ["| query | rows | let-bound s | cold s | first run s | warm s | hand-written SQL s | "
             "cold / SQL | first run / SQL | warm / SQL | same rows |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        name = row["query"] if row["parameterised"] else f"{row['query']} (let-bound)"
        ratios = " | ".join(_ratio(row[f"{way}_seconds"], row["sql_seconds"])
                            for way in ("cold", "first", "warm"))
        lines.append(f"| {name} | {row['rows']} | {row['let_seconds']:.3f} | "
                     f"{row['cold_seconds']:.3f} | {row['first_seconds']:.3f} | "
                     f"{row['warm_seconds']:.3f} | {row['sql_seconds']:.3f} | {ratios} | "
                     f"{'yes' if row['same_rows'] else 'no'} |")
    let_bound, cold, first, warm, sql = (sum(row[f"{way}_seconds"] for row in rows)
                                         for way in ("let", "cold", "first", "warm", "sql"))
    lines.append(f"| **pack** | | **{let_bound:.2f}** | **{cold:.2f}** | **{first:.2f}** | "
                 f"**{warm:.2f}** | **{sql:.2f}** | **{_ratio(cold, sql)}** | "
                 f"**{_ratio(first, sql)}** | **{_ratio(warm, sql)}** | |")
    return lines


def _ratio(seconds: float, baseline: float) -> str:
    return f"{seconds / max(baseline, 1e-6):.2f}"


def render_table(figures: dict) -> list[str]:
    lines = ["| table rows | pages | PDF s | s per page | peak MiB |", "|---:|---:|---:|---:|---:|"]
    for row in figures["render"]:
        lines.append(f"| {row['rows']} | {row['pages']} | {row['seconds']:.2f} | "
                     f"{row['seconds'] / row['pages']:.3f} | {row['peak_mib']:.0f} |")
    return lines


def machine_line(figures: dict) -> str:
    machine = figures["machine"]
    return (f"Measured {machine['date']} on {machine['cpu']}, {machine['cores']} cores, "
            f"{machine['memory_gib']} GiB, {machine['system']}, Python {machine['python']}, "
            f"DuckDB {machine['duckdb']}; load average {machine['load_before'][0]:.2f} at the "
            f"start and {machine['load_after'][0]:.2f} at the end; "
            f"`python bench/scale.py {figures['command']}`.")


def generated_section(figures: dict, stages: list[str]) -> str:
    parts = [machine_line(figures), "", "Seconds and peak resident memory of each stage, medians:", ""]
    parts += stage_tables(figures, stages)
    parts += ["", "Process graph against msticpy's `build_process_tree`, same rows:", ""]
    parts += graph_table(figures)
    events = figures["queries"][0]["events"] if figures["queries"] else 0
    parts += ["", f"Query pack at {_size(events)} events, duckdb-kql (let-bound, cold, first run "
              "and warm translation) against hand-written SQL:", ""]
    parts += query_table(figures)
    parts += ["", "PDF of one table in the dossier's style:", ""]
    parts += render_table(figures)
    problems = figures.get("problems") or []
    parts += ["", "Checks: " + ("all passed." if not problems else "; ".join(problems))]
    return "\n".join(parts)


def write_docs(page: Path, figures: dict, stages: list[str]) -> None:
    """Replace the text between the two markers of *page* with the new figures."""
    text = page.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{page} lacks the markers {BEGIN!r} and {END!r}; add them where the "
                         "figures belong")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    section = f"{BEGIN}\n{generated_section(figures, stages)}\n{END}"
    page.write_text(pattern.sub(lambda _match: section, text), encoding="utf-8")
