"""The four account shards of meltano.yml under Dagster (orchestrate/dagster_shards.py), into
one PostgreSQL: one shard killed mid-run first, then all four in parallel; the union of their
schemas is one unsharded run's truth, no row twice, no edge read by two shards but the
directory's, and the marts built over the union."""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict

import pytest

from tap_meta_bm.tap import TapMetaBM
from tests.e2e.postgres import Postgres
from tests.e2e.project import MELTANO, Project
from tests.e2e.test_pipeline import OFF_BY_DEFAULT
from tests.e2e.test_postgres import environment
from tests.e2e.test_readme import readme_block
from tests.e2e.test_shards import (
    PER_ACCOUNT,
    SHARDS,
    agent_of,
    assert_only_the_directory_is_read_twice,
)
from tests.fakegraph import FakeGraph

pytestmark = pytest.mark.meltano
KEYS = {name: stream.primary_keys for name, stream in
        TapMetaBM(config={"access_token": "x"}, validate_config=False).streams.items()}


def schema(k: int) -> str:
    return f"meta_bm_shard_{k}_of_{SHARDS}"


def union_keys(postgres: Postgres, table: str) -> tuple[list[tuple[str, ...]], int]:
    """The live keys of `table` across the shard schemas that have it, and its deleted rows."""
    have = {row[0] for row in postgres.query(
        f"select table_schema from information_schema.tables where table_name = '{table}'")}
    key = ", ".join(f"{column}::text" for column in KEYS[table])
    live: list[tuple[str, ...]] = []
    deleted = 0
    for name in sorted(have):
        live += postgres.query(f"select {key} from {name}.{table} where _sdc_deleted_at is null")
        deleted += int(postgres.query(f"select count(*) from {name}.{table} "
                                      "where _sdc_deleted_at is not null")[0][0])
    return live, deleted


def kill_mid_run(project: Project, env: dict[str, str], graph: FakeGraph, shard: int) -> None:
    """Start one shard's Meltano job and kill it (and its tap and target) once it is reading
    ad sets: its campaigns are in, the rest of its run (its insights rows too) is not."""
    job = project.start([MELTANO, "run", f"meta-shard-{shard}-of-{SHARDS}"], env=env)
    deadline = time.monotonic() + 300
    while not any(agent_of(shard) in e["agent"] and e["path"].endswith("/adsets")
                  for e in graph.log):
        assert job.poll() is None and time.monotonic() < deadline, "the shard ended first"
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    # Its report jobs start with the run (insights/stream.py): none of their rows was read.
    assert not any(agent_of(shard) in e["agent"] and e.get("method") != "POST"
                   and e["path"].endswith("/insights") and "/act_" not in e["path"]
                   for e in graph.log), "killed too late: its insights rows were being read"


def test_four_shards_under_dagster_add_up_to_one_run_after_a_shard_was_killed(
        project, tmp_path, postgres):
    graph = FakeGraph("fleet", latency_ms=50).start()
    # In the project's copy (its own Meltano system database: the state ids are the
    # shards'), with a home of its own for the README's ~/dagster; nothing else the README
    # does not say.
    work = tmp_path / "home"
    work.mkdir()
    env = {k: v for k, v in environment(graph, postgres).items()
           if k not in ("DBT_TARGET", "MELTANO_BIN", "DAGSTER_HOME")}
    env.update({"HOME": str(work), "SHARD_RETRY_DELAY": "1"})
    try:
        kill_mid_run(project, {**env, "MELTANO_BIN": MELTANO}, graph, shard=2)
        done = project.run(["bash", "-euo", "pipefail", "-c", readme_block("**Dagster**")],
                           env=env, timeout=900)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        assert (work / "dagster" / "dagster.yaml").exists()
        truth = {s: keys for s, keys in graph.truth().items() if s not in OFF_BY_DEFAULT}
    finally:
        graph.stop()

    for table, expected in truth.items():
        live, deleted = union_keys(postgres, table)
        assert deleted == 0, table
        assert len(live) == len(set(live)) == len(expected), table
        if table != "ad_activities":  # its key is built by the tap from the natural one
            assert set(live) == expected, table
    # The business-level tables are shard 0's alone; the others hold the per-account ones.
    tables = defaultdict(set)
    for schema_name, table in postgres.query(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like 'meta_bm_shard_%'"):
        tables[schema_name].add(table)
    # Each shard's schema also holds its own record of reads.
    reads = {"complete_reads", "partial_reads"}
    assert tables[schema(0)] == set(truth) | reads
    assert all(tables[schema(k)] == PER_ACCOUNT | reads for k in range(1, SHARDS))

    assert_only_the_directory_is_read_twice(graph.log)

    # The marts, built by the same Dagster job over the four schemas.
    granted = {k for t in ("ad_account_assignments", "page_assignments") for k in truth[t]}
    matrix = postgres.query("select business_id, asset_id, user_id from "
                            "meta_bm_marts.access_matrix where asset_type in "
                            "('AD_ACCOUNT', 'PAGE')")
    assert {(b, a.removeprefix("act_"), u) for b, a, u in matrix} == granted
    days = {(key[0][2:9], key[1]) for key in truth["ads_insights"]}
    assert int(postgres.query("select count(*) from meta_bm_marts.ad_performance")[0][0]) \
        == len(days)
