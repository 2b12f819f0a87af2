"""A run over 3,000 ad accounts killed (SIGKILL) at a random point, then run again from the
last STATE it wrote: nothing missing, and nothing emitted twice but what state.py's bound
allows (an incremental stream's records after that STATE)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

from tap_meta_bm.state import MIN_STATE_WEIGHT, RECORD_BYTES_PER_STATE_BYTE
from tests.e2e.conftest import run_tap, tap_config
from tests.helpers import TAP_COMMAND, catalog

INCREMENTAL = ("campaigns", "adsets", "ads", "custom_audiences")
FULL_TABLE = ("ad_accounts", "ad_account_assignments")
KEYS = {"ad_account_assignments": ("account_id", "user_id")}


def keys_of(messages: list[dict[str, Any]], stream: str) -> list[tuple[str, ...]]:
    fields = KEYS.get(stream, ("id",))
    return [tuple(str(m["record"][f]) for f in fields) for m in messages
            if m["type"] == "RECORD" and m["stream"] == stream]


def killed_after(tmp_path: Path, config: dict, selected: dict, lines: int) -> list[bytes]:
    """The first `lines` lines the tap wrote, as a target would have them; then SIGKILL."""
    tmp_path.mkdir()
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(selected))
    process = subprocess.Popen(
        [TAP_COMMAND, "--config", str(tmp_path / "config.json"),
         "--catalog", str(tmp_path / "catalog.json")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    got = [process.stdout.readline() for _ in range(lines)]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    return [line for line in got if line]


def test_a_killed_agency_run_resumes_from_its_last_state_without_loss(fake_graph, tmp_path):
    graph = fake_graph("agency")
    config = tap_config(graph, start_date="2024-01-01T00:00:00Z")
    selected = catalog([*INCREMENTAL, *FULL_TABLE])
    clean = run_tap(tmp_path, config, catalog=selected)
    assert clean.returncode == 0, clean.stderr[-2000:]
    written = clean.stdout.splitlines()
    seed = int(os.environ.get("KILL_SEED") or random.randrange(1 << 30))  # to replay one
    cut = random.Random(seed).randrange(len(written) // 5, len(written) * 4 // 5)
    got = killed_after(tmp_path / "killed", config, selected, cut)
    assert len(got) == cut, f"seed {seed}"
    killed = [json.loads(line) for line in got]
    states = [n for n, m in enumerate(killed) if m["type"] == "STATE"]
    assert states, f"seed {seed}: no STATE in the first {cut} lines"
    last = states[-1]
    resumed = run_tap(tmp_path / "killed", config, catalog=selected,
                      state=killed[last]["value"])  # the compact form, as the target kept it
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    after_state = killed[last + 1:]
    for stream in INCREMENTAL:
        before, again = keys_of(killed, stream), keys_of(resumed.messages, stream)
        # Nothing missing, nothing that should not be there.
        assert set(before) | set(again) == set(keys_of(clean.messages, stream)), \
            f"seed {seed}, {stream}"
        assert len(again) == len(set(again)), f"seed {seed}, {stream}"
        # Emitted twice only if emitted after the STATE the rerun started from.
        assert set(before) & set(again) <= set(keys_of(after_state, stream)), \
            f"seed {seed}, {stream}"
    for stream in FULL_TABLE:  # read whole by every run
        assert sorted(keys_of(resumed.messages, stream)) == sorted(
            keys_of(clean.messages, stream)), f"seed {seed}, {stream}"
    # The documented bound (state.py): what the incremental streams emitted after the last
    # STATE weighs less than RECORD_BYTES_PER_STATE_BYTE x max(its size, MIN_STATE_WEIGHT),
    # plus the ad account being read (here a few objects: under 64 KB). Full-table streams
    # are read whole by every run: their records do not count.
    state_size = len(got[last])
    reread = sum(len(line) for line, message in zip(got[last + 1:], after_state, strict=True)
                 if message["type"] == "RECORD" and message["stream"] in INCREMENTAL)
    assert reread < RECORD_BYTES_PER_STATE_BYTE * max(state_size, MIN_STATE_WEIGHT) + 64_000, \
        f"seed {seed}"
