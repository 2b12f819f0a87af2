"""The README's steps, run as written in a fresh copy of this checkout (tests/e2e/project.py):
what it promises, it does, and what the user already holds is left as it was."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from demo.__main__ import USERS_OWN
from demo.postgres import DIRECTORY, PORT, Postgres
from tests.e2e.project import ROOT, Project
from tests.fakegraph import DEFAULT_TOKEN

pytestmark = pytest.mark.meltano
#: The README's example values in the Meltano block, and what the fake has instead.
PLACEHOLDERS = {"'EAA…'": DEFAULT_TOKEN, '"1234567890"': "100000000000"}


@pytest.fixture(autouse=True)
def readme_ports() -> Iterator[None]:
    """The README's steps use fixed ports (the fake on 8765, the demo's PostgreSQL on 5433),
    and a step's cleanup stops the fake by its command line: one of these tests at a time,
    whichever pytest-xdist worker runs it (`xdist_group` with `--dist loadgroup` spread a
    group over several workers here: pytest-xdist 3.8 under pytest 9.2)."""
    with open(Path(tempfile.gettempdir()) / "tap-meta-bm-readme-ports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def readme_block(heading: str, number: int = 0) -> str:
    """The `number`th ```bash block after a README heading."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text[text.index(heading):], re.S)
    assert len(blocks) > number, f"no bash block {number} under {heading}"
    return blocks[number]


def run_blocks(project: Project, script: str, log_path: os.PathLike[str],
               env: dict[str, str] | None = None) -> tuple[int, str]:
    """`script` in bash -euo pipefail in the copy; its exit code and output. Output goes to a
    file, not a pipe: a step left running in the background must not hold the test."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(USERS_OWN)}
    try:
        with open(log_path, "w") as out:
            done = project.run(["bash", "-euo", "pipefail", "-c", script],
                               env={**clean, **(env or {})}, timeout=900, output=out)
    finally:  # what a failed step left running
        subprocess.run(["pkill", "-f", "tests.fakegraph --port 8765"], check=False)
    with open(log_path) as log:
        return done.returncode, log.read()


def test_the_first_steps_run_as_written(project, tmp_path):
    """Set-up's standalone try, then Usage: the doctor, discovery, a run and a resumed run,
    and Meltano (with the fake's token and business for the README's placeholders)."""
    meltano = readme_block("## Usage", 2)
    for placeholder, value in PLACEHOLDERS.items():
        assert placeholder in meltano
        meltano = meltano.replace(placeholder, placeholder[0] + value + placeholder[-1])
    script = "\n".join([readme_block("The fake server also runs on its own"),
                        readme_block("## Usage", 0), readme_block("## Usage", 1),
                        "export TAP_META_BM_API_URL=http://127.0.0.1:8765", meltano])
    code, output = run_blocks(project, script, tmp_path / "steps.log")
    assert code == 0, output[-4000:]
    assert output.count("Every selected stream can be served.") == 2  # the doctor, twice
    messages = [json.loads(line) for line in
                (project.root / "messages.jsonl").read_text().splitlines()]
    state = json.loads((project.root / "state.json").read_text())
    assert state["bookmarks"] and any(m["type"] == "RECORD" for m in messages)
    with duckdb.connect(str(project.root / "output" / "warehouse.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from meta_bm.ad_accounts").fetchone()[0] > 0
    assert DEFAULT_TOKEN not in output


def test_the_postgres_steps_load_revoke_and_report_the_revocation(project, tmp_path):
    try:
        code, output = run_blocks(project, readme_block("### PostgreSQL, step by step"),
                                  tmp_path / "steps.log")
    finally:
        if DIRECTORY.exists():
            Postgres(DIRECTORY, PORT).stop()
    assert code == 0, output[-4000:]
    changes = [line for line in output.splitlines() if line.startswith(" revoked")]
    assert len(changes) == 1, output[-3000:]
    assert changes[0].split("|")[1:3] == [" act_200000000000 ", " 600000000000 "]


def lead_columns(project: Project, env: dict[str, str]) -> set[str]:
    """How `meltano select --list --all` marks the `leads` stream's columns."""
    listed = project.meltano("select", "tap-meta-bm", "--list", "--all", env=env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    return {line.split("]")[0].strip("\t [") for line in listed.stdout.splitlines()
            if "] leads." in line}


def test_leads_are_synced_the_ways_the_readme_says(fake_graph, project, tmp_path):
    graph = fake_graph("small")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(USERS_OWN)},
           "TAP_META_BM_ACCESS_TOKEN": DEFAULT_TOKEN, "TAP_META_BM_API_URL": graph.url}
    meltano_yml = (project.root / "meltano.yml").read_text()
    assert lead_columns(project, env) == {"excluded"}
    # What the README says does nothing: a selection beside the exclusion.
    assert project.meltano("select", "tap-meta-bm", "leads", "*", env=env).returncode == 0
    assert lead_columns(project, env) == {"excluded"}
    (project.root / "meltano.yml").write_text(meltano_yml)

    # For one run: the README's command, as written.
    code, output = run_blocks(project, readme_block("**Leads are personal data**"),
                              tmp_path / "leads.log", env)
    assert code == 0, output[-3000:]
    leads = [json.loads(line) for line in
             (project.root / "output" / "leads.jsonl").read_text().splitlines()]
    assert {(lead["id"],) for lead in leads} == graph.truth()["leads"]
    assert (project.root / "meltano.yml").read_text() == meltano_yml

    # For every run: the two exclusions deleted.
    kept = [line for line in meltano_yml.splitlines(keepends=True)
            if line.strip() not in ("- '!lead_forms.*'", "- '!leads.*'")]
    assert len(kept) == len(meltano_yml.splitlines()) - 2
    (project.root / "meltano.yml").write_text("".join(kept))
    assert lead_columns(project, env) == {"selected", "automatic"}  # automatic: the key
