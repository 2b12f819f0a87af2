"""Dagster: the account shards of meltano.yml as parallel jobs, each retried on its own, then
the marts over their union.

    DAGSTER_HOME=... dagster job execute -f orchestrate/dagster_shards.py -j meta_bm_shards
    dagster dev -f orchestrate/dagster_shards.py      # the same, with Dagster's UI

One op per Meltano job named `meta-shard-K-of-N` (meltano.yml), running `meltano run` through
Dagster's subprocess integration (Pipes): its output goes to the op's logs, a non-zero exit
fails the op, and the op's retry policy reruns that shard alone, which resumes from its own
state. First, one op migrates Meltano's system database (`meltano upgrade database`): shards
started together on a new one would race to create its tables ("table job already exists").
The default multiprocess executor runs the shards side by side; `dbt:build-shards` runs once
every shard has succeeded, in PostgreSQL where the shards load (DBT_TARGET, default
`postgres`).

A shard killed hard (OOM, a lost node) leaves its Meltano run marked running, and Meltano
refuses the same state id for five minutes unless given `--force`. The ops pass it: each shard
is a Dagster pool of its own, limited to one op at a time (dagster.yaml, in DAGSTER_HOME), so
nothing else can be running that shard.

Environment: MELTANO_BIN (default: the project's `.venv-meltano/bin/meltano`, which `make`
installs, else `meltano` on PATH), MELTANO_PROJECT_ROOT (default this repository),
SHARD_RETRIES (default 2) and SHARD_RETRY_DELAY seconds (default 60), DBT_TARGET (default
postgres), and the settings of the plugins themselves (TAP_META_BM_ACCESS_TOKEN,
TARGET_POSTGRES_HOST ...).
"""

import os
import re
from pathlib import Path
from typing import Any

import yaml
from dagster import (
    Backoff,
    Definitions,
    In,
    JobDefinition,
    Nothing,
    OpDefinition,
    OpExecutionContext,
    Out,
    PipesSubprocessClient,
    RetryPolicy,
    job,
    op,
)

PROJECT = Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path(__file__).resolve().parents[1])
PROJECT_MELTANO = PROJECT / ".venv-meltano" / "bin" / "meltano"
MELTANO = os.environ.get("MELTANO_BIN") or (
    str(PROJECT_MELTANO) if PROJECT_MELTANO.exists() else "meltano")
#: Where the shards load (meltano.yml: target-postgres--shard-K-of-N): the marts too.
DBT_TARGET = os.environ.get("DBT_TARGET") or "postgres"
SHARD_JOB = re.compile(r"meta-shard-(\d+)-of-(\d+)")
RETRIES = RetryPolicy(max_retries=int(os.environ.get("SHARD_RETRIES", "2")),
                      delay=float(os.environ.get("SHARD_RETRY_DELAY", "60")),
                      backoff=Backoff.EXPONENTIAL)


def shard_jobs(project: Path = PROJECT) -> list[str]:
    """The Meltano jobs of one shard each, in shard order."""
    jobs: list[dict[str, Any]] = yaml.safe_load((project / "meltano.yml").read_text()
                                                ).get("jobs") or []
    shards = {}
    for name in (str(j.get("name")) for j in jobs):
        if match := SHARD_JOB.fullmatch(name):
            shards[int(match[1])] = name
    return [shards[k] for k in sorted(shards)]


def meltano(context: OpExecutionContext, pipes: PipesSubprocessClient, *args: str,
            env: dict[str, str] | None = None) -> None:
    pipes.run(command=[MELTANO, *args], context=context, cwd=str(PROJECT),
              env=env).get_results()


@op(out=Out(Nothing), description="meltano upgrade database")
def migrate_meltano(context: OpExecutionContext, pipes: PipesSubprocessClient) -> None:
    meltano(context, pipes, "upgrade", "database")


def shard_op(meltano_job: str) -> OpDefinition:
    @op(name=meltano_job.replace("-", "_"), retry_policy=RETRIES, ins={"ready": In(Nothing)},
        out=Out(Nothing), pool=meltano_job, description=f"meltano run {meltano_job}")
    def run_shard(context: OpExecutionContext, pipes: PipesSubprocessClient) -> None:
        meltano(context, pipes, "run", "--force", meltano_job)

    return run_shard


@op(ins={"shards": In(Nothing)}, description="meltano invoke dbt:build-shards")
def build_marts(context: OpExecutionContext, pipes: PipesSubprocessClient) -> None:
    meltano(context, pipes, "invoke", "dbt:build-shards", env={"DBT_TARGET": DBT_TARGET})


def shards_job(names: list[str]) -> JobDefinition:
    @job(name="meta_bm_shards", description="Every account shard in parallel, then the marts.")
    def meta_bm_shards() -> None:
        ready = migrate_meltano()
        build_marts(shards=[shard_op(name)(ready=ready) for name in names])

    return meta_bm_shards


defs = Definitions(jobs=[shards_job(shard_jobs())], resources={"pipes": PipesSubprocessClient()})
