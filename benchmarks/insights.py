"""`make bench` (insights): ads_insights against the fake Graph API, and the peers beside it.

Scenarios (medium scale: 25 ads per ad account, one row per ad per day it delivered):

* 20 ad accounts x 90 days at 50 ms latency, jobs that take 3 s: wall, Graph calls (POSTs,
  polls, result pages) against the minimum for the jobs run (one POST, one poll and
  ceil(rows / 500) result pages per job), rows/s, peak RSS;
* the same at 0 ms with instant jobs (CPU-bound): rows/s (median of --repeat runs), and at
  365 days, where the 0.4 s the process takes to start weighs less;
* peak RSS at 90 and at 365 days (0 ms): flat as days grow;
* a second run from the first run's state (28-day lookback): days re-read per account;
* side by side (--peer-accounts, --peer-days): MeltanoLabs tap-facebook (`adsinsights_default`)
  and singer-io tap-facebook (`ads_insights`), one account per process as both require, and
  ours on the same accounts and days. Both poll on fixed sleeps (5 s; 10 s doubling) and run
  one job per day, so they are measured on a small slice; the ratio is what compares.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.run import ROOT, run_tap, selected_catalog
from tap_meta_bm.insights.report import InsightsReport
from tests.fakegraph import DEFAULT_TOKEN, FakeGraph, Faults
from tests.fakegraph.insights import REPORT_BASE, InsightsFaults

COLUMNS = frozenset(InsightsReport("ads_insights").columns())
PEERS = {"MeltanoLabs": (ROOT / ".venv-peer", "meltano-tap-facebook"),
         "singer-io": (ROOT / ".venv-peer-singer", "tap-facebook==1.26.0")}


def calls(log: list[dict[str, Any]]) -> dict[str, int]:
    """Insights calls by kind, and the minimum for the jobs that ran."""
    kinds: dict[str, int] = defaultdict(int)
    rows: dict[str, int] = defaultdict(int)
    for entry in log:
        segments = entry["path"].strip("/").split("/")
        if entry.get("method") == "POST":
            kinds["posts"] += 1
        elif len(segments) >= 2 and segments[1].isdigit() and int(segments[1]) >= REPORT_BASE:
            if len(segments) == 2:
                kinds["polls"] += 1
            else:
                kinds["pages"] += 1
                rows[segments[1]] += entry.get("items", 0)
    kinds["minimum"] = 2 * kinds["posts"] + sum(max(1, math.ceil(n / 500))
                                                 for n in rows.values())
    return kinds


def slow_jobs_graph(job_seconds: float) -> FakeGraph:
    """The fake at medium scale and 50 ms, its report jobs taking `job_seconds`, started."""
    return FakeGraph("medium", latency_ms=50, faults=Faults(
        insights=InsightsFaults(job_seconds=job_seconds))).start()


def accounts(graph: FakeGraph, n: int) -> list[str]:
    return [graph.data.ad_account(a)["account_id"] for a in range(n)]


def ours(graph: FakeGraph, account_ids: list[str], days: int, *, state: dict | None = None
         ) -> dict[str, Any]:
    start = date.today() - timedelta(days=days - 1)
    config = {"account_ids": account_ids, "start_date": f"{start.isoformat()}T00:00:00Z",
              "insights_job_days": 90}
    first = len(graph.log)
    run = run_tap(graph, config, catalog=selected_catalog(graph, {"ads_insights"}),
                  state=state)
    log = graph.log[first:]
    reread: dict[str, int] = defaultdict(int)
    for entry in log:
        if entry.get("method") == "POST":
            bounds = json.loads(entry["params"]["time_range"])
            reread[entry["object"]] += (date.fromisoformat(bounds["until"])
                                        - date.fromisoformat(bounds["since"])).days + 1
    return {"wall": run.wall, "rss": run.rss_mb, "rows": run.records, "state": run.state,
            "calls": calls(log),
            "days": max(reread.values()) if reread else 0}


def ensure_peer(name: str) -> Path:
    venv, package = PEERS[name]
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", package], check=True)
    return python


def peer(name: str, graph: FakeGraph, account_ids: list[str], days: int) -> dict[str, Any]:
    python = ensure_peer(name)
    start = date.today() - timedelta(days=days - 1)
    work = Path(tempfile.mkdtemp())
    env = {**os.environ, "PEER_GRAPH_URL": graph.url, "PEER": name,
           "PYTHONPATH": str(ROOT / "benchmarks")}
    wall = rows = 0.0
    first = len(graph.log)
    for account in account_ids:
        config: dict[str, Any] = {"access_token": DEFAULT_TOKEN, "account_id": account,
                                  "start_date": f"{start.isoformat()}T00:00:00Z"}
        if name == "singer-io":  # its 28-day re-read buffer would read 4x the days
            config.update({"end_date": f"{date.today().isoformat()}T00:00:00Z",
                           "insights_buffer_days": 1})
        else:
            config["api_version"] = "v26.0"
        (work / "config.json").write_text(json.dumps(config))
        command = [str(python), str(ROOT / "benchmarks" / "peer_insights.py"), "--config",
                   str(work / "config.json")]
        catalog = json.loads(subprocess.run([*command, "--discover"], env=env, check=True,
                                            capture_output=True).stdout)
        wanted = "adsinsights_default" if name == "MeltanoLabs" else "ads_insights"
        for entry in catalog["streams"]:
            selected = entry["tap_stream_id"] == wanted
            for meta in entry["metadata"]:
                # Our columns only: the same data, and no field Graph v26 no longer reads
                # (each peer's own default asks for some).
                crumb = meta["breadcrumb"]
                meta["metadata"]["selected"] = selected and (
                    crumb == [] or crumb[-1] in COLUMNS)
        (work / "catalog.json").write_text(json.dumps(catalog))
        option = "--catalog" if name == "MeltanoLabs" else "--properties"
        began = time.monotonic()
        done = subprocess.run([*command, option, str(work / "catalog.json")], env=env,
                              capture_output=True)
        wall += time.monotonic() - began
        if done.returncode:
            raise RuntimeError(f"{name}: {done.stderr.decode()[-1500:]}")
        rows += sum(1 for line in done.stdout.splitlines() if b'"RECORD"' in line[:30])
    return {"wall": wall, "rows": int(rows), "calls": calls(graph.log[first:])}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda run: run["wall"])[len(runs) // 2]


def line(label: str, result: dict[str, Any]) -> str:
    c = result["calls"]
    total = c["posts"] + c["polls"] + c["pages"]
    ratio = f"{total / c['minimum']:.2f}x" if c["minimum"] else ""
    rate = result["rows"] / result["wall"] if result["wall"] else 0
    rss = f"{result['rss']:.0f}" if result.get("rss") else ""
    return (f"| {label} | {result['wall']:.2f} | {c['posts']} / {c['polls']} / {c['pages']} "
            f"| {c['minimum']} ({ratio}) | {result['rows']} | {rate:.0f} | {rss} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--job-seconds", type=float, default=3.0)
    parser.add_argument("--peer-accounts", type=int, default=2)
    parser.add_argument("--peer-days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    out = ["| run | wall s | POSTs / polls / result pages | minimum (ratio) | rows | rows/s "
           "| peak RSS MB |", "|---|---|---|---|---|---|---|"]

    graph = slow_jobs_graph(args.job_seconds)
    try:
        ids = accounts(graph, args.accounts)
        first = ours(graph, ids, args.days)
        out.append(line(f"ours, {args.accounts} accounts x {args.days} days @50 ms, "
                        f"{args.job_seconds:g} s jobs", first))
        again = ours(graph, ids, args.days, state=first["state"])
        out.append(line("  ↳ second run from its state (28-day lookback)", again))
        out.append(f"|   ↳ days re-read per account: {again['days']} | | | | | | |")
        if args.peer_accounts:
            few = ids[:args.peer_accounts]
            mine = ours(graph, few, args.peer_days)
            out.append(line(f"ours, {len(few)} accounts x {args.peer_days} days @50 ms",
                            mine))
            for name in PEERS:
                result = peer(name, graph, few, args.peer_days)
                out.append(line(f"{name}, same accounts and days", result))
                out.append(f"|   ↳ ours {result['wall'] / mine['wall']:.1f}x faster than "
                           f"{name} | | | | | | |")
    finally:
        graph.stop()

    graph = FakeGraph("medium").start()
    try:
        ids = accounts(graph, args.accounts)
        ours(graph, ids, args.days)  # warms the fake's page cache
        cpu = median_run([ours(graph, ids, args.days) for _ in range(args.repeat)])
        out.append(line(f"ours, CPU-bound: {args.accounts} accounts x {args.days} days @0 ms, "
                        f"instant jobs (median of {args.repeat})", cpu))
        ours(graph, ids, 365)  # warms the fake's page cache
        year = ours(graph, ids, 365)
        out.append(line(f"ours, CPU-bound: {args.accounts} accounts x 365 days @0 ms", year))
        out.append(f"|   ↳ peak RSS 365 vs {args.days} days: {year['rss'] / cpu['rss']:.2f}x "
                   "| | | | | | |")
    finally:
        graph.stop()
    print("\n".join(out))


if __name__ == "__main__":
    main()
