"""Fixtures shared by every test, and the markers that say what a test starts."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
import requests_mock

from tests.clock import Clock, chosen_today
from tests.helpers import BASE, BUSINESS, mock_batch, mock_empty_graph, page

E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is `e2e` (it starts the installed tap, the fake Graph API's
    server, Meltano or PostgreSQL), so that `-m 'not e2e'` is the unit suite and nothing
    else; the `meltano` ones are among them."""
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
    pipelines = Counter(item.path for item in items if item.get_closest_marker("meltano"))
    # pytest-xdist hands a worker a whole file (`--dist loadfile`) in the order collected
    # (`--no-loadscope-reorder`; its default, most tests first, left the minute-long pipeline
    # files for last): the files with the most Meltano pipelines start first, and the many
    # short files fill the workers around them.
    items.sort(key=lambda item: -pipelines[item.path])


@pytest.fixture(autouse=True)
def wall_clock(request, monkeypatch) -> Clock:
    """Every test's wall clock (tests/clock.py): the chosen day, or the one a test asks for
    with `@pytest.mark.parametrize("wall_clock", [date(...)], indirect=True)`."""
    today = getattr(request, "param", None) or chosen_today()
    chosen = Clock.on(today, time.time())
    monkeypatch.setattr(time, "time", chosen.time)
    return chosen


class FakeTime:
    """Monotonic clock and sleep that advance together; no test ever really sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(time, "monotonic", fake.monotonic)
    monkeypatch.setattr(time, "sleep", fake.sleep)
    return fake


@pytest.fixture
def two_account_graph():
    """Graph mocked: one business with ad accounts act_1 and act_2, every other edge empty,
    batches answered from the GET mocks."""
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mock_batch(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts",
                   json=page([{"id": "act_1"}, {"id": "act_2"}]))
        yield mocker
