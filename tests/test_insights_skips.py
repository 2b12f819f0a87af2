"""No insights day is ever lost: an account whose report rows could not all be read keeps its
bookmark where it was, so the next run reads those days again (issue 23, item 1)."""

from __future__ import annotations

import logging

import pytest

from tests.helpers import BASE, REPORT_PREFIX, last_state, page, records, run
from tests.test_insights import (  # noqa: F401 (frozen_start and graph are fixtures)
    ROW,
    TODAY_LOS_ANGELES,
    TODAY_TOKYO,
    frozen_start,
    graph,
)

OLD_BOOKMARK = "2026-11-20"


@pytest.fixture(autouse=True)
def unreadable_rows_of_account_2(graph):  # noqa: F811 (the fixture above)
    """Account 2's job finished, but its rows cannot be read."""
    graph.get(f"{BASE}/{REPORT_PREFIX}2/insights", status_code=400, json={"error": {
        "code": 100, "error_subcode": 33, "fbtrace_id": "T",
        "message": "Unsupported get request. Object with ID '700002' does not exist"}})


def partitions(messages):
    return {p["context"]["account_id"]: p.get("replication_key_value")
            for p in last_state(messages)["bookmarks"]["ads_insights"]["partitions"]}


@pytest.mark.parametrize("max_workers", [1, 4])
def test_unread_rows_keep_the_account_bookmark_where_it_was(graph, caplog, max_workers):  # noqa: F811
    state = {"bookmarks": {"ads_insights": {"partitions": [
        {"context": {"account_id": account}, "replication_key": "date_start",
         "replication_key_value": OLD_BOOKMARK} for account in ("1", "2")]}}}
    caplog.set_level(logging.INFO)
    messages = run(["ads_insights"], state=state, max_workers=max_workers,
                   insights_lookback_days=7)
    assert [r["account_id"] for r in records(messages, "ads_insights")] == ["1"]
    assert partitions(messages) == {"1": TODAY_TOKYO, "2": OLD_BOOKMARK}
    assert ("ads_insights: ad account 2: the rows of 1 finished report job(s) could not be "
            f"read; its bookmark stays at {OLD_BOOKMARK}, so the next run reads those days "
            "again") in caplog.messages
    assert (f"  Bookmarks kept back (the next run reads those days again): ads_insights "
            f"ad account 2 at {OLD_BOOKMARK}") in caplog.messages


def test_a_first_run_with_unread_rows_writes_no_bookmark_for_that_account(graph):  # noqa: F811
    messages = run(["ads_insights"], start_date="2026-11-25T00:00:00Z")
    assert partitions(messages) == {"1": TODAY_TOKYO, "2": None}


def test_a_second_run_reads_the_kept_days_again(graph):  # noqa: F811
    first = run(["ads_insights"], start_date="2026-11-25T00:00:00Z")
    graph.get(f"{BASE}/{REPORT_PREFIX}2/insights", json=page([{**ROW, "account_id": "2"}]))
    graph.reset_mock()
    second = run(["ads_insights"], state=last_state(first), start_date="2026-11-25T00:00:00Z")
    posted = [r.text for r in graph.request_history
              if r.method == "POST" and r.url.endswith("act_2/insights")]
    assert len(posted) == 1 and "2026-11-25" in posted[0]  # from start_date again
    assert partitions(second) == {"1": TODAY_TOKYO, "2": TODAY_LOS_ANGELES}
