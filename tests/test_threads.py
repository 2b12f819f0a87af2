"""No thread the tap starts outlives the run: after a run, a dry run (`--test`, which stops
each stream at its first record) and a failed run, every partition worker and report-job
scheduler has ended."""

from __future__ import annotations

import threading

import pytest
import requests_mock

from tap_meta_bm.errors import GraphFatalError
from tap_meta_bm.tap import TapMetaBM
from tests.helpers import (
    BASE,
    BUSINESS,
    REPORT_PREFIX,
    catalog,
    config,
    messages_of,
    mock_batch,
    mock_empty_graph,
    page,
    run,
)

ACCOUNTS = [str(n) for n in range(1, 7)]
STREAMS = ["campaigns", "ads_insights", "ad_account_assignments"]


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mock_batch(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts",
                   json=page([{"id": f"act_{n}"} for n in ACCOUNTS]))
        for n in ACCOUNTS:
            mocker.get(f"{BASE}/act_{n}/campaigns", json=page([
                {"id": f"c{n}{i}", "updated_time": "2024-01-01T00:00:00+0000"}
                for i in range(5)]))
            mocker.get(f"{BASE}/{REPORT_PREFIX}{n}/insights", json=page([
                {"account_id": n, "ad_id": f"d{n}", "date_start": "2026-11-30",
                 "date_stop": "2026-11-30", "impressions": "1"}]))
        yield mocker


def tap_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("partition-worker-")
            or t.name.endswith("-jobs")}


@pytest.fixture
def no_thread_left():
    before = tap_threads()
    yield
    assert {t.name for t in tap_threads() - before} == set()


def test_a_run_leaves_no_thread(graph, no_thread_left):
    messages = run(STREAMS, max_workers=4)
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {
        "campaigns", "ads_insights"}


def test_a_dry_run_leaves_no_thread(graph, no_thread_left):
    tap = TapMetaBM(config=config(max_workers=4), catalog=catalog(STREAMS))
    messages = messages_of(lambda: tap.run_sync_dry_run(dry_run_record_limit=1))
    records = [m["stream"] for m in messages if m["type"] == "RECORD"]
    # A dry run selects every stream and stops each at its first record, the rest unread.
    assert records.count("campaigns") == records.count("ads_insights") == 1


@pytest.mark.parametrize("failing", ["/act_3/campaigns", f"/{REPORT_PREFIX}3/insights"])
def test_a_failed_run_leaves_no_thread(graph, no_thread_left, failing):
    graph.get(BASE + failing, status_code=400, json={"error": {
        "message": "Error validating access token: Session has expired.",
        "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "E"}})
    with pytest.raises(GraphFatalError):
        run(STREAMS, max_workers=4)
