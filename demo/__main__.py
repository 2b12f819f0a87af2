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
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import duckdb

from demo.tables import (
    INDENT,
    WIDTH,
    Column,
    Table,
    capped,
    fit,
    task_legend,
    tasks,
)
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
select user_name, is_system_user, is_partner, asset_id, asset_name, tasks
from meta_bm_marts.access_matrix
where asset_type = 'AD_ACCOUNT'
order by is_partner desc, is_system_user, user_name, asset_id
"""
#: What the second run saw change, from the access history (the first run's grants aside).
CHANGES = """
select c.change, c.asset_type, coalesce(s.asset_name, c.asset_id),
       coalesce(c.user_name, c.user_id), c.old_tasks, c.new_tasks
from meta_bm_marts.access_changes c
left join meta_bm_marts.stg_assets s
    on s.business_id = c.business_id and s.asset_type = c.asset_type and s.asset_id = c.asset_id
where c.changed_at > (select min(changed_at) from meta_bm_marts.access_changes)
order by c.change, c.asset_type, c.asset_id, c.user_id
"""
EFFECTIVE = """
select access, via, principal_type, coalesce(principal_name, principal_id), tasks
from meta_bm_marts.effective_access
where asset_id = ?
order by case access when 'holds' then 0 when 'can_grant' then 1 else 2 end, via, 4
"""
#: The access review's worst findings first.
RISKS = """
select r.severity, r.rule, coalesce(s.asset_name, r.asset_id, ''),
       coalesce(r.principal_name, r.principal_id, ''), r.fix
from meta_bm_marts.access_risks r
left join meta_bm_marts.stg_assets s
    on s.business_id = r.business_id and s.asset_type = r.asset_type and s.asset_id = r.asset_id
order by case r.severity when 'high' then 0 when 'medium' then 1 else 2 end, r.rule, 3, 4
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
#: Ad accounts shown side by side in the matrix, people in it, changes listed, and rows of
#: each kind of access to one account: beyond that a table is unreadable (the medium scale
#: has 200 accounts, and 250 admins who can grant themselves any task on each); the rest
#: are counted.
MATRIX_ACCOUNTS = 6
MATRIX_PEOPLE = 25
CHANGES_SHOWN = 20
ACCESS_SHOWN_PER_KIND = 5

MATRIX_PERSON = 30
ROWS = Table(Column("table", 30), Column("rows", 8, right=True))
CHANGE_TABLE = Table(Column("change", 13), Column("asset type", 10), Column("asset", 26),
                     Column("person", 24), Column("tasks", 15))
ACCESS_TABLE = Table(Column("access", 9), Column("via", 14), Column("principal", 16),
                     Column("who", 28), Column("tasks", 23))
RISK_TABLE = Table(Column("severity", 8), Column("rule", 24), Column("asset", 28),
                   Column("who", 30))
SPEND_TABLE = Table(Column("cur", 4), Column("ad account", 36),
                    Column("impressions", 11, right=True), Column("clicks", 8, right=True),
                    Column("spend", 16, right=True))


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
            "select asset_id, user_id, tasks, asset_name, user_name "
            "from meta_bm_marts.access_matrix "
            "where not is_system_user order by asset_type, asset_id, user_id").fetchall()
    people = sorted({user for _, user, *_ in grants})
    removed = people[len(people) // 2]
    others = [g for g in grants if g[1] != removed]
    revoked = others[::max(1, len(others) // 3)][:3]
    retasked = [g for g in others[1::max(1, len(others) // 2)] if g not in revoked][:2]
    print("\nMeanwhile, in Business Settings (or on the command line:\n"
          "`python -m tests.fakegraph.control URL revoke|set-tasks|remove-user ...`):")
    for asset, user, _, asset_name, user_name in revoked:
        change_access(graph.url, "revoke", asset=asset, user=user)
        print(f"  revoke {asset} {user}  ({user_name} on {asset_name})")
    for asset, user, held, asset_name, user_name in retasked:
        new = "ANALYZE" if held != "ANALYZE" else "ADVERTISE,ANALYZE"
        change_access(graph.url, "set-tasks", asset=asset, user=user, tasks=new)
        print(f"  set-tasks {asset} {user} {new}  ({user_name} on {asset_name})")
    change_access(graph.url, "remove-user", user=removed)
    name = next(user_name for _, user, _, _, user_name in grants if user == removed)
    print(f"  remove-user {removed}  ({name})")


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.0f}" if currency in NO_DECIMALS else f"{amount:,.2f}"


def print_summary(database: Path) -> None:
    with duckdb.connect(str(database), read_only=True) as db:
        for line in summary_lines(db):
            print(line)


def summary_lines(db: duckdb.DuckDBPyConnection) -> list[str]:
    tables = [t for (t,) in db.execute(
        "select table_name from information_schema.tables where table_schema = 'meta_bm' "
        "order by 1").fetchall()]
    counts = [(t, db.execute(f"select count(*) from meta_bm.{t}").fetchone()[0])  # type: ignore[index]
              for t in tables]
    lines = ["", "Rows per table (loaded; revoked grants stay in the loaded tables, the marts "
                 "leave them out)", *ROWS.render(counts)]
    lines += matrix_lines(db.execute(ACCESS_MATRIX).fetchall())
    lines += change_lines(db.execute(CHANGES).fetchall())
    # An ad account shared with the agency whose token we hold: its people show by name.
    account = db.execute("select asset_id from meta_bm_marts.effective_access "
                         "where via = 'partner_person' and asset_type = 'AD_ACCOUNT' "
                         "order by asset_id limit 1").fetchone()
    if account:
        lines += access_lines(account[0], db.execute(EFFECTIVE, [account[0]]).fetchall())
    lines += ["", "Top access risks (dbt mart access_risks), each with its fix",
              RISK_TABLE.line([c.header for c in RISK_TABLE.spec])]
    for severity, rule, asset, who, fix in db.execute(RISKS).fetchall():
        lines += [RISK_TABLE.line([severity, rule, asset, who]),
                  *(fit(f"{INDENT}    {part}", WIDTH).rstrip()
                    for part in textwrap.wrap(fix, WIDTH - 8))]
    lines += ["", "Spend per ad account, the last 29 days, top 3 within each currency",
              "(dbt mart ad_performance; amounts are not converted)"]
    lines += SPEND_TABLE.render(
        (currency, name, f"{impressions:,}", f"{clicks:,}", f"{money(spend, currency)} "
                                                             f"{currency}")
        for currency, name, impressions, clicks, spend in db.execute(AD_PERFORMANCE).fetchall())
    return lines


def matrix_lines(rows: list[tuple]) -> list[str]:
    """People down, ad accounts across (a letter each, named below), short tasks in cells."""
    accounts = sorted({(r[3], r[4]) for r in rows})
    shown, hidden = accounts[:MATRIX_ACCOUNTS], len(accounts) - MATRIX_ACCOUNTS
    letters = [chr(ord("A") + n) for n in range(len(shown))]
    table = Table(Column("person", MATRIX_PERSON),
                  *(Column(letter, 9) for letter in letters))
    # Only who holds a task on the accounts shown: at scale, most people hold none of them.
    on_shown = {account for account, _ in shown}
    people: dict[tuple[str, bool, bool], dict[str, str]] = {}
    for person, robot, partner, account, _, held in rows:
        if account in on_shown:
            people.setdefault((person, robot, partner), {})[account] = held
    cells = [[("* " if partner else "") + person + (" [S]" if robot else ""),
              *(tasks(held.get(account)) for account, _ in shown)]
             for (person, robot, partner), held in people.items()]
    listed, more = capped(cells, MATRIX_PEOPLE, "people")
    return ["", "Access matrix (dbt mart access_matrix): who holds which tasks on which ad "
                "account now", *table.render(listed), *more,
            *(fit(f"{INDENT}{letter} = {account} {name}", WIDTH).rstrip()
              for letter, (account, name) in zip(letters, shown, strict=True)),
            *([f"{INDENT}(and {hidden} more ad accounts)"] if hidden > 0 else []),
            f"{INDENT}* = a partner's person, [S] = a system user",
            fit(INDENT + task_legend(r[5] for r in rows), WIDTH).rstrip()]


def change_lines(rows: list[tuple]) -> list[str]:
    listed, more = capped([(change, asset_type, asset, person,
                            f"{tasks(old)}→{tasks(new)}" if change == "tasks_changed"
                            else tasks(old or new))
                           for change, asset_type, asset, person, old, new in rows],
                          CHANGES_SHOWN, "changes (meta_bm_marts.access_changes)")
    return ["", f"What the second run saw change (dbt mart access_changes, {len(rows)} rows)",
            *CHANGE_TABLE.render(listed), *more]


def access_lines(account: str, rows: list[tuple]) -> list[str]:
    """Everyone who can reach one ad account, at most ACCESS_SHOWN_PER_KIND of each
    (access, via): at scale, hundreds of admins can grant themselves any task."""
    lines = ["", f"Everyone who can reach ad account {account}, and how (dbt mart "
                 "effective_access:", "holds = assigned now, can_grant = may assign itself)",
             ACCESS_TABLE.line([c.header for c in ACCESS_TABLE.spec])]
    kinds: dict[tuple[str, str], list[tuple]] = {}
    for row in rows:
        kinds.setdefault((row[0], row[1]), []).append(row)
    for (access, via), members in kinds.items():
        listed, more = capped([(a, v, kind, who, tasks(held) if held else "(unknown)")
                               for a, v, kind, who, held in members],
                              ACCESS_SHOWN_PER_KIND, f"{access} {via}")
        lines += [*map(ACCESS_TABLE.line, listed), *more]
    return lines


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
    shown = database.relative_to(ROOT) if database.is_relative_to(ROOT) else database
    print(f"Loaded {shown} twice in {time.monotonic() - started:.1f} s")
    print_summary(database)


if __name__ == "__main__":
    main()
