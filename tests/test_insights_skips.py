"""No insights day is ever lost: an account whose report rows could not all be read keeps its
bookmark where it was, so the next run reads those days again (issue 23, item 1)."""

from __future__ import annotations

import logging

import pytest
import requests_mock

from tests.helpers import (
    BASE,
    BUSINESS,
    REPORT_PREFIX,
    last_state,
    mock_batch,
    mock_empty_graph,
    page,
    records,
    run,
)
from tests.test_insights import NOW, ROW, TODAY_TOKYO

OLD_BOOKMARK = "2026-11-20"


@pytest.fixture(autouse=True)
def frozen_start(monkeypatch):
    monkeypatch.setattr("tap_meta_bm.run.time.time", lambda: float(NOW))


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mock_batch(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([
            {"id": "act_1", "timezone_name": "Asia/Tokyo"},
            {"id": "act_2", "timezone_name": "Asia/Tokyo"}]))
        mocker.get(f"{BASE}/{REPORT_PREFIX}1/insights", json=page([ROW]))
        # The job of account 2 finished, but its rows cannot be read.
        mocker.get(f"{BASE}/{REPORT_PREFIX}2/insights", status_code=400, json={"error": {
            "code": 100, "error_subcode": 33, "fbtrace_id": "T",
            "message": "Unsupported get request. Object with ID '700002' does not exist"}})
        yield mocker


def partitions(messages):
    return {p["context"]["account_id"]: p.get("replication_key_value")
            for p in last_state(messages)["bookmarks"]["ads_insights"]["partitions"]}


@pytest.mark.parametrize("max_workers", [1, 4])
def test_unread_rows_keep_the_account_bookmark_where_it_was(graph, caplog, max_workers):
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


def test_a_first_run_with_unread_rows_writes_no_bookmark_for_that_account(graph):
    messages = run(["ads_insights"], start_date="2026-11-25T00:00:00Z")
    assert partitions(messages) == {"1": TODAY_TOKYO, "2": None}


def test_a_second_run_reads_the_kept_days_again(graph):
    first = run(["ads_insights"], start_date="2026-11-25T00:00:00Z")
    graph.get(f"{BASE}/{REPORT_PREFIX}2/insights", json=page([{**ROW, "account_id": "2"}]))
    graph.reset_mock()
    second = run(["ads_insights"], state=last_state(first), start_date="2026-11-25T00:00:00Z")
    posted = [r.text for r in graph.request_history
              if r.method == "POST" and r.url.endswith("act_2/insights")]
    assert len(posted) == 1 and "2026-11-25" in posted[0]  # from start_date again
    assert partitions(second) == {"1": TODAY_TOKYO, "2": TODAY_TOKYO}
