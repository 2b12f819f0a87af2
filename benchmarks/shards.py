"""`make bench` (shards): one tap job against four `account_shard` jobs run side by side.

Medium scale at 50 ms latency, the fake's page cache warmed first. Two workloads: the default
streams but insights (as benchmarks/run.py), and ads_insights over 20 ad accounts x 90 days
with 3-second report jobs (as benchmarks/insights.py). For each: wall seconds (the fleet's is
its slowest shard's), Graph calls in all and those only the directory makes (every shard lists
the businesses and their ad accounts), records, and the slowest shard's peak RSS.

The four shards share this 2-core machine with each other and with the fake; on machines of
their own each would have a core to itself.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from benchmarks.insights import accounts, slow_jobs_graph
from benchmarks.run import default_catalog, run_tap, selected_catalog
from tests.fakegraph import FakeGraph

DIRECTORY_EDGES = ("/me/businesses", "/owned_ad_accounts", "/client_ad_accounts")


def fleet(graph: FakeGraph, config: dict[str, Any], catalog: dict, shards: int
          ) -> dict[str, Any]:
    """`shards` jobs at once (one unsharded job when 1), measured together."""
    configs = [config] if shards == 1 else [
        {**config, "account_shard": f"{k}/{shards}"} for k in range(shards)]
    first = len(graph.log)
    # Together: the calls each run_tap counts overlap, so the log is counted here instead.
    with ThreadPoolExecutor(len(configs)) as pool:
        runs = list(pool.map(lambda c: run_tap(graph, c, catalog=catalog), configs))
    log = graph.log[first:]
    return {"wall": max(r.wall for r in runs), "rss": max(r.rss_mb for r in runs),
            "records": sum(r.records for r in runs), "calls": len(log),
            "directory": sum(1 for e in log if e["path"].endswith(DIRECTORY_EDGES))}


def line(label: str, result: dict[str, Any]) -> str:
    return (f"| {label} | {result['wall']:.2f} | {result['calls']} | {result['directory']} | "
            f"{result['records']} | {result['records'] / result['wall']:.0f} | "
            f"{result['rss']:.0f} |")


def compare(label: str, graph: FakeGraph, config: dict[str, Any], catalog: dict,
            shards: int) -> list[str]:
    fleet(graph, config, catalog, 1)  # warms the fake's pages
    one = fleet(graph, config, catalog, 1)
    many = fleet(graph, config, catalog, shards)
    return [line(f"{label}: 1 job", one), line(f"{label}: {shards} shard jobs", many),
            f"|   ↳ {shards} shards: {one['wall'] / many['wall']:.2f}x faster, "
            f"{many['calls'] / one['calls']:.3f}x the calls | | | | | | |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    out = ["| run | wall s | Graph calls | directory calls | records | records/s "
           "| peak RSS MB (largest job) |", "|---|---|---|---|---|---|---|"]
    graph = slow_jobs_graph(3.0)
    try:
        out += compare("medium @50 ms, default streams but insights", graph, {},
                       default_catalog(graph), args.shards)
        start = date.today() - timedelta(days=args.days - 1)
        insights = {"account_ids": accounts(graph, args.accounts), "insights_job_days": 90,
                    "start_date": f"{start.isoformat()}T00:00:00Z"}
        out += compare(f"ads_insights, {args.accounts} accounts x {args.days} days @50 ms, "
                       "3 s jobs", graph, insights, selected_catalog(graph, {"ads_insights"}),
                       args.shards)
    finally:
        graph.stop()
    print("\n".join(out))


if __name__ == "__main__":
    main()
