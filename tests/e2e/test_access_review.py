"""The access review tells the truth on DuckDB (the default loader, which ignores
ACTIVATE_VERSION) and on PostgreSQL: current access, its history, and effective access.

One story per loader, through the real `meltano run` and `meltano invoke dbt:build`: a first
run; grants revoked, tasks changed and a person removed at the source (over the fake's HTTP
control endpoint); a second run; then a run that dies halfway and a run that skips an edge,
neither of which may take anything away.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.e2e.postgres import Postgres
from tests.e2e.test_meltano import MELTANO, ROOT, dbt_build
from tests.fakegraph import DEFAULT_TOKEN, FakeGraph
from tests.fakegraph.control import change_access
from tests.fakegraph.data import ACCOUNT_BASE, PAGE_BASE

pytestmark = pytest.mark.meltano

#: A grant: (business, asset type, asset id, user).
Grant = tuple[str, str, str, str]
#: What the role_access seed says an ADMIN reaches (README, "Effective access").
ADMIN_TASKS = {"AD_ACCOUNT": "AA_ANALYZE,ADVERTISE,ANALYZE,DRAFT,MANAGE",
               "PAGE": "ADVERTISE,ANALYZE,CREATE_CONTENT,MANAGE,MANAGE_LEADS,MESSAGING,MODERATE",
               "PIXEL": "AA_ANALYZE,ADVERTISE,ANALYZE,EDIT,UPLOAD",
               "PRODUCT_CATALOG": "AA_ANALYZE,ADVERTISE,MANAGE,MANAGE_AR"}


class Warehouse:
    """Where `meltano run` loads and dbt builds: DuckDB or PostgreSQL, queried as text."""

    def __init__(self, tmp_path: Path, postgres: Postgres | None) -> None:
        self.postgres = postgres
        self.path = tmp_path / "warehouse.duckdb"
        self.loader = "target-postgres" if postgres else "target-duckdb"

    def env(self, graph: FakeGraph) -> dict[str, str]:
        env = {**os.environ, "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN,
               "TAP_META_BM_API_URL": graph.url}
        if self.postgres:
            return {**env, "DBT_TARGET": "postgres",
                    "TARGET_POSTGRES_PORT": str(self.postgres.port),
                    "TARGET_POSTGRES_PASSWORD": "unused-with-trust"}
        return {**env, "TARGET_DUCKDB_FILEPATH": str(self.path),
                "DBT_DUCKDB_PATH": str(self.path)}

    def run(self, graph: FakeGraph, *, succeeds: bool = True, first: bool = False) -> None:
        """One `meltano run` into the warehouse, then the marts (as after every load). The
        first starts from no state (`--full-refresh`); later ones from the state it left."""
        refresh = ["--full-refresh"] if first else []
        done = subprocess.run([MELTANO, "run", *refresh, "tap-meta-bm", self.loader], cwd=ROOT,
                              env=self.env(graph), capture_output=True, text=True,
                              timeout=600, check=False)
        assert (done.returncode == 0) == succeeds, done.stderr[-4000:]
        dbt_build(self.env(graph))

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


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path) -> Iterator[Warehouse]:
    postgres = request.getfixturevalue("postgres") if request.param == "postgres" else None
    yield Warehouse(tmp_path, postgres)


def test_revocations_task_changes_and_a_removed_person_reach_the_marts(warehouse, fake_graph):
    graph = fake_graph("small")
    warehouse.run(graph, first=True)
    first = warehouse.latest_read()
    before = graph.access_truth()
    assert warehouse.matrix() == before

    # At the source: N grants revoked, M grants' tasks changed, one person removed.
    removed = next(u["id"] for u in graph.data.business_users(0)
                   if sum(g[3] == u["id"] for g in before) >= 2)
    revoked = [g for g in before if g[3] != removed][:: len(before) // 4][:3]
    changed = {g: "ANALYZE" if before[g] != "ANALYZE" else "ADVERTISE"
               for g in before if g[3] != removed and g not in revoked and
               g[1] in ("AD_ACCOUNT", "PRODUCT_CATALOG")}
    changed = dict(list(changed.items())[:2])
    assert len(revoked) == 3 and len(changed) == 2
    for _, _, asset, user in revoked:
        change_access(graph.url, "revoke", asset=asset, user=user)
    for (_, _, asset, user), tasks in changed.items():
        change_access(graph.url, "set-tasks", asset=asset, user=user, tasks=tasks)
    change_access(graph.url, "remove-user", user=removed)
    after = graph.access_truth()
    gone = set(before) - set(after)
    assert gone == set(revoked) | {g for g in before if g[3] == removed}

    warehouse.run(graph)
    second = warehouse.latest_read()
    assert warehouse.matrix() == after
    granted = {("granted", *g, "", tasks, first) for g, tasks in before.items()}
    assert warehouse.changes() == granted | {
        ("revoked", *g, before[g], "", second) for g in gone} | {
        ("tasks_changed", *g, before[g], tasks, second) for g, tasks in changed.items()}
    history = warehouse.query("select business_id, asset_type, asset_id, user_id, tasks, "
                              "coalesce(cast(valid_to as varchar), '') = '' "
                              "from meta_bm_marts.access_history")
    assert {row[:5] for row in history if row[5] in ("True", "t")} == {
        (*g, tasks) for g, tasks in after.items()}
    assert len(history) == len(before) + len(changed)  # one closed period per task change

    # A run that dies halfway (the token expires after a few calls) takes nothing away,
    # though more grants were revoked meanwhile.
    more = [g for g in after if g[1] == "PAGE"][:2]
    assert len(more) == 2
    for _, _, asset, user in more:
        change_access(graph.url, "revoke", asset=asset, user=user)
    graph.faults.expire_token_after = len(graph.log) + 30
    warehouse.run(graph, succeeds=False)
    graph.faults.expire_token_after = None
    assert warehouse.latest_read() == second
    assert warehouse.matrix() == after
    changes = warehouse.changes()

    # A run that skips one ad account's assignments: that stream is not complete, so its
    # revocation waits; the pages' revocations (complete) leave.
    account_grant = next(g for g in after if g[1] == "AD_ACCOUNT")
    change_access(graph.url, "revoke", asset=account_grant[2], user=account_grant[3])
    other_account = next(g[2] for g in after if g[1] == "AD_ACCOUNT" and
                         g[2] != account_grant[2]).removeprefix("act_")
    graph.faults.denied.add((other_account, "assigned_users"))
    warehouse.run(graph)
    third = warehouse.latest_read()
    assert warehouse.matrix() == {g: t for g, t in after.items() if g not in more}
    assert warehouse.changes() == changes | {("revoked", *g, after[g], "", third) for g in more}


def test_effective_access_follows_every_path(fake_graph, tmp_path):
    graph = fake_graph("small")
    warehouse = Warehouse(tmp_path, None)
    warehouse.run(graph, first=True)
    rows = warehouse.query("select business_id, asset_type, asset_id, principal_id, "
                           "principal_type, via, coalesce(via_id, ''), tasks "
                           "from meta_bm_marts.effective_access")
    by_path: dict[str, set[tuple[str, ...]]] = {}
    for row in rows:
        by_path.setdefault(row[5], set()).add(row[:5] + row[6:])
    assert by_path == effective_truth(graph)
    # One query answers "everyone who can touch ad account X, and how".
    account = f"act_{ACCOUNT_BASE}"
    paths = {via for (via,) in warehouse.query(
        f"select distinct via from meta_bm_marts.effective_access where asset_id = '{account}'")}
    assert paths == {"direct", "business_role", "asset_group", "partner"}
    # The warehouse file copied under another name still answers from every model: none is a
    # view naming the file it was built in.
    copy = tmp_path / "elsewhere" / "copy.duckdb"
    copy.parent.mkdir()
    shutil.copy(warehouse.path, copy)
    with duckdb.connect(str(copy), read_only=True) as db:
        models = [name for (name,) in db.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'meta_bm_marts' order by 1").fetchall()]
        assert {"access_matrix", "access_history", "access_changes", "effective_access",
                "ad_performance", "stg_grants"} <= set(models)
        for name in models:
            db.execute(f"select count(*) from meta_bm_marts.{name}").fetchone()
        assert {t for (t,) in db.execute(
            "select data_type from information_schema.columns where table_schema = "
            "'meta_bm_marts' and table_name = 'stg_ads_insights' "
            "and column_name in ('date_start', 'date_stop')").fetchall()} == {"DATE"}


def effective_truth(graph: FakeGraph) -> dict[str, set[tuple[str, ...]]]:
    """What effective_access must hold, from the fake's data and README's rules."""
    data, scale = graph.data, graph.data.scale
    direct = set()
    for (business, asset_type, asset, user), tasks in graph.access_truth().items():
        person = data.person(user)
        kind = "system_user" if person and person[2] else "business_user"
        direct.add((business, asset_type, asset, user, kind, "", tasks))
    roles, groups, partners = set(), set(), set()
    for b, business in enumerate(data.business_ids()):
        assets = assets_of(graph, b)
        people = [(u["id"], "business_user", u["role"]) for u in data.business_users(b)] + [
            (data.system_user(b, s)["id"], "system_user", data.system_user(b, s)["role"])
            for s in range(scale.system_users)]
        for person, kind, role in people:
            if role == "ADMIN":
                roles |= {(business, asset_type, asset, person, kind, "ADMIN",
                           ADMIN_TASKS[asset_type]) for asset_type, asset in assets}
            for group in data.group_assignments(person):
                g = int(group["id"]) - int(data.asset_group(0)["id"])
                for edge, asset_type, field in (("contained_adaccounts", "AD_ACCOUNT",
                                                 "adaccount_tasks"),
                                                ("contained_pages", "PAGE", "page_tasks")):
                    for asset in data.group_contents(g, edge):
                        groups.add((business, asset_type, asset["id"], person, kind,
                                    group["id"], ",".join(sorted(group[field]))))
        for relationship in ("OWNED", "CLIENT"):
            for a in data.account_indexes(b, relationship):
                for agency in data.agencies_of_account(a):
                    partners.add((business, "AD_ACCOUNT", f"act_{ACCOUNT_BASE + a}",
                                  agency["id"], "partner_business", agency["id"],
                                  ",".join(sorted(agency["permitted_tasks"]))))
    return {"direct": direct, "business_role": roles, "asset_group": groups,
            "partner": partners}


def assets_of(graph: FakeGraph, b: int) -> list[tuple[str, str]]:
    """(asset type, id) of every asset business `b` owns or was shared."""
    data = graph.data
    out: list[tuple[str, Any]] = []
    for relationship in ("OWNED", "CLIENT"):
        out += [("AD_ACCOUNT", f"act_{ACCOUNT_BASE + a}")
                for a in data.account_indexes(b, relationship)]
        out += [("PAGE", str(PAGE_BASE + p)) for p in data.page_indexes(b, relationship)]
        out += [("PIXEL", data.pixel(n)["id"])
                for n in data.asset_indexes("pixels", b, relationship)]
        out += [("PRODUCT_CATALOG", data.catalog(n)["id"])
                for n in data.asset_indexes("catalogs", b, relationship)]
    return out


def test_files_tell_current_access_by_the_latest_complete_read(fake_graph, tmp_path):
    """target-jsonl appends every read: the rows of the latest complete read are the truth,
    with the README's query, even after a run that failed halfway."""
    graph = fake_graph("small")
    env = {**os.environ, "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN,
           "TAP_META_BM_API_URL": graph.url, "TARGET_JSONL_DESTINATION_PATH": str(tmp_path)}

    def meltano_run(*options: str) -> int:
        return subprocess.run([MELTANO, "run", *options, "tap-meta-bm", "target-jsonl"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                              check=False).returncode

    assert meltano_run("--full-refresh") == 0
    before = graph.access_truth()
    revoked = [g for g in before if g[1] == "AD_ACCOUNT"][:2]
    for _, _, asset, user in revoked:
        change_access(graph.url, "revoke", asset=asset, user=user)
    assert meltano_run() == 0
    after = graph.access_truth()
    assert set(before) - set(after) == set(revoked)
    # Revoked next, but read by no complete run: still in the latest complete read.
    _, _, asset, user = next(g for g in after if g[1] == "AD_ACCOUNT")
    change_access(graph.url, "revoke", asset=asset, user=user)
    graph.faults.expire_token_after = len(graph.log) + 30
    assert meltano_run() != 0
    query = readme_query().replace("output/", f"{tmp_path}/")
    with duckdb.connect() as db:
        rows = db.execute(f"select business_id, asset_type, asset_id, user_id, "
                          f"array_to_string(list_sort(tasks), ',') from ({query})").fetchall()
    assert {(b, t, a, u): tasks for b, t, a, u, tasks in rows} == {
        g: tasks for g, tasks in after.items() if g[1] == "AD_ACCOUNT"}


def readme_query() -> str:
    """The README's query of target-jsonl's files (section Deletions)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Deletions"):]
    block = section[section.index("```sql\n") + 7:]
    return "\n".join(line for line in block[:block.index("```")].splitlines()
                     if not line.startswith("--")).rstrip().rstrip(";")
