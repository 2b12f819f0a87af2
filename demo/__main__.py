"""`make demo`: the whole pipeline, the way users run it, with no Meta account needed.

Starts the project's fake Graph API, runs `meltano run tap-meta-bm target-duckdb` into
output/warehouse.duckdb, and prints what landed: rows per table, active campaigns per ad
account, the access matrix (who holds which tasks on which ad account), and which pixels
and catalogs partners' people can touch.
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
ACCESS_MATRIX = """
select a.name as person,
       a.user_type,
       json_extract_string(a.business, '$.id') <> a.business_id as partner,
       acc.name as ad_account,
       array_to_string(from_json(a.tasks, '["VARCHAR"]'), '+') as tasks
from meta_bm.ad_account_assignments a
join meta_bm.ad_accounts acc on acc.account_id = a.account_id and acc.business_id = a.business_id
order by partner desc, a.user_type, person, ad_account
"""


PARTNERS_ON_PIXELS_AND_CATALOGS = """
with assigned as (
    select asset_type, asset_id, business_id, name, business, tasks
    from meta_bm.pixel_assignments
    union all
    select asset_type, asset_id, business_id, name, business, tasks
    from meta_bm.catalog_assignments
), assets as (
    select id, business_id, name from meta_bm.pixels
    union all
    select id, business_id, name from meta_bm.product_catalogs
)
select a.asset_type, s.name as asset, a.name as person,
       json_extract_string(a.business, '$.name') as their_business,
       array_to_string(from_json(a.tasks, '["VARCHAR"]'), '+') as tasks
from assigned a
join assets s on s.id = a.asset_id and s.business_id = a.business_id
where json_extract_string(a.business, '$.id') <> a.business_id
order by 1, 2, 3
"""


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
    print("\nAccess matrix: who holds which tasks on which ad account "
          "(* = a partner's person, [S] = system user)")
    width = max(len(a) for a in accounts) if accounts else 10
    print(f"  {'person':<34}" + "".join(f"{a[:width]:<{width + 2}}" for a in accounts))
    people: dict[tuple[str, str, bool], dict[str, str]] = {}
    for person, user_type, partner, account, tasks in rows:
        people.setdefault((person, user_type, partner), {})[account] = tasks
    for (person, user_type, partner), cells in list(people.items())[:25]:
        label = ("* " if partner else "  ") + person + (" [S]" if user_type == "system_user"
                                                        else "")
        print(f"{label:<36}" + "".join(f"{cells.get(a, '-'):<{width + 2}}" for a in accounts))
    if len(people) > 25:
        print(f"  … and {len(people) - 25} more people")
    partners = db.execute(PARTNERS_ON_PIXELS_AND_CATALOGS).fetchall()
    print("\nPixels and catalogs that partners' people can touch")
    for asset_type, asset, person, their_business, tasks in partners[:15]:
        print(f"  {asset_type:<16}{asset[:28]:<30}{person} ({their_business}): {tasks}")
    if len(partners) > 15:
        print(f"  … and {len(partners) - 15} more")


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
