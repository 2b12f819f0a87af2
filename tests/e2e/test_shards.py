"""Account shards (`account_shard: K/N`) against the fake Graph API: four jobs whose union is one
unsharded run, each edge read by one of them, the business-level streams by shard 0 alone."""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

from tap_meta_bm.graph_stream import GraphStream
from tap_meta_bm.shards import shard_of
from tap_meta_bm.tap import TapMetaBM
from tests.e2e.conftest import run_tap, tap_config
from tests.e2e.test_pipeline import NATURAL_KEYS, OFF_BY_DEFAULT, full_table_streams

SHARDS = 4
#: The reads every shard makes: the businesses, and their ad accounts (how a shard finds its own).
DIRECTORY_EDGES = ("/me/businesses", "/owned_ad_accounts", "/client_ad_accounts")
#: The streams whose records belong to one ad account, as each declares (its partitions are
#: ad accounts): split across the shards.
PER_ACCOUNT = {stream.name for stream in TapMetaBM(config={"access_token": "x" * 40}).streams
               .values() if isinstance(stream, GraphStream) and stream.per_ad_account}


def agent_of(shard: int) -> str:
    return f"(shard {shard}/{SHARDS})"


def test_four_shards_read_each_edge_once_and_add_up_to_the_truth(fake_graph, tmp_path):
    graph = fake_graph("fleet")
    truth = {s: keys for s, keys in graph.truth().items() if s not in OFF_BY_DEFAULT}

    def shard(k: int):
        (tmp_path / str(k)).mkdir()
        return run_tap(tmp_path / str(k), tap_config(graph, account_shard=f"{k}/{SHARDS}"))

    with ThreadPoolExecutor(SHARDS) as pool:
        runs = list(pool.map(shard, range(SHARDS)))
    for k, run in enumerate(runs):
        assert run.returncode == 0, f"shard {k}: {run.stderr[-2000:]}"

    # The union is the truth of one unsharded run, and no record comes from two shards.
    for stream, expected in truth.items():
        keys = [key for run in runs if stream in run.schemas()
                for key in run.keys(stream, NATURAL_KEYS.get(stream))]
        assert [k for k, n in Counter(keys).items() if n > 1] == [], stream
        assert set(keys) == expected, stream
    # Shard 0 alone syncs what is not one ad account's (it has no SCHEMA elsewhere); each
    # shard records its own complete reads, of its own streams, for its own schema.
    assert set(runs[0].schemas()) == set(truth) | {"complete_reads", "partial_reads"}
    for run in runs[1:]:
        assert set(run.schemas()) == PER_ACCOUNT | {"complete_reads", "partial_reads"}
    for k, run in enumerate(runs):
        assert {(r["stream"], r["account_shard"]) for r in run.records("complete_reads")} == {
            (stream, f"{k}/{SHARDS}") for stream in full_table_streams(run)}
    # Each shard's accounts are those whose id hashes to it, and its state holds only them.
    for k, run in enumerate(runs):
        accounts = {r["account_id"] for r in run.records("ad_accounts")}
        assert accounts and {shard_of(a, SHARDS) for a in accounts} == {k}
        insights = run.state["bookmarks"]["ads_insights"]["partitions"]
        assert {p["context"]["account_id"] for p in insights} == accounts

    assert_only_the_directory_is_read_twice(graph.log)


def assert_only_the_directory_is_read_twice(log: list[dict]) -> None:
    """Every call came from a shard (its User-Agent says which), and every path but the
    directory's from exactly one; those, from all four: how each finds its accounts."""
    callers: dict[str, set[int]] = defaultdict(set)
    for entry in log:
        callers[entry["path"]].update(k for k in range(SHARDS) if agent_of(k) in entry["agent"])
    assert all(callers.values())
    shared = {path for path, shards in callers.items() if len(shards) > 1}
    assert shared and all(path.endswith(DIRECTORY_EDGES) for path in shared), sorted(shared)
    assert all(callers[path] == set(range(SHARDS)) for path in shared)
