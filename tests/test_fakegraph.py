"""The fake Graph API behaves the way the tests and the demo rely on (and Graph does)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys

import pytest
import requests

from tests.fakegraph import DEFAULT_TOKEN, FakeGraph, Faults
from tests.fakegraph.insights import InsightsFaults

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


@pytest.fixture
def graph():
    server = FakeGraph("small").start()
    yield server
    server.stop()


def get(graph, path, headers=AUTH, **params):
    return requests.get(f"{graph.url}/v26.0{path}", params=params, headers=headers, timeout=10)


def test_bearer_token_is_required(graph):
    answer = get(graph, "/me/businesses", headers={})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 190
    wrong = get(graph, "/me/businesses", headers={"Authorization": "Bearer nope"})
    assert (wrong.json()["error"]["code"], wrong.json()["error"]["error_subcode"]) == (190, 467)


def test_unknown_field_answers_error_100(graph):
    answer = get(graph, "/act_200000000000/campaigns", fields="id,bogus_field")
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "message": "(#100) Tried accessing nonexisting field (bogus_field) on node type "
                   "(Campaign)", "type": "OAuthException", "code": 100, "is_transient": False,
        "fbtrace_id": answer.json()["error"]["fbtrace_id"]}


def test_fields_are_honoured_and_timestamps_are_graph_shaped(graph):
    (first, *_) = get(graph, "/act_200000000000/campaigns", fields="id,updated_time",
                      limit=2).json()["data"]
    assert set(first) == {"id", "updated_time"}
    assert first["updated_time"].endswith("+0000")
    audience = get(graph, "/act_200000000000/customaudiences", fields="id,time_updated",
                   limit=1).json()["data"][0]
    assert isinstance(audience["time_updated"], int)


def test_cursor_paging_with_short_pages_until_next_is_absent(graph):
    seen, after, pages = [], None, 0
    while True:
        params = {"fields": "id", "limit": 10, **({"after": after} if after else {})}
        body = get(graph, "/act_200000000000/campaigns", **params).json()
        pages += 1
        seen += [r["id"] for r in body["data"]]
        if "next" not in body.get("paging", {}):
            break
        assert f"access_token={DEFAULT_TOKEN}" in body["paging"]["next"]  # as Graph echoes it
        after = body["paging"]["cursors"]["after"]
    assert pages == 3 and len(seen) == 24  # 25 campaigns, one archived: a short page
    assert len(set(seen)) == 24


def test_limit_is_capped_per_edge(graph):
    body = get(graph, "/act_200000000000/assigned_users", fields="id", limit=500,
               business="100000000000").json()
    assert len(body["data"]) <= 100


def test_assigned_users_require_business(graph):
    answer = get(graph, "/act_200000000000/assigned_users", fields="id")
    assert answer.json()["error"]["message"] == "(#100) The parameter business is required"


def test_filtering_and_archived_objects(graph):
    every = get(graph, "/act_200000000000/campaigns", fields="id,effective_status",
                limit=100, effective_status='["ACTIVE","PAUSED","ARCHIVED"]').json()["data"]
    default = get(graph, "/act_200000000000/campaigns", fields="id", limit=100).json()["data"]
    assert len(every) == 25 and len(default) == 24
    touched = graph.touch("campaigns", 1)
    since = json.dumps([{"field": "campaign.updated_time", "operator": "GREATER_THAN",
                         "value": graph.data.updated(touched[0], 0) - 1}])
    changed = get(graph, "/act_200000000000/campaigns", fields="id", limit=100,
                  filtering=since).json()["data"]
    assert [r["id"] for r in changed] == touched


def test_appsecret_proof_is_checked_when_the_server_has_a_secret():
    server = FakeGraph("small", app_secret="s3cret-app").start()
    try:
        missing = get(server, "/me/businesses")
        assert missing.json()["error"]["message"] == (
            "API calls from the server require an appsecret_proof argument")
        proof = hmac.new(b"s3cret-app", DEFAULT_TOKEN.encode(), hashlib.sha256).hexdigest()
        assert get(server, "/me/businesses", appsecret_proof=proof).status_code == 200
        assert get(server, "/me/businesses", appsecret_proof="0" * 64).status_code == 400
    finally:
        server.stop()


def test_throttle_window_blocks_the_object_and_says_for_how_long():
    server = FakeGraph("small", faults=Faults(throttle_object="200000000000",
                                              throttle_at_call=1, throttle_seconds=60)).start()
    try:
        answer = get(server, "/act_200000000000/campaigns", fields="id")
        assert answer.json()["error"]["code"] == 80004
        usage = json.loads(answer.headers["X-Business-Use-Case-Usage"])["200000000000"][0]
        assert 0.99 < usage["estimated_time_to_regain_access"] <= 1.0  # minutes
        assert get(server, "/act_200000000001/campaigns", fields="id").status_code == 200
        get(server, "/act_200000000000/campaigns", fields="id")
        assert [e.get("while_blocked", False) for e in server.log] == [False, False, True]
    finally:
        server.stop()


def batch(graph, calls, headers=AUTH, **form):
    """A Batch API call with the token as its `access_token` parameter, as Meta documents."""
    form = {"access_token": DEFAULT_TOKEN, **form}
    return requests.post(f"{graph.url}/v26.0/", headers=headers, timeout=10,
                         data={"batch": json.dumps(calls), **form})


def test_batch_answers_each_call_in_order_and_logs_each_as_a_call(graph):
    alone = get(graph, "/act_200000000000/campaigns", fields="id", limit=2)
    first = len(graph.log)
    answer = batch(graph, [
        {"method": "GET", "relative_url": "act_200000000000/campaigns?fields=id&limit=2"},
        {"method": "GET", "relative_url": "act_200000000000/campaigns?fields=bogus"},
    ])
    assert answer.status_code == 200
    ok, bad = answer.json()
    assert (ok["code"], json.loads(ok["body"])) == (200, alone.json())
    assert {h["name"] for h in ok["headers"]} >= {"X-App-Usage", "X-Business-Use-Case-Usage"}
    assert (bad["code"], json.loads(bad["body"])["error"]["code"]) == (400, 100)
    assert [(e["path"], e["status"], e.get("batch")) for e in graph.log[first:]] == [
        ("/v26.0/act_200000000000/campaigns", 200, True),
        ("/v26.0/act_200000000000/campaigns", 400, True)]


def denied_trace(answer):
    return json.loads(answer["body"])["error"]["fbtrace_id"]


def test_batch_needs_the_token_and_at_most_fifty_calls(graph):
    call = {"method": "GET", "relative_url": "act_200000000000/campaigns?fields=id"}
    # Sub-requests take the batch's `access_token` parameter, not its Authorization header.
    [denied] = batch(graph, [call], access_token="").json()
    assert (denied["code"], json.loads(denied["body"])["error"]) == (400, {
        "message": "An access token is required to request this resource.",
        "type": "OAuthException", "code": 104, "is_transient": False,
        "fbtrace_id": denied_trace(denied)})
    [wrong] = batch(graph, [call], access_token="not-the-token").json()
    assert json.loads(wrong["body"])["error"]["code"] == 190
    too_many = batch(graph, [call] * 51)
    assert too_many.status_code == 400
    assert too_many.json()["error"]["message"] == ("Too many requests in batch message. "
                                                   "Maximum batch size is 50")


@pytest.mark.parametrize(("path", "field", "node"), [
    ("/100000000000/business_users", "invited_user_type", "BusinessUser"),
    ("/100000000000/system_users", "system_user_id", "SystemUser"),
    ("/100000000000", "payment_account_id", "Business"),
])
def test_write_only_and_hidden_fields_answer_what_graph_answers(graph, path, field, node):
    answer = get(graph, path, fields=f"id,{field}")
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        f"(#100) Tried accessing nonexisting field ({field}) on node type ({node})")


def test_edge_fields_are_read_on_their_edge_only(graph):
    robots = get(graph, "/100000000000/system_users", fields="id,role").json()["data"]
    assert {r["role"] for r in robots} == {"ADMIN", "EMPLOYEE"}
    assigned = get(graph, "/act_200000000000/assigned_users", fields="id,tasks",
                   business="100000000000").json()["data"]
    assert all("tasks" in user for user in assigned)
    assert get(graph, "/act_200000000000/campaigns", fields="id,tasks").json()["error"][
        "code"] == 100


def test_a_dropped_field_is_refused_after_the_given_call():
    server = FakeGraph("small", faults=Faults(drop_field=("Campaign", "objective"),
                                              drop_field_after=2)).start()
    try:
        answers = [get(server, "/act_200000000000/campaigns", fields="id,objective")
                   for _ in range(3)]
    finally:
        server.stop()
    assert [a.status_code for a in answers] == [200, 200, 400]
    assert answers[2].json()["error"]["message"] == (
        "(#100) Tried accessing nonexisting field (objective) on node type (Campaign)")


PAGE = "300000000000"


def test_page_edge_wants_the_page_token_when_told_to():
    server = FakeGraph("small", faults=Faults(page_token_required=True)).start()
    try:
        refused = get(server, f"/{PAGE}/assigned_users", business="100000000000")
        token = get(server, f"/{PAGE}", fields="access_token").json()["access_token"]
        page_auth = {"Authorization": f"Bearer {token}"}
        served = get(server, f"/{PAGE}/assigned_users", headers=page_auth,
                     business="100000000000")
        elsewhere = get(server, "/300000000001/assigned_users", headers=page_auth,
                        business="100000000000")
    finally:
        server.stop()
    assert (refused.status_code, refused.json()["error"]["code"],
            refused.json()["error"]["message"]) == (
        400, 190, "(#190) This method must be called with a Page Access Token")
    assert served.status_code == 200 and served.json()["data"]
    assert elsewhere.json()["error"]["message"] == (
        "(#190) The Page access token was not issued for object 300000000001")


def test_page_without_a_task_hands_out_no_token():
    server = FakeGraph("small", faults=Faults(pages_without_task={PAGE})).start()
    try:
        body = get(server, f"/{PAGE}", fields="id,access_token").json()
    finally:
        server.stop()
    assert body == {"id": PAGE}


# -- insights (graph-api-facts-2.md §2a) -------------------------------------------------------
ACCOUNT = "/act_200000000000/insights"


def start_report(graph, **params):
    return requests.post(f"{graph.url}/v26.0{ACCOUNT}", data=params, headers=AUTH, timeout=10)


def report_rows(graph, **params):
    run_id = start_report(graph, **params).json()["report_run_id"]
    assert get(graph, f"/{run_id}", fields="async_status").json()["async_status"] == \
        "Job Completed"
    return get(graph, f"/{run_id}/insights", limit="500").json()["data"]


DAYS = json.dumps({"since": "2026-11-20", "until": "2026-11-22"})


@pytest.mark.parametrize(("params", "message"), [
    ({"level": "adgroup"}, "(#100) level must be one of the following values: account, ad, "
                           "adset, campaign"),
    ({"breakdowns": '["agee"]'}, "(#100) breakdowns[0] must be one of the following values: "),
    ({"fields": "ad_id,cost_per_lead"}, "(#100) cost_per_lead is not valid for fields param."),
    ({"fields": "ad_id", "action_breakdowns": '["action_type"]'},
     "(#100) actions must be requested with action_breakdowns"),
    ({"time_range": json.dumps({"since": "2023-01-01", "until": "2023-01-02"})},
     "(#3018) The start date of the time range cannot be beyond 37 months from the current "
     "date"),
    # graph-api-facts-3.md, section 4: breakdowns and combinations Graph refuses.
    ({"breakdowns": '["media_creator"]'},
     "(#100) Tried accessing nonexisting field (media_creator)"),
    ({"breakdowns": '["media_type"]'},
     "(#100) Current combination of data breakdown columns (action_type, media_type) is "
     "invalid"),
    ({"fields": "ad_id,reach", "breakdowns": '["hourly_stats_aggregated_by_advertiser_time_zone"]',
      "action_breakdowns": "[]"},
     "(#100) Current combination of data breakdown columns "
     "(hourly_stats_aggregated_by_advertiser_time_zone) is invalid with reach"),
])
def test_report_requests_graph_refuses_are_refused(graph, params, message):
    answer = start_report(graph, **{"fields": "ad_id", "time_range": DAYS, **params})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(message)


def test_media_type_is_read_with_no_action_breakdowns(graph):
    assert report_rows(graph, fields="ad_id,impressions", time_range=DAYS,
                       breakdowns='["media_type"]', action_breakdowns="[]")


def test_an_account_without_the_opt_in_answers_no_rows_for_its_breakdowns():
    graph = FakeGraph("small", faults=Faults(insights=InsightsFaults(
        not_opted_in={ACCOUNT.split("/")[1].removeprefix("act_")})))
    graph.start()
    try:
        assert report_rows(graph, fields="ad_id,impressions", time_range=DAYS,
                           breakdowns='["impression_device"]') == []
        assert report_rows(graph, fields="ad_id,impressions", time_range=DAYS,
                           breakdowns='["publisher_platform"]')
    finally:
        graph.stop()


def test_breakdown_rows_and_levels_add_up_to_the_ads(graph):
    ads = report_rows(graph, level="ad", fields="campaign_id,impressions,spend",
                      time_range=DAYS, time_increment="1")
    campaigns = report_rows(graph, level="campaign", fields="campaign_id,impressions",
                            time_range=DAYS, time_increment="1", breakdowns='["age"]')
    per_campaign: dict[tuple[str, str], int] = {}
    for row in ads:
        key = (row["campaign_id"], row["date_start"])
        per_campaign[key] = per_campaign.get(key, 0) + int(row["impressions"])
    from_breakdowns: dict[tuple[str, str], int] = {}
    for row in campaigns:
        key = (row["campaign_id"], row["date_start"])
        from_breakdowns[key] = from_breakdowns.get(key, 0) + int(row["impressions"])
        assert row["age"] in ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
    assert from_breakdowns == per_campaign
    assert all("." in row["spend"] or row["spend"].isdigit() for row in ads)


def test_a_job_reads_100_percent_before_it_is_completed():
    graph = FakeGraph("small", faults=Faults()).start()
    graph.faults.insights.job_seconds = 1.0
    try:
        run_id = start_report(graph, fields="ad_id", time_range=DAYS).json()["report_run_id"]
        job = graph.insights.jobs[run_id]
        job.started -= 0.95  # 95 % of the way: Graph says 100 % and still runs
        node = get(graph, f"/{run_id}", fields="async_status,async_percent_completion").json()
        assert node == {"async_status": "Job Running", "async_percent_completion": 100}
        answer = get(graph, f"/{run_id}/insights")
        assert answer.json()["error"]["code"] == 2601  # rows only once completed
        assert "x-fb-ads-insights-throttle" in answer.headers
    finally:
        graph.stop()


def test_access_changes_over_http_reach_the_edges(graph):
    from tests.fakegraph.control import change_access
    account, business = "200000000000", "100000000000"

    def tasks_of():
        answer = get(graph, f"/act_{account}/assigned_users", business=business,
                     fields="id,tasks")
        return {u["id"]: u["tasks"] for u in answer.json()["data"]}

    before = tasks_of()
    first, second, third = list(before)[:3]
    change_access(graph.url, "revoke", asset=f"act_{account}", user=first)
    change_access(graph.url, "set-tasks", asset=account, user=second, tasks="ANALYZE,DRAFT")
    change_access(graph.url, "remove-user", user=third)
    after = tasks_of()
    assert first not in after and third not in after
    assert after[second] == ["ANALYZE", "DRAFT"]
    people = get(graph, f"/{business}/business_users", fields="id").json()["data"]
    assert third not in {p["id"] for p in people}


def test_an_asset_unshared_from_a_partner_leaves_its_agencies_and_the_partners_people(graph):
    from tests.fakegraph.control import Refused, change_access
    grant = next(g for g in graph.data.grants(0) if g.asset_type == "AD_ACCOUNT")
    agencies = get(graph, f"/{grant.asset_id}/agencies", fields="id").json()["data"]
    assert {a["id"] for a in agencies} == {grant.partner_id}
    assert graph.data.partner_assigned(grant.partner_id, grant.asset_id) is not None
    change_access(graph.url, "unshare", asset=grant.asset_id, partner=grant.partner_id)
    assert get(graph, f"/{grant.asset_id}/agencies", fields="id").json()["data"] == []
    assert graph.data.partner_assigned(grant.partner_id, grant.asset_id) is None
    with pytest.raises(Refused, match=rf"^unshare: {grant.asset_id} is not shared with partner "
                                       rf"{grant.partner_id} now; nothing changed$"):
        change_access(graph.url, "unshare", asset=grant.asset_id, partner=grant.partner_id)


def test_a_change_business_settings_could_not_make_is_refused_and_changes_nothing(graph):
    from tests.fakegraph.control import Refused, change_access
    truth = graph.access_truth()
    with pytest.raises(Refused, match=r"^revoke: user 999 holds no task on act_200000000000 "
                                       r"now; nothing changed$"):
        change_access(graph.url, "revoke", asset="act_200000000000", user="999")
    with pytest.raises(Refused, match=r"^remove-user: user 999 holds no task on any asset "
                                       r"now; nothing changed$"):
        change_access(graph.url, "remove-user", user="999")
    _, _, asset, user = next(iter(truth))
    change_access(graph.url, "revoke", asset=asset, user=user)
    with pytest.raises(Refused, match="holds no task on"):  # revoked already
        change_access(graph.url, "set-tasks", asset=asset, user=user, tasks="ANALYZE")
    assert set(truth) - set(graph.access_truth()) == {next(iter(truth))}
    done = subprocess.run([sys.executable, "-m", "tests.fakegraph.control", graph.url,
                           "revoke", asset, user], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", f"revoke: user {user} holds no task on {asset} now; nothing changed\n")


def test_asset_group_assignments_read_the_documented_edge_fields(graph):
    person = "500000000000"  # every third business user is assigned to a group
    answer = get(graph, f"/{person}/assigned_business_asset_groups",
                 fields="id,adaccount_tasks,page_tasks")
    assert answer.json()["data"] == [{"id": "400000000000", "adaccount_tasks": ["ANALYZE"],
                                      "page_tasks": ["ANALYZE"]}]
    refused = get(graph, f"/{person}/assigned_business_asset_groups", fields="id,tasks")
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == ("(#100) Tried accessing nonexisting field "
                                                  "(tasks) on node type (BusinessAssetGroup)")


def test_the_ad_account_score_refuses_the_call_past_its_points_and_blocks_the_account():
    """graph-api-facts-3.md, section 3: 1 point a read over a sliding window; past the
    points, 17/2446079 and a block of that account alone. Scaled: 5 points per 60 s."""
    graph = FakeGraph("small", faults=Faults(account_score=(5, 60.0), account_score_block=60.0))
    graph.start()
    try:
        path = "/act_200000000000/campaigns"
        answers = [get(graph, path, fields="id") for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [400]
        usage = [json.loads(a.headers["X-Ad-Account-Usage"]) for a in answers]
        assert [u["acc_id_util_pct"] for u in usage] == [20.0, 40.0, 60.0, 80.0, 100.0, 100.0]
        assert all(55 <= u["reset_time_duration"] <= 60 for u in usage)
        assert {u["ads_api_access_tier"] for u in usage} == {"development_access"}
        error = answers[5].json()["error"]
        assert (error["code"], error["error_subcode"]) == (17, 2446079)
        regain = json.loads(answers[5].headers["X-Business-Use-Case-Usage"])["200000000000"][0]
        assert 0.9 <= regain["estimated_time_to_regain_access"] <= 1.0  # minutes
        assert get(graph, "/act_200000000001/campaigns", fields="id").status_code == 200
        assert get(graph, "/100000000000/business_users", fields="id").status_code == 200
    finally:
        graph.stop()
