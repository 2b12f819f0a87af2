"""STATE at agency scale: small on the wire, and written when it is worth what it costs.

A STATE message holds the whole state, one bookmark per ad account and incremental stream:
with 3,000 ad accounts, every message is as large as the state, and a message every few
seconds made STATE 97 % of the tap's output (issue 24: 300 MB of 310 MB). Two rules:

**What a message holds** (`compact_state`). The SDK keeps a partition's bookmark as
`{"context": {"account_id": ...}, "replication_key": ..., "replication_key_value": ...,
"read_started": ..., "ids_at_bookmark": [...]}`: the context's key, the replication key and
the second the run started repeat on every account. On the wire a stream's partitions are
grouped instead: by the run that read them, then by bookmark, each group a list of account
ids, the rest said once per stream:

    "campaigns": {"partition_key": "account_id", "replication_key": "updated_time",
                  "bookmarks_by_read": {"1796228515": {"2024-05-01T12:00:00+00:00": ["1", "2"],
                                                       "": ["3"]}},
                  "ids_at_bookmark": {"2024-05-01T12:00:00+00:00": {"2": ["238..."]}}}

("" is "no bookmark yet"; ids are kept only where the next run needs them, see
incremental.py). A partition with anything else in it (the SDK's progress markers) stays as
the SDK wrote it, under "partitions". `expand_state` gives the SDK its own shape back, reading
the SDK's shape too (a state written by an older version of the tap). Meltano deep-merges the
state of a run that failed into the last complete one, so an account can come back named
twice: the newest wins (the later read, then the later bookmark: both only move forward).

**When a message is written** (`StateCheckpoints`). A STATE is offered at every point where
the state covers exactly what was emitted (each partition's end, each stream's end); it is
written when the records emitted since the last one amount to RECORD_BYTES_PER_STATE_BYTE
times the last one's size (at least MIN_STATE_WEIGHT), or when MAX_SECONDS_BETWEEN have
passed, and never twice alike. The run's last state is always written: at its end, when it
fails, and on SIGTERM; a dry run (`--test`) writes each one offered.

So STATE is at most about 1/RECORD_BYTES_PER_STATE_BYTE of the output, plus the last message
(and a message each MAX_SECONDS_BETWEEN on a run that emits little for a long time); with
accounts x streams bookmarks per message and a number of messages that does not grow with
accounts, a run's STATE bytes grow linearly with accounts.

The worst case after a kill (SIGKILL, a lost machine): the rerun starts from the last STATE
written, so an incremental stream emits again what it emitted after it: less than
RECORD_BYTES_PER_STATE_BYTE x max(that STATE's size, MIN_STATE_WEIGHT) bytes of records, or
what MAX_SECONDS_BETWEEN of work emitted, plus the partition (ad account) being read when it
was written. Full-table streams are read whole by every run (that is how a revocation is
seen), killed or not. Nothing is lost: a bookmark only covers records already emitted, and
what is read again is upserted by key downstream.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from singer_sdk.contrib.msgspec import serialize_jsonl

from tap_meta_bm.errors import TapMetaBMError

#: A STATE is written once the records since the last one are this many times its size
#: (a small state's size counted as MIN_STATE_WEIGHT: a STATE per megabyte of records at most)
RECORD_BYTES_PER_STATE_BYTE = 20
MIN_STATE_WEIGHT = 50_000
#: ... or once this many seconds have passed since the last one, whatever was emitted.
MAX_SECONDS_BETWEEN = 300.0

PARTITION_KEY = "partition_key"
REPLICATION_KEY = "replication_key"
REPLICATION_KEY_VALUE = "replication_key_value"
BY_READ = "bookmarks_by_read"
#: The keys incremental.py adds to a partition's state: ids emitted at exactly the bookmark's
#: second, and the unix time at which the run that read the partition started.
IDS_AT_BOOKMARK = "ids_at_bookmark"
READ_STARTED = "read_started"
#: A full-table stream's key: the version of the last run's rows (ACTIVATE_VERSION), the
#: Singer convention's `version`, under a name that says what it is (graph_stream.py).
TABLE_VERSION = "table_version"
#: A full-table stream's key: its partitions the last reads did not read completely, each
#: with the read that first missed it and how many reads in a row have (`carry_unread`).
UNREAD_PARTITIONS = "unread_partitions"
#: What a stream's or a partition's state may hold: the SDK's keys and the tap's.
KNOWN_KEYS = frozenset({REPLICATION_KEY, REPLICATION_KEY_VALUE, "partitions", "context",
                        "progress_markers", "starting_replication_value",
                        "replication_key_signpost", IDS_AT_BOOKMARK, READ_STARTED,
                        TABLE_VERSION, UNREAD_PARTITIONS})
#: What a compact partition can hold; a partition with any other key is kept as it is.
_COMPACT_KEYS = frozenset({"context", REPLICATION_KEY, REPLICATION_KEY_VALUE, IDS_AT_BOOKMARK,
                           READ_STARTED})


class StateFileError(TapMetaBMError):
    """A state file whose compact bookmarks cannot be read."""


def bookmark_of(partition: Mapping[str, Any], replication_key: str) -> Any:
    """A partition's bookmark: its replication key's value, when the state was written for
    that key (a state of another key says nothing of this one); None without one."""
    if partition.get(REPLICATION_KEY) != replication_key:
        return None
    return partition.get(REPLICATION_KEY_VALUE)


def set_bookmark(partition: dict[str, Any], replication_key: str, value: Any) -> None:
    """Move a partition's bookmark to `value`; None takes it away (the partition starts
    again from start_date)."""
    if value is None:
        partition.pop(REPLICATION_KEY, None)
        partition.pop(REPLICATION_KEY_VALUE, None)
    else:
        partition[REPLICATION_KEY], partition[REPLICATION_KEY_VALUE] = replication_key, value


def compact_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state as written on the wire (module docstring)."""
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, dict):
        return dict(state)
    return {**state, "bookmarks": {name: _compact_stream(stream_state)
                                   for name, stream_state in bookmarks.items()}}


def _compactable(partition: Any) -> tuple[str, str] | None:
    """(context key, account id) of a partition the compact form can carry."""
    if not isinstance(partition, dict) or not set(partition) <= _COMPACT_KEYS or \
            (REPLICATION_KEY in partition) != (REPLICATION_KEY_VALUE in partition):
        return None
    context = partition.get("context")
    if not isinstance(context, dict) or len(context) != 1:
        return None
    ((key, value),) = context.items()
    value_ok = isinstance(value, str) and isinstance(
        partition.get(REPLICATION_KEY_VALUE, ""), str)
    read_ok = isinstance(partition.get(READ_STARTED, 0), int)
    return (key, value) if value_ok and read_ok else None


def _compact_stream(stream_state: Any) -> Any:
    partitions = stream_state.get("partitions") if isinstance(stream_state, dict) else None
    if not isinstance(partitions, list) or not partitions:
        return stream_state
    kept: list[Any] = []
    by_read: dict[str, dict[str, list[str]]] = {}
    ids: dict[str, dict[str, list[str]]] = {}
    partition_key = replication_key = None
    for partition in partitions:
        named = _compactable(partition)
        key = partition.get(REPLICATION_KEY) if named else None
        if named is None or partition_key not in (None, named[0]) or (
                key is not None and replication_key not in (None, key)):
            kept.append(partition)
            continue
        partition_key, replication_key = named[0], key or replication_key
        bookmark = partition.get(REPLICATION_KEY_VALUE, "") if key else ""
        read = str(partition.get(READ_STARTED, ""))
        by_read.setdefault(read, {}).setdefault(bookmark, []).append(named[1])
        if partition.get(IDS_AT_BOOKMARK):
            ids.setdefault(bookmark, {})[named[1]] = list(partition[IDS_AT_BOOKMARK])
    compact: dict[str, Any] = {k: v for k, v in stream_state.items() if k != "partitions"}
    if by_read:
        compact[PARTITION_KEY] = partition_key
        if replication_key is not None:
            compact[REPLICATION_KEY] = replication_key
        compact[BY_READ] = by_read
        if ids:
            compact[IDS_AT_BOOKMARK] = ids
    if kept:
        compact["partitions"] = kept
    return compact


def expand_state(state: Any) -> Any:
    """The SDK's shape of a state read from a file: compact streams expanded, the rest as is."""
    bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
    if not isinstance(bookmarks, dict):
        return state
    return {**state, "bookmarks": {name: _expand_stream(name, stream_state)
                                   for name, stream_state in bookmarks.items()}}


def _expand_stream(name: str, stream_state: Any) -> Any:
    if not isinstance(stream_state, dict) or BY_READ not in stream_state:
        return stream_state
    try:
        return _expanded(stream_state)
    except (AttributeError, TypeError, ValueError):
        raise StateFileError(
            f"The state's bookmarks of {name} are damaged ({BY_READ} must map run starts to "
            "bookmarks to lists of ids); restore the state from the last complete run, or "
            "drop this stream's entry for a full sync of it.") from None


def _expanded(stream_state: dict[str, Any]) -> dict[str, Any]:
    partition_key = str(stream_state[PARTITION_KEY])
    replication_key = stream_state.get(REPLICATION_KEY)
    ids: dict[str, dict[str, list[str]]] = stream_state.get(IDS_AT_BOOKMARK) or {}
    newest: dict[str, tuple[tuple[int, str], dict[str, Any]]] = {}
    for read, groups in stream_state[BY_READ].items():
        for bookmark, accounts in groups.items():
            for account in accounts:
                partition: dict[str, Any] = {"context": {partition_key: account}}
                if bookmark:
                    partition[REPLICATION_KEY] = replication_key
                    partition[REPLICATION_KEY_VALUE] = bookmark
                if read:
                    partition[READ_STARTED] = int(read)
                if ids.get(bookmark, {}).get(account):
                    partition[IDS_AT_BOOKMARK] = list(ids[bookmark][account])
                rank = (int(read or 0), str(bookmark))
                if account not in newest or newest[account][0] < rank:
                    newest[account] = (rank, partition)
    plain = [p for p in stream_state.get("partitions", [])
             if not (isinstance(p, dict) and isinstance(p.get("context"), dict)
                     and p["context"].get(partition_key) in newest)]
    compact_keys = {PARTITION_KEY, REPLICATION_KEY, BY_READ, IDS_AT_BOOKMARK, "partitions"}
    expanded = {k: v for k, v in stream_state.items() if k not in compact_keys}
    expanded["partitions"] = [partition for _, partition in newest.values()] + plain
    return expanded


@dataclass(frozen=True)
class UnreadPartition:
    """A partition of a full-table stream that reads in a row have not read completely."""

    partition: dict[str, str]
    since: int  # the read id (millisecond) of the first of them
    reads: int  # how many, the latest included

    def as_state(self) -> dict[str, Any]:
        return {"partition": self.partition, "since": self.since, "reads": self.reads}


def partition_key(partition: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """One partition however its columns are ordered: what tells two partitions apart."""
    return tuple(sorted(partition.items()))


def carry_unread(previous: Any, now: Sequence[Mapping[str, str]], read_id: int
                 ) -> list[UnreadPartition]:
    """This read's unread partitions, each continuing the run of reads that missed it in
    `previous` (a stream state's UNREAD_PARTITIONS): a partition read completely once
    starts afresh; anything unreadable in `previous` is ignored."""
    known: dict[tuple[tuple[str, str], ...], UnreadPartition] = {}
    for entry in previous if isinstance(previous, list) else []:
        try:
            was = {str(k): str(v) for k, v in entry["partition"].items()}
            known[partition_key(was)] = UnreadPartition(
                was, int(entry["since"]), int(entry["reads"]))
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
    out = []
    for partition in now:
        last = known.get(partition_key(partition))
        out.append(UnreadPartition(dict(partition), last.since if last else read_id,
                                   last.reads + 1 if last else 1))
    return out


class StateCheckpoints:
    """The tap's state writer: every STATE the run writes goes through here (module
    docstring). `write_state` is the SDK's name for it, and is an offer; `flush` writes.

    What it weighs a STATE against and where it writes one are handed to it (the run's
    output: output.py), never read from the output's buffers."""

    def __init__(self, *, emitted: Callable[[], int], write: Callable[[bytearray], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        #: Bytes of records emitted so far, and how a STATE line is written after them.
        self._emitted, self._write = emitted, write
        self._clock = clock
        self._last_digest: bytes | None = None
        self._last_size = 0
        self._records_at_last = self._records_at_start = emitted()
        self._written_at = clock()
        self.messages = self.bytes = 0  # STATE messages and bytes written by this run
        #: Write every state offered (a dry run, `--test`: small, and its end is not seen).
        self.eager = False

    def write_state(self, state: Mapping[str, Any]) -> None:
        """A state that covers what was emitted: written if it is worth its size now."""
        if self._worth_writing():
            self.flush(state)

    def _worth_writing(self) -> bool:
        if self.eager:
            return True
        weight = max(self._last_size, MIN_STATE_WEIGHT)
        return self._emitted() - self._records_at_last >= RECORD_BYTES_PER_STATE_BYTE * weight \
            or self._clock() - self._written_at >= MAX_SECONDS_BETWEEN

    @property
    def emitted_anything(self) -> bool:
        """Whether the run wrote any record or STATE yet."""
        return self.messages > 0 or self._emitted() > self._records_at_start

    def flush(self, state: Mapping[str, Any]) -> None:
        """Write the state now, unless it is the one last written."""
        line = serialize_jsonl({"type": "STATE", "value": compact_state(state)})
        digest = hashlib.blake2b(line, digest_size=16).digest()
        if digest != self._last_digest:
            self._write(line)
            self._last_digest, self._last_size = digest, len(line)
            self.messages += 1
            self.bytes += len(line)
        self._records_at_last, self._written_at = self._emitted(), self._clock()


class SdkStateWriter:
    """What the SDK's own `_state_writer` becomes (sdk_surface.py): the SDK writes the input
    state through it before the first stream (the target has it already: nothing is written
    before anything was emitted) and the whole state on SIGTERM (written)."""

    def __init__(self, checkpoints: StateCheckpoints) -> None:
        self._checkpoints = checkpoints

    def write_state(self, state: Mapping[str, Any]) -> None:
        if self._checkpoints.emitted_anything:
            self._checkpoints.flush(state)
