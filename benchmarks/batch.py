"""`make bench` (batch): RECORD messages against BATCH files, at agency scale.

The fake's agency scale (--scale, agency-500 by default: 500 ad accounts, a sixth owned),
without latency, the default streams but insights (as benchmarks/run.py), default settings
plus ACTIVATE_VERSION (as meltano.yml has it):

* the tap alone, with and without `batch_config` (jsonl, gzip): wall, peak RSS, bytes on
  stdout (what a pipe, or Meltano, carries) and bytes in batch files;
* meltanolabs-target-postgres (the project's, `.meltano/loaders`) loading each output into
  its own schema of a local PostgreSQL: wall, and rows loaded (the same either way).

Prints a Markdown table; results are pasted into RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.run import ROOT, TAP, default_catalog, run_process
from tests.e2e.postgres import running_postgres
from tests.fakegraph import DEFAULT_TOKEN, FakeGraph

TARGET = ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "target-postgres"


def megabytes(paths: list[Path]) -> float:
    return sum(p.stat().st_size for p in paths) / 1e6


def tap_output(graph: FakeGraph, work: Path, batch: bool) -> tuple[float, float, Path, float]:
    """One full sync: wall, peak RSS, its stdout, and the MB of its batch files."""
    config = {"access_token": DEFAULT_TOKEN, "api_url": graph.url,
              "emit_activate_version_messages": True}
    if batch:
        config["batch_config"] = {"encoding": {"format": "jsonl", "compression": "gzip"},
                                  "storage": {"root": (work / "batches").as_uri()}}
    (work / "config.json").write_text(json.dumps(config))
    (work / "catalog.json").write_text(json.dumps(default_catalog(graph)))
    wall, rss, out = run_process([TAP, "--config", str(work / "config.json"), "--catalog",
                                  str(work / "catalog.json")])
    files = list((work / "batches").iterdir()) if batch else []
    return wall, rss, out, megabytes(files)


def load(output: Path, port: int, schema: str, work: Path) -> float:
    """target-postgres reading `output`: its wall time."""
    (work / f"{schema}.json").write_text(json.dumps({
        "host": "127.0.0.1", "port": port, "user": "postgres", "password": "unused",
        "database": "meta_bm", "default_target_schema": schema, "add_record_metadata": True,
        "activate_version": True, "hard_delete": False}))
    started = time.monotonic()
    with output.open("rb") as stdin:
        subprocess.run([str(TARGET), "--config", str(work / f"{schema}.json")], stdin=stdin,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="agency-500")
    args = parser.parse_args()
    graph = FakeGraph(args.scale).start()
    rows = ["| run | tap wall s | tap peak RSS MB | stdout MB | batch files MB | "
            "target-postgres wall s | rows loaded |", "|---|---|---|---|---|---|---|"]
    try:
        with running_postgres() as postgres:
            for batch in (False, True):
                work = Path(tempfile.mkdtemp(prefix="tap-meta-bm-batch-bench-"))
                wall, rss, out, files_mb = tap_output(graph, work, batch)
                schema = "by_batches" if batch else "by_messages"
                loaded = load(out, postgres.port, schema, work)
                count = sum(int(postgres.query(f"select count(*) from {schema}.{table}")[0][0])
                            for (table,) in postgres.query(
                                "select table_name from information_schema.tables where "
                                f"table_schema = '{schema}'"))
                rows.append(f"| {args.scale}, {'BATCH (jsonl.gz)' if batch else 'RECORD'} | "
                            f"{wall:.1f} | {rss:.0f} | {megabytes([out]):.1f} | "
                            f"{files_mb:.1f} | {loaded:.1f} | {count} |")
    finally:
        graph.stop()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
