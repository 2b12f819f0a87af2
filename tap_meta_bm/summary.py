"""End-of-run summary: per stream records, requests, retries, waits and skipped assets.

Printed on stderr whether the run succeeds or not, so a partial run never looks complete.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

#: What one partition of a stream is, by its columns' values (`{"business_id": "1",
#: "account_id": "2"}`): the rows of a read that carry those values.
Partition = Mapping[str, str]


@dataclass
class StreamTally:
    records: int = 0
    requests: int = 0
    batches: int = 0
    retries: int = 0
    waits: int = 0
    wait_seconds: float = 0.0
    shrinks: int = 0
    skipped: list[str] = field(default_factory=list)
    #: The partition each skip left unread, in step with `skipped`; None for a skip that
    #: leaves the whole stream unread (no partition, or one whose extent is unknown).
    unread: list[Partition | None] = field(default_factory=list)
    dropped_fields: list[str] = field(default_factory=list)
    #: Partitions whose bookmark did not move, since some of their rows were not read.
    kept_bookmarks: list[str] = field(default_factory=list)
    #: Partitions whose rows stay as last read (`GraphStream.unread_partitions`), described.
    unread_lines: list[str] = field(default_factory=list)


class RunSummary:
    """Thread-safe counters, keyed by stream name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[str, StreamTally] = defaultdict(StreamTally)

    def add(self, stream: str, **counts: float) -> None:
        with self._lock:
            tally = self._tallies[stream]
            for name, value in counts.items():
                setattr(tally, name, getattr(tally, name) + value)

    def skipped(self, stream: str, why: str, partition: Partition | None = None) -> None:
        with self._lock:
            self._tallies[stream].skipped.append(why)
            self._tallies[stream].unread.append(partition)

    def partitions_unread(self, stream: str, lines: list[str]) -> None:
        """Partitions of a full-table stream not read completely, each with since when."""
        with self._lock:
            self._tallies[stream].unread_lines.extend(lines)

    def kept_bookmark(self, stream: str, where: str) -> None:
        with self._lock:
            self._tallies[stream].kept_bookmarks.append(where)

    def dropped_field(self, stream: str, column: str) -> None:
        with self._lock:
            self._tallies[stream].dropped_fields.append(column)

    def tally(self, stream: str) -> StreamTally:
        with self._lock:
            return self._tallies[stream]

    def lines(self) -> list[str]:
        """The summary as text lines: a table, then one line per skipped asset."""
        with self._lock:
            rows = sorted(self._tallies.items())
        out = [
            "Run summary:",
            f"  {'stream':<26}{'records':>9}{'requests':>10}{'batches':>9}{'retries':>9}"
            f"{'waits':>7}{'wait s':>8}{'shrinks':>9}{'skipped':>9}",
        ]
        for name, t in rows:
            out.append(
                f"  {name:<26}{t.records:>9}{t.requests:>10}{t.batches:>9}{t.retries:>9}"
                f"{t.waits:>7}{t.wait_seconds:>8.1f}{t.shrinks:>9}{len(t.skipped):>9}"
            )
        dropped = [f"{name}.{column}" for name, t in rows for column in t.dropped_fields]
        if dropped:
            # Graph no longer reads them, or wants a permission the app lacks (the warnings
            # say which).
            out.append(f"  Fields left out for the rest of the run (null from then on): "
                       f"{', '.join(dropped)}")
        kept = [f"{name} {where}" for name, t in rows for where in t.kept_bookmarks]
        if kept:
            out.append(f"  Bookmarks kept back (the next run reads those days again): "
                       f"{', '.join(kept)}")
        skipped = [(name, why) for name, t in rows for why in t.skipped]
        if skipped:
            out.append(f"  PARTIAL: {len(skipped)} asset edge(s) skipped:")
            out.extend(f"    {name}: {why}" for name, why in skipped)
        unread = [(name, line) for name, t in rows for line in t.unread_lines]
        if unread:
            out.append("  Not read completely, their rows kept as last read (the rest of each "
                       "stream is current):")
            out.extend(f"    {name} {line}" for name, line in unread)
        return out
