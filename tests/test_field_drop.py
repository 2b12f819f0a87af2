"""A field Graph stops reading mid-run: left out of `fields=` for the rest of the run."""

from __future__ import annotations

import logging

import pytest

from tap_meta_bm.errors import GraphFatalError
from tests.helpers import (
    BASE,
    BUSINESS,
    READ_ID,
    last_state,
    page,
    path,
    query,
    records,
    run,
)

CAMPAIGN_FIELDS = ("id,name,status,configured_status,effective_status,created_time,updated_time,"
                   "issues_info,recommendations,objective")


def nonexisting(field: str, node: str = "Campaign") -> dict:
    return {"status_code": 400, "json": {"error": {
        "message": f"(#100) Tried accessing nonexisting field ({field}) on node type ({node})",
        "type": "OAuthException", "code": 100, "fbtrace_id": "D1"}}}


def campaign(cid: str, second: int) -> dict:
    return {"id": cid, "name": cid, "updated_time": f"2024-01-01T00:00:0{second}+0000"}


@pytest.fixture
def graph(two_account_graph):
    return two_account_graph


def only(fields: str):
    """Deselect every campaign property but these (keys and replication key stay)."""
    from tap_meta_bm.streams.ads import CampaignsStream
    keep = set(fields.split(","))
    return {"campaigns": [p for p in CampaignsStream.schema["properties"] if p not in keep]}


def campaign_requests(graph) -> list[tuple[str, str | None, str]]:
    return [(path(r), query(r).get("after"), query(r)["fields"])
            for r in graph.request_history if path(r).endswith("/campaigns")]


def test_dropped_field_is_left_out_for_the_rest_of_the_run(graph, caplog):
    graph.get(f"{BASE}/act_1/campaigns", [
        {"json": page([campaign("c1", 1)], after="A")},  # page 1 still has it
        nonexisting("recommendations"),
        {"json": page([campaign("c2", 2)])},
    ])
    graph.get(f"{BASE}/act_2/campaigns", json=page([campaign("c3", 3)]))
    caplog.set_level("INFO")
    messages = run(["campaigns"], deselect=only(CAMPAIGN_FIELDS))
    assert [r["id"] for r in records(messages, "campaigns")] == ["c1", "c2", "c3"]
    without = CAMPAIGN_FIELDS.replace(",recommendations", "")
    assert campaign_requests(graph) == [
        ("/v26.0/act_1/campaigns", None, CAMPAIGN_FIELDS),
        ("/v26.0/act_1/campaigns", "A", CAMPAIGN_FIELDS),
        ("/v26.0/act_1/campaigns", "A", without),
        ("/v26.0/act_2/campaigns", None, without),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Graph v26.0 no longer reads field 'recommendations' of stream campaigns [HTTP 400, "
        "code 100, fbtrace_id D1]; reading campaigns without it for the rest of the run: the "
        "column stays null; deselect it or pin api_version"]
    lines = [r.getMessage() for r in caplog.records]
    assert ("  Fields left out for the rest of the run (null from then on): "
            "campaigns.recommendations") in lines
    # Exact state: both accounts bookmarked at what they emitted.
    partitions = last_state(messages)["bookmarks"]["campaigns"]["partitions"]
    assert [(p["context"], p["replication_key_value"]) for p in partitions] == [
        ({"account_id": "1"}, "2024-01-01T00:00:02+00:00"),
        ({"account_id": "2"}, "2024-01-01T00:00:03+00:00")]


def test_dropped_field_leaves_batched_first_pages_too(graph, caplog):
    graph.get(f"{BASE}/act_1/campaigns", [nonexisting("objective"),
                                          {"json": page([campaign("c1", 1)])}])
    graph.get(f"{BASE}/act_2/campaigns", [nonexisting("objective"),
                                          {"json": page([campaign("c3", 3)])}])
    messages = run(["campaigns"], deselect=only(CAMPAIGN_FIELDS), max_workers=4)
    assert sorted(r["id"] for r in records(messages, "campaigns")) == ["c1", "c3"]
    batched = [r for r in graph.request_history if r.method == "POST"]
    assert len(batched) == 1  # both first pages in one batch, both refused the field
    alone = [(p, f) for p, _, f in campaign_requests(graph) if _ is None]
    without = CAMPAIGN_FIELDS.replace(",objective", "")
    # Each sub-request (as the batch mock replays it), then each resent alone without it.
    assert sorted(alone) == sorted([
        ("/v26.0/act_1/campaigns", CAMPAIGN_FIELDS), ("/v26.0/act_2/campaigns", CAMPAIGN_FIELDS),
        ("/v26.0/act_1/campaigns", without), ("/v26.0/act_2/campaigns", without)])
    assert len([r for r in caplog.records if r.levelno == logging.WARNING
                and "no longer reads field 'objective'" in r.getMessage()]) == 1


@pytest.mark.parametrize(("field", "role"), [("id", "key"),
                                             ("updated_time", "replication key")])
def test_a_key_field_graph_refuses_is_fatal(graph, field, role):
    graph.get(f"{BASE}/act_1/campaigns", **nonexisting(field))
    with pytest.raises(GraphFatalError) as raised:
        run(["campaigns"])
    assert str(raised.value) == (
        f"campaigns edge /act_1/campaigns: Graph v26.0 no longer reads '{field}', the {role} "
        "of stream campaigns, so the stream cannot be synced [HTTP 400, code 100, fbtrace_id "
        "D1]. Pin api_version to the version that worked, or deselect the stream.")


def test_a_field_the_request_did_not_ask_for_is_a_request_bug(graph):
    graph.get(f"{BASE}/act_1/campaigns", **nonexisting("bogus"))
    with pytest.raises(GraphFatalError, match=r"^Graph refused the request for campaigns edge "
                                              r"/act_1/campaigns: \(#100\) Tried accessing "
                                              r"nonexisting field \(bogus\)"):
        run(["campaigns"])
    assert len(campaign_requests(graph)) == 1


def test_refused_again_after_the_drop_is_fatal_not_a_loop(graph):
    graph.get(f"{BASE}/act_1/campaigns", [nonexisting("objective"), nonexisting("objective")])
    with pytest.raises(GraphFatalError, match=r"nonexisting field \(objective\)"):
        run(["campaigns"], deselect=only(CAMPAIGN_FIELDS))
    assert len(campaign_requests(graph)) == 2


def test_a_renamed_column_is_named_by_its_schema_name(graph, caplog):
    graph.get(f"{BASE}/act_1/assigned_users", [nonexisting("user_type", "AssignedUser"),
                                               {"json": page([{"id": "u1", "name": "Ana"}])}])
    caplog.set_level("INFO")
    messages = run(["ad_account_assignments"])
    assert records(messages, "ad_account_assignments") == [
        {"user_id": "u1", "name": "Ana", "business_id": BUSINESS, "_read_id": READ_ID,
         "account_id": "1", "asset_type": "AD_ACCOUNT", "asset_id": "act_1"}]
    assert ("  Fields left out for the rest of the run (null from then on): "
            "ad_account_assignments.user_type") in [r.getMessage() for r in caplog.records]
