"""Progress on long work: one INFO line a minute while a stream (or its report jobs) runs longer
than that, and nothing at all on short runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: Seconds between two progress lines of one stream.
PROGRESS_SECONDS = 60.0


def duration(seconds: float) -> str:
    """`45 s`, `12 min`, `2.5 h`: an estimate, not a timestamp."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Counts what a stream has done of what it has to do; says so once a minute."""

    def __init__(self, logger: logging.Logger, stream: str, total: int, unit: str,
                 clock: Callable[[], float] | None = None) -> None:
        self._log = logger
        self._stream = stream
        self._total = total
        self._unit = unit
        self._clock = clock or time.monotonic
        self._started = self._last = self._clock()

    def due(self) -> bool:
        return self._clock() - self._last >= PROGRESS_SECONDS

    def report(self, done: int, records: int, detail: str = "") -> None:
        """A line if a minute passed since the last one (or the start)."""
        now = self._clock()
        if now - self._last < PROGRESS_SECONDS:
            return
        self._last = now
        elapsed = now - self._started
        left = f"; about {duration(elapsed / done * (self._total - done))} left" \
            if 0 < done < self._total else ""
        self._log.info("%s: %d of %d %s done, %d records so far%s%s", self._stream, done,
                       self._total, self._unit, records, f", {detail}" if detail else "",
                       left)
