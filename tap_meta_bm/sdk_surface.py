"""Every private name of the Singer SDK the tap still uses, each with the reason it has to.

Everything else the tap takes from the SDK is public API. These are pinned by
`tests/test_sdk_surface.py`, so an SDK upgrade that renames or reshapes one fails in CI, not
silently in a user's run:

1. `Stream._write_record_message(record)` (overridden): the RECORD fast path. The SDK's path
   (a selection walk, a conformance pass, a map, a message object and its dict per record)
   costs more CPU than fetching the record; without stream maps or flattening the message is
   the record with the selection applied, written in the SDK's own encoding.
2. `Stream._stream_version` (read, and set): the version the SDK stamps on RECORDs of a
   full-table stream that emits ACTIVATE_VERSION; the fast path must stamp the same one. The
   SDK's is the second the run started: two runs in one second share it, and a loader cannot
   tell their rows apart. The stream's own (`table_version`) replaces it, before any record.
3. `singer_sdk.streams._state.StreamStateManager` (subclassed): the SDK finds a partition's
   state by scanning every partition, several times per partition; with thousands of ad
   accounts that is quadratic. `IndexedStateManager` finds it by key.
4. `Stream._write_activate_version_message(version)` (overridden, and called): the SDK writes
   ACTIVATE_VERSION *before* a full-table stream's records. A loader that soft-deletes on it
   (target-postgres) then marks every row deleted until the records come back, and a run
   that dies halfway leaves the rows it did not reach marked deleted: grants that were never
   revoked. The tap holds the version and writes the message once the whole run succeeded,
   for streams that read every edge (`release_held_version`).
5. `Tap._state_writer` (replaced): the public `state_writer` is what streams write through,
   but `sync_all` writes the input state and `_handle_termination` the state on SIGTERM
   through the private attribute, in the SDK's uncompacted shape and outside the tap's rule
   of when STATE is worth writing (state.py). `route_sdk_state_writes` puts the tap's there.

6. `Tap.invoke`'s `config` argument, the SDK's private `_ConfigInput` (read: its `config`
   and `parse_env`): the tap's own `invoke` parses the state and catalog files once, with
   one-line errors, instead of the SDK's second parse after the tap's check
   (`cli_config`).

And two behaviours of the SDK's private code the tap relies on, pinned the same way:

7. `Stream._write_state_message` writes `tap_state` through `Tap.state_writer` when the
   state manager is not `is_flushed`, and marks it flushed; every record marks it not. The
   tap's `GraphStream.write_state` keeps the same protocol (graph_stream.py), so neither writes a
   state the other just wrote.
8. `Tap.sync_all` syncs every stream, then calls `log_sync_costs()` on every stream, the
   second loop reached only when no stream failed. The tap's end of a stream's work that
   needs the whole run to have succeeded hangs there: ACTIVATE_VERSION (4. above), the end
   of `complete_reads`, the run's last STATE and the summary (`SyncRun.stream_done`).

And three SDK log lines, by logger and text (not names, but as likely to change): one INFO
line per partition with its bookmark, and one WARNING per partition of an unsorted incremental
stream (thousands of either would bury the log; the streams log one summary line instead);
and the ERROR line the SDK logs before re-raising any failure of a stream, dropped when the
failure is one of the tap's own, which `main` prints as its one plain line.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from singer_sdk import Tap
from singer_sdk.contrib.msgspec import serialize_jsonl
from singer_sdk.helpers.types import Context
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.streams._state import StreamStateManager
from typing_extensions import override

from tap_meta_bm.errors import TapMetaBMError
from tap_meta_bm.output import (
    BatchedByTheWriter,
    batching,
    write_batched_record,
    write_record_line,
)

#: (logger name, message format) of the SDK log lines the tap quiets; "{stream}" is the
#: stream's name.
QUIETED_SDK_LINES = (
    ("{tap}.{stream}", "Starting incremental sync of '%s' with bookmark value: %s"),
    ("singer_sdk",
     "Stream is assumed to be unsorted, progress is not resumable if interrupted"),
)
#: Logged by `Stream.sync` while handling any exception of the stream.
SYNC_FAILED = "An unhandled error occurred while syncing '%s'"


class _DropLines(logging.Filter):
    def __init__(self, formats: frozenset[str]) -> None:
        super().__init__()
        self._formats = formats

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == SYNC_FAILED:  # logged inside the SDK's `except`: the failure is known
            return not isinstance(sys.exc_info()[1], TapMetaBMError)
        return record.msg not in self._formats


def quiet_sdk_lines(tap_name: str, stream_name: str) -> None:
    """Drop the per-partition SDK lines of QUIETED_SDK_LINES for one stream."""
    quieted = frozenset(message for _, message in QUIETED_SDK_LINES)
    for logger_name, _ in QUIETED_SDK_LINES:
        logger = logging.getLogger(logger_name.format(tap=tap_name, stream=stream_name))
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines(quieted))


class FastRecordWriting(BatchedByTheWriter):
    """Streams whose RECORD messages skip the SDK's per-record machinery when they can, and
    that count the records they write (what the end-of-run summary reports)."""

    records_written = 0

    @cached_property
    def _plain_record_alias(self) -> str | None:
        """The stream name to emit under when records leave exactly as fetched, apart from
        deselected top-level properties; None when a stream map, flattening or a deselected
        nested property needs the SDK's per-record machinery."""
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            return None
        if maps[0].flattening_enabled:
            return None
        if any(len(crumb) > 2 and not selected for crumb, selected in self.mask.items()):
            return None
        return maps[0].stream_alias

    @cached_property
    def _deselected_properties(self) -> tuple[str, ...]:
        return tuple(name for name in self.schema["properties"]
                     if not self.mask.get(("properties", name), True))

    @override
    def _write_record_message(self, record: dict[str, Any]) -> None:
        self.records_written += 1
        alias = self._plain_record_alias
        if alias is None:
            super()._write_record_message(record)
            return
        for name in self._deselected_properties:
            record.pop(name, None)
        if self._stream_version is None and batching():
            write_batched_record(alias, serialize_jsonl(record))
            self.state_manager.is_flushed = False
            return
        message: dict[str, Any] = {"type": "RECORD", "stream": alias, "record": record}
        if self._stream_version is not None:
            message["version"] = self._stream_version
        message["time_extracted"] = datetime.now(UTC)
        write_record_line(serialize_jsonl(message))
        self.state_manager.is_flushed = False


    @override
    def _write_activate_version_message(self, full_table_version: int) -> None:
        version = self.table_version(full_table_version)
        self._stream_version = version
        self._held_version: int | None = version

    def table_version(self, sdk_version: int) -> int:
        """The version of this run's rows of the stream (2. above): the SDK's, unless the
        stream says better."""
        return sdk_version

    def release_held_version(self, *, write: bool) -> int | None:
        """Write ACTIVATE_VERSION for the version the records carried (or drop it); that
        version, when the SDK had started one."""
        version = getattr(self, "_held_version", None)
        self._held_version = None
        if version is not None and write:
            super()._write_activate_version_message(version)
        return version


def route_sdk_state_writes(tap: Tap, writer: Any) -> None:
    """Make the SDK's own STATE writes (5. above) go through `writer.write_state(state)`."""
    tap._state_writer = writer


class IndexedStateManager(StreamStateManager):
    """Finds a partition's state by its key instead of scanning every partition."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._index: dict[tuple, dict] = {}
        self._indexed: list[dict] | None = None
        #: The SDK asks for the same partition's state once per record, with one context
        #: object per partition: the last answer, while that object and the state stand.
        self._last: tuple[Context, dict, list[dict] | None] | None = None

    @override
    def get_context_state(self, context: Context | None) -> dict:
        last = self._last
        if last is not None and last[0] is context and last[2] is self._indexed \
                and self._indexed is self.stream_state.get("partitions"):
            return last[1]
        state = self._lookup(context)
        if context:
            self._last = (context, state, self._indexed)
        return state

    def _lookup(self, context: Context | None) -> dict:
        partition = self.get_state_partition_context(context) if context else None
        if not partition:
            return super().get_context_state(context)
        partitions = self.stream_state.get("partitions")
        if partitions is not self._indexed:  # new or replaced state: index it afresh
            self._index = {}
            self._indexed = partitions
        key = tuple(partition.values())  # always in state_partitioning_keys' order
        state = self._index.get(key)
        if state is None:
            state = self._index[key] = super().get_context_state(context)
            self._indexed = self.stream_state.get("partitions")
        return state


def cli_config(config: Any) -> tuple[dict[str, Any], bool]:
    """The config files' merged values and whether `--config ENV` was given, from the object
    the SDK's CLI hands `Tap.invoke` (`_ConfigInput`; None when no `--config`)."""
    if config is None:
        return {}, False
    return dict(config.config), bool(config.parse_env)
