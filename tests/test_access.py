"""Access governance streams: exact requests (with `business=`) and one row per asset and user."""

from __future__ import annotations

import pytest
import requests_mock

from tests.helpers import BASE, BUSINESS, READ_ID, mock_empty_graph, page, path, query, records, run

ANA = {"id": "u1", "name": "Ana", "user_type": "business_user", "tasks": ["MANAGE", "ADVERTISE"],
       "permitted_tasks": ["ANALYZE"], "business": {"id": BUSINESS, "name": "Acme"}}
AGENCY_BOB = {"id": "u9", "name": "Bob", "user_type": "business_user", "tasks": ["ANALYZE"],
              "business": {"id": "222", "name": "Agency"}}


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": "act_1"}]))
        mocker.get(f"{BASE}/{BUSINESS}/client_ad_accounts", json=page([{"id": "act_2"}]))
        mocker.get(f"{BASE}/{BUSINESS}/owned_pages", json=page([{"id": "p1"}, {"id": "p2"}]))
        yield mocker


def test_ad_account_assignments_one_row_per_account_and_user(graph):
    graph.get(f"{BASE}/act_1/assigned_users", json=page([ANA]))
    graph.get(f"{BASE}/act_2/assigned_users", json=page([ANA, AGENCY_BOB]))
    messages = run(["ad_account_assignments"])
    assert records(messages, "ad_account_assignments") == [
        {"user_id": "u1", "name": "Ana", "user_type": "business_user",
         "tasks": ["MANAGE", "ADVERTISE"], "permitted_tasks": ["ANALYZE"],
         "business": {"id": BUSINESS, "name": "Acme"}, "business_id": BUSINESS, "_read_id": READ_ID,
         "account_id": "1", "asset_type": "AD_ACCOUNT", "asset_id": "act_1"},
        {"user_id": "u1", "name": "Ana", "user_type": "business_user",
         "tasks": ["MANAGE", "ADVERTISE"], "permitted_tasks": ["ANALYZE"],
         "business": {"id": BUSINESS, "name": "Acme"}, "business_id": BUSINESS, "_read_id": READ_ID,
         "account_id": "2", "asset_type": "AD_ACCOUNT", "asset_id": "act_2"},
        {"user_id": "u9", "name": "Bob", "user_type": "business_user", "tasks": ["ANALYZE"],
         "business": {"id": "222", "name": "Agency"}, "business_id": BUSINESS, "_read_id": READ_ID,
         "account_id": "2", "asset_type": "AD_ACCOUNT", "asset_id": "act_2"},
    ]
    sent = [(path(r), query(r)) for r in graph.request_history
            if path(r).endswith("/assigned_users")]
    assert sent == [
        ("/v26.0/act_1/assigned_users", {"fields": "id,name,user_type,tasks,permitted_tasks,"
                                                   "business", "business": BUSINESS,
                                         "limit": "500"}),
        ("/v26.0/act_2/assigned_users", {"fields": "id,name,user_type,tasks,permitted_tasks,"
                                                   "business", "business": BUSINESS,
                                         "limit": "500"}),
    ]


def test_denied_page_is_skipped_and_reported_while_others_load(graph, caplog):
    graph.get(f"{BASE}/p1/assigned_users", status_code=403, json={"error": {
        "message": "(#200) Requires pages_read_engagement permission", "code": 200,
        "fbtrace_id": "F"}})
    graph.get(f"{BASE}/p2/assigned_users", json=page([ANA]))
    caplog.set_level("INFO")
    messages = run(["page_assignments"])
    assert records(messages, "page_assignments") == [
        {"user_id": "u1", "name": "Ana", "user_type": "business_user",
         "tasks": ["MANAGE", "ADVERTISE"], "permitted_tasks": ["ANALYZE"],
         "business": {"id": BUSINESS, "name": "Acme"}, "business_id": BUSINESS, "_read_id": READ_ID,
         "page_id": "p2", "asset_type": "PAGE", "asset_id": "p2"}]
    assert [query(r)["business"] for r in graph.request_history
            if path(r).endswith("/assigned_users")] == [BUSINESS, BUSINESS]
    lines = [r.getMessage() for r in caplog.records]
    # Graph's refusal of the system user's token sends the tap to the Page's own token
    # (Meta's reference wants one there); the system user could not get it either.
    assert ("    page_assignments: page_assignments edge /p1/assigned_users: HTTP 403, code 200, "
            "fbtrace_id F (#200) Requires pages_read_engagement permission; and the system "
            "user cannot get the Page's own token: it holds no task on the Page (assign the "
            "Page to the system user with Manage, and grant pages_manage_metadata)") in lines


def test_partners_union_agencies_and_clients(graph):
    graph.get(f"{BASE}/{BUSINESS}/agencies", json=page([{"id": "222", "name": "Agency"}]))
    graph.get(f"{BASE}/{BUSINESS}/clients", json=page([{"id": "333", "name": "Client"}]))
    messages = run(["partners"])
    assert records(messages, "partners") == [
        {"id": "222", "name": "Agency", "business_id": BUSINESS, "_read_id": READ_ID,
         "relationship": "AGENCY"},
        {"id": "333", "name": "Client", "business_id": BUSINESS, "_read_id": READ_ID,
         "relationship": "CLIENT"},
    ]
    # The configured business is read first: a business the token cannot read is named.
    assert [path(r) for r in graph.request_history] == [f"/v26.0/{BUSINESS}",
                                                        f"/v26.0/{BUSINESS}/agencies",
                                                        f"/v26.0/{BUSINESS}/clients"]


def test_pending_users_never_request_the_invite_link(graph):
    graph.get(f"{BASE}/{BUSINESS}/pending_users", json=page([{
        "id": "r1", "email": "new@example.com", "role": "EMPLOYEE", "status": "PENDING",
        "tasks": ["ANALYZE"], "expiration_time": "2026-12-01T00:00:00+0000"}]))
    messages = run(["pending_users"])
    assert records(messages, "pending_users") == [{
        "id": "r1", "email": "new@example.com", "role": "EMPLOYEE", "status": "PENDING",
        "tasks": ["ANALYZE"], "expiration_time": "2026-12-01T00:00:00+00:00",
        "business_id": BUSINESS, "_read_id": READ_ID}]
    assert "invite_link" not in query(graph.request_history[0])["fields"].split(",")


def test_asset_group_contents_one_row_per_group_and_asset(graph):
    graph.get(f"{BASE}/{BUSINESS}/business_asset_groups", json=page([{"id": "g1", "name": "EU"}]))
    graph.get(f"{BASE}/g1/contained_adaccounts", json=page([{"id": "act_1", "name": "A"}]))
    graph.get(f"{BASE}/g1/contained_pages", json=page([{"id": "p1", "name": "P"}]))
    messages = run(["business_asset_groups", "business_asset_group_assets"])
    assert records(messages, "business_asset_groups") == [
        {"id": "g1", "name": "EU", "business_id": BUSINESS, "_read_id": READ_ID}]
    assert records(messages, "business_asset_group_assets") == [
        {"asset_id": "act_1", "name": "A", "business_id": BUSINESS, "_read_id": READ_ID,
         "group_id": "g1",
         "asset_type": "AD_ACCOUNT"},
        {"asset_id": "p1", "name": "P", "business_id": BUSINESS, "_read_id": READ_ID,
         "group_id": "g1",
         "asset_type": "PAGE"},
    ]
    contained = [path(r) for r in graph.request_history if "/g1/" in path(r)]
    assert contained == [f"/v26.0/g1/contained_{e}" for e in (
        "adaccounts", "pages", "pixels", "product_catalogs", "instagram_accounts",
        "applications", "custom_conversions")]
    # The groups edge is read once, though both streams need it.
    assert [path(r) for r in graph.request_history].count(
        f"/v26.0/{BUSINESS}/business_asset_groups") == 1


def test_asset_group_assignments_read_each_person_of_each_business(graph):
    graph.get(f"{BASE}/{BUSINESS}/business_users", json=page([{"id": "u1"}, {"id": "u2"}]))
    graph.get(f"{BASE}/{BUSINESS}/system_users", json=page([{"id": "s1"}]))
    graph.get(f"{BASE}/u1/assigned_business_asset_groups", json=page([
        {"id": "g1", "name": "EU", "adaccount_tasks": ["ANALYZE"], "page_tasks": []}]))
    graph.get(f"{BASE}/s1/assigned_business_asset_groups", json=page([
        {"id": "g1", "name": "EU", "adaccount_tasks": ["MANAGE"], "pixel_tasks": ["UPLOAD"]}]))
    messages = run(["asset_group_assignments"])
    assert records(messages, "asset_group_assignments") == [
        {"group_id": "g1", "name": "EU", "adaccount_tasks": ["ANALYZE"], "page_tasks": [],
         "business_id": BUSINESS, "user_id": "u1", "_read_id": READ_ID},
        {"group_id": "g1", "name": "EU", "adaccount_tasks": ["MANAGE"], "pixel_tasks": ["UPLOAD"],
         "business_id": BUSINESS, "user_id": "s1", "_read_id": READ_ID},
    ]
    sent = [(path(r), query(r)) for r in graph.request_history
            if path(r).endswith("/assigned_business_asset_groups")]
    fields = ("id,name,owner_business,adaccount_tasks,page_tasks,pixel_tasks,"
              "offline_conversion_data_set_tasks")
    assert sent == [(f"/v26.0/{person}/assigned_business_asset_groups",
                     {"fields": fields, "limit": "500"}) for person in ("u1", "u2", "s1")]
