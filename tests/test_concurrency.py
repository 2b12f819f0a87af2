"""max_workers > 1 gives exactly the output of max_workers = 1: same records, same order
within each ad account, same final state."""

from __future__ import annotations

import logging
import math
import os
import re

import pytest
import requests_mock

from tests.helpers import (
    BASE,
    BUSINESS,
    comparable_state,
    last_state,
    mock_batch,
    mock_empty_graph,
    page,
    records,
    run,
)

ACCOUNTS = [f"act_{n}" for n in range(1, 13)]


def campaigns_of(account: str, request, context):
    n = int(account.removeprefix("act_"))
    after = request.qs.get("after", ["0"])[0]
    start = int(after)
    batch = [{"id": f"{n}-{i}", "updated_time": f"2024-01-{1 + i % 28:02d}T00:00:00+0000"}
             for i in range(start, min(start + 7, 5 * n))]
    more = start + 7 < 5 * n
    return page(batch, after=str(start + 7) if more else None)


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mock_batch(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": a} for a in ACCOUNTS]))
        mocker.get(re.compile(rf"^{re.escape(BASE)}/act_\d+/campaigns"), json=lambda r, c:
                   campaigns_of(r.path.split("/")[2], r, c))
        yield mocker


def test_parallel_run_equals_serial_run(graph):
    serial = run(["campaigns"], max_workers=1)
    parallel = run(["campaigns"], max_workers=8)
    assert records(parallel, "campaigns") == records(serial, "campaigns")
    assert comparable_state(last_state(parallel)) == comparable_state(last_state(serial))
    assert len(records(serial, "campaigns")) == sum(5 * n for n in range(1, 13))


def test_parallel_run_state_is_emitted_after_its_records(graph):
    messages = run(["campaigns"], max_workers=4)
    seen: set[str] = set()
    for message in messages:
        if message["type"] == "RECORD":
            seen.add(message["record"]["account_id"])
        if message["type"] == "STATE":
            for partition in message["value"]["bookmarks"].get("campaigns", {}).get(
                    "partitions", []):
                if "replication_key_value" in partition:
                    assert partition["context"]["account_id"] in seen


@pytest.mark.parametrize("workers", [1, 8])
def test_http_requests_are_counted_in_one_metric_line_per_stream(graph, caplog, workers):
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    run(["campaigns"], max_workers=workers)
    points = [record.args[0] for record in caplog.records
              if record.name == "singer_sdk.metrics" and record.args
              and record.args[0].metric.value == "http_request_count"]
    pages = sum(math.ceil(5 * n / 7) for n in range(1, 13))  # 7 campaigns a page
    assert [(p.tags, p.value) for p in points if p.tags["stream"] == "campaigns"] == [
        ({"stream": "campaigns", "endpoint": "/act_{account_id}/campaigns", "pid": os.getpid()},
         pages)]
