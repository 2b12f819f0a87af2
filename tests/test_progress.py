"""Progress on long work: a line a minute, with what is done and what is left; none on short
runs."""

from __future__ import annotations

import logging

import pytest

from tap_meta_bm.progress import duration
from tests.helpers import BASE, BUSINESS, page, run


@pytest.fixture
def graph(two_account_graph):
    return two_account_graph


def slow_campaigns(fake_time, seconds):
    """Each account's campaigns take `seconds` to read."""
    def respond(request, context):
        fake_time.now += seconds
        return page([{"id": f"c-{request.path}", "updated_time": "2024-01-01T00:00:00+0000"}])
    return respond


def progress_lines(caplog):
    return [r.getMessage() for r in caplog.records if "records so far" in r.getMessage()]


def test_a_long_stream_says_how_far_it_is_once_a_minute(graph, fake_time, caplog):
    graph.get(f"{BASE}/{BUSINESS}/owned_ad_accounts",
              json=page([{"id": "act_1"}, {"id": "act_2"}, {"id": "act_3"}]))
    for account in ("1", "2", "3"):
        graph.get(f"{BASE}/act_{account}/campaigns", json=slow_campaigns(fake_time, 45))
    caplog.set_level(logging.INFO)
    run(["campaigns"])
    assert progress_lines(caplog) == [
        "campaigns: 2 of 3 ad accounts done, 2 records so far; about 45 s left"]


def test_a_short_stream_says_nothing_of_progress(graph, fake_time, caplog):
    for account in ("1", "2"):
        graph.get(f"{BASE}/act_{account}/campaigns", json=slow_campaigns(fake_time, 5))
    caplog.set_level(logging.INFO)
    run(["campaigns"])
    assert progress_lines(caplog) == []


@pytest.mark.parametrize(("seconds", "text"), [(45, "45 s"), (720, "12 min"), (9000, "2.5 h")])
def test_estimates_read_as_durations(seconds, text):
    assert duration(seconds) == text
