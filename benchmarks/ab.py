"""A/B: two builds of the tap, alternating full syncs against one fake Graph API.

For a change that must not cost speed or memory (a refactor): both commands sync the same
fake data, one after the other, `--rounds` times each after one unmeasured warm-up each, so
the machine's drift falls on both alike. Prints, per scenario, each build's median wall time,
records/s and peak RSS, B's ratio to A, and whether both emitted the same records (in the
same order within each stream) and the same final state.

    .venv/bin/python -m benchmarks.ab --a /path/to/old/.venv/bin/tap-meta-bm
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.run import TAP, Run, run_process
from tests.fakegraph import DEFAULT_TOKEN, FakeGraph


def sync(graph: FakeGraph, tap: str) -> tuple[Run, list[bytes], dict[str, Any]]:
    """One full sync: its measurements, its RECORD lines (less the extraction time) and its
    final state (less the second the run started)."""
    config = Path(tempfile.mkstemp(suffix=".json")[1])
    config.write_text(json.dumps({"access_token": DEFAULT_TOKEN, "api_url": graph.url}))
    first = len(graph.log)
    wall, rss, out = run_process([tap, "--config", str(config)])
    records: list[bytes] = []
    state: dict[str, Any] = {}
    with out.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"'):
                records.append(line.split(b',"time_extracted"')[0])
            elif line.startswith(b'{"type":"STATE"'):
                state = json.loads(line)["value"]
    out.unlink()
    config.unlink()
    for stream in state.get("bookmarks", {}).values():
        for partition in stream.get("partitions", []):
            partition.pop("read_started", None)
    return Run(wall, len(graph.log) - first, 0, len(records), rss, 0, None, {}), records, state


def by_stream(lines: list[bytes]) -> dict[str, list[dict[str, Any]]]:
    """Each stream's records in the order emitted (as values: key order is not a record's)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        message = json.loads(line + b"}")
        out.setdefault(message["stream"], []).append(message["record"])
    return out


def scenario(scale: str, latency: float, a: str, b: str, rounds: int) -> list[str]:
    graph = FakeGraph(scale, latency_ms=latency).start()
    try:
        results: dict[str, list[Run]] = {"A": [], "B": []}
        outputs: dict[str, tuple[list[bytes], dict[str, Any]]] = {}
        for tap in (a, b):
            sync(graph, tap)  # warm-up: the fake's page cache, the file cache
        for _ in range(rounds):
            for name, tap in (("A", a), ("B", b)):
                run, records, state = sync(graph, tap)
                results[name].append(run)
                outputs[name] = (records, state)
    finally:
        graph.stop()
    same_records = by_stream(outputs["A"][0]) == by_stream(outputs["B"][0])
    same_state = outputs["A"][1] == outputs["B"][1]
    rows = []
    medians = {}
    for name, runs in results.items():
        wall = statistics.median(r.wall for r in runs)
        rate = statistics.median(r.rate for r in runs)
        rss = statistics.median(r.rss_mb for r in runs)
        medians[name] = (wall, rate, rss)
        rows.append(f"| {scale} @{latency:g} ms, {name} | {wall:.2f} "
                    f"({min(r.wall for r in runs):.2f}-{max(r.wall for r in runs):.2f}) | "
                    f"{runs[0].requests} | {runs[0].records} | {rate:.0f} | {rss:.0f} |")
    (wa, ra, sa), (wb, rb, sb) = medians["A"], medians["B"]
    rows.append(f"|   ↳ B/A: wall {wb / wa:.3f}, records/s {rb / ra:.3f}, peak RSS "
                f"{sb / sa:.3f}; same records in the same order: {same_records}; same final "
                f"state: {same_state} | | | | | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="the baseline tap-meta-bm command")
    parser.add_argument("--b", default=TAP, help="the build measured against it")
    parser.add_argument("--scenarios", default="medium:0,medium:50")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print("| run | wall s (median, range) | requests | records | records/s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for item in args.scenarios.split(","):
        scale, latency = item.split(":")
        for line in scenario(scale, float(latency), args.a, args.b, args.rounds):
            print(line, flush=True)


if __name__ == "__main__":
    main()
