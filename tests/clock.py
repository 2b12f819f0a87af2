"""The one clock of the test suite: every test runs on a day it is given, never on the day the
suite happens to run.

The `wall_clock` fixture (tests/conftest.py) sets `time.time` in the test's own process, from noon
UTC of the chosen day: what the fake Graph API reads, and so what it answers in every
response's `Date` header. The tap takes its calendar from that header (GraphClient.graph_time:
Meta's clock, not a skewed local one), wherever a test starts it: directly, through Meltano or
through Dagster. Monotonic clocks and sleeps stay real.

The day is `DEFAULT_TODAY`, or `TEST_TODAY=YYYY-MM-DD` for a whole run on another day; a test
whose answer depends on the day takes several (`@pytest.mark.parametrize("wall_clock", [...],
indirect=True)`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

DEFAULT_TODAY = date(2026, 12, 7)


def chosen_today() -> date:
    override = os.environ.get("TEST_TODAY")
    return date.fromisoformat(override) if override else DEFAULT_TODAY


@dataclass(frozen=True)
class Clock:
    """Wall time shifted so that the test starts at noon UTC of `today`."""

    today: date
    offset: float

    @classmethod
    def on(cls, today: date, real_time: float) -> Clock:
        noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC).timestamp()
        return cls(today, noon - real_time)

    def time(self) -> float:
        return _real_time() + self.offset


#: The real clock, kept before any test replaces `time.time`.
_real_time = time.time
