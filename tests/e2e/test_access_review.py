"""The access review tells the truth on DuckDB (the default loader, which ignores
ACTIVATE_VERSION) and on PostgreSQL (test_access_review_postgres.py runs the same story
there): current access, its history, and effective access.

One story per loader, through the real `meltano run` and `meltano invoke dbt:build`: a first
run; grants revoked, tasks changed and a person removed at the source (over the fake's HTTP
control endpoint); a second run; then a run that dies halfway, which may take nothing away,
and a run that skips an edge, which takes away what it read and nothing of what it skipped.
"""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest

from tests.e2e.project import ROOT
from tests.e2e.warehouse import Warehouse, held_truth, warehouse_on
from tests.fakegraph import DEFAULT_TOKEN
from tests.fakegraph.control import change_access
from tests.fakegraph.data import ACCOUNT_BASE

pytestmark = pytest.mark.meltano

warehouse = warehouse_on("duckdb")


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

    # A run that skips one ad account's assignments, where a grant was revoked too: that
    # account's rows stay as last read, while a revocation on another account leaves, as do
    # the pages' (the stream's read is partial: partial_reads names the account).
    account_grant = next(g for g in after if g[1] == "AD_ACCOUNT")
    skipped_account = next(g[2] for g in after if g[1] == "AD_ACCOUNT" and
                           g[2] != account_grant[2])
    kept = next(g for g in after if g[2] == skipped_account)
    for _, _, asset, user in (account_grant, kept):
        change_access(graph.url, "revoke", asset=asset, user=user)
    graph.faults.denied.add((skipped_account.removeprefix("act_"), "assigned_users"))
    warehouse.run(graph)
    third = warehouse.query("select max(read_id) from meta_bm.partial_reads")[0][0]
    assert warehouse.latest_read() == third  # the other streams' reads were complete
    assert warehouse.matrix() == {g: t for g, t in after.items()
                                  if g not in more and g != account_grant}
    assert warehouse.changes() == changes | {
        ("revoked", *g, after[g], "", third) for g in [*more, account_grant]}


def test_access_risks_fire_where_the_fake_has_each_risk_and_nowhere_else(fake_graph,
                                                                         project, tmp_path):
    graph = fake_graph("small")
    warehouse = Warehouse(project, tmp_path, None)
    without, with_token = (p["id"] for p in graph.data.partners(0, "AGENCY"))
    warehouse.run(graph, first=True, partner_tokens=[graph.partner_token(with_token)])
    found: dict[str, set[tuple[str, str]]] = {}
    for rule, asset, principal, fix in warehouse.query(
            "select rule, coalesce(asset_id, ''), coalesce(principal_id, ''), fix "
            "from meta_bm_marts.access_risks"):
        found.setdefault(rule, set()).add((asset, principal))
        assert fix.startswith(("Business Settings > ", "Ask ")), fix
    data = graph.data
    admin_2fa_off, admin_2fa_on = data.business_user(0, 4)["id"], data.business_user(0, 0)["id"]
    partner_admin = data.partner_people(with_token)[0]["id"]  # an odd partner: 2FA off
    assert {p for _, p in found["full_control_without_2fa"]} == {admin_2fa_off, partner_admin}
    assert admin_2fa_on not in {p for _, p in found["full_control_without_2fa"]}
    manage = {g.asset_id for g in data.grants(0) if "MANAGE" in g.permitted}
    assert {a for a, _ in found["partner_can_manage"]} == manage
    assert ("act_200000000000", without) not in found["partner_can_manage"]
    robot = data.partner_robot(with_token)["id"]
    assert found["partner_person_manages"] == {(a, robot) for a in manage
                                               if (a, robot) in held_truth(graph,
                                                                           (with_token,))}
    owned_pixels = {data.pixel(n)["id"] for n in data.asset_indexes("pixels", 0, "OWNED")}
    assert {a for a, _ in found["no_manager"]} == owned_pixels  # nobody holds EDIT
    owned_catalogs = {data.catalog(n)["id"] for n in data.asset_indexes("catalogs", 0,
                                                                          "OWNED")}
    assert {a for a, _ in found["single_manager"]} == owned_catalogs
    assert not {a for a, _ in found["no_manager"] | found["single_manager"]
                if a.startswith("act_")}  # two hold MANAGE on every ad account
    stale, recent = data.pending_user(0, 0)["id"], data.pending_user(0, 1)["id"]
    assert {p for _, p in found["stale_invitation"]} == {stale} and recent != stale
    assert {p for _, p in found["system_user_admin"]} == {data.system_user(0, 0)["id"]}
    assert {p for _, p in found["partner_people_unknown"]} == {without}
    # Dormant: holders of an ad account with no change of theirs in its log for 90 days;
    # the one whose change is two days old is not.
    account = 0
    recent_actor = data.activity(account, data.scale.activities)["actor_id"]
    asset = f"act_{ACCOUNT_BASE + account}"
    holders = {user for (_, t, a, user) in graph.access_truth() if a == asset
               and data.person(user) and not data.person(user)[2]}
    assert recent_actor in holders
    assert {p for a, p in found["dormant_access"] if a == asset} == holders - {recent_actor}
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
                "access_risks", "ad_performance", "stg_grants"} <= set(models)
        for name in models:
            db.execute(f"select count(*) from meta_bm_marts.{name}").fetchone()


def test_files_tell_current_access_by_the_latest_complete_read(fake_graph, project,
                                                               tmp_path):
    """target-jsonl appends every read: the rows of the latest complete read are the truth,
    with the README's query, even after a run that failed halfway."""
    graph = fake_graph("small")
    env = {**os.environ, "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN,
           "TAP_META_BM_API_URL": graph.url, "TARGET_JSONL_DESTINATION_PATH": str(tmp_path)}

    def meltano_run(*options: str) -> int:
        return project.meltano("run", *options, "tap-meta-bm", "target-jsonl",
                               env=env).returncode

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
