"""ads_insights and custom reports: exact requests, exact rows and state, validation."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests_mock
from facebook_business.adobjects.adsinsights import AdsInsights
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.contrib.msgspec import serialize_jsonl

from tap_meta_bm.errors import ConfigError
from tap_meta_bm.insights.calendar import months_before, old_reach_before, windows
from tap_meta_bm.insights.catalog import (
    ACTION_BREAKDOWNS,
    ATTRIBUTION_WINDOWS,
    BREAKDOWNS,
    FIELD_KINDS,
    LEVELS,
)
from tap_meta_bm.insights.decoding import exact_number, page_decoder
from tap_meta_bm.insights.report import DEFAULT_METRICS, InsightsReport, parse_report
from tap_meta_bm.tap import TapMetaBM
from tests.graph_sdk import readable_fields
from tests.helpers import (
    BASE,
    BUSINESS,
    REPORT_PREFIX,
    catalog,
    config,
    last_state,
    messages_of,
    mock_batch,
    mock_empty_graph,
    page,
    path,
    query,
    records,
    run,
)

NOW = 1_796_126_400  # 2026-12-01T12:00:00Z: the runs' start, frozen
TODAY_TOKYO = "2026-12-01"  # 21:00 in Tokyo
TODAY_LOS_ANGELES = "2026-12-01"  # 04:00 in Los Angeles
ROW = {"account_id": "1", "ad_id": "d1", "date_start": "2026-11-30", "date_stop": "2026-11-30",
       "impressions": "1200", "spend": "12.34", "ctr": "1.234568",
       "actions": [{"action_type": "link_click", "value": "7", "7d_click": "6",
                    "1d_view": "1"}]}


@pytest.fixture(autouse=True)
def frozen_start(monkeypatch):
    monkeypatch.setattr("tap_meta_bm.run.time.time", lambda: float(NOW))


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mock_batch(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([
            {"id": "act_1", "timezone_name": "Asia/Tokyo"},
            {"id": "act_2", "timezone_name": "America/Los_Angeles"}]))
        mocker.get(f"{BASE}/{REPORT_PREFIX}1/insights", json=page([ROW]))
        yield mocker


def posts(mocker):
    return [(path(r), {k: v[0] for k, v in parse_qs(r.text).items()})
            for r in mocker.request_history if r.method == "POST" and "insights" in r.url]


def test_report_jobs_are_asked_polled_and_read_exactly(graph):
    messages = run(["ads_insights"], start_date="2026-11-15T00:00:00Z")
    fields = ",".join(["account_id", "account_name", "campaign_id", "campaign_name", "adset_id",
                       "adset_name", "ad_id", "ad_name", "date_start", "date_stop",
                       *DEFAULT_METRICS])
    common = {"level": "ad", "time_increment": "1",
              "action_attribution_windows": '["7d_click","1d_view"]',
              "action_breakdowns": '["action_type"]', "fields": fields}
    assert posts(graph) == [
        ("/v26.0/act_1/insights", {**common, "time_range":
                                   '{"since":"2026-11-15","until":"2026-12-01"}'}),
        ("/v26.0/act_2/insights", {**common, "time_range":
                                   '{"since":"2026-11-15","until":"2026-12-01"}'}),
    ]
    # The POST carries its parameters in the body, its token in the header, nothing in a URL.
    post = next(r for r in graph.request_history if r.method == "POST")
    assert post.url == f"{BASE}/act_1/insights"
    assert post.headers["Authorization"].startswith("Bearer ")
    polls = [r for r in graph.request_history if path(r) == f"/v26.0/{REPORT_PREFIX}1"]
    assert query(polls[0]) == {"fields": "async_status,async_percent_completion,error_code,"
                                         "error_subcode,error_message,error_user_msg"}
    reads = [r for r in graph.request_history if path(r).endswith(f"{REPORT_PREFIX}1/insights")]
    assert [query(r) for r in reads] == [{"limit": "500"}]
    assert records(messages, "ads_insights") == [{
        "business_id": BUSINESS, "account_id": "1", "ad_id": "d1", "date_start": "2026-11-30",
        "date_stop": "2026-11-30", "impressions": 1200, "spend": 12.34, "ctr": 1.234568,
        "actions": [{"action_type": "link_click", "value": 7, "7d_click": 6, "1d_view": 1}]}]
    assert last_state(messages)["bookmarks"]["ads_insights"] == {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "date_start",
         "replication_key_value": TODAY_TOKYO},
        {"context": {"account_id": "2"}, "replication_key": "date_start",
         "replication_key_value": TODAY_LOS_ANGELES}]}


def test_a_rerun_reads_the_lookback_before_each_bookmark(graph):
    state = {"bookmarks": {"ads_insights": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "date_start",
         "replication_key_value": "2026-11-20"}]}}}
    run(["ads_insights"], state=state, insights_lookback_days=7)
    ranges = [json.loads(body["time_range"]) for _, body in posts(graph)]
    assert ranges == [{"since": "2026-11-13", "until": "2026-12-01"},  # bookmark - 7 days
                      {"since": "2026-11-24", "until": "2026-12-01"}]  # no bookmark: lookback


def test_the_lookback_never_reaches_before_start_date(graph):
    state = {"bookmarks": {"ads_insights": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "date_start",
         "replication_key_value": "2026-11-20"}]}}}
    run(["ads_insights"], state=state, insights_lookback_days=7,
        start_date="2026-11-16T00:00:00Z")
    ranges = [json.loads(body["time_range"]) for _, body in posts(graph)]
    assert ranges == [{"since": "2026-11-16", "until": "2026-12-01"},  # not 2026-11-13
                      {"since": "2026-11-16", "until": "2026-12-01"}]  # no bookmark: start


def test_a_start_date_beyond_37_months_starts_at_the_limit(graph, caplog):
    caplog.set_level(logging.WARNING)
    run(["ads_insights"], start_date="2020-01-01T00:00:00Z", account_ids=["1"])
    first = json.loads(posts(graph)[0][1]["time_range"])
    assert first == {"since": "2023-11-02", "until": "2023-12-01"}  # 37 months + 1 day back
    assert "ads_insights: Meta keeps insights for 37 months; 1 ad account(s) start at that " \
           "limit instead (start_date is earlier)" in caplog.messages


def test_job_windows_cover_every_day_once_in_whole_increments():
    from datetime import date
    assert windows(date(2026, 1, 1), date(2026, 3, 5), 30, 1) == [
        (date(2026, 1, 1), date(2026, 1, 30)), (date(2026, 1, 31), date(2026, 3, 1)),
        (date(2026, 3, 2), date(2026, 3, 5))]
    assert windows(date(2026, 1, 1), date(2026, 1, 20), 30, 7) == [
        (date(2026, 1, 1), date(2026, 1, 20))]
    assert windows(date(2026, 1, 1), date(2026, 1, 20), 10, 7) == [
        (date(2026, 1, 1), date(2026, 1, 7)), (date(2026, 1, 8), date(2026, 1, 14)),
        (date(2026, 1, 15), date(2026, 1, 20))]
    assert months_before(date(2026, 3, 31), 37) == date(2023, 2, 28)


def test_job_windows_never_straddle_the_old_reach_boundary():
    from datetime import date
    # Daily rows: the cut is the boundary itself.
    assert windows(date(2025, 10, 1), date(2025, 11, 20), 30, 1, split_at=date(2025, 11, 7)) \
        == [(date(2025, 10, 1), date(2025, 10, 30)), (date(2025, 10, 31), date(2025, 11, 6)),
            (date(2025, 11, 7), date(2025, 11, 20))]
    # Weekly rows: the first whole week from the boundary on; the week across it stays whole.
    assert windows(date(2025, 10, 1), date(2025, 11, 20), 14, 7, split_at=date(2025, 11, 7)) \
        == [(date(2025, 10, 1), date(2025, 10, 14)), (date(2025, 10, 15), date(2025, 10, 28)),
            (date(2025, 10, 29), date(2025, 11, 11)), (date(2025, 11, 12), date(2025, 11, 20))]
    # A boundary outside the range changes nothing.
    for outside in (date(2025, 10, 1), date(2025, 9, 1), date(2025, 12, 1)):
        assert windows(date(2025, 10, 1), date(2025, 11, 20), 30, 1, split_at=outside) == \
            windows(date(2025, 10, 1), date(2025, 11, 20), 30, 1)
    assert old_reach_before(date(2026, 12, 7)) == date(2025, 11, 7)
    assert old_reach_before(date(2028, 2, 29)) == date(2027, 1, 29)
    assert old_reach_before(date(2027, 3, 31)) == date(2026, 2, 28)


@settings(max_examples=2000, deadline=None)
@given(mantissa=st.integers(-(10**15) + 1, 10**15 - 1), places=st.integers(0, 6))
def test_graph_decimals_leave_the_tap_digit_for_digit(mantissa, places):
    # Any decimal of up to 15 significant digits (every amount below 10^9 with 6 decimals,
    # below 10^13 with cents), read off a page as the tap reads it and written in a RECORD as
    # the tap writes it: the same number, whatever binary float carried it in between.
    text = str(Decimal(mantissa).scaleb(-places))
    body = json.dumps({"data": [{"spend": text, "actions": [
        {"action_type": "lead", "value": text, "7d_click": text}]}]})
    decode = page_decoder(InsightsReport("r", fields=("spend", "actions")))
    (row,) = decode(body.encode())["data"]
    written = json.loads(bytes(serialize_jsonl(row)), parse_float=Decimal)
    assert written == {"spend": Decimal(text), "actions": [
        {"action_type": "lead", "value": Decimal(text), "7d_click": Decimal(text)}]}


def test_money_and_rates_stay_exact_to_the_last_digit():
    total = sum((exact_number(v) for v in ["0.10", "0.20", "1234567890.01"]), Decimal(0))
    assert total == Decimal("1234567890.31")
    assert exact_number("12.340") == Decimal("12.340")
    assert exact_number("n/a") == "n/a"


def test_a_custom_report_is_a_stream_keyed_by_level_date_and_breakdowns(graph):
    report = {"name": "by_age", "level": "campaign", "fields": ["impressions", "spend"],
              "breakdowns": ["age", "gender"], "action_breakdowns": []}
    tap = TapMetaBM(config=config(insights_reports=[report]))
    stream = tap.streams["insights_by_age"]
    assert stream.primary_keys == ("campaign_id", "date_start", "age", "gender")
    assert list(stream.schema["properties"]) == [
        "business_id", "account_id", "account_name", "campaign_id", "campaign_name",
        "date_start", "date_stop", "impressions", "spend", "age", "gender"]
    graph.get(f"{BASE}/{REPORT_PREFIX}1/insights", json=page([
        {"campaign_id": "c1", "date_start": "2026-11-30", "date_stop": "2026-11-30",
         "impressions": "5", "age": "18-24"}]))
    messages = run(["insights_by_age"], insights_reports=[report], account_ids=["1"],
                   start_date="2026-11-30T00:00:00Z")
    body = posts(graph)[0][1]
    assert body["breakdowns"] == '["age","gender"]'
    # Said, not left out: left out, Graph would split by action_type (its default).
    assert body["action_breakdowns"] == "[]"
    assert body["fields"] == "account_id,account_name,campaign_id,campaign_name,date_start," \
                             "date_stop,impressions,spend"
    # A breakdown Graph left out of a row is '' (never null: it is part of the key).
    assert records(messages, "insights_by_age") == [{
        "business_id": BUSINESS, "account_id": "1", "campaign_id": "c1",
        "date_start": "2026-11-30",
        "date_stop": "2026-11-30", "impressions": 5, "age": "18-24", "gender": ""}]


@pytest.mark.parametrize(("report", "message"), [
    ({"name": "x", "level": "adgroup"},
     "insights_reports['x']: level 'adgroup' must be one of account, ad, adset, campaign."),
    ({"name": "x", "breakdowns": ["agee"]},
     "insights_reports['x']: breakdowns: 'agee' is not a breakdown Graph accepts (did you "
     "mean age?)."),
    ({"name": "x", "fields": ["spend", "cost_per_inline_click"]},
     "insights_reports['x']: fields: 'cost_per_inline_click' is not a readable AdsInsights "
     "field Graph accepts (did you mean cost_per_inline_link_click, cost_per_unique_click?)."),
    ({"name": "x", "action_attribution_windows": ["7d_clicks"]},
     "insights_reports['x']: action_attribution_windows: '7d_clicks' is not an attribution "
     "window Graph accepts (did you mean 7d_click, 1d_click?)."),
    ({"name": "x", "time_increment": 0},
     "insights_reports['x']: time_increment must be a whole number from 1 to 90."),
    ({"name": "Bad-Name"}, "insights_reports['Bad-Name']: name must be lower case letters, "
                           "digits and _ (starting with a letter); it names the stream "
                           "insights_<name>."),
    ({"name": "x", "breakdown": ["age"]}, "insights_reports['x']: unknown setting "
                                          "'breakdown'; a report takes name, level, fields, "
                                          "breakdowns, action_breakdowns, time_increment, "
                                          "action_attribution_windows, action_report_time, "
                                          "lookback_days."),
    ({"name": "x", "fields": ["age"], "breakdowns": ["age"]},
     "insights_reports['x']: fields: 'age' is not a readable AdsInsights field Graph "
     "accepts."),
    # What Graph refuses of a combination (issue 31, item 5): each failed the first job.
    ({"name": "x", "fields": ["spend"], "breakdowns": ["age", "media_creator"]},
     "insights_reports['x']: breakdowns: Graph answers media_creator as a nonexisting field, "
     "though Meta's SDK lists it; media_type is the media breakdown it reads (with "
     "\"action_breakdowns\": [])."),
    ({"name": "x", "fields": ["spend"], "breakdowns": ["media_type"]},
     "insights_reports['x']: breakdowns: Graph refuses media_type with any action breakdown "
     "(action_type here; action_type is Meta's default); add \"action_breakdowns\": [] to the "
     "report."),
    ({"name": "x", "fields": ["spend", "actions"], "breakdowns": ["media_type"],
      "action_breakdowns": ["action_device"]},
     "insights_reports['x']: breakdowns: Graph refuses media_type with any action breakdown "
     "(action_device here; action_type is Meta's default); add \"action_breakdowns\": [] to "
     "the report."),
    ({"name": "x", "fields": ["spend", "reach", "unique_clicks"],
      "breakdowns": ["hourly_stats_aggregated_by_advertiser_time_zone"]},
     "insights_reports['x']: Graph counts no reach or unique people by the hour: reach, "
     "unique_clicks cannot go with hourly_stats_aggregated_by_advertiser_time_zone; name the "
     "report's fields without them."),
    ({"name": "x", "breakdowns": ["hourly_stats_aggregated_by_audience_time_zone"]},
     "insights_reports['x']: Graph counts no reach or unique people by the hour: reach, "
     "frequency, unique_clicks, unique_inline_link_clicks, cpp, unique_ctr, unique_actions "
     "cannot go with hourly_stats_aggregated_by_audience_time_zone; name the report's fields "
     "without them."),
])
def test_report_mistakes_are_one_line_before_any_request(report, message):
    with requests_mock.Mocker() as mocker:  # no request may go out
        with pytest.raises(ConfigError) as raised:
            _ = TapMetaBM(config=config(insights_reports=[report])).streams
        assert mocker.request_history == []
    assert str(raised.value) == message


def test_two_reports_of_one_name_are_refused():
    with pytest.raises(ConfigError, match=r"insights_reports\['x'\]: a stream called "
                                          r"insights_x exists already; rename the report."):
        _ = TapMetaBM(config=config(insights_reports=[{"name": "x"}, {"name": "x"}])).streams


def test_retired_attribution_windows_are_warned_about(caplog):
    caplog.set_level(logging.WARNING)
    _ = TapMetaBM(config=config(insights_attribution_windows=["7d_click", "28d_view"])).streams
    assert "insights_attribution_windows: the 28d_view attribution window returns no data " \
           "since 2026-01-12 (Meta retired it); its values will be empty." in caplog.messages


def test_the_catalog_is_the_sdks():
    """Every readable AdsInsights field, each list-typed one a list kind, every enum: the SDK's
    (a new SDK that changes any of them fails here, not in a user's run)."""
    types = AdsInsights._field_types
    assert set(FIELD_KINDS) == readable_fields("AdsInsights")
    for name, kind in FIELD_KINDS.items():
        expected = {"list<AdsActionStats>": "actions", "list<AdsHistogramStats>": "histogram",
                    "list<Object>": "objects"}.get(types[name])
        assert kind == expected if expected else kind in ("text", "count", "number"), name

    def enum(kind: type) -> frozenset[str]:
        return frozenset(v for k, v in vars(kind).items() if not k.startswith("_"))

    assert enum(AdsInsights.Level) == LEVELS
    assert enum(AdsInsights.Breakdowns) == BREAKDOWNS
    assert enum(AdsInsights.ActionBreakdowns) == ACTION_BREAKDOWNS
    assert enum(AdsInsights.ActionAttributionWindows) == ATTRIBUTION_WINDOWS
    assert set(DEFAULT_METRICS) <= set(FIELD_KINDS)


def test_a_page_that_does_not_fit_its_type_is_converted_all_the_same(graph):
    """Rows decode into numbers in one pass; a page Graph shapes otherwise (here a text field
    sent as a number) decodes as plain JSON and is converted row by row, to the same numbers."""
    graph.get(f"{BASE}/{REPORT_PREFIX}1/insights", json=page([{
        **ROW, "account_id": 1, "impressions": "12.5"}]))
    messages = run(["ads_insights"], start_date="2026-11-30T00:00:00Z", account_ids=["1"])
    [record] = records(messages, "ads_insights")
    assert (record["account_id"], record["impressions"], record["spend"], record["actions"]) == (
        1, 12.5, 12.34, [{"action_type": "link_click", "value": 7, "7d_click": 6,
                          "1d_view": 1}])


def test_a_bad_attribution_window_of_ads_insights_is_one_line_before_any_request():
    with requests_mock.Mocker() as mocker, pytest.raises(ConfigError) as raised:
        _ = TapMetaBM(config=config(insights_attribution_windows=["7d_clicks"])).streams
    assert mocker.request_history == []
    assert str(raised.value) == ("insights_attribution_windows: '7d_clicks' is not an "
                                 "attribution window Graph accepts (did you mean 7d_click, "
                                 "1d_click?).")


@pytest.mark.parametrize(("fields", "sent"), [
    (["impressions", "spend"], None),  # no action metric: action_breakdowns is not sent
    (["impressions", "actions"], '["action_type"]'),
    (["cost_per_action_type"], '["action_type"]'),
])
def test_action_breakdowns_only_with_an_action_metric(fields, sent):
    report = parse_report({"name": "x", "fields": fields}, set())
    assert dict(report.params()).get("action_breakdowns") == sent


def test_report_jobs_start_when_the_run_does_not_when_the_stream_comes(graph):
    # Jobs run at Meta for seconds to minutes: started with the run, they run while the
    # streams before insights are read (tap_meta_bm/insights/stream.py, start_early).
    tap = TapMetaBM(config=config(), catalog=catalog(["campaigns", "ads_insights"]))
    jobs_when_campaigns_were_read: list[bool] = []

    def campaigns(request, context):
        jobs_when_campaigns_were_read.append(tap.streams["ads_insights"]._jobs is not None)
        return page([])

    graph.get(f"{BASE}/act_1/campaigns", json=campaigns)
    messages_of(tap.sync_all)
    assert jobs_when_campaigns_were_read == [True]
    assert [body["time_range"] for _, body in posts(graph)]  # and they were asked for


def test_a_dry_run_starts_no_report_job_ahead_of_its_turn(graph):
    tap = TapMetaBM(config=config(), catalog=catalog(["campaigns", "ads_insights"]))
    seen: list[bool] = []
    graph.get(f"{BASE}/act_1/campaigns", json=lambda request, context: (
        seen.append(tap.streams["ads_insights"]._jobs is not None), page([]))[1])
    messages_of(lambda: tap.run_sync_dry_run(dry_run_record_limit=1))
    assert seen == [False]


def test_a_start_date_past_an_accounts_day_reads_nothing_and_moves_no_bookmark(graph):
    """2026-12-02 is within start_date's day of slack, and after both accounts' day: no job,
    and no bookmark moves past a day that was not read."""
    state = {"bookmarks": {"ads_insights": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "date_start",
         "replication_key_value": "2026-11-20"}]}}}
    messages = run(["ads_insights"], state=state, start_date="2026-12-02T00:00:00Z")
    assert posts(graph) == []
    partitions = last_state(messages)["bookmarks"]["ads_insights"]["partitions"]
    assert [(p["context"]["account_id"], p.get("replication_key_value"))
            for p in partitions] == [("1", "2026-11-20"), ("2", None)]
