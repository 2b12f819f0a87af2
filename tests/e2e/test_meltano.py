"""The real `meltano run tap-meta-bm target-duckdb`, rows counted in DuckDB against the truth.

Counting every row matters: target-duckdb silently drops rows with some duckdb versions
(see meltano.yml), and only a count against the source's truth can catch a loss like that.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.e2e.project import MELTANO, ROOT, Project, snapshot
from tests.e2e.test_pipeline import OFF_BY_DEFAULT
from tests.fakegraph import DEFAULT_TOKEN

pytestmark = pytest.mark.meltano


def test_meltano_run_into_duckdb_loads_every_row(fake_graph, tmp_path, project):
    """... in a copy of the project: the user's project keeps its Meltano runs and state as
    they were, and no file is left holding the token."""
    assert Path(MELTANO).exists(), f"{MELTANO} is missing: run the tests with `make test`"
    users_project = snapshot(ROOT)
    graph = fake_graph("small")
    database = tmp_path / "warehouse.duckdb"
    env = {**os.environ, "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN,
           "TAP_META_BM_API_URL": graph.url, "TARGET_DUCKDB_FILEPATH": str(database)}
    done = project.meltano("run", "--full-refresh", "tap-meta-bm", "target-duckdb", env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    assert DEFAULT_TOKEN not in done.stdout + done.stderr
    assert project.files_holding(DEFAULT_TOKEN) == []
    db = duckdb.connect(str(database), read_only=True)
    counts = {table: db.execute(f"select count(*) from meta_bm.{table}").fetchone()[0]
              for (table,) in db.execute("select table_name from information_schema.tables "
                                         "where table_schema = 'meta_bm'").fetchall()}
    expected = {stream: len(keys) for stream, keys in graph.truth().items()
                if stream not in OFF_BY_DEFAULT}  # meltano.yml leaves personal data out
    full_table = {table for (table,) in db.execute(
        "select table_name from information_schema.columns where table_schema = 'meta_bm' "
        "and column_name = '_read_id'").fetchall()}
    expected["complete_reads"] = len(full_table)  # one complete read of each
    expected["partial_reads"] = 0  # and nothing left unread
    assert counts == expected
    # `assigned_users?business=` lists that business's people only: a partner's people come
    # from the partner's own token (tests/e2e/test_partners.py), never from ours.
    foreign = db.execute(
        "select count(*) from meta_bm.ad_account_assignments "
        "where json_extract_string(business, '$.id') <> business_id").fetchone()[0]
    assert foreign == 0
    db.close()
    # The access review in SQL: the marts build and pass their data tests on what landed.
    dbt_build(project, env={**env, "DBT_DUCKDB_PATH": str(database)})
    db = duckdb.connect(str(database), read_only=True)
    truth = graph.truth()
    assignments = sum(len(truth[s]) for s in ("ad_account_assignments", "page_assignments",
                                              "pixel_assignments", "catalog_assignments"))
    assert db.execute("select count(*) from meta_bm_marts.access_matrix").fetchone()[0] == \
        assignments
    assert db.execute("select count(*) from meta_bm_marts.access_matrix "
                      "where is_partner").fetchone()[0] == 0
    days = {(key[0][2:9], key[1]) for key in truth["ads_insights"]}  # (account, day)
    assert db.execute("select count(*) from meta_bm_marts.ad_performance").fetchone()[0] == \
        len(days)
    # Money stays exact: a decimal in the mart, its total Graph's amounts summed to the cent
    # (target-duckdb loads them as DOUBLE, whose sum drifts: 23267.960000000003).
    assert db.execute("select data_type from information_schema.columns where table_schema = "
                      "'meta_bm_marts' and table_name = 'ad_performance' and column_name = "
                      "'spend'").fetchone()[0] == "DECIMAL(38,6)"
    amounts = [Decimal(repr(amount)) for (amount,) in db.execute(
        "select spend from meta_bm.ads_insights where spend is not null").fetchall()]
    assert db.execute("select sum(spend) from meta_bm_marts.ad_performance").fetchone()[0] == \
        sum(amounts)
    # Every column of every mart says what it is (transform/models/marts/marts.yml).
    described = {model["name"]: {c["name"] for c in model["columns"] if c.get("description")}
                 for model in yaml.safe_load((ROOT / "transform" / "models" / "marts" /
                                              "marts.yml").read_text())["models"]}
    built = {model: {column for (column,) in db.execute(
        "select column_name from information_schema.columns where table_schema = "
        "'meta_bm_marts' and table_name = ?", [model]).fetchall()} for model in described}
    assert described == built
    db.close()
    assert snapshot(ROOT) == users_project


def dbt_build(project: Project, env: dict[str, str]) -> str:
    """`meltano invoke dbt:build` (transform/): its output; fails the test if it fails."""
    done = project.meltano("invoke", "dbt:build", env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Completed successfully" in done.stdout
    return done.stdout


def test_meltano_runs_the_doctor(fake_graph, project):
    graph = fake_graph("small")
    env = {**os.environ, "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN,
           "TAP_META_BM_API_URL": graph.url}
    done = project.meltano("invoke", "tap-meta-bm:doctor", env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Every selected stream can be served." in done.stdout
    assert DEFAULT_TOKEN not in done.stdout + done.stderr
