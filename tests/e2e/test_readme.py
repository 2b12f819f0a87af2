"""The README's steps, run as written on this checkout: what it promises, it does."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from demo.postgres import DIRECTORY, PORT, Postgres
from tests.e2e.test_meltano import ROOT

pytestmark = pytest.mark.meltano


def readme_block(heading: str) -> str:
    """The first ```bash block after a README heading."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block under {heading}"
    return match.group(1)


def test_the_postgres_steps_load_revoke_and_report_the_revocation(tmp_path):
    block = readme_block("### PostgreSQL, step by step")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TARGET_POSTGRES_", "TAP_META_BM_", "DBT_"))}
    # Output to a file, not a pipe: a background step still running must not hold the test.
    log = tmp_path / "steps.log"
    try:
        with log.open("w") as out:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, timeout=900,
                                  check=False)
    finally:  # what a failed step left running
        subprocess.run(["pkill", "-f", "tests.fakegraph --port 8765"], check=False)
        if DIRECTORY.exists():
            Postgres(DIRECTORY, PORT).stop()
    output = log.read_text()
    assert done.returncode == 0, output[-4000:]
    changes = [line for line in output.splitlines() if line.startswith(" revoked")]
    assert len(changes) == 1, output[-3000:]
    assert changes[0].split("|")[1:3] == [" act_200000000000 ", " 600000000000 "]


def test_make_demo_reports_the_changes_it_made_at_the_source():
    done = subprocess.run(["make", "demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    lines = done.stdout.splitlines()
    made = lines[lines.index(next(x for x in lines if x.startswith("Meanwhile"))) + 1:]
    revoked = {tuple(x.split()[1:3]) for x in made if x.startswith("  revoke ")}
    retasked = {tuple(x.split()[1:4]) for x in made if x.startswith("  set-tasks ")}
    (removed,) = [x.split()[1] for x in made if x.startswith("  remove-user ")]
    assert len(revoked) == 3 and len(retasked) == 2
    start = lines.index(next(x for x in lines if x.startswith("What the second run saw")))
    seen = [x.split() for x in lines[start + 1:] if x.startswith(("  revoked", "  tasks_"))]
    assert {(row[2], row[3]) for row in seen if row[0] == "revoked"} == revoked | {
        (row[2], row[3]) for row in seen if row[3] == removed}
    assert any(row[3] == removed for row in seen)
    assert {(row[2], row[3], row[6].replace("+", ",")) for row in seen
            if row[0] == "tasks_changed"} == retasked
    assert "JPY" in done.stdout and not any(" JPY" in x and "." in x.split()[-2]
                                            for x in lines if x.endswith(" JPY"))
