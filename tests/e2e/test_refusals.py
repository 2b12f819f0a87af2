"""What the real Graph API may answer differently, against the fake answering so (issue 23):
report rows that cannot be read, and Page edges that refuse the system user's token."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.clock import DEFAULT_TODAY
from tests.e2e.conftest import Faults, run_tap, tap_config
from tests.e2e.test_insights import SINCE, sync
from tests.fakegraph.insights import InsightsFaults, account_today, months_before

ACCOUNT = "200000000001"


def test_unread_report_rows_are_read_by_the_next_run(fake_graph, tmp_path):
    graph = fake_graph("small", faults=Faults(
        insights=InsightsFaults(unreadable_results={ACCOUNT})))
    first = sync(tmp_path, graph)
    assert first.returncode == 0, first.stderr[-2000:]
    truth = graph.truth(insights_since=SINCE)["ads_insights"]
    ads_of_account = f"25{int(ACCOUNT) - 200_000_000_000:07d}"  # the fake's ad ids
    assert set(first.keys("ads_insights")) == {
        k for k in truth if not k[0].startswith(ads_of_account)}
    partitions = {p["context"]["account_id"]: p.get("replication_key_value")
                  for p in first.state["bookmarks"]["ads_insights"]["partitions"]}
    assert partitions[ACCOUNT] is None and all(
        value for account, value in partitions.items() if account != ACCOUNT)
    assert "Bookmarks kept back (the next run reads those days again): ads_insights ad " \
           f"account {ACCOUNT} with none (its first run starts again)" in first.stderr

    graph.faults.insights.unreadable_results.clear()
    second = sync(tmp_path, graph, state=first.state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert set(first.keys("ads_insights")) | set(second.keys("ads_insights")) == truth


@pytest.mark.parametrize("refusal", [
    (190, 460, "Error validating access token: The session has been invalidated"),
    (200, None, "(#200) Requires pages_manage_metadata permission"),
    (210, None, "(#210) User not visible"),
    (10, None, "(#10) This endpoint requires the 'pages_read_engagement' permission"),
])
def test_a_page_edge_refusing_the_system_user_token_is_read_with_the_page_token(
        fake_graph, tmp_path, refusal):
    graph = fake_graph("small", faults=Faults(page_refusal=refusal))
    run = sync(tmp_path, graph, streams=("page_assignments",))
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.keys("page_assignments")) == graph.truth()["page_assignments"]
    edges = [e for e in graph.log if e["path"].endswith("/assigned_users")]
    assert any(e["code"] == refusal[0] for e in edges if e["status"] != 200)
    assert all(e["page_token"] for e in edges if e["status"] == 200)
    assert "PARTIAL" not in run.stderr


def test_a_page_field_needing_a_permission_costs_the_field_not_the_directory(fake_graph,
                                                                             tmp_path):
    graph = fake_graph("small", faults=Faults(
        field_needs_permission={("Page", "instagram_business_account")}))
    run = sync(tmp_path, graph, streams=("pages", "page_assignments"))
    assert run.returncode == 0, run.stderr[-2000:]
    truth = graph.truth()
    assert set(run.keys("pages")) == truth["pages"]
    assert set(run.keys("page_assignments")) == truth["page_assignments"]
    assert all("instagram_business_account" not in r for r in run.records("pages"))
    assert "Fields left out for the rest of the run (null from then on): " \
           "pages.instagram_business_account" in run.stderr
    assert "PARTIAL" not in run.stderr
    warnings = [line for line in run.stderr.splitlines()
                if "while asked for 'instagram_business_account'" in line]
    assert len(warnings) == 1
    assert warnings[0].split(" | ")[-1].startswith(
        "Graph refused pages edge /100000000000/owned_pages while asked for "
        "'instagram_business_account' (HTTP 403, code 10, fbtrace_id ")
    assert warnings[0].endswith(
        "); it needs instagram_basic (and the Page's Instagram account shared with the app's "
        "business). Reading pages without it for the rest of the run: the column stays null")


@pytest.mark.parametrize(("wall_clock", "header"), [
    (DEFAULT_TODAY, True), (DEFAULT_TODAY, False),
    (date(2026, 12, 31), True), (date(2027, 3, 31), True), (date(2024, 2, 29), False),
], indirect=["wall_clock"])
def test_old_reach_past_its_daily_budget_goes_on_without_reach(fake_graph, tmp_path,
                                                               wall_clock, header):
    """Meta's best practices: reach with breakdowns for start dates more than 13 months back,
    up to 10 (here 1) async jobs per account per day; the header says so, or the refusal.
    The rule is per day: every day less than 13 months old keeps its reach, whatever the
    jobs' boundaries (they straddled it once, and recent days lost reach). The leap day is
    one already past: start_date is checked against this machine's clock before any request
    (a day in the future is refused), and the tap runs on this machine's clock."""
    graph = fake_graph("small", faults=Faults(insights=InsightsFaults(
        reach_jobs_per_day=1, reach_header=header)))
    today = account_today(graph.data.ad_account(1)["timezone_name"])
    assert today == wall_clock.today
    recent = months_before(today, 13)  # the fake's own rule
    since = recent - timedelta(days=47)
    report = {"name": "by_age", "level": "account", "fields": ["impressions", "reach"],
              "breakdowns": ["age"]}
    run = sync(tmp_path, graph, streams=("insights_by_age",), account_ids=[ACCOUNT],
               insights_reports=[report], insights_job_days=10,
               start_date=f"{since.isoformat()}T00:00:00Z")
    assert run.returncode == 0, run.stderr[-2000:]
    posts = [e for e in graph.log if e.get("method") == "POST"]
    refused = [e for e in posts if e["status"] != 200]
    assert len(refused) == (0 if header else 1)
    rows = run.records("insights_by_age")
    days = {r["date_start"] for r in rows}
    assert min(days) == since.isoformat() and max(days) == today.isoformat()
    first_job = {(since + timedelta(days=n)).isoformat() for n in range(10)}
    with_reach = {r["date_start"] for r in rows if r.get("reach") is not None}
    # The budget's one job, and every day from the boundary on; nothing else.
    assert with_reach == first_job | {d for d in days if d >= recent.isoformat()}
    assert {r["date_start"] for r in rows if r.get("reach") is None} == {
        d for d in days if d not in first_job and d < recent.isoformat()}
    warnings = [line for line in run.stderr.splitlines() if "daily budget of reach" in line]
    assert len(warnings) == 1 and f"ad account {ACCOUNT}" in warnings[0]


def test_a_report_without_action_metrics_sends_no_action_breakdowns(fake_graph, tmp_path):
    """The fake refuses action_breakdowns without `actions`, as Meta documents it."""
    graph = fake_graph("small")
    report = {"name": "plain", "level": "campaign", "fields": ["impressions", "spend"]}
    run = sync(tmp_path, graph, streams=("insights_plain",), insights_reports=[report],
               account_ids=[ACCOUNT])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("insights_plain")
    posts = [e for e in graph.log if e.get("method") == "POST"]
    assert posts and all("action_breakdowns" not in e["params"] for e in posts)


def test_a_media_type_report_says_no_action_breakdowns_and_is_read(fake_graph, tmp_path):
    """Graph refuses media_type with its default action breakdown (action_type); `[]` must
    reach it as `[]`, not be left out."""
    graph = fake_graph("small")
    report = {"name": "by_media", "level": "ad", "fields": ["impressions", "spend"],
              "breakdowns": ["media_type"], "action_breakdowns": []}
    run = sync(tmp_path, graph, streams=("insights_by_media",), insights_reports=[report],
               account_ids=[ACCOUNT])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("insights_by_media")
    posts = [e for e in graph.log if e.get("method") == "POST"]
    assert posts and all(e["params"]["action_breakdowns"] == "[]" for e in posts)


@pytest.mark.parametrize(("report", "message"), [
    ({"fields": ["impressions"], "breakdowns": ["media_format"]},
     "breakdowns: Graph answers media_format as a nonexisting field, though Meta's SDK lists "
     "it; media_type is the media breakdown it reads (with \"action_breakdowns\": [])."),
    ({"fields": ["impressions", "actions"], "breakdowns": ["media_type"]},
     "breakdowns: Graph refuses media_type with any action breakdown (action_type here; "
     "action_type is Meta's default); add \"action_breakdowns\": [] to the report."),
    ({"fields": ["impressions", "reach"],
      "breakdowns": ["hourly_stats_aggregated_by_advertiser_time_zone"]},
     "Graph counts no reach or unique people by the hour: reach cannot go with "
     "hourly_stats_aggregated_by_advertiser_time_zone; name the report's fields without them."),
])
def test_a_report_graph_would_refuse_is_one_line_before_any_request(fake_graph, tmp_path,
                                                                     report, message):
    """The fake refuses each of these jobs as Graph does; the tap never sends one."""
    graph = fake_graph("small")
    config = tap_config(graph, insights_reports=[{"name": "x", "level": "ad", **report}],
                        account_ids=[ACCOUNT])
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert [line for line in run.stderr.splitlines() if "error" in line] == [
        f"tap-meta-bm: error: insights_reports['x']: {message}"]
    assert graph.log == []


def test_an_opt_in_breakdown_answering_nothing_keeps_the_days_unread(fake_graph, tmp_path):
    """Since 2026-08-03 impression_device needs Meta's opt-in on most accounts: without it
    the report's jobs finish with no rows. The account delivered on those days, so its
    bookmark must not pass them; an account that is opted in moves on."""
    graph = fake_graph("small", faults=Faults(insights=InsightsFaults(
        not_opted_in={ACCOUNT})))
    other = "200000000002"
    report = {"name": "by_device", "level": "campaign", "fields": ["impressions", "spend"],
              "breakdowns": ["impression_device"]}
    first = sync(tmp_path, graph, streams=("insights_by_device",), insights_reports=[report],
                 account_ids=[ACCOUNT, other])
    assert first.returncode == 0, first.stderr[-2000:]
    assert "insights_reports['by_device']: breakdown impression_device needs Meta's opt-in on " \
           "most ad accounts since 2026-08-03: an account without it answers no rows, and " \
           "keeps its bookmark until it has (README, Insights)." in first.stderr
    assert {row["account_id"] for row in first.records("insights_by_device")} == {other}
    bookmarks = {p["context"]["account_id"]: p.get("replication_key_value")
                 for p in first.state["bookmarks"]["insights_by_device"]["partitions"]}
    assert bookmarks[ACCOUNT] is None and bookmarks[other]
    delivered = [line for line in first.stderr.splitlines() if "answered no rows, yet" in line]
    assert len(delivered) == 1 and f"ad account {ACCOUNT}: impression_device answered no " \
        "rows, yet it delivered" in delivered[0]
    assert "its bookmark stays with none (its first run starts again)" in delivered[0]

    # Opted in: the days are read.
    graph.faults.insights.not_opted_in.clear()
    second = sync(tmp_path, graph, state=first.state, streams=("insights_by_device",),
                  insights_reports=[report], account_ids=[ACCOUNT, other])
    assert second.returncode == 0, second.stderr[-2000:]
    assert ACCOUNT in {row["account_id"] for row in second.records("insights_by_device")}
    assert "answered no rows" not in second.stderr


def test_an_account_meta_never_unthrottles_is_skipped_and_the_rest_is_read(fake_graph,
                                                                           tmp_path):
    """Meta blocks one ad account for longer than max_throttle_wait: its reads give up at
    once (no waiting that cannot help), each skip says so, every other account is read."""
    blocked = "200000000001"
    graph = fake_graph("small", faults=Faults(throttle_object=blocked, throttle_at_call=1,
                                              throttle_seconds=10 ** 7))
    run = run_tap(tmp_path, tap_config(graph, max_throttle_wait=600))
    assert run.returncode == 0, run.stderr[-2000:]
    skips = [line for line in run.stderr.splitlines()
             if "| Skipping " in line and " edge " in line]
    said = (f"Meta kept object {blocked} throttled for 10000000 s in all, more than "
            "max_throttle_wait; it last said: There have been too many calls to this "
            "ad-account. Wait a bit and try again.")
    assert len(skips) >= 5 and all(said in line for line in skips)
    accounts = {r["account_id"] for r in run.records("ad_accounts")}
    assert blocked in accounts
    assert {r["account_id"] for r in run.records("campaigns")} == accounts - {blocked}
    assert {(r["id"],) for r in run.records("campaigns")} < graph.truth()["campaigns"]


def test_the_newest_version_reads_everything(fake_graph, tmp_path):
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph, api_version="v27.0"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert {(r["id"],) for r in run.records("campaigns")} == graph.truth()["campaigns"]
    assert {entry["path"].split("/")[1] for entry in graph.log} == {"v27.0"}
    assert "X-Ad-Api-Version-Warning" not in run.stderr and "warns about" not in run.stderr


def test_a_version_about_to_expire_is_one_warning_in_metas_words(fake_graph, tmp_path):
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph, api_version="v25.0"))
    assert run.returncode == 0, run.stderr[-2000:]
    warned = [line.split("| ")[-1] for line in run.stderr.splitlines() if "warns about" in line]
    assert warned == ["Graph warns about api_version v25.0: Graph API v25.0 will be deprecated "
                      "on 2027-02-23; upgrade to v27.0. Set api_version to a current version "
                      "before this one stops answering."]


def test_an_expired_version_is_one_line_naming_what_to_set(fake_graph, tmp_path):
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph, api_version="v24.0"))
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("tap-meta-bm: error")]
    (error,) = errors
    assert re.fullmatch(re.escape(
        "tap-meta-bm: error: Graph no longer serves api_version v24.0: (#2635) You are calling "
        "a deprecated version of the Ads API. Please update to the latest version: v27.0. "
        "[HTTP 400, code 2635, fbtrace_id ") + r"Fake\w+" + re.escape(
        "]. Set api_version to v27.0 (Marketing API versions live about a year)."), error)
    assert "Traceback" not in run.stderr


def test_a_metric_meta_retired_costs_its_column_not_the_run(fake_graph, tmp_path):
    """Insights refuse a retired metric as "(#100) cpp is not valid for fields param", on the
    report job's POST: the metric is left out of every job after, with one warning and a
    summary line; every row is read, its cpp null."""
    graph = fake_graph("small", faults=Faults(drop_field=("AdsInsights", "cpp")))
    run = sync(tmp_path, graph)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.keys("ads_insights")) == graph.truth(insights_since=SINCE)["ads_insights"]
    assert all(r.get("cpp") is None for r in run.records("ads_insights"))
    assert any(r.get("cpm") is not None for r in run.records("ads_insights"))
    warned = [line.split("| ")[-1] for line in run.stderr.splitlines()
              if "no longer reads field" in line]
    assert len(warned) == 1 and warned[0].startswith(
        "Graph v26.0 no longer reads field 'cpp' of stream ads_insights [HTTP 400, code 100")
    posts = [e for e in graph.log if e.get("method") == "POST"]
    assert "cpp" in posts[0]["params"]["fields"].split(",")
    assert all("cpp" not in e["params"]["fields"].split(",") for e in posts[1:]
               if e["status"] == 200)


def test_a_retired_metric_a_custom_report_names_is_one_line_naming_it(fake_graph, tmp_path):
    graph = fake_graph("small", faults=Faults(drop_field=("AdsInsights", "cpp")))
    report = {"name": "costs", "level": "campaign", "fields": ["spend", "cpp"]}
    run = sync(tmp_path, graph, streams=("insights_costs",), insights_reports=[report])
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("tap-meta-bm: error")]
    assert len(errors) == 1 and errors[0].startswith(
        "tap-meta-bm: error: insights_costs edge /act_")
    assert errors[0].endswith(
        "/insights: Graph v26.0 no longer reads 'cpp', which the report of stream "
        "insights_costs names in insights_reports [HTTP 400, code 100, fbtrace_id "
        + errors[0].split("fbtrace_id ")[1].split("]")[0] + "]. Take it out of the report's "
        "fields, or pin api_version to the version that worked.")
    assert "Traceback" not in run.stderr
