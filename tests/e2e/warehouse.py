"""The warehouse the access-review stories load and build: DuckDB or PostgreSQL, through the
real `meltano run` and `meltano invoke dbt:build`. Each story file takes one of them
(`warehouse_on`), so that pytest-xdist runs a story's DuckDB and PostgreSQL variants side by
side (a worker takes a file)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from tests.e2e.postgres import Postgres
from tests.e2e.project import Project
from tests.e2e.test_meltano import dbt_build
from tests.fakegraph import DEFAULT_TOKEN, FakeGraph

#: A grant: (business, asset type, asset id, user).
Grant = tuple[str, str, str, str]

class Warehouse:
    """Where `meltano run` loads and dbt builds: DuckDB or PostgreSQL, queried as text."""

    def __init__(self, project: Project, tmp_path: Path, postgres: Postgres | None) -> None:
        self.project, self.postgres = project, postgres
        self.path = tmp_path / "warehouse.duckdb"
        self.loader = "target-postgres" if postgres else "target-duckdb"

    def env(self, graph: FakeGraph, partner_tokens: list[str] | None = None
            ) -> dict[str, str]:
        env = {**os.environ, "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN,
               "TAP_META_BM_API_URL": graph.url,
               "TAP_META_BM_PARTNER_TOKENS": json.dumps(partner_tokens or [])}
        if self.postgres:
            return {**env, "DBT_TARGET": "postgres",
                    "TARGET_POSTGRES_PORT": str(self.postgres.port),
                    "TARGET_POSTGRES_PASSWORD": "unused-with-trust"}
        return {**env, "TARGET_DUCKDB_FILEPATH": str(self.path),
                "DBT_DUCKDB_PATH": str(self.path)}

    def run(self, graph: FakeGraph, *, succeeds: bool = True, first: bool = False,
            partner_tokens: list[str] | None = None) -> None:
        """One `meltano run` into the warehouse, then the marts (as after every load). The
        first starts from no state (`--full-refresh`); later ones from the state it left."""
        refresh = ["--full-refresh"] if first else []
        env = self.env(graph, partner_tokens)
        done = self.project.meltano("run", *refresh, "tap-meta-bm", self.loader, env=env)
        assert (done.returncode == 0) == succeeds, done.stderr[-4000:]
        for token in partner_tokens or []:
            assert token not in done.stdout + done.stderr
        dbt_build(self.project, env)

    def query(self, sql: str) -> list[tuple[str, ...]]:
        if self.postgres:
            return self.postgres.query(sql)
        with duckdb.connect(str(self.path), read_only=True) as db:
            return [tuple("" if v is None else str(v) for v in row)
                    for row in db.execute(sql).fetchall()]

    def matrix(self) -> dict[Grant, str]:
        return {(b, t, a, u): tasks for b, t, a, u, tasks in self.query(
            "select business_id, asset_type, asset_id, user_id, tasks "
            "from meta_bm_marts.access_matrix")}

    def changes(self) -> set[tuple[str, ...]]:
        """(change, business, asset type, asset, user, old tasks, new tasks, read id)."""
        millis = ("epoch_ms(changed_at)" if not self.postgres else
                  "round(extract(epoch from changed_at) * 1000)::bigint")
        return set(self.query(
            f"select change, business_id, asset_type, asset_id, user_id, "
            f"coalesce(old_tasks, ''), coalesce(new_tasks, ''), {millis} "
            f"from meta_bm_marts.access_changes"))

    def latest_read(self) -> str:
        ((read_id,),) = self.query("select max(read_id) from meta_bm.complete_reads")
        return read_id


def warehouse_on(kind: str) -> Callable[..., Iterator[Warehouse]]:
    """The `warehouse` fixture of a story file: DuckDB, or a PostgreSQL of the test's own."""
    @pytest.fixture
    def warehouse(request: pytest.FixtureRequest, project: Project, tmp_path: Path
                  ) -> Iterator[Warehouse]:
        postgres = request.getfixturevalue("postgres") if kind == "postgres" else None
        yield Warehouse(project, tmp_path, postgres)

    return warehouse


def held_truth(graph: FakeGraph, partners: tuple[str, ...]) -> dict[tuple[str, str], set[str]]:
    """(asset, principal) -> every task the fake gives the principal on the asset: assigned
    directly, through an asset group, or (a partner's person) in the partner's business."""
    data = graph.data
    held: dict[tuple[str, str], set[str]] = {}
    for (_, _, asset, user), tasks in graph.access_truth().items():
        held.setdefault((asset, user), set()).update(tasks.split(","))
    for b in range(data.scale.businesses):
        people = [u["id"] for u in data.business_users(b)] + [
            data.system_user(b, s)["id"] for s in range(data.scale.system_users)]
        for person in people:
            for group in data.group_assignments(person):
                g = int(group["id"]) - int(data.asset_group(0)["id"])
                for edge, field in (("contained_adaccounts", "adaccount_tasks"),
                                    ("contained_pages", "page_tasks")):
                    for asset in data.group_contents(g, edge):
                        held.setdefault((asset["id"], person), set()).update(group[field])
    for (_, _, asset, user), tasks in graph.partner_access_truth(partners).items():
        held.setdefault((asset, user), set()).update(tasks.split(","))
    return held
