"""BATCH (the SDK's `batch_config`) end to end: `meltano run tap-meta-bm target-postgres`
with batch files loads the same rows as the message path, and revocations still leave the
warehouse (full-table streams stay RECORD messages, with their table version)."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.e2e.postgres import Postgres
from tests.e2e.project import Project
from tests.e2e.test_postgres import environment
from tests.fakegraph import FakeGraph
from tests.fakegraph.control import change_access

pytestmark = pytest.mark.meltano


def load(project: Project, graph: FakeGraph, postgres: Postgres, schema: str,
         batch_config: dict | None = None, *, first: bool = True) -> None:
    """One `meltano run` into `schema`; the first of a schema from no state."""
    env = {**environment(graph, postgres), "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema}
    if batch_config:
        env["TAP_META_BM_BATCH_CONFIG"] = json.dumps(batch_config)
    done = project.meltano("run", *(["--full-refresh"] if first else []), "tap-meta-bm",
                           "target-postgres", env=env)
    assert done.returncode == 0, done.stderr[-4000:]


def rows(postgres: Postgres, schema: str) -> dict[str, list[tuple[str, ...]]]:
    """Every table's rows as text, sorted, without the loader's columns and the read id
    (each run's own)."""
    out = {}
    for (table,) in postgres.query(f"select table_name from information_schema.tables "
                                   f"where table_schema = '{schema}'"):
        columns = [c for (c,) in postgres.query(
            f"select column_name from information_schema.columns where table_schema = "
            f"'{schema}' and table_name = '{table}' order by column_name")
            if not c.startswith("_sdc_") and c not in ("_read_id", "read_id", "read_at",
                                                       "graph_read_at")]
        out[table] = sorted(postgres.query(
            f"select {', '.join(f'{c}::text' for c in columns)} from {schema}.{table} "
            f"where _sdc_deleted_at is null"))
    return out


def test_batch_files_load_the_same_rows_as_messages_and_revocations_still_leave(
        project, postgres, tmp_path):
    graph = FakeGraph("small").start()
    directory = tmp_path / "batches"
    batch_config = {"encoding": {"format": "jsonl", "compression": "gzip"},
                    "storage": {"root": directory.as_uri(), "prefix": "meta-"}}
    try:
        load(project, graph, postgres, "by_messages")
        load(project, graph, postgres, "by_batches", batch_config)
        assert rows(postgres, "by_batches") == rows(postgres, "by_messages")
        files = sorted(directory.iterdir())
        assert files and all(f.name.startswith("meta-") and f.suffix == ".gz" for f in files)
        batched = {f.name.split("-")[1] for f in files}
        assert {"campaigns", "ads_insights", "custom_audiences"} <= batched
        assert "ad_account_assignments" not in batched  # full table: RECORDs, versioned
        with gzip.open(files[0]) as first:
            assert json.loads(first.readline())  # a record alone, not a message

        # A revocation reaches the batched run's schema as it does the messages' one.
        (_, _, asset, user), *_ = [g for g in graph.access_truth() if g[1] == "AD_ACCOUNT"]
        change_access(graph.url, "revoke", asset=asset, user=user)
        load(project, graph, postgres, "by_batches", batch_config, first=False)
    finally:
        graph.stop()
    gone = postgres.query("select account_id, user_id from by_batches.ad_account_assignments "
                          "where _sdc_deleted_at is not null")
    assert gone == [(asset.removeprefix("act_"), user)]
