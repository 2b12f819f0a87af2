"""`make bench` (agency): one business with thousands of small ad accounts (issue 24).

The fake's agency scales (tests/fakegraph/data.py: a sixth of the accounts owned, the rest
clients', a few objects each) at 500, 1,000 and 3,000 ad accounts, at --latency-ms (20 by
default, the issue's simulator), report jobs taking --job-seconds, default settings and every
stream selected by default, start_date --days back:

* a full sync and an incremental rerun from its state with nothing changed: wall, Graph calls
  (each call inside a Batch API call counts), HTTP round trips, records, peak RSS, STATE
  messages and bytes, and STATE bytes over all output bytes (state.py's rule keeps it under
  1/RECORD_BYTES_PER_STATE_BYTE plus the last message);
* STATE bytes per ad account across the scales: flat when STATE grows linearly;
* the worst case for STATE's size (--history, at the largest scale): a full sync from
  2024-01-01 without insights, where every account's bookmarks differ and nothing groups;
* insights (ads_insights, --days days per account): report jobs run, the most in flight at
  once, Graph calls per ad account by kind (POST, poll, result page), and what bounds the
  wall time: jobs x job duration / jobs in flight at once.

Prints a Markdown table; results are pasted into RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.run import TAP, discovered_catalog, run_process, select_streams
from tests.fakegraph import DEFAULT_TOKEN, FakeGraph, Faults
from tests.fakegraph.insights import REPORT_BASE, InsightsFaults

SCALES = {"agency-500": 500, "agency-1000": 1000, "agency": 3000}


@dataclass
class Measured:
    wall: float
    calls: int
    round_trips: int
    records: int
    rss_mb: float
    states: int
    state_bytes: int
    out_bytes: int
    last_state: dict[str, Any]
    calls_by_kind: Counter[str]

    @property
    def state_share(self) -> float:
        return self.state_bytes / self.out_bytes if self.out_bytes else 0.0


def call_kind(entry: dict[str, Any]) -> str:
    path = entry["path"]
    if entry.get("method") == "POST" and path.endswith("/insights"):
        return "report POST"
    if path.rstrip("/").rsplit("/", 1)[-1].isdigit() and \
            path.rstrip("/").rsplit("/", 1)[-1].startswith(str(REPORT_BASE)[:3]):
        return "report poll"
    if "/insights" in path and not path.split("/")[-2].startswith("act_"):
        return "report result page"
    return "other"


def measure(graph: FakeGraph, config: dict[str, Any], catalog: dict,
            state: dict | None = None) -> Measured:
    workdir = Path(tempfile.mkdtemp())
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    command = [TAP, "--config", str(workdir / "config.json"),
               "--catalog", str(workdir / "catalog.json")]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        command += ["--state", str(workdir / "state.json")]
    first, trips = len(graph.log), graph.round_trips
    wall, rss, out = run_process(command)
    records = states = state_bytes = out_bytes = 0
    last = b""
    with out.open("rb") as lines:
        for line in lines:
            out_bytes += len(line)
            if line.startswith(b'{"type":"RECORD"'):
                records += 1
            elif line.startswith(b'{"type":"STATE"'):
                states += 1
                state_bytes += len(line)
                last = line
    out.unlink()
    log = graph.log[first:]
    return Measured(wall, len(log), graph.round_trips - trips, records, rss, states,
                    state_bytes, out_bytes, json.loads(last)["value"],
                    Counter(call_kind(entry) for entry in log))


def row(label: str, m: Measured, accounts: int) -> str:
    return (f"| {label} | {m.wall:.1f} | {m.calls} | {m.round_trips} | {m.records} | "
            f"{m.rss_mb:.0f} | {m.states} | {m.state_bytes / 1e6:.2f} | "
            f"{m.out_bytes / 1e6:.1f} | {m.state_share:.3f} | "
            f"{m.state_bytes / m.states / accounts:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--job-seconds", type=float, default=5.0)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--scales", default=",".join(SCALES))
    parser.add_argument("--history", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    start = (datetime.now(UTC) - timedelta(days=args.days)).strftime("%Y-%m-%dT00:00:00Z")
    print(f"## Agency scale (`python -m benchmarks.agency`, {datetime.now(UTC):%Y-%m-%d}): "
          f"{args.latency_ms:g} ms latency, report jobs of {args.job_seconds:g} s, start_date "
          f"{args.days} days back, default streams\n")
    print("| run | wall s | Graph calls | round trips | records | peak RSS MB | STATE msgs | "
          "STATE MB | output MB | STATE / output | STATE bytes per msg per account |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    insights_lines = []
    for scale in args.scales.split(","):
        accounts = SCALES[scale]
        graph = FakeGraph(scale, latency_ms=args.latency_ms, faults=Faults(
            insights=InsightsFaults(job_seconds=args.job_seconds))).start()
        try:
            config = {"access_token": DEFAULT_TOKEN, "api_url": graph.url, "start_date": start}
            catalog = select_streams(discovered_catalog(graph), lambda _, default: default)
            full = measure(graph, config, catalog)
            jobs = len(graph.insights.jobs)
            print(row(f"{scale} full", full, accounts), flush=True)
            again = measure(graph, config, catalog, state=full.last_state)
            print(row(f"{scale} incremental, nothing changed", again, accounts), flush=True)
            kinds = full.calls_by_kind
            insights_lines.append(
                f"| {scale} | {full.wall:.0f} | {jobs} | {graph.insights.peak_in_flight} | "
                f"{kinds['report POST'] / accounts:.2f} | {kinds['report poll'] / accounts:.2f}"
                f" | {kinds['report result page'] / accounts:.2f} | "
                f"{jobs * args.job_seconds / max(1, graph.insights.peak_in_flight):.0f} |")
            if args.history and accounts == max(SCALES[s] for s in args.scales.split(",")):
                config["start_date"] = "2024-01-01T00:00:00Z"
                history = measure(graph, config, select_streams(
                    catalog, lambda name, default: default and name != "ads_insights"))
                print(row(f"{scale} full from 2024-01-01, no insights (bookmarks all "
                          "differ)", history, accounts), flush=True)
        finally:
            graph.stop()
    print("\n| insights, full sync | run wall s | report jobs | most in flight | POSTs per "
          "account | polls per account | result pages per account | jobs x duration / in "
          "flight, s |")
    print("|---|---|---|---|---|---|---|---|")
    for line in insights_lines:
        print(line)


if __name__ == "__main__":
    main()
