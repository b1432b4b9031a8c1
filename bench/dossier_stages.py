"""Wall time and peak memory of each stage of `irreport build` on the bundled sample.

    python bench/dossier_stages.py [--runs 3]

Each run happens in a fresh subprocess so that caches and peak memory do not carry over. The
script prints the median of each stage and the peak resident set size after it (Linux
`ru_maxrss`, which only grows, so the figure is the high-water mark up to that stage).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ["load", "collect", "analyse", "evidence", "html", "pdf"]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_run(out: Path) -> dict[str, list[float]]:
    """Run every stage once in this process; returns {stage: [seconds, peak MiB]}."""
    from irreport.analysis.pipeline import analyse
    from irreport.build import BuildRequest, _render, _write_evidence
    from irreport.collect import collect
    from irreport.pack import QueryPack
    from irreport.render import context, pdf
    from irreport.sources.local import open_sample

    figures: dict[str, list[float]] = {}
    started = time.perf_counter()

    def mark(stage: str) -> None:
        nonlocal started
        figures[stage] = [time.perf_counter() - started, peak_mib()]
        started = time.perf_counter()

    source = open_sample()
    pack = QueryPack.load()
    mark("load")
    collection = collect(pack, source, ["testmachine3"], source.default_range())
    mark("collect")
    analysis = analyse(collection)
    mark("analyse")
    out.mkdir(parents=True, exist_ok=True)
    manifest = _write_evidence(collection, analysis, out, "2026-12-04T00:00:00Z")
    mark("evidence")
    request = BuildRequest(devices=["testmachine3"], out_dir=out, formats=("html",))
    _render(collection, analysis, request, manifest, out, "2026-12-04T00:00:00Z")
    mark("html")
    html = (out / "dossier.html").read_text(encoding="utf-8")
    pdf.render_pdf(html, out / "dossier.pdf")
    mark("pdf")
    del context
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(Path(args.child))))
        return
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            done = subprocess.run([sys.executable, __file__, "--child", folder],
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    total = statistics.median(sum(r[s][0] for s in STAGES) for r in runs)
    print(f"sample dossier, {args.runs} runs, medians")
    print(f"{'stage':10} {'seconds':>8} {'peak MiB':>9}")
    for stage in STAGES:
        seconds = statistics.median(r[stage][0] for r in runs)
        peak = statistics.median(r[stage][1] for r in runs)
        print(f"{stage:10} {seconds:8.2f} {peak:9.0f}")
    print(f"{'total':10} {total:8.2f}")


if __name__ == "__main__":
    main()
