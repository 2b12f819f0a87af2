"""Insights against the fake Graph API: the truth exact to the cent, through every job fate."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal

from tests.e2e.conftest import Faults, run_tap, tap_config
from tests.fakegraph.insights import InsightsFaults, account_today

SINCE = "2026-10-20"
ONLY_INSIGHTS = {"name": "ads_insights"}


def insights_catalog(tmp_path, graph, streams=("ads_insights",), **config):
    """The tap's catalog with only `streams` selected."""
    import subprocess

    from tests.helpers import TAP_COMMAND
    path = tmp_path / "discover.json"
    path.write_text(json.dumps(tap_config(graph, **config)))
    catalog = json.loads(subprocess.run([TAP_COMMAND, "--config", str(path), "--discover"],
                                        capture_output=True, text=True, check=True).stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def cents(value: Decimal, currency: str) -> int:
    return int(value) if currency == "JPY" else int(value * 100)


def sync(tmp_path, graph, *, state=None, streams=("ads_insights",), **config):
    config = {"start_date": f"{SINCE}T00:00:00Z", **config}
    return run_tap(tmp_path, tap_config(graph, **config), state=state,
                   catalog=insights_catalog(tmp_path, graph, streams, **config))


def test_rows_match_the_truth_exactly_to_the_cent(fake_graph, tmp_path):
    graph = fake_graph("small")
    run = sync(tmp_path, graph)
    assert run.returncode == 0, run.stderr[-2000:]
    keys = run.keys("ads_insights")
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert set(keys) == graph.truth(insights_since=SINCE)["ads_insights"]
    # Spend and clicks per account and day, summed from the rows, equal the fake's own counts.
    spend: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    clicks: dict[tuple[str, str], int] = defaultdict(int)
    currency = {}
    for row in run.records("ads_insights"):
        day = (row["account_id"], row["date_start"])
        spend[day] += Decimal(str(row["spend"]))
        clicks[day] += row["clicks"]
        currency[row["account_id"]] = row["account_currency"]
        assert isinstance(row["impressions"], int)
        assert row["business_id"] == "100000000000"
    data, insights = graph.data, graph.insights
    for (account_id, day), total in spend.items():
        a = data.account_index(account_id)
        truth = [insights.ad_day(a, i, day) for i in range(data.scale.ads)]
        assert cents(total, currency[account_id]) == sum(t["spend"] for t in truth if t)
        assert clicks[account_id, day] == sum(t["clicks"] for t in truth if t)
    # One bookmark per account: the account's own today.
    bookmarks = run.state["bookmarks"]["ads_insights"]["partitions"]
    for partition in bookmarks:
        account = data.ad_account(data.account_index(partition["context"]["account_id"]))
        assert partition["replication_key_value"] == \
            account_today(account["timezone_name"]).isoformat()


def test_every_job_fate_is_survived_without_losing_or_doubling_a_row(fake_graph, tmp_path):
    """Failed then failed again (split by dates), skipped (run again), stuck (timeout, then
    split), too much data on one day (split by campaigns), results failing transiently, jobs
    not visible at their first poll."""
    accounts = ["200000000000", "200000000001", "200000000002", "200000000003"]
    until = date.fromisoformat(SINCE) + timedelta(days=29)
    faults = Faults(insights=InsightsFaults(
        job_seconds=0.3,
        fates={(accounts[0], SINCE): ["failed", "failed"],
               (accounts[1], SINCE): ["skipped"],
               (accounts[2], SINCE): ["stuck", "stuck"]},
        too_much_unfiltered_days={(accounts[3], (until - timedelta(days=3)).isoformat())},
        max_days_per_job=None, results_transient_first=1, poll_missing_first=1))
    graph = fake_graph("small", faults=faults)
    run = sync(tmp_path, graph, insights_job_timeout=2)
    assert run.returncode == 0, run.stderr[-3000:]
    keys = run.keys("ads_insights")
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert set(keys) == graph.truth(insights_since=SINCE)["ads_insights"]
    assert "running it again" in run.stderr
    assert "halving its dates" in run.stderr
    assert "splitting it by campaign" in run.stderr
    assert "still 'Job Running' after" in run.stderr
    posts = [e for e in graph.log if e.get("method") == "POST"]
    filtered = [e for e in posts if "filtering" in e["params"]]
    assert filtered and all(json.loads(e["params"]["filtering"])[0]["field"] == "campaign.id"
                            for e in filtered)


def test_a_day_that_never_succeeds_stops_the_run_and_a_rerun_resumes(fake_graph, tmp_path):
    bad_day = "2026-11-05"
    faults = Faults(insights=InsightsFaults(fates={("200000000002", bad_day): ["too_much"] * 40},
                                            fate_levels={"ad"}))
    graph = fake_graph("small", faults=faults)
    run = sync(tmp_path, graph, insights_job_days=1)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        "tap-meta-bm: error: ads_insights: Meta could not produce the report for ad account "
        f"200000000002, {bad_day}, campaign 2300000020000\\d even after splitting it: the job "
        r"failed \(Please reduce the amount of data you're asking for, then retry your "
        r"request, code 100/1487534\). Nothing after this day was read for the account; rerun "
        r"later \(the state written lets the rerun resume here\), or narrow the report \(fewer "
        r"breakdowns or fields\).", last), last
    done = {p["context"]["account_id"] for p in run.state["bookmarks"]["ads_insights"][
        "partitions"] if "replication_key_value" in p}
    assert done == {"200000000000", "200000000001"}
    graph.insights.faults.fates.clear()
    graph.insights._fates.clear()
    rerun = sync(tmp_path, graph, state=run.state, insights_job_days=30)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert set(run.keys("ads_insights")) | set(rerun.keys("ads_insights")) == \
        graph.truth(insights_since=SINCE)["ads_insights"]


def test_a_second_run_reads_only_the_lookback(fake_graph, tmp_path):
    graph = fake_graph("small")
    first = sync(tmp_path, graph)
    assert first.returncode == 0, first.stderr[-2000:]
    graph.log.clear()
    second = sync(tmp_path, graph, state=first.state)
    assert second.returncode == 0, second.stderr[-2000:]
    days = defaultdict(int)
    for entry in graph.log:
        if entry.get("method") == "POST":
            bounds = json.loads(entry["params"]["time_range"])
            days[entry["object"]] += (date.fromisoformat(bounds["until"])
                                      - date.fromisoformat(bounds["since"])).days + 1
    assert days and all(n == 29 for n in days.values()), days
    assert set(second.keys("ads_insights")) <= set(first.keys("ads_insights"))


def test_breakdown_rows_keep_their_keys_and_add_up(fake_graph, tmp_path):
    graph = fake_graph("small")
    report = {"name": "by_age_gender", "level": "campaign", "breakdowns": ["age", "gender"],
              "fields": ["impressions", "spend"], "action_breakdowns": []}
    run = sync(tmp_path, graph, streams=("insights_by_age_gender", "ads_insights"),
               insights_reports=[report], start_date="2026-11-25T00:00:00Z")
    assert run.returncode == 0, run.stderr[-2000:]
    keys = run.keys("insights_by_age_gender")
    assert run.schemas()["insights_by_age_gender"]["key_properties"] == [
        "campaign_id", "date_start", "age", "gender"]
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    by_campaign: dict[tuple[str, str], int] = defaultdict(int)
    for row in run.records("insights_by_age_gender"):
        by_campaign[row["campaign_id"], row["date_start"]] += row["impressions"]
    from_ads: dict[tuple[str, str], int] = defaultdict(int)
    for row in run.records("ads_insights"):
        from_ads[row["campaign_id"], row["date_start"]] += row["impressions"]
    assert by_campaign == from_ads


def test_jobs_in_flight_stay_under_the_insights_throttle(fake_graph, tmp_path):
    faults = Faults(insights=InsightsFaults(job_seconds=0.4, jobs_per_account=4))
    graph = fake_graph("small", faults=faults)
    run = sync(tmp_path, graph, insights_job_days=1)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.keys("ads_insights")) == graph.truth(insights_since=SINCE)["ads_insights"]
    refused = [e for e in graph.log if e.get("code") in (80000, 4)]
    assert refused == []
    # At most usage_threshold_pct (75 %) of 4 jobs per account: 3 at once.
    assert max(graph.insights.peak_per_account.values()) == 3
