"""A sync under Meta's Limited-tier ad-account score: paced from the usage headers, never
blocked, close to the floor the budget allows.

The Limited tier (graph-api-facts-3.md, section 3): each ad account has a score of 60 points
over a sliding 300 s, a read costs 1 point, and a call past it is refused (17/2446079) and
blocks the account for 300 s. Here time is scaled down ten times (60 points per 30 s, a 30 s
block), so that the fake's `limited` scale (6 ad accounts, 1,000 campaigns, ad sets and ads
each) makes a run of a few minutes. The tap syncs campaigns, adsets and ads at `page_size`
10 (300 reads per account, five times its score) with its default settings; it learns the
window from X-Ad-Account-Usage's `reset_time_duration` and the capacity from the usage.

Reported: reads per account, throttle refusals (goal 0), and wall / floor (goal at most 1.2),
where the floor is the busiest account's reads / the allowed rate (60 per 30 s): accounts have
budgets of their own and are read in parallel. Prints a Markdown table for RESULTS.md.

    python -m benchmarks.limited_tier
"""

from __future__ import annotations

import argparse
from collections import Counter

from benchmarks.run import run_tap, selected_catalog
from tests.fakegraph import FakeGraph, Faults

POINTS, WINDOW = 60, 30.0  # Meta's 60 per 300 s, ten times faster
STREAMS = {"campaigns", "adsets", "ads"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page-size", type=int, default=10)
    args = parser.parse_args()
    graph = FakeGraph("limited", faults=Faults(account_score=(POINTS, WINDOW),
                                               account_score_block=WINDOW)).start()
    try:
        catalog = selected_catalog(graph, STREAMS)
        first = len(graph.log)
        run = run_tap(graph, {"page_size": args.page_size}, catalog=catalog)
        log = graph.log[first:]
    finally:
        graph.stop()
    accounts = {str(graph.data.ad_account(a)["account_id"])
                for a in range(graph.data.scale.accounts * graph.data.scale.businesses)}
    reads = Counter(e["object"] for e in log
                    if e.get("object") in accounts and not e.get("score_refused"))
    refused = sum(1 for e in log if e.get("score_refused"))
    floor = max(reads.values()) / (POINTS / WINDOW)
    print("| accounts | reads per account | refusals | wall s | floor s | wall / floor |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(reads)} | {min(reads.values())}-{max(reads.values())} | {refused} | "
          f"{run.wall:.1f} | {floor:.1f} | {run.wall / floor:.2f} |")


if __name__ == "__main__":
    main()
