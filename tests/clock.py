"""The one clock of the test suite: every test runs on a day it is given, never on the day the
suite happens to run.

The `clock` fixture (tests/conftest.py) sets it for the test's own process (`time.time`, which
the fake Graph API and the tap's in-process runs read) and, through libfaketime, for every
process the test starts (the installed tap, Meltano, dbt, the loaders): each sees the same
wall clock, ticking from noon UTC of the chosen day. Monotonic clocks are left alone, so
timeouts and the governor's pacing are real.

The day is `DEFAULT_TODAY`, or `TEST_TODAY=YYYY-MM-DD` for a whole run on another day; a test
whose answer depends on the day takes several (`@pytest.mark.parametrize("clock", [...],
indirect=True)`).
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

DEFAULT_TODAY = date(2026, 12, 7)
#: Days whose calendar arithmetic differs: month ends of every length, a leap day, the day
#: after one, a year's turn.
AWKWARD_DAYS = (date(2026, 12, 31), date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31),
                date(2028, 2, 29), date(2028, 3, 1), date(2028, 12, 31))
FAKETIME_LIBRARIES = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
                      "/usr/local/lib/faketime/libfaketime.so.1")
MISSING_FAKETIME = ("the tests set the clock of the processes they start with libfaketime: "
                    "install it (Debian: apt-get install faketime)")


def chosen_today() -> date:
    override = os.environ.get("TEST_TODAY")
    return date.fromisoformat(override) if override else DEFAULT_TODAY


def faketime_library() -> str | None:
    for pattern in FAKETIME_LIBRARIES:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


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

    def environment(self, library: str) -> dict[str, str]:
        """What makes a child process see this clock (libfaketime's relative offset)."""
        return {"LD_PRELOAD": library, "FAKETIME": f"{self.offset:+.3f}",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DONT_RESET": "1"}


#: The real clock, kept before any test replaces `time.time`.
_real_time = time.time
