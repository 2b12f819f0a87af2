"""`complete_reads`: which full-table streams this run read completely, so that any warehouse can
tell current rows from revoked ones without relying on its loader.

Every full-table record carries `_read_id`, the run's `read_id`. A loader that upserts by key
overwrites a row each run that still lists it, and leaves a row Graph stopped listing (a
revoked grant, a person who left) with the id of the last read that saw it. A stream's current
rows are therefore those whose `_read_id` is at least its latest complete read's: rows of that
read, and rows a later read saw (a later incomplete read can confirm or update a row, never
remove one). The rule holds on loaders that ignore ACTIVATE_VERSION (target-duckdb, files).

Synced after every other stream: the SDK stops at the first stream that fails, so a failed
run records no complete read, and neither does a dry run (`--test`) or a stream with a skipped
edge (`GraphStream.read_complete`, the rule that gates ACTIVATE_VERSION).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_meta_bm.graph_stream import GraphStream
from tap_meta_bm.output import BatchedByTheWriter
from tap_meta_bm.streams.schema import string, timestamp

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_meta_bm.run import SyncRun


class CompleteReadsStream(BatchedByTheWriter):
    """One row per full-table stream this run read completely."""

    name = "complete_reads"
    primary_keys = ("stream", "read_id")
    replication_key = "read_at"
    is_sorted = True
    schema = th.PropertiesList(
        string("stream", description="The full-table stream read."),
        th.Property("read_id", th.IntegerType,
                    description="The `_read_id` its rows carry: the millisecond the run "
                                "started."),
        timestamp("read_at"),
        th.Property("graph_read_at", th.DateTimeType,
                    description="When the read began by Graph's clock (its answers' Date "
                                "header): what access reviews measure ages from. read_at is "
                                "this machine's."),
        string("account_shard", description="`K/N` of a sharded job: the read covers that "
                                             "shard's ad accounts (null: all of them)."),
        th.Property("records", th.IntegerType, description="Rows the read wrote."),
    ).to_dict()

    def __init__(self, tap: Tap, *, run: SyncRun) -> None:
        super().__init__(tap)
        self.run = run

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        if self.ABORT_AT_RECORD_COUNT is not None:
            return  # a dry run reads a sample of each stream: nothing is complete
        # The replication key follows read_id (this machine's clock), so it only grows.
        read_at = datetime.fromtimestamp(self.run.read_id / 1000, UTC).isoformat()
        graph_read_at = datetime.fromtimestamp(
            self.run.client.graph_time(self.run.read_id / 1000), UTC).isoformat()
        for stream in self.run.streams:
            if isinstance(stream, GraphStream) and stream.full_table and stream.read_complete:
                yield {"stream": stream.name, "read_id": self.run.read_id, "read_at": read_at,
                       "graph_read_at": graph_read_at,
                       "account_shard": self.config.get("account_shard"),
                       "records": self.run.summary.tally(stream.name).records}

    @override
    def log_sync_costs(self) -> None:
        super().log_sync_costs()
        self.run.stream_done(self)
