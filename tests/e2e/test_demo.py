"""`make demo`, the README's main job, in a fresh copy of this checkout (tests/e2e/project.py):
what it says it changed at the source is what its second run saw, and what the user already
holds is left as it was. It uses ports of its own, so it runs beside the README's fixed-port
steps (test_readme.py)."""

from __future__ import annotations

import json
import os
import re

import duckdb
import pytest

from demo.__main__ import USERS_OWN
from demo.tables import WIDTH, columns, fit, tasks
from tests.e2e.project import ROOT

pytestmark = pytest.mark.meltano


def test_make_demo_reports_its_changes_and_leaves_the_users_warehouse_and_state_alone(
        project):
    """The changes the demo made at the source are the ones its second run saw; the user's
    warehouse (access history Meta cannot give back) and Meltano state, there before
    `make demo`, are there after it, unchanged."""
    users = project.root / "output" / "warehouse.duckdb"
    with duckdb.connect(str(users)) as db:
        db.execute("create table marker as select 'kept' as note")
    env = {k: v for k, v in os.environ.items() if not k.startswith(USERS_OWN)}
    state_id = "dev:tap-meta-bm-to-target-duckdb"
    kept = '{"singer_state": {"bookmarks": {"marker": {"kept": true}}}}'
    assert project.meltano("state", "set", "--force", state_id, kept, env=env).returncode == 0

    done = project.run(["make", "demo"], env=env, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

    with duckdb.connect(str(users), read_only=True) as db:
        assert db.execute("select * from marker").fetchall() == [("kept",)]
        assert db.execute("select count(*) from information_schema.tables").fetchone()[0] == 1
    listed = project.meltano("state", "list", env=env)
    assert listed.stdout.split() == [state_id]
    got = project.meltano("state", "get", state_id, env=env)
    assert json.loads(got.stdout) == json.loads(kept)
    assert (project.root / "output" / "demo" / "warehouse.duckdb").exists()
    assert_the_changes_made_are_the_changes_seen(done.stdout)


def test_the_demo_refuses_the_users_warehouse(project):
    done = project.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "demo", "--database",
                        "output/warehouse.duckdb"], env=dict(os.environ), timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"{project.root.resolve()}/output/warehouse.duckdb is the warehouse "
                           "of `meltano run` (meltano.yml): the demo starts from an empty file, "
                           "so it uses a file of its own\n")


def assert_the_changes_made_are_the_changes_seen(stdout: str) -> None:
    """What the demo changed at the source (ids, and names in parentheses) is what its
    second run saw (names, in the demo's table); every line fits in 100 columns."""
    lines = stdout.splitlines()
    assert [line for line in lines if columns(line) > WIDTH] == []
    made = lines[lines.index(next(x for x in lines if x.startswith("Meanwhile"))) + 1:]

    def names(line: str) -> tuple[str, str]:
        person, asset = re.fullmatch(r".*\((.*) on (.*)\)", line).groups()  # type: ignore[union-attr]
        return fit(asset, 26).rstrip(), fit(person, 24).rstrip()

    revoked = {names(x) for x in made if x.startswith("  revoke ")}
    retasked = {(*names(x), tasks(x.split()[3])) for x in made if x.startswith("  set-tasks ")}
    (removed,) = [re.fullmatch(r".*\((.*)\)", x).group(1)  # type: ignore[union-attr]
                  for x in made if x.startswith("  remove-user ")]
    assert len(revoked) == 3 and len(retasked) == 2
    start = lines.index(next(x for x in lines if x.startswith("What the second run saw")))
    seen = [re.split(r"\s{2,}", x.strip()) for x in lines[start + 2:]
            if x.startswith(("  revoked", "  tasks_"))]
    assert {(row[2], row[3]) for row in seen if row[0] == "revoked"} == revoked | {
        (row[2], row[3]) for row in seen if row[3] == fit(removed, 24).rstrip()}
    assert any(row[3] == fit(removed, 24).rstrip() for row in seen)
    assert {(row[2], row[3], row[4].split("→")[1]) for row in seen
            if row[0] == "tasks_changed"} == retasked
    assert "JPY" in stdout and not any("." in x.split()[-2] for x in lines if x.endswith(" JPY"))
