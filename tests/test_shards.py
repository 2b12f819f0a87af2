"""`account_shard: K/N`: which ad accounts a shard takes, what it reads, and its mistakes."""

from __future__ import annotations

import pytest
import requests_mock

from tap_meta_bm.errors import ConfigError
from tap_meta_bm.settings import check_config
from tap_meta_bm.shards import parse_shard, shard_of
from tests.helpers import BASE, BUSINESS, TOKEN, mock_empty_graph, page, path, records, run

ACCOUNTS = [f"act_{n}" for n in range(1, 9)]


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts",
                   json=page([{"id": a, "account_id": a[4:]} for a in ACCOUNTS]))
        yield mocker


def test_an_account_hashes_to_the_same_shard_on_every_run_with_or_without_act():
    # Pinned: a change here moves accounts between the shards of every deployed fleet.
    assert [shard_of(a, 4) for a in ACCOUNTS] == [2, 0, 1, 2, 0, 0, 2, 2]
    assert shard_of("act_1234567890", 1000) == shard_of("1234567890", 1000) == 491
    assert {shard_of(a, 1) for a in ACCOUNTS} == {0}


@pytest.mark.parametrize(("value", "message"), [
    ("two", "account_shard: 'two' is not K/N (job K of N, counted from 0, e.g. \"0/4\" to "
            "\"3/4\")."),
    ("4/4", "account_shard: '4/4' needs 0 <= K < N <= 1000 (job K of N, counted from 0: "
            "\"0/4\" to \"3/4\")."),
    ("0/0", "account_shard: '0/0' needs 0 <= K < N <= 1000 (job K of N, counted from 0: "
            "\"0/1\" to \"0/1\")."),
    (True, "account_shard: True is not K/N (job K of N, counted from 0, e.g. \"0/4\" to "
           "\"3/4\")."),
])
def test_a_shard_that_is_not_k_of_n_is_refused_in_one_line(value, message):
    with pytest.raises(ConfigError) as refused:
        check_config({"access_token": TOKEN, "account_shard": value})
    assert str(refused.value) == message


def test_k_of_n_is_read_with_spaces_and_unset_means_unsharded():
    shard = parse_shard(" 2 / 4 ")
    assert shard is not None and (shard.index, shard.count, str(shard)) == (2, 4, "2/4")
    assert parse_shard(None) is None and parse_shard("") is None


def streams_read(graph) -> set[str]:
    return {path(r).removeprefix("/v26.0/") for r in graph.request_history}


def test_a_shard_reads_only_its_accounts_and_leaves_the_business_to_shard_0(graph):
    messages = run(["ad_accounts", "campaigns", "pages", "business_users"],
                   account_shard="2/4")
    mine = ["act_1", "act_4", "act_7", "act_8"]
    assert [r["id"] for r in records(messages, "ad_accounts")] == mine
    read = streams_read(graph)
    assert {p for p in read if p.endswith("/campaigns")} == {f"{a}/campaigns" for a in mine}
    # The business-level streams are not this shard's: not read, not even announced.
    assert not {p for p in read if p.endswith(("/owned_pages", "/client_pages",
                                               "/business_users"))}
    assert {m["stream"] for m in messages if m["type"] == "SCHEMA"} == {"ad_accounts",
                                                                        "campaigns"}
    assert {r.headers["User-Agent"] for r in graph.request_history} == {
        "tap-meta-bm/0.1.0 (shard 2/4)"}


def test_shard_0_reads_the_business_streams_and_its_own_accounts(graph):
    messages = run(["ad_accounts", "campaigns", "pages", "business_users"],
                   account_shard="0/4")
    assert [r["id"] for r in records(messages, "ad_accounts")] == ["act_2", "act_5", "act_6"]
    read = streams_read(graph)
    assert {f"{BUSINESS}/owned_pages", f"{BUSINESS}/client_pages",
            f"{BUSINESS}/business_users"} <= read
    assert {p for p in read if p.endswith("/campaigns")} == {
        "act_2/campaigns", "act_5/campaigns", "act_6/campaigns"}


def test_account_ids_and_a_shard_together_take_the_accounts_in_both(graph):
    run(["campaigns"], account_shard="2/4", account_ids=["act_1", "act_2", "act_4"])
    assert {p for p in streams_read(graph) if p.endswith("/campaigns")} == {
        "act_1/campaigns", "act_4/campaigns"}
