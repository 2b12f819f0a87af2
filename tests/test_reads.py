"""`_read_id` on every full-table record, and `complete_reads`: which reads were complete.

The rule is ACTIVATE_VERSION's (tests/test_activate_version.py): every edge of the stream
read, no dry run, the run succeeded. A warehouse keeps a stream's rows whose `_read_id` is at
least its latest complete read's, so a read that is not complete must never be listed.
"""

from __future__ import annotations

import logging

import pytest

from tap_meta_bm.tap import TapMetaBM
from tests.helpers import (
    BASE,
    BUSINESS,
    READ_ID,
    catalog,
    config,
    messages_of,
    page,
    records,
    run,
    run_failing,
)

READ_AT = "2025-12-02T00:00:00+00:00"  # READ_ID, the run's first millisecond


@pytest.fixture
def graph(two_account_graph):
    two_account_graph.get(f"{BASE}/act_1/assigned_users", json=page([{"id": "u1"},
                                                                     {"id": "u2"}]))
    two_account_graph.get(f"{BASE}/act_2/assigned_users", json=page([{"id": "u1"}]))
    two_account_graph.get(f"{BASE}/{BUSINESS}/business_users", json=page([{"id": "u1"}]))
    two_account_graph.get(f"{BASE}/act_1/campaigns", json=page([
        {"id": "c1", "updated_time": "2024-01-01T00:00:00+0000"}]))
    return two_account_graph


def test_every_complete_full_table_read_is_listed_with_the_id_its_rows_carry(graph):
    messages = run(["ad_account_assignments", "business_users", "campaigns", "complete_reads"])
    assert {r["_read_id"] for r in records(messages, "ad_account_assignments")} == {READ_ID}
    assert [r["_read_id"] for r in records(messages, "business_users")] == [READ_ID]
    assert "_read_id" not in records(messages, "campaigns")[0]  # incremental: upserted by key
    assert records(messages, "complete_reads") == [
        # No Date header in these answers: Graph's clock is taken to be this machine's.
        {"stream": "business_users", "read_id": READ_ID, "read_at": READ_AT,
         "graph_read_at": READ_AT, "account_shard": None, "records": 1},
        {"stream": "ad_account_assignments", "read_id": READ_ID, "read_at": READ_AT,
         "graph_read_at": READ_AT, "account_shard": None, "records": 3},
    ]
    # Written after every other stream's records: it describes them.
    streams = [m["stream"] for m in messages if m["type"] == "RECORD"]
    assert streams[-2:] == ["complete_reads"] * 2
    assert "complete_reads" not in streams[:-2]


def test_a_read_with_a_skipped_edge_is_not_complete(graph, caplog):
    graph.get(f"{BASE}/act_2/assigned_users", status_code=403, json={"error": {
        "code": 200, "message": "(#200) Requires business_management permission"}})
    caplog.set_level(logging.WARNING)
    messages = run(["ad_account_assignments", "business_users", "complete_reads"])
    assert [r["stream"] for r in records(messages, "complete_reads")] == ["business_users"]
    assert [r["_read_id"] for r in records(messages, "ad_account_assignments")] == [READ_ID] * 2


def test_a_failed_run_lists_no_complete_read(graph):
    graph.get(f"{BASE}/act_2/assigned_users", status_code=400, json={"error": {
        "code": 190, "error_subcode": 463, "message": "Session has expired"}})
    messages = run_failing(["business_users", "ad_account_assignments", "complete_reads"],
                           "Meta rejected the access token")
    assert records(messages, "business_users")  # read completely, but the run failed
    assert records(messages, "complete_reads") == []


def test_a_dry_run_lists_no_complete_read(graph):
    tap = TapMetaBM(config=config(), catalog=catalog(["business_users", "complete_reads"]))
    messages = messages_of(lambda: tap.run_sync_dry_run(dry_run_record_limit=1))
    assert records(messages, "business_users")
    assert records(messages, "complete_reads") == []


def test_read_id_is_written_even_when_deselected(graph):
    messages = run(["business_users"], deselect={"business_users": ["_read_id", "name"]})
    assert records(messages, "business_users") == [
        {"id": "u1", "business_id": BUSINESS, "_read_id": READ_ID}]

