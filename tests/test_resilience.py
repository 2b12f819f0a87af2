"""The error policy end to end inside the tap: retries, throttles, shrinking, skips, token."""

from __future__ import annotations

import json

import pytest
import requests

from tap_meta_bm import cli
from tap_meta_bm.edges import EdgePolicy
from tap_meta_bm.errors import GraphFatalError, GraphUnreachableError
from tap_meta_bm.recovery import RetryPolicy
from tap_meta_bm.tap import TapMetaBM
from tests.helpers import (
    BASE,
    BUSINESS,
    TOKEN,
    page,
    path,
    query,
    records,
    run,
    sdk_state,
)

REDUCE = {"error": {"message": "Please reduce the amount of data you're asking for, then retry "
                               "your request", "code": 1, "error_subcode": 99,
                    "fbtrace_id": "R1"}}
TRANSIENT = {"error": {"message": "An unexpected error has occurred. Please retry your request "
                                  "later.", "code": 2, "is_transient": True, "fbtrace_id": "T"}}


@pytest.fixture
def graph(two_account_graph):
    return two_account_graph


def campaign_paths(graph):
    return [path(r) for r in graph.request_history if path(r).endswith("/campaigns")]


def test_transient_errors_are_retried_then_succeed(graph, fake_time):
    graph.get(f"{BASE}/act_1/campaigns", [
        {"status_code": 503, "json": TRANSIENT},
        {"status_code": 200, "text": "Service Unavailable"},
        {"json": page([{"id": "c1", "updated_time": "2024-01-01T00:00:00+0000"}])},
    ])
    messages = run(["campaigns"])
    assert [r["id"] for r in records(messages, "campaigns")] == ["c1"]
    assert campaign_paths(graph) == ["/v26.0/act_1/campaigns"] * 3 + ["/v26.0/act_2/campaigns"]
    assert len(fake_time.sleeps) == 2
    assert all(0 <= s <= 2 for s in fake_time.sleeps)  # full jitter on 1 s, then 2 s


def test_transient_errors_give_up_after_bounded_attempts(graph, fake_time):
    graph.get(f"{BASE}/act_1/campaigns", status_code=500, json=TRANSIENT)
    with pytest.raises(GraphFatalError) as raised:
        run(["campaigns"])
    assert str(raised.value).startswith(
        f"campaigns edge /act_1/campaigns: still failing after {RetryPolicy.transient_attempts} "
        "attempts: campaigns edge /act_1/campaigns: An unexpected error has occurred.")
    assert campaign_paths(graph) == ["/v26.0/act_1/campaigns"] * RetryPolicy.transient_attempts


def test_a_host_that_accepts_no_connection_is_tried_three_times(graph, fake_time):
    graph.get(f"{BASE}/act_1/campaigns", exc=requests.exceptions.ConnectTimeout)
    with pytest.raises(GraphUnreachableError) as raised:
        run(["campaigns"], connect_timeout=7)
    assert str(raised.value) == (
        "graph.facebook.com:443 did not accept a connection within connect_timeout (7 s), "
        f"{RetryPolicy.connect_attempts} times in a row, for campaigns edge /act_1/campaigns. "
        "Check api_url (https://graph.facebook.com) and the network; for a slow but working "
        "Graph, raise that timeout.")
    assert campaign_paths(graph) == ["/v26.0/act_1/campaigns"] * RetryPolicy.connect_attempts
    assert len(fake_time.sleeps) == RetryPolicy.connect_attempts - 1  # backoff between the attempts


def test_throttled_account_gets_no_request_until_meta_says_so(graph, fake_time):
    sent_at: list[float] = []

    def throttled_then_ok(request, context):
        sent_at.append(fake_time.now)
        if len(sent_at) == 1:
            context.status_code = 400
            context.headers["X-Business-Use-Case-Usage"] = json.dumps({"1": [{
                "type": "ads_management", "call_count": 100, "total_cputime": 10,
                "total_time": 10, "estimated_time_to_regain_access": 3}]})
            return {"error": {"message": "too many calls", "code": 80004, "fbtrace_id": "X"}}
        return page([{"id": "c1", "updated_time": "2024-01-01T00:00:00+0000"}])

    graph.get(f"{BASE}/act_1/campaigns", json=throttled_then_ok)
    messages = run(["campaigns"])
    assert [r["id"] for r in records(messages, "campaigns")] == ["c1"]
    assert sent_at[1] - sent_at[0] >= 180  # 3 minutes: estimated_time_to_regain_access
    assert fake_time.sleeps == [180.0]


def never_lifts(minutes: int, code: int = 80004, key: str = "1"):
    """Graph's throttle answer, every time: blocked for `minutes` more."""
    def answer(request, context):
        context.status_code = 400
        context.headers["X-Business-Use-Case-Usage"] = json.dumps({key: [{
            "type": "ads_management", "call_count": 100, "total_cputime": 10,
            "total_time": 10, "estimated_time_to_regain_access": minutes}]})
        return {"error": {"message": "There have been too many calls to this ad-account.",
                          "code": code, "error_subcode": 2446079, "fbtrace_id": "X"}}
    return answer


def test_a_throttle_that_never_lifts_skips_that_account_and_the_run_goes_on(graph, fake_time,
                                                                            caplog):
    graph.get(f"{BASE}/act_1/campaigns", json=never_lifts(30))
    graph.get(f"{BASE}/act_2/campaigns", json=page([
        {"id": "c2", "updated_time": "2024-01-01T00:00:00+0000"}]))
    messages = run(["campaigns"], max_throttle_wait=3000, max_workers=1)
    assert [r["id"] for r in records(messages, "campaigns")] == ["c2"]
    # 30 minutes waited; the second block would make an hour in all, more than 3000 s.
    assert fake_time.sleeps == [1800.0]
    assert len(campaign_paths(graph)) == 3  # act_1 twice, act_2 once
    assert [r.getMessage() for r in caplog.records
            if r.getMessage().startswith("Skipping campaigns")] == [
        "Skipping campaigns edge /act_1/campaigns: Meta kept object 1 throttled for 3600 s in "
        "all, more than max_throttle_wait; it last said: There have been too many calls to "
        "this ad-account. [HTTP 400, code 80004/2446079, fbtrace_id X]; skipped for this "
        "run (raise max_throttle_wait to wait longer)."]


def test_an_app_throttle_that_never_lifts_ends_the_run_in_one_line(graph, fake_time):
    def app_throttled(request, context):
        context.status_code = 400
        context.headers["X-App-Usage"] = json.dumps({"call_count": 100, "total_time": 10,
                                                     "total_cputime": 10})
        return {"error": {"message": "Application request limit reached", "code": 4,
                          "fbtrace_id": "A"}}
    graph.get(f"{BASE}/act_1/campaigns", json=app_throttled)
    with pytest.raises(GraphFatalError) as raised:
        run(["campaigns"], max_throttle_wait=100, max_workers=1)
    # X-App-Usage at 100 % blocks the app (governor.py); the throttle that follows counts.
    assert str(raised.value) == (
        "Meta kept the app (every object) throttled for 120 s in all, more than "
        "max_throttle_wait; it last said: Application request limit reached [HTTP 400, "
        "code 4, fbtrace_id A]. Run again later, or raise max_throttle_wait.")


def test_too_much_data_halves_the_page_and_loses_nothing(graph, fake_time):
    graph.get(f"{BASE}/act_1/campaigns", [
        {"status_code": 500, "json": REDUCE},
        {"json": page([{"id": "c1", "updated_time": "2024-01-01T00:00:00+0000"}], after="A")},
        {"status_code": 500, "json": REDUCE},
        {"json": page([{"id": "c2", "updated_time": "2024-01-02T00:00:00+0000"}])},
    ])
    messages = run(["campaigns"], page_size=400)
    assert [r["id"] for r in records(messages, "campaigns")] == ["c1", "c2"]
    sent = [(query(r)["limit"], query(r).get("after")) for r in graph.request_history
            if path(r).endswith("/campaigns")]
    assert sent == [("400", None), ("200", None), ("200", "A"), ("100", "A"), ("100", None)]
    assert fake_time.sleeps == []


def test_too_much_data_at_limit_one_is_a_clear_error(graph, fake_time):
    graph.get(f"{BASE}/act_1/campaigns", status_code=500, json=REDUCE)
    with pytest.raises(GraphFatalError, match=r"even limit=1 is too much data; deselect heavy "):
        run(["campaigns"], page_size=2)


def test_permission_denied_edge_is_skipped_and_reported(graph, fake_time, caplog):
    graph.get(f"{BASE}/act_1/campaigns", status_code=403, json={"error": {
        "message": "(#200) Ad account owner has NOT grant ads_management or ads_read "
                   "permission", "code": 200, "fbtrace_id": "P1"}})
    graph.get(f"{BASE}/act_2/campaigns", json=page([{"id": "c2", "updated_time": None}]))
    tap = TapMetaBM(config={"access_token": TOKEN, "business_ids": [BUSINESS],
                                       "max_workers": 1})
    messages = run(["campaigns"])
    assert [r["id"] for r in records(messages, "campaigns")] == ["c2"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"
                and r.getMessage().startswith("Skipping")]
    assert warnings == [
        "Skipping no access to campaigns edge /act_1/campaigns: (#200) Ad account owner has NOT "
        "grant ads_management or ads_read permission [HTTP 403, code 200, fbtrace_id P1]. The "
        "token's system user needs the asset assigned with a task that allows reading it, and "
        "the app needs business_management / ads_read."
    ]
    del tap


def test_summary_names_skipped_edges(graph, fake_time, caplog):
    graph.get(f"{BASE}/{BUSINESS}/client_ad_accounts", status_code=400, json={"error": {
        "message": "(#10) no permission", "code": 10, "fbtrace_id": "Q"}})
    caplog.set_level("INFO")
    run(["ad_accounts"])
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "  PARTIAL: 1 asset edge(s) skipped:" in text
    assert ("    ad_accounts: ad_accounts edge /111/client_ad_accounts: HTTP 400, code 10, "
            "fbtrace_id Q (#10) no permission") in text


def test_expired_token_stops_run_with_plain_message_and_resumable_state(
        graph, fake_time, monkeypatch, capsys, tmp_path):
    graph.get(f"{BASE}/act_1/campaigns",
              json=page([{"id": "c1", "updated_time": "2024-01-01T00:00:00+0000"}]))
    graph.get(f"{BASE}/act_2/campaigns", status_code=400, json={"error": {
        "message": "Error validating access token: Session has expired on Friday.",
        "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "E1"}})
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"access_token": TOKEN, "business_ids": [BUSINESS],
                                  "max_workers": 1}))
    monkeypatch.setattr("sys.argv", ["tap-meta-bm", "--config", str(config)])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == (
        "tap-meta-bm: error: Meta rejected the access token (the token has expired: Error "
        "validating access token: Session has expired on Friday.) [HTTP 400, code 190/463, "
        "fbtrace_id E1]. Generate a new system-user token in Business Settings > System users "
        "and update access_token.")
    states = [json.loads(line)["value"] for line in out.splitlines()
              if json.loads(line)["type"] == "STATE"]
    partitions = sdk_state(states[-1])["bookmarks"]["campaigns"]["partitions"]
    assert {k: v for k, v in partitions[0].items() if k != "read_started"} == {
        "context": {"account_id": "1"}, "replication_key": "updated_time",
        "replication_key_value": "2024-01-01T00:00:00+00:00"}
    # The account that failed has no bookmark: a rerun reads it whole.
    assert "replication_key_value" not in partitions[1]
    assert TOKEN not in out and TOKEN not in err
    # Only one request hit the dead token: nothing else is sent after it.
    assert campaign_paths(graph) == ["/v26.0/act_1/campaigns", "/v26.0/act_2/campaigns"]


def test_token_echoed_by_graph_is_redacted_from_the_final_error_line(
        graph, fake_time, monkeypatch, capsys, tmp_path):
    graph.get(f"{BASE}/act_1/campaigns", status_code=400, json={"error": {
        "message": f"Malformed access token {TOKEN}", "code": 190, "fbtrace_id": "Z"}})
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"access_token": TOKEN, "business_ids": [BUSINESS]}))
    monkeypatch.setattr("sys.argv", ["tap-meta-bm", "--config", str(config)])
    with pytest.raises(SystemExit):
        cli.main()
    out, err = capsys.readouterr()
    assert err.splitlines()[-1].startswith(
        "tap-meta-bm: error: Meta rejected the access token (the token was rejected: Malformed "
        "access token ***) [HTTP 400, code 190, fbtrace_id Z].")
    # (Whole-stderr checks live in the end-to-end tests, where logging is the real thing.)
    assert TOKEN not in out


def test_token_echoed_by_an_error_never_reaches_logs(graph, fake_time, caplog):
    graph.get(f"{BASE}/act_1/campaigns", status_code=400, json={"error": {
        "message": f"Invalid OAuth access token - Cannot parse access token {TOKEN}",
        "code": 190, "fbtrace_id": "Z"}})
    with pytest.raises(GraphFatalError) as raised:
        run(["campaigns"])
    import logging
    logging.getLogger("tap-meta-bm").error("failure: %s", raised.value)
    assert TOKEN not in "\n".join(r.getMessage() for r in caplog.records)
    assert "***" in caplog.records[-1].getMessage()


def test_requests_failing_at_the_same_size_halve_it_once():
    policy = EdgePolicy(stream="campaigns", fields=("id",), columns={}, paged=True,
                        page_size=400)
    assert [policy.shrink(400) for _ in range(3)] == [200, None, None]  # three workers
    assert policy.limit == 200
    assert policy.shrink(200) == 100
    assert policy.shrink(400) is None  # a late answer to a request sent at the old size
    assert policy.limit == 100
