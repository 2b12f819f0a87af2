"""Bookmarks per ad account: state written, filters sent from it, overlap de-duplicated."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests_mock

from tap_meta_bm.incremental import SETTLE_SECONDS
from tap_meta_bm.sdk_surface import IndexedStateManager
from tests.helpers import (
    BASE,
    BUSINESS,
    last_state,
    mock_empty_graph,
    page,
    path,
    query,
    records,
    run,
)

T0 = "2024-05-01T12:00:00+0000"
T1 = "2024-05-02T08:30:00+0000"
T1_UNIX = 1714638600  # 2024-05-02T08:30:00Z


NOW = 1_800_000_000  # the runs' start time, frozen


@pytest.fixture(autouse=True)
def frozen_start(monkeypatch):
    monkeypatch.setattr("tap_meta_bm.run.time.time", lambda: float(NOW))


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts",
                   json=page([{"id": "act_1"}, {"id": "act_2"}]))
        yield mocker


def campaign_requests(graph, account):
    return [query(r) for r in graph.request_history
            if path(r) == f"/v26.0/act_{account}/campaigns"]


def test_first_run_state_holds_one_bookmark_per_account(graph):
    # Graph lists in no time order: the bookmark is the newest, not the last.
    graph.get(f"{BASE}/act_1/campaigns", json=page([
        {"id": "c2", "updated_time": T1}, {"id": "c3", "updated_time": T1},
        {"id": "c1", "updated_time": T0},
    ]))
    graph.get(f"{BASE}/act_2/campaigns", json=page([{"id": "c9", "updated_time": T0}]))
    state = last_state(run(["campaigns"]))
    # The bookmarks are long before this read began: the next read filters strictly past
    # them, so no ids at the bookmark are kept (incremental.py).
    assert state["bookmarks"]["campaigns"] == {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "updated_time",
         "replication_key_value": "2024-05-02T08:30:00+00:00", "read_started": NOW},
        {"context": {"account_id": "2"}, "replication_key": "updated_time",
         "replication_key_value": "2024-05-01T12:00:00+00:00", "read_started": NOW},
    ]}


def test_a_bookmark_within_the_settling_time_keeps_the_ids_at_it(graph):
    recent = datetime.fromtimestamp(NOW - SETTLE_SECONDS + 1, UTC)
    graph.get(f"{BASE}/act_1/campaigns", json=page([
        {"id": "c2", "updated_time": recent.strftime("%Y-%m-%dT%H:%M:%S+0000")},
        {"id": "c1", "updated_time": T0}]))
    state = last_state(run(["campaigns"]))
    assert state["bookmarks"]["campaigns"]["partitions"][0] == {
        "context": {"account_id": "1"}, "replication_key": "updated_time",
        "replication_key_value": recent.isoformat(), "ids_at_bookmark": ["c2"],
        "read_started": NOW}
    # The next run starts a second early, and drops c2 for being at the bookmark already.
    graph.get(f"{BASE}/act_1/campaigns", json=page([
        {"id": "c2", "updated_time": recent.strftime("%Y-%m-%dT%H:%M:%S+0000")}]))
    graph.reset_mock()
    messages = run(["campaigns"], state=state)
    assert records(messages, "campaigns") == []
    (sent,) = campaign_requests(graph, 1)
    assert json.loads(sent["filtering"])[0]["value"] == NOW - SETTLE_SECONDS


def test_second_run_sends_filter_from_bookmark_and_emits_only_newer(graph):
    state = {"bookmarks": {"campaigns": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "updated_time",
         "replication_key_value": "2024-05-02T08:30:00+00:00", "ids_at_bookmark": ["c2"]},
    ]}}}
    # Graph answers the bookmark second again (the overlap): c2 was emitted last run, c4 was
    # written in that same second after the last run read it, c5 is newer.
    graph.get(f"{BASE}/act_1/campaigns", json=page([
        {"id": "c2", "updated_time": T1}, {"id": "c4", "updated_time": T1},
        {"id": "c5", "updated_time": "2024-05-03T00:00:00+0000"},
    ]))
    messages = run(["campaigns"], state=state)
    assert [r["id"] for r in records(messages, "campaigns")] == ["c4", "c5"]
    (sent,) = campaign_requests(graph, 1)
    assert json.loads(sent["filtering"]) == [
        {"field": "campaign.updated_time", "operator": "GREATER_THAN", "value": T1_UNIX - 1}
    ]
    # Account 2 had no bookmark and no start_date: no filter, everything.
    (unfiltered,) = campaign_requests(graph, 2)
    assert "filtering" not in unfiltered
    partitions = last_state(messages)["bookmarks"]["campaigns"]["partitions"]
    assert partitions[0]["replication_key_value"] == "2024-05-03T00:00:00+00:00"
    assert "ids_at_bookmark" not in partitions[0]  # settled: the next read is strict


def test_unchanged_account_keeps_its_bookmark_and_settles_it(graph):
    state = {"bookmarks": {"campaigns": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "updated_time",
         "replication_key_value": "2024-05-02T08:30:00+00:00", "ids_at_bookmark": ["c2"]},
    ]}}}
    graph.get(f"{BASE}/act_1/campaigns", json=page([{"id": "c2", "updated_time": T1}]))
    messages = run(["campaigns"], state=state)
    assert records(messages, "campaigns") == []
    first = last_state(messages)["bookmarks"]["campaigns"]["partitions"][0]
    assert first == {"context": {"account_id": "1"}, "replication_key": "updated_time",
                     "replication_key_value": "2024-05-02T08:30:00+00:00",
                     "read_started": NOW}
    # This read began long after the bookmark: the next one asks strictly past it, and
    # drops what Graph sends at the bookmark's second without needing the ids.
    graph.reset_mock()
    assert records(run(["campaigns"], state=last_state(messages)), "campaigns") == []
    (sent,) = campaign_requests(graph, 1)
    assert json.loads(sent["filtering"])[0]["value"] == T1_UNIX


def test_start_date_bounds_the_first_run(graph):
    run(["campaigns", "adsets", "ads"], start_date="2024-05-02T08:30:00Z")
    for edge, field in (("campaigns", "campaign"), ("adsets", "adset"), ("ads", "ad")):
        sent = [query(r) for r in graph.request_history
                if path(r) == f"/v26.0/act_1/{edge}"]
        assert json.loads(sent[0]["filtering"]) == [
            {"field": f"{field}.updated_time", "operator": "GREATER_THAN",
             "value": T1_UNIX - 1}
        ]


def test_custom_audiences_ask_graph_to_filter_and_check_what_comes_back(graph):
    state = {"bookmarks": {"custom_audiences": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "time_updated",
         "replication_key_value": "2024-05-02T08:30:00+00:00", "ids_at_bookmark": ["a2"]},
    ]}}}
    graph.get(f"{BASE}/act_1/customaudiences", json=page([
        {"id": "a1", "time_updated": T1_UNIX - 3600},
        {"id": "a2", "time_updated": T1_UNIX},
        {"id": "a3", "time_updated": T1_UNIX + 60},
    ]))
    messages = run(["custom_audiences"], state=state)
    # Graph ignored the filter here and sent everything: the bookmark still applies.
    assert [r["id"] for r in records(messages, "custom_audiences")] == ["a3"]
    (sent,) = [query(r) for r in graph.request_history
               if path(r) == "/v26.0/act_1/customaudiences"]
    assert json.loads(sent["filtering"]) == [
        {"field": "time_updated", "operator": "GREATER_THAN", "value": T1_UNIX - 1}]
    partitions = last_state(messages)["bookmarks"]["custom_audiences"]["partitions"]
    assert partitions[0]["replication_key_value"] == "2024-05-02T08:31:00+00:00"


def test_rerun_with_final_state_emits_nothing_twice(graph):
    body = page([{"id": "c1", "updated_time": T0}, {"id": "c2", "updated_time": T1}])
    graph.get(f"{BASE}/act_1/campaigns", json=body)
    first = run(["campaigns"])
    second = run(["campaigns"], state=last_state(first))
    assert [r["id"] for r in records(first, "campaigns")] == ["c1", "c2"]
    assert records(second, "campaigns") == []


@pytest.mark.parametrize("message", [
    "(#100) Filtering field time_updated is invalid",
    # The filter refused in words that name a field: still the filter, not the replication
    # key disappearing (the request carried `filtering` on that field).
    "(#100) Tried accessing nonexisting field (time_updated) on node type (CustomAudience)",
])
def test_refused_audience_filter_falls_back_to_reading_the_edge_whole(graph, caplog, message):
    state = {"bookmarks": {"custom_audiences": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "time_updated",
         "replication_key_value": "2024-05-02T08:30:00+00:00", "ids_at_bookmark": []},
        {"context": {"account_id": "2"}, "replication_key": "time_updated",
         "replication_key_value": "2024-05-02T08:30:00+00:00", "ids_at_bookmark": []},
    ]}}}
    refused = {"error": {"message": message, "code": 100, "fbtrace_id": "NF"}}
    rows = page([{"id": "a1", "time_updated": T1_UNIX - 10},
                 {"id": "a2", "time_updated": T1_UNIX + 10}])
    graph.get(f"{BASE}/act_1/customaudiences", [{"status_code": 400, "json": refused},
                                                {"json": rows}])
    graph.get(f"{BASE}/act_2/customaudiences", json=page([]))
    messages = run(["custom_audiences"], state=state)
    assert [r["id"] for r in records(messages, "custom_audiences")] == ["a2"]
    sent = [query(r) for r in graph.request_history if path(r).endswith("/customaudiences")]
    assert ["filtering" in q for q in sent] == [True, False, False]
    assert [r.getMessage() for r in caplog.records if "refused" in r.getMessage()] == [
        "Graph refused the filtering parameter on custom_audiences (HTTP 400, code 100, "
        "fbtrace_id NF); reading the edge whole and applying the bookmark to what comes back"]


@pytest.mark.parametrize(("read_started", "value"), [
    (None, T1_UNIX - 1),  # unknown: overlap the bookmark second
    (T1_UNIX + 10, T1_UNIX - 1),  # read right after the bookmark: overlap
    (T1_UNIX + 300, T1_UNIX),  # read long after: strictly newer only
])
def test_overlap_only_while_the_bookmark_is_recent(graph, read_started, value):
    partition = {"context": {"account_id": "1"}, "replication_key": "updated_time",
                 "replication_key_value": "2024-05-02T08:30:00+00:00", "ids_at_bookmark": []}
    if read_started is not None:
        partition["read_started"] = read_started
    messages = run(["campaigns"], state={"bookmarks": {"campaigns": {"partitions": [partition]}}})
    (sent,) = campaign_requests(graph, 1)
    assert json.loads(sent["filtering"])[0]["value"] == value
    first = last_state(messages)["bookmarks"]["campaigns"]["partitions"][0]
    assert first["read_started"] == NOW


def test_partition_states_are_found_by_key_and_created_once():
    first = {"context": {"account_id": "1"}, "replication_key_value": "a"}
    state = {"bookmarks": {"campaigns": {"partitions": [first]}}}
    manager = IndexedStateManager(stream_name="campaigns", tap_state=state,
                                  state_partitioning_keys=["account_id"])
    assert manager.get_context_state({"account_id": "1", "business_id": "9"}) is first
    created = manager.get_context_state({"account_id": "2"})
    assert manager.get_context_state({"account_id": "2"}) is created
    assert state["bookmarks"]["campaigns"]["partitions"] == [first, {"context": {
        "account_id": "2"}}]


def test_starting_points_are_logged_once_per_stream_not_per_account(graph, caplog):
    graph.get(f"{BASE}/act_1/campaigns", json=page([]))
    graph.get(f"{BASE}/act_2/campaigns", json=page([]))
    state = {"bookmarks": {"campaigns": {"partitions": [
        {"context": {"account_id": "2"}, "replication_key": "updated_time",
         "replication_key_value": "2024-05-02T08:30:00+00:00", "ids_at_bookmark": []},
    ]}}}
    caplog.set_level("INFO")
    run(["campaigns"], state=state)
    run(["campaigns"])
    assert [r.getMessage() for r in caplog.records
            if r.levelname == "INFO" and "Starting incremental" in r.getMessage()] == [
        "Starting incremental sync of 'campaigns' for 2 ad accounts: 1 from a bookmark or "
        "start_date (earliest 2024-05-02T08:30:00+00:00), 1 from the beginning",
        "Starting incremental sync of 'campaigns' for 2 ad accounts: 0 from a bookmark or "
        "start_date, 2 from the beginning"]
