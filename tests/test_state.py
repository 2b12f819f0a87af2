"""STATE on the wire (state.py): compact bookmarks, read back in the SDK's shape, written when
worth their size, and read back after Meltano merged a failed run's state into the last one."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest
import requests_mock

from tap_meta_bm import cli
from tap_meta_bm import tap as tap_module
from tap_meta_bm.state import (
    MAX_SECONDS_BETWEEN,
    MIN_STATE_WEIGHT,
    RECORD_BYTES_PER_STATE_BYTE,
    StateCheckpoints,
    UnreadPartition,
    carry_unread,
    compact_state,
    expand_state,
)
from tests.helpers import (
    BASE,
    BUSINESS,
    catalog,
    config,
    mock_empty_graph,
    page,
    path,
    query,
    run,
)

T1 = "2024-05-02T08:30:00+00:00"
T2 = "2024-06-01T00:00:00+00:00"
SDK_STATE = {"bookmarks": {
    "campaigns": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "updated_time",
         "replication_key_value": T1, "read_started": 1800000000},
        {"context": {"account_id": "2"}, "replication_key": "updated_time",
         "replication_key_value": T1, "read_started": 1800000000},
        {"context": {"account_id": "3"}, "replication_key": "updated_time",
         "replication_key_value": T2, "read_started": 1800000000, "ids_at_bookmark": ["c7"]},
        {"context": {"account_id": "4"}, "read_started": 1700000000},
        # In flight when the state was taken: the SDK's markers, kept as they are.
        {"context": {"account_id": "5"}, "progress_markers": {"replication_key": "updated_time",
                                                              "replication_key_value": T2}},
    ]},
    "complete_reads": {"replication_key": "read_at", "replication_key_value": T2},
    "businesses": {},
}}
COMPACT = {"bookmarks": {
    "campaigns": {
        "partition_key": "account_id", "replication_key": "updated_time",
        "bookmarks_by_read": {"1800000000": {T1: ["1", "2"], T2: ["3"]},
                              "1700000000": {"": ["4"]}},
        "ids_at_bookmark": {T2: {"3": ["c7"]}},
        "partitions": [{"context": {"account_id": "5"}, "progress_markers": {
            "replication_key": "updated_time", "replication_key_value": T2}}]},
    "complete_reads": {"replication_key": "read_at", "replication_key_value": T2},
    "businesses": {},
}}


def by_account(state: dict, stream: str = "campaigns") -> dict[str, dict]:
    return {p["context"]["account_id"]: p for p in state["bookmarks"][stream]["partitions"]}


def test_partitions_go_on_the_wire_grouped_by_read_and_bookmark():
    assert compact_state(SDK_STATE) == COMPACT


def test_the_compact_state_reads_back_as_the_sdks():
    assert by_account(expand_state(COMPACT)) == by_account(SDK_STATE)
    assert expand_state(COMPACT)["bookmarks"]["complete_reads"] == {
        "replication_key": "read_at", "replication_key_value": T2}


def test_a_state_in_the_sdks_shape_is_read_as_it_is():
    assert expand_state(SDK_STATE) == SDK_STATE


def test_after_meltano_merges_a_failed_runs_state_the_newest_bookmark_wins():
    # Meltano deep-merges the state of a failed run into the last complete one
    # (meltano.core.utils.merge): account 1 moved on in the failed run (a later read), and
    # account 3 moved on within the same read; the ids of 3's old bookmark stay behind.
    later = {"bookmarks": {"campaigns": {"partitions": [
        {"context": {"account_id": "1"}, "replication_key": "updated_time",
         "replication_key_value": T2, "read_started": 1900000000},
        {"context": {"account_id": "3"}, "replication_key": "updated_time",
         "replication_key_value": "2024-07-01T00:00:00+00:00", "read_started": 1800000000},
    ]}}}

    def merge(src: dict, dest: dict) -> dict:  # meltano.core.utils.merge, as it is
        for key, value in src.items():
            if isinstance(value, dict):
                merge(value, dest.setdefault(key, {}))
            else:
                dest[key] = value
        return dest

    merged = by_account(expand_state(merge(compact_state(later), json.loads(
        json.dumps(COMPACT)))))
    assert merged["1"] == later["bookmarks"]["campaigns"]["partitions"][0]
    assert merged["3"] == later["bookmarks"]["campaigns"]["partitions"][1]  # no stale ids
    assert merged["2"]["replication_key_value"] == T1


def test_damaged_compact_bookmarks_stop_the_run_with_one_line(tmp_path):
    damaged = {"bookmarks": {"campaigns": {"partition_key": "account_id",
                                           "bookmarks_by_read": {"1800000000": ["1"]}}}}
    (tmp_path / "state.json").write_text(json.dumps(damaged))
    (tmp_path / "config.json").write_text(json.dumps({
        "access_token": "EAAB" + "x" * 40, "business_ids": [BUSINESS]}))
    done = subprocess.run(
        [sys.executable, "-m", "tap_meta_bm", "--config", str(tmp_path / "config.json"),
         "--state", str(tmp_path / "state.json")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        "tap-meta-bm: error: The state's bookmarks of campaigns are damaged "
        "(bookmarks_by_read must map run starts to bookmarks to lists of ids); restore the "
        "state from the last complete run, or drop this stream's entry for a full sync of it.")


def test_a_compact_state_from_the_wire_sets_where_the_next_run_starts():
    with requests_mock.Mocker() as graph:
        mock_empty_graph(graph)
        graph.get(f"{BASE}/{BUSINESS}/owned_ad_accounts",
                  json=page([{"id": "act_1"}, {"id": "act_4"}]))
        run(["campaigns"], state=COMPACT)
        sent = {r.path.split("/")[2]: query(r) for r in graph.request_history
                if r.path.endswith("/campaigns")}
    assert json.loads(sent["act_1"]["filtering"])[0]["value"] == 1714638600  # T1, settled
    assert "filtering" not in sent["act_4"]  # read before, never had a bookmark


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def written() -> list[dict]:
    return []


class Output:
    """What a run's output tells the checkpoints: record bytes emitted, STATE lines written."""

    def __init__(self, written: list[dict]) -> None:
        self.records, self.written = 0, written

    def write(self, line: bytearray) -> None:
        self.written.append(json.loads(line)["value"])


@pytest.fixture
def out(written) -> Output:
    return Output(written)


def checkpoints(out: Output, clock: Clock) -> StateCheckpoints:
    return StateCheckpoints(emitted=lambda: out.records, write=out.write, clock=clock)


def state_of(n: int) -> dict:
    return {"bookmarks": {"s": {"replication_key": "k", "replication_key_value": str(n)}}}


def test_a_state_is_written_once_the_records_since_outweigh_it(out, written):
    writer = checkpoints(out, Clock())
    big = {"bookmarks": {"s": {"replication_key": "k", "replication_key_value": "x" * 60_000}}}
    out.records += RECORD_BYTES_PER_STATE_BYTE * MIN_STATE_WEIGHT - 1
    writer.write_state(state_of(1))
    assert written == []  # a small state weighs MIN_STATE_WEIGHT
    out.records += 1
    writer.write_state(big)
    assert written == [big]
    size = writer.bytes
    assert size > MIN_STATE_WEIGHT
    out.records += RECORD_BYTES_PER_STATE_BYTE * size - 1
    writer.write_state(state_of(2))
    assert written == [big]  # not worth its size yet
    out.records += 1
    writer.write_state(state_of(3))
    assert written == [big, state_of(3)]


def test_a_state_is_written_at_least_every_few_minutes(out, written):
    clock = Clock()
    writer = checkpoints(out, clock)
    clock.now += MAX_SECONDS_BETWEEN - 1
    writer.write_state(state_of(1))  # no records since: not yet
    assert written == []
    clock.now += 1
    writer.write_state(state_of(1))  # the time bound
    clock.now += MAX_SECONDS_BETWEEN
    writer.write_state(state_of(1))  # the same state: once
    assert written == [state_of(1)]


def test_flush_writes_now_but_never_the_same_state_twice(out, written):
    writer = checkpoints(out, Clock())
    writer.flush(state_of(1))
    writer.flush(state_of(1))
    writer.flush(state_of(2))
    assert written == [state_of(1), state_of(2)]
    assert writer.messages == 2


def test_a_run_writes_its_last_state_once_at_the_end_and_none_before_records():
    # The input state is what the target has: the SDK's echo of it before the first stream is
    # not written; the run's last state is, once.
    with requests_mock.Mocker() as graph:
        mock_empty_graph(graph)
        graph.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": "act_1"}]))
        graph.get(f"{BASE}/act_1/campaigns", json=page([
            {"id": "c1", "updated_time": "2024-07-01T00:00:00+0000"}]))
        messages = run(["campaigns"], state=COMPACT)
    kinds = [m["type"] for m in messages]
    assert kinds.count("STATE") == 1 and kinds[-1] == "STATE"
    assert kinds.index("RECORD") < kinds.index("STATE")


def test_state_lines_are_the_compact_form():
    with requests_mock.Mocker() as graph:
        mock_empty_graph(graph)
        graph.get(f"{BASE}/act_1/campaigns", json=page([
            {"id": "c1", "updated_time": "2024-06-01T00:00:00+0000"}]))
        graph.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": "act_1"}]))
        (state,) = [m["value"] for m in run(["campaigns"]) if m["type"] == "STATE"]
    campaigns = state["bookmarks"]["campaigns"]
    assert campaigns["partition_key"] == "account_id"
    assert campaigns["replication_key"] == "updated_time"
    ((_, groups),) = campaigns["bookmarks_by_read"].items()
    assert groups == {T2: ["1"]}
    assert "partitions" not in campaigns


def test_unread_partitions_continue_their_run_and_a_damaged_entry_starts_afresh():
    previous = [{"partition": {"account_id": "1"}, "since": 100, "reads": 2},
                {"partition": {"account_id": "2"}, "since": "not a read id", "reads": 1},
                "not an entry"]
    assert carry_unread(previous, [{"account_id": "2"}, {"account_id": "1"}], 500) == [
        UnreadPartition({"account_id": "2"}, 500, 1),
        UnreadPartition({"account_id": "1"}, 100, 3)]
    assert carry_unread({"account_id": "1"}, [{"account_id": "1"}], 500) == [
        UnreadPartition({"account_id": "1"}, 500, 1)]


def test_the_command_line_parses_the_state_and_catalog_files_once(tmp_path, monkeypatch,
                                                                  capsys):
    """`tap-meta-bm --config c --catalog k --state s`: each file is read by the tap's one
    parse (its one-line errors), never again by the SDK's; the state's bookmark is where the
    campaigns read starts."""
    state = {"bookmarks": {"campaigns": {"partitions": [{
        "context": {"account_id": "1"}, "replication_key": "updated_time",
        "replication_key_value": T1}]}}}
    files = {"config": config(account_ids=["1"]), "catalog": catalog(["campaigns"]),
             "state": state}
    for name, value in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(value))
    parsed: list[str] = []
    real_read = tap_module.read_document
    monkeypatch.setattr(tap_module, "read_document",
                        lambda option, file: parsed.append(option) or real_read(option, file))

    def no_second_parse(text):
        raise AssertionError("the SDK parsed a file the tap had parsed")

    monkeypatch.setattr("singer_sdk.tap_base.load_json", no_second_parse)
    monkeypatch.setattr("sys.argv", ["tap-meta-bm", *(
        arg for name in files for arg in (f"--{name}", str(tmp_path / f"{name}.json")))])
    with requests_mock.Mocker() as graph:
        mock_empty_graph(graph)
        graph.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": "act_1"}]))
        with pytest.raises(SystemExit) as exited:
            cli.main()
    assert exited.value.code == 0, capsys.readouterr().err[-2000:]
    assert sorted(parsed) == ["--catalog", "--state"]
    (campaigns,) = [r for r in graph.request_history if path(r) == "/v26.0/act_1/campaigns"]
    # GREATER_THAN the second before: the bookmark's own second is read again.
    assert json.loads(query(campaigns)["filtering"])[0]["value"] == \
        int(datetime.fromisoformat(T1).timestamp()) - 1
