"""Seconds of each analysis stage, and of each part of the evidence stage, with full collections.

    python bench/stage_parts.py FOLDER OUT

    python bench/scale.py --events 1000000 5000000 --workdir /tmp/irs   # leaves events-N there
    python bench/stage_parts.py /tmp/irs/events-1000000 /tmp/parts-1m
    python bench/stage_parts.py /tmp/irs/events-5000000 /tmp/parts-5m

FOLDER is an events folder that `bench/scale.py` generated in its --workdir, and OUT a folder
for the evidence files. The stages run as `bench/scale_child.py stages` runs them, in this one
process, and the evidence stage is timed in four parts: result files, process graph files, the
timeline, findings and indicators, and the hashes. Each line also gives the full collections
of Python's cyclic collector during that stage and their seconds, because a collection walks
every result row and so grows faster than the events. Run it once per size to see how each
part grows.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import scale_child  # noqa: E402
import scale_data  # noqa: E402


class FullCollections:
    """A counter of the cyclic collector's full (generation 2) collections and their seconds."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.count += 1
            self.seconds += time.perf_counter() - self._started


def main(folder: Path, out: Path) -> None:
    from irreport.analysis import process_graph
    from irreport.analysis.pipeline import add_process_graph, add_timeline, analyse_findings
    from irreport.build import _write_derived, incident_query_ids
    from irreport.collect import collect
    from irreport.evidence import evidence_hashes, write_evidence
    from irreport.memory import collector_paused
    from irreport.pack import QueryPack
    from irreport.sources.local import open_folder

    collections = FullCollections()

    def timed(name: str, stage):
        count, seconds = collections.count, collections.seconds
        started = time.perf_counter()
        result = stage()
        print(f"{name:22} {time.perf_counter() - started:7.2f} s   full collections: "
              f"{collections.count - count} in {collections.seconds - seconds:.2f} s", flush=True)
        return result

    source = timed("load", lambda: open_folder(folder))
    pack = QueryPack.load()
    collection = timed("query pack", lambda: collect(
        pack, source, [scale_data.INCIDENT_DEVICE], scale_child.TIME_RANGE,
        only=incident_query_ids(pack), keep_arrays=process_graph.KEPT_ARRAYS))
    analysis = timed("findings", lambda: analyse_findings(collection))
    timed("process graph", lambda: add_process_graph(analysis, collection))
    timed("timeline", lambda: add_timeline(analysis, collection))
    evidence = out / "evidence"
    # build.py's _write_evidence pauses the collector for the same three parts.
    with collector_paused():
        timed("evidence: results", lambda: write_evidence(collection, evidence))
        timed("evidence: graph", lambda: process_graph.write_graph(analysis.graph, evidence))
        timed("evidence: derived", lambda: _write_derived(analysis, evidence))
    timed("evidence: hashes", lambda: evidence_hashes(out))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path,
                        help="an events-N folder that bench/scale.py generated in its --workdir")
    parser.add_argument("out", type=Path, help="a folder for the evidence files")
    options = parser.parse_args(argv)
    if not (options.folder / "noise" / "DeviceProcessEvents.jsonl").is_file():
        parser.error(f"{options.folder} is not an events folder of bench/scale.py: it has no "
                     "noise/DeviceProcessEvents.jsonl; run bench/scale.py --workdir DIR and pass "
                     "DIR/events-N")
    return options


if __name__ == "__main__":
    arguments = parse_arguments()
    main(arguments.folder, arguments.out)
