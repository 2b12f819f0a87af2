"""A/B: two builds of the tap, alternating full syncs against one fake Graph API.

For a change that must not cost speed or memory (a refactor): both commands sync the same
fake data, one after the other, `--rounds` times each after one unmeasured warm-up each, so
the machine's drift falls on both alike. Prints, per scenario, each build's median wall time,
records/s and peak RSS, B's ratio to A, and whether both emitted the same records (in the
same order within each stream; `_read_id`, the millisecond a run began, left out) and the
same final state (read in the SDK's shape whichever form was written, less the second each
run began; bookmark ids that only one build keeps are counted apart). Streams only one build
has are named.

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
from tests.helpers import comparable_state, sdk_state


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
    return Run(wall, len(graph.log) - first, 0, len(records), rss, 0, None, {}), records, state


def by_stream(lines: list[bytes]) -> dict[str, list[dict[str, Any]]]:
    """Each stream's records in the order emitted (as values: key order is not a record's),
    without the run's own `_read_id`."""
    out: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        message = json.loads(line + b"}")
        message["record"].pop("_read_id", None)
        if message["stream"] == "complete_reads":  # the run's own reads: when, which id
            for column in ("read_id", "read_at", "graph_read_at"):
                message["record"].pop(column, None)
        out.setdefault(message["stream"], []).append(message["record"])
    return out


def compared(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> str:
    """Whether the streams both builds have are the same, and which only one has."""
    common = set(a) & set(b)
    for reads in (a, b):  # one row per stream, in sync order: compared as a set, common ones
        reads["complete_reads"] = sorted(
            (r for r in reads.get("complete_reads", []) if r["stream"] in common),
            key=lambda r: r["stream"])
    differ = sorted(s for s in common if a[s] != b[s])
    only = [f"only {name}: {', '.join(sorted(set(x) - set(y)))}"
            for name, x, y in (("A", a, b), ("B", b, a)) if set(x) - set(y)]
    return (f"{not differ} ({len(common)} streams{'; ' + '; '.join(only) if only else ''}"
            f"{'; differ: ' + ', '.join(differ) if differ else ''})")


def state_compared(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Whether the final states are the same once read in the SDK's shape; bookmark ids kept
    by one build only (B keeps none for a settled bookmark: incremental.py) are counted."""
    def partitions(state: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        out = {}
        for name, stream in comparable_state(sdk_state(state))["bookmarks"].items():
            for partition in stream.get("partitions", []) if isinstance(stream, dict) else []:
                out[name, json.dumps(partition.get("context"), sort_keys=True)] = partition
        return out

    def without_ids(partition: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in partition.items() if k != "ids_at_bookmark"}

    pa, pb = partitions(a), partitions(b)
    common = pa.keys() & pb.keys()
    same = all(without_ids(pa[k]) == without_ids(pb[k]) for k in common)
    ids_only = sum(1 for k in common if pa[k] != pb[k])
    streams = {k[0] for k in pa.keys() ^ pb.keys()}
    return (f"{same}" + (f" ({ids_only} bookmarks differ in ids_at_bookmark)"
                         if ids_only else "")
            + (f"; partitions of {', '.join(sorted(streams))} in one build only"
               if streams else ""))


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
    same_records = compared(by_stream(outputs["A"][0]), by_stream(outputs["B"][0]))
    same_state = state_compared(outputs["A"][1], outputs["B"][1])
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
