"""End-to-end fixtures: the fake Graph API in-process, the installed tap as a subprocess."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.postgres import Postgres, running_postgres
from tests.e2e.project import ROOT, Project, copy_checkout
from tests.fakegraph import DEFAULT_TOKEN, FakeGraph, Faults
from tests.helpers import TAP_COMMAND, sdk_state


@dataclass
class TapRun:
    returncode: int
    messages: list[dict[str, Any]]
    stdout: str
    stderr: str

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages
                if m["type"] == "RECORD" and m["stream"] == stream]

    def streams(self) -> set[str]:
        return {m["stream"] for m in self.messages if m["type"] == "RECORD"}

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {m["stream"]: m for m in self.messages if m["type"] == "SCHEMA"}

    def keys(self, stream: str, fields: tuple[str, ...] | None = None
             ) -> list[tuple[str, ...]]:
        key = fields or self.schemas()[stream]["key_properties"]
        return [tuple(str(r[k]) for k in key) for r in self.records(stream)]

    @property
    def state(self) -> dict[str, Any]:
        """The last STATE's value, in the SDK's shape (tests/helpers.py)."""
        return sdk_state([m for m in self.messages if m["type"] == "STATE"][-1]["value"])


def run_tap(tmp_path: Path, config: dict[str, Any], *, state: dict | None = None,
            catalog: dict | None = None, timeout: float = 300) -> TapRun:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    command = [TAP_COMMAND, "--config", str(config_path)]
    for name, value in (("state", state), ("catalog", catalog)):
        if value is not None:
            path = tmp_path / f"{name}.json"
            path.write_text(json.dumps(value))
            command += [f"--{name}", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          check=False)
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return TapRun(done.returncode, messages, done.stdout, done.stderr)


@pytest.fixture
def fake_graph():
    graphs: list[FakeGraph] = []

    def start(scale: str = "small", **kwargs: Any) -> FakeGraph:
        graph = FakeGraph(scale, **kwargs).start()
        graphs.append(graph)
        return graph

    yield start
    for graph in graphs:
        graph.stop()


@pytest.fixture
def project() -> Iterator[Project]:
    """A throwaway copy of the checkout to run Meltano, `make` and the README in
    (tests/e2e/project.py); deleted, with whatever its runs wrote, after the test."""
    with tempfile.TemporaryDirectory(prefix="tap-meta-bm-project-") as directory:
        yield copy_checkout(ROOT, Path(directory))


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


def tap_config(graph: FakeGraph, **overrides: Any) -> dict[str, Any]:
    return {"access_token": DEFAULT_TOKEN, "api_url": graph.url, **overrides}


__all__ = ["Faults", "TapRun", "run_tap", "tap_config"]
