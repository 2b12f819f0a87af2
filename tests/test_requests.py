"""Exact requests each stream sends and the exact records it emits (requests-mock, no network)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import requests_mock

from tests.helpers import (
    BASE,
    BUSINESS,
    READ_ID,
    TOKEN,
    mock_empty_graph,
    page,
    path,
    query,
    records,
    run,
)

CAMPAIGN_FIELDS = (
    "id,name,status,configured_status,effective_status,created_time,updated_time,issues_info,"
    "recommendations,objective,buying_type,bid_strategy,daily_budget,lifetime_budget,"
    "budget_remaining,spend_cap,budget_rebalance_flag,can_use_spend_cap,special_ad_categories,"
    "special_ad_category,special_ad_category_country,start_time,stop_time,adlabels,"
    "boosted_object_id,pacing_type,primary_attribution,promoted_object,smart_promotion_type,"
    "source_campaign_id,topline_id,last_budget_toggling_time,is_skadnetwork_attribution"
)


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        yield mocker


def accounts(graph, owned=("act_1",), client=()):
    graph.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": a} for a in owned]))
    graph.get(f"{BASE}/{BUSINESS}/client_ad_accounts", json=page([{"id": a} for a in client]))


def test_businesses_reads_each_configured_business_with_bearer_header(graph):
    graph.get(f"{BASE}/{BUSINESS}", json={
        "id": BUSINESS, "name": "Acme 🚀", "created_time": "2019-02-03T04:05:06+0000",
        "timezone_id": 1, "primary_page": {"id": "9", "name": "Acme Page"},
    })
    messages = run(["businesses"])
    assert records(messages, "businesses") == [{
        "id": BUSINESS, "name": "Acme 🚀", "created_time": "2019-02-03T04:05:06+00:00",
        "timezone_id": 1, "primary_page": {"id": "9", "name": "Acme Page"}, "_read_id": READ_ID,
    }]
    (request,) = [r for r in graph.request_history if path(r) == f"/v26.0/{BUSINESS}"]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "limit" not in query(request)
    assert query(request)["fields"].startswith("id,name,created_time,updated_time,")
    assert TOKEN not in request.url


def test_without_business_ids_businesses_come_from_me_businesses(graph):
    graph.get(f"{BASE}/me/businesses", json=page([{"id": "5", "name": "Five"}]))
    graph.get(f"{BASE}/5/owned_ad_accounts", json=page([{"id": "act_7"}]))
    graph.get(f"{BASE}/act_7/campaigns", json=page([{"id": "c", "updated_time": None}]))
    messages = run(["businesses", "campaigns"], business_ids=None)
    assert records(messages, "businesses") == [{"id": "5", "name": "Five", "_read_id": READ_ID}]
    assert records(messages, "campaigns") == [
        {"id": "c", "updated_time": None, "business_id": "5", "account_id": "7"}
    ]
    assert [path(r) for r in graph.request_history].count("/v26.0/me/businesses") == 1


def test_ad_accounts_union_owned_and_client_edges_with_relationship(graph):
    graph.get(f"{BASE}/{BUSINESS}/owned_ad_accounts",
              json=page([{"id": "act_1", "account_id": "1", "name": "Own",
                          "created_time": "2020-01-01T00:00:00-0700"}]))
    graph.get(f"{BASE}/{BUSINESS}/client_ad_accounts",
              json=page([{"id": "act_2", "account_id": "2", "name": "Theirs"}]))
    messages = run(["ad_accounts"])
    assert records(messages, "ad_accounts") == [
        {"id": "act_1", "account_id": "1", "name": "Own", "created_time":
         "2020-01-01T07:00:00+00:00", "business_id": BUSINESS, "_read_id": READ_ID,
         "relationship": "OWNED"},
        {"id": "act_2", "account_id": "2", "name": "Theirs", "business_id": BUSINESS,
         "_read_id": READ_ID, "relationship": "CLIENT"},
    ]
    sent = [(path(r), query(r).get("limit")) for r in graph.request_history]
    assert sent == [(f"/v26.0/{BUSINESS}", None),  # is the configured business readable?
                    (f"/v26.0/{BUSINESS}/owned_ad_accounts", "500"),
                    (f"/v26.0/{BUSINESS}/client_ad_accounts", "500")]


def test_campaigns_request_fields_limit_and_no_filter_without_bookmark(graph):
    accounts(graph)
    graph.get(f"{BASE}/act_1/campaigns", json=page([
        {"id": "c1", "name": "Spring", "updated_time": "2024-05-01T12:34:56+0000",
         "effective_status": "ACTIVE", "daily_budget": "1000"},
    ]))
    messages = run(["campaigns"], page_size=250)
    assert records(messages, "campaigns") == [{
        "id": "c1", "name": "Spring", "updated_time": "2024-05-01T12:34:56+00:00",
        "effective_status": "ACTIVE", "daily_budget": 1000, "business_id": BUSINESS,
        "account_id": "1",  # money as an integer of minor units
    }]
    (request,) = [r for r in graph.request_history if path(r) == "/v26.0/act_1/campaigns"]
    assert query(request) == {"fields": CAMPAIGN_FIELDS, "limit": "250"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_include_archived_asks_for_every_status_but_deleted(graph):
    accounts(graph)
    run(["campaigns"], include_archived=True)
    (request,) = [r for r in graph.request_history if path(r) == "/v26.0/act_1/campaigns"]
    assert query(request)["effective_status"] == (
        '["ACTIVE","PAUSED","ARCHIVED","IN_PROCESS","WITH_ISSUES"]'
    )


def test_deselecting_a_property_removes_it_from_fields(graph):
    accounts(graph)
    run(["campaigns"], deselect={"campaigns": ["name", "objective", "promoted_object"]})
    (request,) = [r for r in graph.request_history if path(r) == "/v26.0/act_1/campaigns"]
    fields = query(request)["fields"].split(",")
    assert "name" not in fields and "objective" not in fields
    assert "promoted_object" not in fields
    assert fields[:2] == ["id", "status"]
    assert "updated_time" in fields  # the replication key is always requested


def test_three_page_cursor_walk_with_empty_middle_page(graph):
    accounts(graph)
    graph.get(f"{BASE}/act_1/campaigns", [
        {"json": page([{"id": "c1", "updated_time": "2024-01-01T00:00:00+0000"}], after="A")},
        {"json": page([], after="B")},
        {"json": page([{"id": "c2"}, {"id": "c3", "updated_time": None}])},
    ])
    messages = run(["campaigns"])
    assert [r["id"] for r in records(messages, "campaigns")] == ["c1", "c2", "c3"]
    sent = [query(r) for r in graph.request_history if path(r) == "/v26.0/act_1/campaigns"]
    assert [q.get("after") for q in sent] == [None, "A", "B"]
    # The next URL Graph sent carried the token: it is never followed verbatim.
    assert all("access_token" not in q for q in sent)


def test_offset_paged_edge_carries_only_its_position(graph):
    graph.get(f"{BASE}/{BUSINESS}/system_users", [
        {"json": {"data": [{"id": "s1"}], "paging": {
            "next": f"{BASE}/{BUSINESS}/system_users?access_token={TOKEN}&offset=1&limit=1"}}},
        {"json": {"data": [{"id": "s2"}]}},
    ])
    messages = run(["system_users"])
    assert [r["id"] for r in records(messages, "system_users")] == ["s1", "s2"]
    second = [query(r) for r in graph.request_history][-1]
    assert second["offset"] == "1" and "access_token" not in second


def test_app_secret_adds_appsecret_proof_to_every_request(graph):
    accounts(graph)
    run(["campaigns"], app_secret="app-secret-value-123")
    expected = hmac.new(b"app-secret-value-123", TOKEN.encode(), hashlib.sha256).hexdigest()
    assert graph.request_history
    assert {query(r).get("appsecret_proof") for r in graph.request_history} == {expected}


def test_account_ids_restrict_ad_account_children(graph):
    accounts(graph, owned=("act_1", "act_2"), client=("act_3",))
    run(["campaigns", "custom_audiences"], account_ids=["act_3", "2"])
    children = sorted(path(r) for r in graph.request_history if "act_" in path(r))
    assert children == ["/v26.0/act_2/campaigns", "/v26.0/act_2/customaudiences",
                        "/v26.0/act_3/campaigns", "/v26.0/act_3/customaudiences"]


def test_custom_audiences_unix_times_become_rfc3339(graph):
    accounts(graph)
    graph.get(f"{BASE}/act_1/customaudiences", json=page([{
        "id": "a1", "name": "Buyers", "subtype": "CUSTOM", "time_created": 1700000000,
        "time_updated": 1714567890, "time_content_updated": 0, "delete_time": 0,
        "delivery_status": {"code": 200, "description": "ready"},
    }]))
    messages = run(["custom_audiences"])
    assert records(messages, "custom_audiences") == [{
        "id": "a1", "name": "Buyers", "subtype": "CUSTOM",
        "time_created": "2023-11-14T22:13:20+00:00",
        "time_updated": "2024-05-01T12:51:30+00:00",
        "time_content_updated": None, "delete_time": None,  # Graph's 0: not set
        "delivery_status": {"code": 200, "description": "ready"},
        "business_id": BUSINESS, "account_id": "1",
    }]


def test_pages_union_owned_and_client_and_never_request_page_tokens(graph):
    graph.get(f"{BASE}/{BUSINESS}/owned_pages", json=page([{"id": "p1", "name": "Shop"}]))
    graph.get(f"{BASE}/{BUSINESS}/client_pages", json=page([{"id": "p2", "name": "Client"}]))
    messages = run(["pages"])
    assert records(messages, "pages") == [
        {"id": "p1", "name": "Shop", "business_id": BUSINESS, "_read_id": READ_ID,
         "relationship": "OWNED"},
        {"id": "p2", "name": "Client", "business_id": BUSINESS, "_read_id": READ_ID,
         "relationship": "CLIENT"},
    ]
    fields = query(graph.request_history[1])["fields"].split(",")  # [0]: the business
    assert "access_token" not in fields and fields[:2] == ["id", "name"]


@pytest.mark.parametrize(("stream", "edge"), [
    ("business_users", "business_users"),
    ("system_users", "system_users"),
    ("pending_users", "pending_users"),
])
def test_people_streams_read_their_business_edge(graph, stream, edge):
    graph.get(f"{BASE}/{BUSINESS}/{edge}", json=page([
        {"id": "u1", "role": "ADMIN", "created_time": "2024-01-02T03:04:05+0000"}
    ]))
    messages = run([stream])
    expected = {"id": "u1", "role": "ADMIN", "business_id": BUSINESS, "_read_id": READ_ID}
    if stream != "business_users":
        expected["created_time"] = "2024-01-02T03:04:05+00:00"
    else:
        expected["created_time"] = "2024-01-02T03:04:05+0000"  # not a business user field
    got = records(messages, stream)
    assert [{k: v for k, v in r.items() if k != "created_time"} for r in got] == [
        {k: v for k, v in expected.items() if k != "created_time"}
    ]
    assert [path(r) for r in graph.request_history] == [f"/v26.0/{BUSINESS}",
                                                        f"/v26.0/{BUSINESS}/{edge}"]
