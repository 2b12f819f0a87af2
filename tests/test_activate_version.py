"""ACTIVATE_VERSION: full-table streams say "these rows are all there is", only when true."""

from __future__ import annotations

import logging
import time

import pytest
import requests_mock

from tests.helpers import BASE, BUSINESS, mock_empty_graph, page, run, run_failing


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": "act_1"},
                                                                     {"id": "act_2"}]))
        mocker.get(f"{BASE}/act_1/assigned_users", json=page([
            {"id": "u1", "tasks": ["MANAGE"]}, {"id": "u2", "tasks": ["ANALYZE"]}]))
        mocker.get(f"{BASE}/act_2/assigned_users", json=page([{"id": "u1", "tasks": ["MANAGE"]}]))
        yield mocker


def kinds(messages, stream):
    return [(m["type"], m.get("version")) for m in messages
            if m.get("stream") == stream and m["type"] in ("RECORD", "ACTIVATE_VERSION")]


def test_the_version_comes_after_every_record_and_every_record_carries_it(graph):
    messages = run(["ad_account_assignments"], emit_activate_version_messages=True)
    seen = kinds(messages, "ad_account_assignments")
    version = seen[-1][1]
    assert isinstance(version, int)
    assert seen == [("RECORD", version)] * 3 + [("ACTIVATE_VERSION", version)]
    # After the stream's last STATE too: nothing after it can be lost with the run.
    types = [m["type"] for m in messages]
    assert types.index("ACTIVATE_VERSION") > max(
        n for n, m in enumerate(messages) if m["type"] == "RECORD")


def test_off_by_default_and_never_for_incremental_streams(graph):
    assert kinds(run(["ad_account_assignments"]), "ad_account_assignments") == [
        ("RECORD", None)] * 3
    messages = run(["campaigns"], emit_activate_version_messages=True)
    assert not [m for m in messages if m["type"] == "ACTIVATE_VERSION"]


def test_a_skipped_edge_is_no_revocation(graph, caplog):
    graph.get(f"{BASE}/act_2/assigned_users", status_code=403, json={"error": {
        "code": 200, "message": "(#200) Requires business_management permission"}})
    caplog.set_level(logging.WARNING)
    messages = run(["ad_account_assignments"], emit_activate_version_messages=True)
    assert [m["type"] for m in messages if m["type"] == "ACTIVATE_VERSION"] == []
    assert "ad_account_assignments: not all of it was read, so no ACTIVATE_VERSION this run: " \
           "rows the run could not read are kept, not marked deleted (partial_reads names " \
           "them for the warehouse)" in caplog.messages


def test_a_failed_run_writes_no_version(graph):
    graph.get(f"{BASE}/act_2/assigned_users", status_code=400, json={"error": {
        "code": 190, "error_subcode": 463, "message": "Session has expired"}})
    messages = run_failing(["ad_account_assignments"], "Meta rejected the access token",
                           emit_activate_version_messages=True)
    types = [m["type"] for m in messages]
    assert "RECORD" in types and "ACTIVATE_VERSION" not in types


def versions_of(messages: list[dict]) -> set[int]:
    return {m["version"] for m in messages if m["type"] in ("RECORD", "ACTIVATE_VERSION")
            and m["stream"] == "ad_account_assignments"}


def test_two_runs_in_the_same_second_have_versions_of_their_own(graph, monkeypatch):
    # The SDK's version is the second the run started: both runs would have 1796000000.
    now = [1_796_000_000_000_001_000]
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    first = run(["ad_account_assignments"], emit_activate_version_messages=True)
    now[0] += 1_000  # a microsecond later
    second = run(["ad_account_assignments"], emit_activate_version_messages=True)
    assert versions_of(first) == {1_796_000_000_000_001}
    assert versions_of(second) == {1_796_000_000_000_002}
    state = [m for m in second if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["ad_account_assignments"]["table_version"] == \
        1_796_000_000_000_002


def test_a_clock_set_back_never_gives_a_smaller_version(graph, monkeypatch):
    """The state's version was written by a run whose clock was ahead: this run's rows get a
    larger one all the same, or its ACTIVATE_VERSION would leave the older rows live."""
    monkeypatch.setattr(time, "time_ns", lambda: 1_796_000_000_000_000_000)
    state = {"bookmarks": {"ad_account_assignments": {"table_version": 1_796_000_090_000_000}}}
    messages = run(["ad_account_assignments"], state=state,
                   emit_activate_version_messages=True)
    assert versions_of(messages) == {1_796_000_090_000_001}
