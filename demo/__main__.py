"""`make demo`: the whole pipeline, the way users run it, with no Meta account needed.

Starts the project's fake Graph API, runs `meltano run tap-meta-bm target-duckdb` into
output/demo/warehouse.duckdb and builds the dbt marts (`meltano invoke dbt:build`, transform/).
The demo's files are its own: its warehouse, and Meltano's runs and state in
output/demo/meltano.db. The user's warehouse (output/warehouse.duckdb, which holds access
history Meta cannot give back) and the user's state are never touched.
Then, as an admin would in Business Settings, revokes grants, changes tasks and removes a
person at the source (the fake's HTTP control endpoint, tests/fakegraph/control.py), runs the
pipeline again, and prints what the marts answer: rows per table, the access matrix, the
changes the second run saw, everyone who can reach one ad account and how (one agency shared a
partner token, so its people are named; the other's are unknown), the top access risks, and
spend per ad account within each currency.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.fakegraph import DEFAULT_TOKEN, FakeGraph
from tests.fakegraph.control import change_access

ROOT = Path(__file__).resolve().parent.parent
MELTANO = os.environ.get("MELTANO_BIN", str(ROOT / ".venv-meltano" / "bin" / "meltano"))
#: The demo's own directory: what it writes, it writes here.
OWN = ROOT / "output" / "demo"
#: The user's settings that would point the demo at their token, businesses, warehouse,
#: Meltano project or system database.
USERS_OWN = ("TAP_META_BM_", "TARGET_", "DBT_", "MELTANO_PROJECT_ROOT", "MELTANO_DATABASE_URI",
             "MELTANO_STATE_BACKEND_URI")

#: From the dbt marts (transform/): who holds which tasks on which ad account now.
ACCESS_MATRIX = """
select user_name, is_system_user, is_partner, asset_name, replace(tasks, ',', '+')
from meta_bm_marts.access_matrix
where asset_type = 'AD_ACCOUNT'
order by is_partner desc, is_system_user, user_name, asset_name
"""
#: What the second run saw change, from the access history (the first run's grants aside).
CHANGES = """
select change, asset_type, asset_id, user_id, replace(coalesce(old_tasks, ''), ',', '+'),
       replace(coalesce(new_tasks, ''), ',', '+'), changed_at
from meta_bm_marts.access_changes
where changed_at > (select min(changed_at) from meta_bm_marts.access_changes)
order by change, asset_type, asset_id, user_id
"""
EFFECTIVE = """
select access, via, principal_type, coalesce(principal_name, principal_id),
       coalesce(replace(tasks, ',', '+'), '(unknown)')
from meta_bm_marts.effective_access
where asset_id = ?
order by case access when 'holds' then 0 when 'can_grant' then 1 else 2 end, via, 4
"""
#: The access review's worst findings first.
RISKS = """
select severity, rule, coalesce(asset_id, ''), coalesce(principal_name, principal_id, ''), fix
from meta_bm_marts.access_risks
order by case severity when 'high' then 0 when 'medium' then 1 else 2 end, rule, 3, 4
limit 8
"""
#: Spend is ranked within each currency: amounts in USD, EUR and JPY are not comparable,
#: and the demo converts nothing.
AD_PERFORMANCE = """
select currency, name, impressions, clicks, spend from (
    select p.currency, a.name, sum(p.impressions) as impressions, sum(p.clicks) as clicks,
           sum(p.spend) as spend,
           row_number() over (partition by p.currency order by sum(p.spend) desc) as rank
    from meta_bm_marts.ad_performance p
    join (select distinct account_id, name from meta_bm.ad_accounts) a using (account_id)
    group by 1, 2
) ranked
where rank <= 3
order by currency, spend desc
"""
#: Currencies whose amounts have no minor unit (ISO 4217): printed without decimals.
NO_DECIMALS = {"JPY", "KRW", "CLP", "ISK", "VND", "HUF", "TWD"}
#: Ad accounts shown side by side in the matrix: beyond that the table is unreadable (the
#: medium scale has 200); the rest are counted.
MATRIX_ACCOUNTS = 6


def meltano(*args: str, env: dict[str, str]) -> str:
    print("$ meltano " + " ".join(args), flush=True)
    done = subprocess.run([MELTANO, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode:
        sys.exit(f"meltano {args[0]} failed:\n{done.stderr[-4000:]}{done.stdout[-4000:]}")
    return done.stdout


def demo_environment(graph: FakeGraph, database: Path) -> dict[str, str]:
    """The fake's token and URL, the demo's warehouse and its own Meltano system database;
    none of the user's settings."""
    # The first agency shared a token of its own (README, Partners' people): its people on
    # our assets are read with it. The second did not: its people stay unknown.
    partner = graph.data.partners(0, "AGENCY")[0]["id"]
    return {**{k: v for k, v in os.environ.items() if not k.startswith(USERS_OWN)},
            "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN, "TAP_META_BM_API_URL": graph.url,
            "TAP_META_BM_PARTNER_TOKENS": json.dumps([graph.partner_token(partner)]),
            "TARGET_DUCKDB_FILEPATH": str(database), "DBT_DUCKDB_PATH": str(database),
            "MELTANO_DATABASE_URI": f"sqlite:///{OWN / 'meltano.db'}",
            "MELTANO_STATE_BACKEND_URI": "systemdb"}


def run_pipeline(graph: FakeGraph, database: Path, *, first: bool) -> None:
    env = demo_environment(graph, database)
    meltano("run", *(["--full-refresh"] if first else []), "tap-meta-bm", "target-duckdb",
            env=env)
    built = meltano("invoke", "dbt:build", env=env)
    print("  " + built.strip().splitlines()[-1].split("  ", 1)[-1], flush=True)


def change_at_the_source(graph: FakeGraph, database: Path) -> None:
    """Three grants revoked, two grants' tasks changed, one person removed from the business:
    what an admin does in Business Settings, told to the fake over HTTP."""
    with duckdb.connect(str(database), read_only=True) as db:
        grants = db.execute(
            "select asset_id, user_id, tasks from meta_bm_marts.access_matrix "
            "where not is_system_user order by asset_type, asset_id, user_id").fetchall()
    people = sorted({user for _, user, _ in grants})
    removed = people[len(people) // 2]
    others = [g for g in grants if g[1] != removed]
    print("\nMeanwhile, in Business Settings (the same as the command line "
          f"`python -m tests.fakegraph.control {graph.url} ...`):")
    for asset, user, _ in others[::max(1, len(others) // 3)][:3]:
        change_access(graph.url, "revoke", asset=asset, user=user)
        print(f"  revoke {asset} {user}")
    for asset, user, tasks in others[1::max(1, len(others) // 2)][:2]:
        new = "ANALYZE" if tasks != "ANALYZE" else "ADVERTISE,ANALYZE"
        change_access(graph.url, "set-tasks", asset=asset, user=user, tasks=new)
        print(f"  set-tasks {asset} {user} {new}")
    change_access(graph.url, "remove-user", user=removed)
    print(f"  remove-user {removed}")


def money(amount: float, currency: str) -> str:
    return f"{amount:,.0f}" if currency in NO_DECIMALS else f"{amount:,.2f}"


def print_summary(database: Path) -> None:
    db = duckdb.connect(str(database), read_only=True)
    tables = [t for (t,) in db.execute(
        "select table_name from information_schema.tables where table_schema = 'meta_bm' "
        "order by 1").fetchall()]
    print("\nRows per table (loaded; revoked grants stay in the loaded tables, the marts "
          "leave them out)")
    for table in tables:
        (count,) = db.execute(f"select count(*) from meta_bm.{table}").fetchone()
        print(f"  {table:<30}{count:>8}")
    print_matrix(db)
    changes = db.execute(CHANGES).fetchall()
    print(f"\nWhat the second run saw change (dbt mart access_changes, {len(changes)} rows)")
    for change, asset_type, asset, user, old, new, when in changes:
        tasks = f"{old} -> {new}" if change == "tasks_changed" else old or new
        print(f"  {change:<14}{asset_type:<16}{asset:<20}{user:<15}{tasks:<32}"
              f"{when:%Y-%m-%d %H:%M:%S}")
    # An ad account shared with the agency whose token we hold: its people show by name.
    account = db.execute("select asset_id from meta_bm_marts.effective_access "
                         "where via = 'partner_person' and asset_type = 'AD_ACCOUNT' "
                         "order by asset_id limit 1").fetchone()
    if account:
        print(f"\nEveryone who can reach ad account {account[0]}, and how (dbt mart "
              "effective_access: holds = assigned now, can_grant = may assign itself)")
        for access, via, kind, who, tasks in db.execute(EFFECTIVE, [account[0]]).fetchall():
            print(f"  {access:<10}{via:<16}{kind:<18}{str(who)[:30]:<32}{tasks}")
    print("\nTop access risks (dbt mart access_risks)")
    for severity, rule, asset, who, fix in db.execute(RISKS).fetchall():
        print(f"  {severity:<7}{rule:<26}{asset[:18]:<20}{str(who)[:24]:<26}{fix[:70]}")
    print("\nSpend per ad account, the last 29 days, top 3 within each currency "
          "(dbt mart ad_performance; amounts are not converted)")
    for currency, account_name, impressions, clicks, spend in db.execute(
            AD_PERFORMANCE).fetchall():
        print(f"  {currency:<5}{account_name:<36}{impressions:>10} impressions{clicks:>8} "
              f"clicks{money(spend, currency):>14} {currency}")


def print_matrix(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute(ACCESS_MATRIX).fetchall()
    accounts = sorted({r[3] for r in rows})
    shown, hidden = accounts[:MATRIX_ACCOUNTS], len(accounts) - MATRIX_ACCOUNTS
    print("\nAccess matrix (dbt mart access_matrix): who holds which tasks on which ad account "
          "now (* = a partner's person, [S] = system user)")
    width = max((len(a) for a in shown), default=10)
    print(f"  {'person':<34}" + "".join(f"{a[:width]:<{width + 2}}" for a in shown)
          + (f"(+{hidden} more accounts)" if hidden > 0 else ""))
    people: dict[tuple[str, bool, bool], dict[str, str]] = {}
    for person, robot, partner, account, tasks in rows:
        people.setdefault((person, robot, partner), {})[account] = tasks
    for (person, robot, partner), cells in list(people.items())[:25]:
        label = ("* " if partner else "  ") + person + (" [S]" if robot else "")
        print(f"{label:<36}" + "".join(f"{cells.get(a, '-'):<{width + 2}}" for a in shown))
    if len(people) > 25:
        print(f"  … and {len(people) - 25} more people")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["small", "medium", "large"], default="small")
    parser.add_argument("--database", type=Path, default=OWN / "warehouse.duckdb",
                        help="the demo's DuckDB file, made anew (default: %(default)s)")
    args = parser.parse_args()
    database = args.database.resolve()
    if database == (ROOT / "output" / "warehouse.duckdb").resolve():
        sys.exit(f"{database} is the warehouse of `meltano run` (meltano.yml): the demo "
                 "starts from an empty file, so it uses a file of its own")
    for made in (database, Path(f"{database}.wal"), OWN / "meltano.db"):
        made.parent.mkdir(parents=True, exist_ok=True)
        made.unlink(missing_ok=True)
    graph = FakeGraph(args.scale).start()
    print(f"Fake Graph API ({args.scale}) at {graph.url}")
    started = time.monotonic()
    try:
        run_pipeline(graph, database, first=True)
        change_at_the_source(graph, database)
        print("\nThe pipeline again:")
        run_pipeline(graph, database, first=False)
    finally:
        graph.stop()
    print(f"Loaded {database} twice in {time.monotonic() - started:.1f} s")
    print_summary(database)


if __name__ == "__main__":
    main()
