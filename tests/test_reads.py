"""`_read_id` on every full-table record, `complete_reads`: which reads were complete, and
`partial_reads`: the partitions a read left unread, the rest of it complete.

A complete read follows ACTIVATE_VERSION's rule (tests/test_activate_version.py): every edge
of the stream read, no dry run, the run succeeded. A warehouse keeps a stream's rows whose
`_read_id` is at least its latest complete read's, so a read that is not complete must never
be listed; one whose skips each name a partition is a partial read, and a partition it names
keeps its rows as last read.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

import tap_meta_bm
from tap_meta_bm.run import RunStream
from tap_meta_bm.streams.reads import PARTITION_COLUMNS
from tap_meta_bm.tap import TapMetaBM
from tests.helpers import (
    BASE,
    BUSINESS,
    READ_ID,
    catalog,
    config,
    last_state,
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


REFUSED = {"error": {"code": 200, "message": "(#200) Requires business_management permission"}}
#: What partial_reads says of a partition by the columns it does not name.
NO_COLUMNS = dict.fromkeys(PARTITION_COLUMNS)
ACCOUNT_2 = {"business_id": BUSINESS, "account_id": "2", "asset_type": "AD_ACCOUNT",
             "asset_id": "act_2"}


def unread_row(partition: dict[str, str], *, since: str = READ_AT, reads: int = 1) -> dict:
    return {"stream": "ad_account_assignments", "read_id": READ_ID, "read_at": READ_AT,
            "partition": " ".join(f"{k}={v}" for k, v in partition.items()),
            **NO_COLUMNS, **partition, "unread_since": since, "reads": reads}


def test_a_read_with_a_skipped_partition_is_partial_and_names_it(graph, caplog):
    graph.get(f"{BASE}/act_2/assigned_users", status_code=403, json=REFUSED)
    caplog.set_level(logging.INFO)
    streams = ["ad_account_assignments", "business_users", "complete_reads", "partial_reads"]
    messages = run(streams)
    assert [r["stream"] for r in records(messages, "complete_reads")] == ["business_users"]
    assert [r["_read_id"] for r in records(messages, "ad_account_assignments")] == [READ_ID] * 2
    assert records(messages, "partial_reads") == [unread_row(ACCOUNT_2)]
    assert last_state(messages)["bookmarks"]["ad_account_assignments"]["unread_partitions"] == [
        {"partition": ACCOUNT_2, "since": READ_ID, "reads": 1}]
    assert "    ad_account_assignments business_id 111, account_id 2, asset_type AD_ACCOUNT, " \
           "asset_id act_2: unread since 2025-12-02 00:00 UTC (1 read)" in caplog.messages

    # Refused again a day later: since the first of those reads, two reads now.
    day = 86_400_000
    state = last_state(messages)
    again = run(streams, state=state, read_id=READ_ID + day)
    assert records(again, "partial_reads") == [
        {**unread_row(ACCOUNT_2, reads=2), "read_id": READ_ID + day,
         "read_at": "2025-12-03T00:00:00+00:00"}]
    assert "    ad_account_assignments business_id 111, account_id 2, asset_type AD_ACCOUNT, " \
           "asset_id act_2: unread since 2025-12-02 00:00 UTC (2 reads)" in caplog.messages

    # Read again: a complete read, and nothing left unread in the state.
    graph.get(f"{BASE}/act_2/assigned_users", json=page([{"id": "u1"}]))
    healed = run(streams, state=last_state(again), read_id=READ_ID + 2 * day)
    assert [r["stream"] for r in records(healed, "complete_reads")] == [
        "business_users", "ad_account_assignments"]
    assert records(healed, "partial_reads") == []
    assert "unread_partitions" not in last_state(healed)["bookmarks"]["ad_account_assignments"]


def test_a_business_list_left_unread_keeps_every_partition_below_it(graph):
    """The business's client ad accounts refused: the accounts the run knows were read, and
    whatever that business's unlisted accounts held stays as last read."""
    graph.get(f"{BASE}/{BUSINESS}/client_ad_accounts", status_code=403, json=REFUSED)
    messages = run(["ad_accounts", "ad_account_assignments", "complete_reads", "partial_reads"])
    assert records(messages, "complete_reads") == []
    assert records(messages, "partial_reads") == [
        {**unread_row({"business_id": BUSINESS, "relationship": "CLIENT"}),
         "stream": "ad_accounts"},
        unread_row({"business_id": BUSINESS})]
    assert {r["account_id"] for r in records(messages, "ad_account_assignments")} == {"1", "2"}


def test_a_skip_that_names_no_partition_leaves_the_stream_unread(graph):
    """Without business_ids the businesses come from the token's list: refused, nothing of
    the stream is known, and no read of it is recorded at all."""
    graph.get(f"{BASE}/me/businesses", status_code=403, json=REFUSED)
    messages = run(["businesses", "complete_reads", "partial_reads"], business_ids=[])
    assert records(messages, "complete_reads") == records(messages, "partial_reads") == []


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



def test_partial_reads_has_a_column_for_every_partition_column_of_a_full_table_stream():
    tap = TapMetaBM(config=config())
    columns = {column for stream in tap.streams.values()
               if getattr(stream, "full_table", False)
               for column in getattr(stream, "context_columns", ())}
    assert columns <= set(PARTITION_COLUMNS), columns - set(PARTITION_COLUMNS)
    assert {"business_id", "account_id", "page_id", "user_id"} <= columns  # streams found


def test_a_runs_life_is_begun_and_ended_by_the_run_alone():
    """SyncRun owns a run's start, failure and end: streams reach it through the SDK's
    hooks in two places only (RunStream.log_sync_costs: a stream is done; GraphStream's
    records: the first record, and a failure), and every stream of the tap is a RunStream."""
    package = Path(tap_meta_bm.__file__).parent
    callers: dict[str, set[str]] = {}
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("stream_done", "failed", "before_first_record",
                                       "log_summary", "finished_reads"):
                callers.setdefault(node.func.attr, set()).add(
                    str(source.relative_to(package)))
    assert callers == {"stream_done": {"run.py"}, "log_summary": {"run.py"},
                       "failed": {"graph_stream.py"}, "before_first_record": {"graph_stream.py"},
                       "finished_reads": {"streams/reads.py"}}
    tap = TapMetaBM(config=config())
    assert all(isinstance(stream, RunStream) for stream in tap.streams.values())
