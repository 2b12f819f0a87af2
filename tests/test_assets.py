"""The asset streams: exact requests per edge, the rows they make, and the keys they build."""

from __future__ import annotations

import json

import pytest
import requests_mock

from tap_meta_bm.streams.activity import activity_id
from tests.helpers import (
    BASE,
    BUSINESS,
    READ_ID,
    TOKEN,
    last_state,
    mock_empty_graph,
    page,
    path,
    query,
    records,
    run,
)

PAGE_TOKEN = "EAAPageTokenOfP1forLeads"


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": "act_1"}]))
        mocker.get(f"{BASE}/{BUSINESS}/owned_pages", json=page([{"id": "p1"}]))
        mocker.get(f"{BASE}/{BUSINESS}/owned_pixels", json=page([{"id": "px1", "name": "P"}]))
        mocker.get(f"{BASE}/{BUSINESS}/client_product_catalogs",
                   json=page([{"id": "pc1", "name": "C"}]))
        mocker.get(f"{BASE}/p1", json={"id": "p1", "access_token": PAGE_TOKEN})
        yield mocker


def sent(graph, suffix: str) -> list[tuple[str, dict[str, str]]]:
    return [(path(r), query(r)) for r in graph.request_history if path(r).endswith(suffix)]


def test_pixels_and_catalogs_read_owned_and_client_edges(graph):
    messages = run(["pixels", "product_catalogs"])
    assert records(messages, "pixels") == [
        {"id": "px1", "name": "P", "business_id": BUSINESS, "_read_id": READ_ID,
         "relationship": "OWNED"}]
    assert records(messages, "product_catalogs") == [
        {"id": "pc1", "name": "C", "business_id": BUSINESS, "_read_id": READ_ID,
         "relationship": "CLIENT"}]
    pixel_fields = ("id,name,creation_time,last_fired_time,owner_business,owner_ad_account,"
                    "creator,is_unavailable,is_created_by_business,data_use_setting,"
                    "enable_automatic_matching,automatic_matching_fields,"
                    "first_party_cookie_status,event_time_min,event_time_max")
    assert sent(graph, "_pixels") == [
        (f"/v26.0/{BUSINESS}/owned_pixels", {"fields": pixel_fields, "limit": "500"}),
        # The client edge's own field (Meta's business/client_pixels reference) on it alone.
        (f"/v26.0/{BUSINESS}/client_pixels", {"fields": f"{pixel_fields},permitted_tasks",
                                              "limit": "500"})]


def test_pixel_and_catalog_assignments_share_one_shape_with_the_others(graph):
    graph.get(f"{BASE}/px1/assigned_users", json=page([{"id": "u1", "tasks": ["ANALYZE"]}]))
    graph.get(f"{BASE}/pc1/assigned_users", json=page([{"id": "u1", "tasks": ["MANAGE"]}]))
    graph.get(f"{BASE}/act_1/assigned_users", json=page([{"id": "u1", "tasks": ["ADVERTISE"]}]))
    messages = run(["pixel_assignments", "catalog_assignments", "ad_account_assignments"])
    common = ("asset_type", "asset_id", "business_id", "user_id", "tasks")
    assert [tuple(r[c] for c in common) for stream in (
        "pixel_assignments", "catalog_assignments", "ad_account_assignments")
        for r in records(messages, stream)] == [
        ("PIXEL", "px1", BUSINESS, "u1", ["ANALYZE"]),
        ("PRODUCT_CATALOG", "pc1", BUSINESS, "u1", ["MANAGE"]),
        ("AD_ACCOUNT", "act_1", BUSINESS, "u1", ["ADVERTISE"])]
    expected = {"fields": "id,name,user_type,tasks,permitted_tasks,business",
                "business": BUSINESS, "limit": "500"}
    assert sent(graph, "/assigned_users") == [("/v26.0/act_1/assigned_users", expected),
                                              ("/v26.0/px1/assigned_users", expected),
                                              ("/v26.0/pc1/assigned_users", expected)]


def test_ad_account_agencies_read_the_edge_fields(graph):
    graph.get(f"{BASE}/act_1/agencies", json=page([{
        "id": "222", "name": "Agency", "access_status": "CONFIRMED",
        "permitted_tasks": ["ANALYZE"], "access_updated_time": "2024-01-02T00:00:00+0000"}]))
    messages = run(["ad_account_agencies"])
    assert records(messages, "ad_account_agencies") == [{
        "id": "222", "name": "Agency", "access_status": "CONFIRMED",
        "permitted_tasks": ["ANALYZE"], "access_updated_time": "2024-01-02T00:00:00+00:00",
        "business_id": BUSINESS, "_read_id": READ_ID, "account_id": "1"}]
    assert sent(graph, "/agencies") == [("/v26.0/act_1/agencies", {
        "fields": "id,name,access_status,permitted_tasks,access_requested_time,"
                  "access_updated_time", "limit": "500"})]


ENTRY = {"event_time": "2024-02-01T10:00:00+0000", "event_type": "update_campaign_budget",
         "object_id": "c1", "actor_id": "u1", "extra_data": '{"old_value":1}'}


def test_activities_get_a_built_key_and_keep_changes_in_one_second_apart(graph):
    twin = {**ENTRY, "extra_data": '{"old_value":2}'}
    graph.get(f"{BASE}/act_1/activities", json=page([ENTRY, twin, ENTRY]))
    messages = run(["ad_activities"])
    rows = records(messages, "ad_activities")
    assert [r["extra_data"] for r in rows] == ['{"old_value":1}', '{"old_value":2}',
                                               '{"old_value":1}']
    assert rows[0]["id"] == rows[2]["id"] != rows[1]["id"]  # the same entry twice: one row
    assert rows[0]["id"] == activity_id({**ENTRY, "event_time": "2024-02-01T10:00:00+00:00",
                                         "account_id": "1"})
    assert "id" not in query(graph.request_history[-1])["fields"].split(",")
    partitions = last_state(messages)["bookmarks"]["ad_activities"]["partitions"]
    assert [(p["context"], p["replication_key_value"]) for p in partitions] == [
        ({"account_id": "1"}, "2024-02-01T10:00:00+00:00")]


def test_activities_rerun_asks_since_the_bookmark_and_drops_what_it_emitted(graph):
    graph.get(f"{BASE}/act_1/activities", json=page([ENTRY]))
    first = run(["ad_activities"])
    second = run(["ad_activities"], state=last_state(first))
    assert records(second, "ad_activities") == []  # the overlap second, already emitted
    (_, params), = sent(graph, "/activities")[1:]
    assert params["since"] in {"1706781600", "1706781601"}  # its own second, or after it


def test_lead_forms_and_leads_read_with_the_page_token_only_where_they_must(graph, caplog):
    graph.get(f"{BASE}/p1/leadgen_forms", json=page([{"id": "f1", "name": "Form"}]))
    graph.get(f"{BASE}/f1/leads", json=page([{
        "id": "l1", "created_time": "2024-03-01T00:00:00+0000",
        "field_data": [{"name": "email", "values": ["a@example.org"]}]}]))
    caplog.set_level("DEBUG")
    messages = run(["lead_forms", "leads"])
    assert records(messages, "leads") == [{
        "id": "l1", "created_time": "2024-03-01T00:00:00+00:00",
        "field_data": [{"name": "email", "values": ["a@example.org"]}],
        "business_id": BUSINESS, "page_id": "p1", "form_id": "f1"}]
    calls = [(path(r), r.headers["Authorization"] == f"Bearer {PAGE_TOKEN}")
             for r in graph.request_history if "/p1" in path(r) or "/f1" in path(r)]
    assert calls == [("/v26.0/p1", False), ("/v26.0/p1/leadgen_forms", True),
                     ("/v26.0/f1/leads", True)]
    assert PAGE_TOKEN not in json.dumps(messages) + "".join(
        r.getMessage() for r in caplog.records)
    assert TOKEN not in json.dumps(messages)


def test_lead_forms_and_leads_are_off_unless_selected(graph):
    from tap_meta_bm.tap import TapMetaBM
    from tests.helpers import config
    entries = {e["tap_stream_id"]: e for e in TapMetaBM(config=config()).catalog_dict[
        "streams"]}
    for stream in ("lead_forms", "leads"):
        root = next(m for m in entries[stream]["metadata"] if m["breadcrumb"] == [])
        assert root["metadata"]["selected-by-default"] is False
        columns = [m for m in entries[stream]["metadata"] if m["breadcrumb"]]
        assert all(m["metadata"].get("selected-by-default", True) for m in columns)


def test_the_summary_counts_records_written_not_read(graph, caplog):
    graph.get(f"{BASE}/act_1/activities", json=page([ENTRY]))
    first = run(["ad_activities"])
    caplog.clear()
    caplog.set_level("INFO")
    run(["ad_activities"], state=last_state(first))  # reads ENTRY again, writes nothing
    (line,) = [r.getMessage() for r in caplog.records
               if r.getMessage().lstrip().startswith("ad_activities ")]
    assert line.split()[1:3] == ["0", "1"]  # records written, requests sent
