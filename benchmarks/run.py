"""`make bench`: the tap against the fake Graph API, measured, with the MeltanoLabs tap beside it.

For each scenario (scale at a latency) it starts the fake server, warms its page cache with one
unmeasured run (so the generator's cost is not charged to the tap), then measures:

* full sync, all streams, our default max_workers (median of --repeat runs) and max_workers=1;
* requests sent (Graph calls, as Meta's quotas count them: each call inside a Batch API call is
  one) vs the minimum possible: the sum over the edges read of
  max(1, ceil(records on the edge / largest limit the edge accepts)); and HTTP round trips;
* incremental runs from the full run's state after touching 50 campaigns and 10 custom
  audiences (one unmeasured, then median of --repeat): requests, and the records the
  campaigns / custom-audience edges returned vs the number changed;
* peak RSS of the tap process (its VmHWM, sampled every 50 ms), wall seconds, records/s;
* at 0 ms, the machine's yardstick (`sdk_yardstick.py`: the SDK alone writing as many
  campaign-shaped records from memory as the full sync before it emitted, median) and our
  records/s as a multiple of its records/s, which the machine's drift changes much less;
* side by side (`--peer-accounts N` > 0): the MeltanoLabs tap, one ad account per process as it
  requires, and ours on the same N accounts, campaigns and custom audiences only.

Timings are noisy: the table shows medians; compare ratios, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakegraph import DEFAULT_TOKEN, FakeGraph
from tests.fakegraph.server import CAPS, DEFAULT_CAP

ROOT = Path(__file__).resolve().parent.parent
TAP = str(Path(sys.executable).with_name("tap-meta-bm"))
PEER_VENV = ROOT / ".venv-peer"
PEER_STREAMS = {"campaigns", "customaudiences"}


@dataclass
class Run:
    wall: float
    requests: int
    round_trips: int
    records: int
    rss_mb: float
    minimum: int
    state: dict[str, Any] | None
    edge_items: dict[str, int]

    @property
    def rate(self) -> float:
        return self.records / self.wall if self.wall else 0.0


def minimum_requests(log: list[dict[str, Any]]) -> tuple[int, dict[str, int]]:
    items: dict[str, int] = defaultdict(int)
    for entry in log:
        if entry.get("status") == 200:
            items[entry["path"]] += entry.get("items", 1)
    total = sum(max(1, math.ceil(n / CAPS.get(path.rsplit("/", 1)[-1], DEFAULT_CAP)))
                for path, n in items.items())
    return total, dict(items)


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of a running process. (wait4's ru_maxrss would also count the moment between fork
    and exec, when the child still looks as large as this benchmark process.)"""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_process(command: list[str], env: dict[str, str] | None = None
                ) -> tuple[float, float, Path]:
    out = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    started = time.monotonic()
    peaks = [0.0]
    with out.open("wb") as stdout, open(os.devnull, "wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)

        def sample() -> None:  # VmHWM only grows: the last sample before exit is the peak
            while process.returncode is None:
                peaks.append(peak_rss_mb(process.pid) or 0.0)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        process.wait()
        wall = time.monotonic() - started
        sampler.join()
    peak = max(peaks)
    if process.returncode:
        raise SystemExit(f"{command[0]} failed with {process.returncode}")
    return wall, peak, out


def run_tap(graph: FakeGraph, config: dict[str, Any], *, catalog: dict | None = None,
            state: dict | None = None, tap: str = TAP) -> Run:
    """One sync; without a catalog, the default streams but insights (benchmarks/insights.py
    measures those, and these numbers stay comparable with earlier ones)."""
    catalog = catalog or default_catalog(graph, tap)
    workdir = Path(tempfile.mkdtemp())
    (workdir / "config.json").write_text(json.dumps(
        {"access_token": DEFAULT_TOKEN, "api_url": graph.url, **config}))
    command = [tap, "--config", str(workdir / "config.json")]
    for name, value in (("catalog", catalog), ("state", state)):
        if value is not None:
            (workdir / f"{name}.json").write_text(json.dumps(value))
            command += [f"--{name}", str(workdir / f"{name}.json")]
    first, first_trips = len(graph.log), graph.round_trips
    wall, rss, out = run_process(command)
    records, last_state = 0, None
    with out.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"'):
                records += 1
            elif line.startswith(b'{"type":"STATE"'):
                last_state = json.loads(line)["value"]
    out.unlink()
    log = graph.log[first:]
    minimum, items = minimum_requests(log)
    return Run(wall, len(log), graph.round_trips - first_trips, records, rss, minimum,
               last_state, items)


def discovered_catalog(graph: FakeGraph, tap: str = TAP) -> dict:
    workdir = Path(tempfile.mkdtemp())
    (workdir / "config.json").write_text(json.dumps(
        {"access_token": DEFAULT_TOKEN, "api_url": graph.url}))
    return json.loads(subprocess.run([tap, "--config", str(workdir / "config.json"),
                                      "--discover"], capture_output=True, check=True).stdout)


def select_streams(catalog: dict, selected: Callable[[str, bool], bool]) -> dict:
    """Each stream selected or not by `selected(name, selected_by_default)`."""
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = selected(
                    entry["tap_stream_id"], meta["metadata"].get("selected-by-default", True))
    return catalog


def default_catalog(graph: FakeGraph, tap: str = TAP) -> dict:
    return select_streams(discovered_catalog(graph, tap),
                          lambda name, default: default and name != "ads_insights")


def selected_catalog(graph: FakeGraph, streams: set[str]) -> dict:
    return select_streams(discovered_catalog(graph), lambda name, _: name in streams)


def ensure_peer() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "meltano-tap-facebook==0.9.0"], check=True)
    return python


def run_peer(graph: FakeGraph, accounts: list[str]) -> tuple[float, int, int]:
    """The MeltanoLabs tap over `accounts`, one process per account; (wall, requests, records)."""
    python = ensure_peer()
    workdir = Path(tempfile.mkdtemp())
    wrapper = str(ROOT / "benchmarks" / "peer_tap.py")
    env = {**os.environ, "PEER_GRAPH_URL": graph.url}
    base = {"access_token": DEFAULT_TOKEN, "api_version": "v26.0",
            "start_date": "2020-01-01T00:00:00Z"}
    (workdir / "config.json").write_text(json.dumps({**base, "account_id": accounts[0]}))
    catalog = json.loads(subprocess.run([str(python), wrapper, "--config",
                                         str(workdir / "config.json"), "--discover"],
                                        capture_output=True, check=True, env=env).stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in PEER_STREAMS
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    first, wall, records = len(graph.log), 0.0, 0
    for account in accounts:
        (workdir / "config.json").write_text(json.dumps({**base, "account_id": account}))
        seconds, _, out = run_process([str(python), wrapper, "--config",
                                          str(workdir / "config.json"), "--catalog",
                                          str(workdir / "catalog.json")], env=env)
        wall += seconds
        records += sum(1 for line in out.open("rb") if b'"type":"RECORD"' in line[:40]
                       or b'"type": "RECORD"' in line[:40])
        out.unlink()
    return wall, len(graph.log) - first, records


def scenario(scale: str, latency: float, args: argparse.Namespace) -> list[str]:
    graph = FakeGraph(scale, latency_ms=latency).start()
    rows: list[str] = []
    config = {"max_workers": args.max_workers}
    try:
        if scale != "large":  # large is about memory: one cold run is the measurement
            run_tap(graph, config)
        runs, yardsticks = [], []
        for _ in range(1 if scale == "large" else args.repeat):
            runs.append(run_tap(graph, config))
            if not latency:  # interleaved: both see the machine as it is at the moment
                yardsticks.append(run_yardstick(runs[-1].records))
        full = median_run(runs)
        label = f"{scale} @{latency:g} ms"
        rows.append(row(f"{label} full, max_workers={args.max_workers}", full, runs))
        if scale == "large":
            return rows
        serial_runs = [run_tap(graph, {"max_workers": 1})
                       for _ in range(args.repeat if latency == 0 else 1)]
        serial = median_run(serial_runs)
        rows.append(row(f"{label} full, max_workers=1", serial, serial_runs))
        rows.append(f"|   ↳ speed-up from concurrency | {serial.wall / full.wall:.1f}x "
                    "| | | | | | |")
        if yardsticks:
            rows.extend(yardstick_rows(label, full, yardsticks))
        touched = set(graph.touch("campaigns", 50)) | set(graph.touch("custom_audiences", 10))
        # Every incremental run from the full run's state reads the same changes; the first
        # one is the fake's first sight of those filters (a second of its CPU, on a machine
        # whose two cores the tap shares): unmeasured, like the full runs' warm-up.
        run_tap(graph, config, state=full.state)
        incrementals = [run_tap(graph, config, state=full.state) for _ in range(args.repeat)]
        incremental = median_run(incrementals)
        rows.append(row(f"{label} incremental after 60 changes", incremental, incrementals))
        returned = sum(n for path, n in incremental.edge_items.items()
                       if path.endswith(("/campaigns", "/customaudiences")))
        rows.append(f"|   ↳ campaigns + audiences edges returned {returned} records for "
                    f"{len(touched)} changes ({returned / len(touched):.1f}x) | | | | | | | |")
        if latency and args.peer_accounts:
            accounts = [str(200_000_000_000 + a) for a in range(args.peer_accounts)]
            catalog = selected_catalog(graph, {"campaigns", "custom_audiences"})
            ours = [run_tap(graph, {**config, "account_ids": accounts}, catalog=catalog)
                    for _ in range(args.repeat)]
            mine = median_run(ours)
            peer_wall, peer_requests, peer_records = run_peer(graph, accounts)
            rows.append(row(f"{label} ours, {len(accounts)} accounts, campaigns+audiences",
                            mine, ours))
            rows.append(f"| {label} MeltanoLabs tap-facebook, same accounts and streams | "
                        f"{peer_wall:.2f} | {peer_requests} | {peer_requests} | | "
                        f"{peer_records} | {peer_records / peer_wall:.0f} | |")
            rows.append(f"|   ↳ ours vs MeltanoLabs: {peer_wall / mine.wall:.1f}x faster, "
                        f"{peer_requests / max(mine.requests, 1):.1f}x fewer requests, "
                        f"{peer_requests / max(mine.round_trips, 1):.0f}x fewer round trips "
                        "| | | | | | | |")
    finally:
        graph.stop()
    return rows


def median_run(runs: list[Run]) -> Run:
    """The run of median wall time (the slower middle one of an even number)."""
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def run_yardstick(records: int) -> Run:
    """The SDK alone on this machine now, writing `records` records: `sdk_yardstick.py`."""
    config = Path(tempfile.mkstemp(suffix=".json")[1])
    config.write_text(json.dumps({"records": records}))
    command = [sys.executable, "-m", "benchmarks.sdk_yardstick", "--config", str(config)]
    wall, rss, out = run_process(command, env={**os.environ, "PYTHONPATH": str(ROOT)})
    with out.open("rb") as lines:
        written = sum(line.startswith(b'{"type":"RECORD"') for line in lines)
    out.unlink()
    config.unlink()
    return Run(wall, 0, 0, written, rss, 0, None, {})


def yardstick_rows(label: str, full: Run, runs: list[Run]) -> list[str]:
    """The yardstick's median, and our rate as a multiple of its rate: what the machine's
    drift changes much less."""
    sdk = median_run(runs)
    return [f"| {label} SDK alone: campaigns from memory, its default path (yardstick) | "
            f"{wall_cell(sdk, runs)} | | | | {sdk.records} | {sdk.rate:.0f} | {sdk.rss_mb:.0f} |",
            f"|   ↳ ours end to end vs the SDK alone from memory: {full.rate / sdk.rate:.2f}x "
            "its records/s | | | | | | | |"]


def wall_cell(run: Run, runs: list[Run]) -> str:
    """The median's wall seconds, with the range when there were several runs."""
    if len(runs) < 2:
        return f"{run.wall:.2f}"
    return f"{run.wall:.2f} ({min(r.wall for r in runs):.2f}-{max(r.wall for r in runs):.2f})"


def row(label: str, run: Run, runs: list[Run]) -> str:
    return (f"| {label} | {wall_cell(run, runs)} | {run.requests} | {run.round_trips} "
            f"| {run.minimum} "
            f"({run.requests / max(run.minimum, 1):.2f}x) | {run.records} | {run.rate:.0f} | "
            f"{run.rss_mb:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="medium:0,medium:50,large:50",
                        help="scale:latency_ms pairs, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--peer-accounts", type=int, default=200,
                        help="accounts for the side-by-side run (0 skips it)")
    args = parser.parse_args()
    print("| run | wall s (median, range) | requests | HTTP round trips | minimum (ratio) | "
          "records | records/s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for item in args.scenarios.split(","):
        scale, latency = item.split(":")
        for line in scenario(scale, float(latency), args):
            print(line, flush=True)


if __name__ == "__main__":
    main()
