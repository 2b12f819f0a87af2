"""`make demo`: the whole pipeline, the way users run it, with no Meta account needed.

Starts the project's fake Graph API, runs `meltano run tap-meta-bm target-duckdb` into
output/warehouse.duckdb, builds the dbt marts (`meltano invoke dbt:build`, transform/), and
prints what landed and what the marts answer: rows per table, active campaigns per ad account,
the access matrix (who holds which tasks on which ad account), which pixels and catalogs
partners' people can touch, and spend per ad account.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.fakegraph import DEFAULT_TOKEN, FakeGraph

ROOT = Path(__file__).resolve().parent.parent
MELTANO = os.environ.get("MELTANO_BIN", str(ROOT / ".venv-meltano" / "bin" / "meltano"))

ACTIVE_CAMPAIGNS = """
select acc.name as ad_account, count(*) as active_campaigns
from meta_bm.campaigns c
join meta_bm.ad_accounts acc on acc.account_id = c.account_id
where c.effective_status = 'ACTIVE'
group by 1 order by 2 desc, 1 limit 5
"""
#: From the dbt marts (transform/): who holds which tasks on which ad account now.
ACCESS_MATRIX = """
select user_name, is_system_user, is_partner, asset_name, replace(tasks, ',', '+')
from meta_bm_marts.access_matrix
where asset_type = 'AD_ACCOUNT'
order by is_partner desc, is_system_user, user_name, asset_name
"""
PARTNERS_ON_OTHER_ASSETS = """
select asset_type, asset_name, user_name, user_business_id, replace(tasks, ',', '+')
from meta_bm_marts.access_matrix
where is_partner and asset_type in ('PIXEL', 'PRODUCT_CATALOG')
order by 1, 2, 3
"""
AD_PERFORMANCE = """
select a.name, p.currency, sum(p.impressions), sum(p.clicks), sum(p.spend)
from meta_bm_marts.ad_performance p
join (select distinct account_id, name from meta_bm.ad_accounts) a using (account_id)
group by 1, 2 order by 5 desc limit 5
"""
#: Ad accounts shown side by side in the matrix: beyond that the table is unreadable (the
#: medium scale has 200); the rest are counted.
MATRIX_ACCOUNTS = 6


def run_pipeline(graph: FakeGraph, database: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    env = {**os.environ, "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN,
           "TAP_META_BM_API_URL": graph.url, "TARGET_DUCKDB_FILEPATH": str(database)}
    command = [MELTANO, "run", "--full-refresh", "tap-meta-bm", "target-duckdb"]
    print("$ meltano " + " ".join(command[1:]), flush=True)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode:
        sys.exit(f"meltano run failed:\n{done.stderr[-4000:]}")
    command = [MELTANO, "invoke", "dbt:build"]
    print("$ meltano " + " ".join(command[1:]), flush=True)
    done = subprocess.run(command, cwd=ROOT, env={**env, "DBT_DUCKDB_PATH": str(database)},
                          capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"dbt build failed:\n{done.stdout[-4000:]}")
    print("  " + done.stdout.strip().splitlines()[-1].split("  ", 1)[-1], flush=True)


def print_summary(database: Path) -> None:
    db = duckdb.connect(str(database), read_only=True)
    tables = [t for (t,) in db.execute(
        "select table_name from information_schema.tables where table_schema = 'meta_bm' "
        "order by 1").fetchall()]
    print("\nRows per table")
    for table in tables:
        (count,) = db.execute(f"select count(*) from meta_bm.{table}").fetchone()
        print(f"  {table:<30}{count:>8}")
    print("\nActive campaigns per ad account (top 5)")
    for account, count in db.execute(ACTIVE_CAMPAIGNS).fetchall():
        print(f"  {account:<40}{count:>6}")
    rows = db.execute(ACCESS_MATRIX).fetchall()
    accounts = sorted({r[3] for r in rows})
    shown, hidden = accounts[:MATRIX_ACCOUNTS], len(accounts) - MATRIX_ACCOUNTS
    print("\nAccess matrix (dbt mart access_matrix): who holds which tasks on which ad account "
          "(* = a partner's person, [S] = system user)")
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
    partners = db.execute(PARTNERS_ON_OTHER_ASSETS).fetchall()
    print("\nPixels and catalogs that partners' people can touch")
    for asset_type, asset, person, their_business, tasks in partners[:15]:
        print(f"  {asset_type:<16}{str(asset)[:28]:<30}{person} ({their_business}): {tasks}")
    if len(partners) > 15:
        print(f"  … and {len(partners) - 15} more")
    print("\nSpend per ad account, the last 29 days (dbt mart ad_performance, top 5)")
    for account, currency, impressions, clicks, spend in db.execute(AD_PERFORMANCE).fetchall():
        print(f"  {account:<36}{impressions:>10} impressions{clicks:>8} clicks"
              f"{spend:>14,.2f} {currency}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["small", "medium", "large"], default="small")
    parser.add_argument("--database", type=Path, default=ROOT / "output" / "warehouse.duckdb")
    args = parser.parse_args()
    graph = FakeGraph(args.scale).start()
    print(f"Fake Graph API ({args.scale}) at {graph.url}")
    started = time.monotonic()
    try:
        run_pipeline(graph, args.database)
    finally:
        graph.stop()
    print(f"Loaded {args.database} in {time.monotonic() - started:.1f} s")
    print_summary(args.database)


if __name__ == "__main__":
    main()
