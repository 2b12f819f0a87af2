"""`complete_reads` and `partial_reads`: which full-table streams this run read, and what of
them it could not, so that any warehouse can tell current rows from revoked ones without
relying on its loader.

Every full-table record carries `_read_id`, the run's `read_id`. A loader that upserts by key
overwrites a row each run that still lists it, and leaves a row Graph stopped listing (a
revoked grant, a person who left) with the id of the last read that saw it. A stream's current
rows are therefore those whose `_read_id` is at least its latest complete read's: rows of that
read, and rows a later read saw (a later incomplete read can confirm or update a row, never
remove one). The rule holds on loaders that ignore ACTIVATE_VERSION (target-duckdb, files).

A read that skipped some partitions (one ad account's agencies refused, for good) read the
others completely. It is no complete read (the rule above stays true for whoever uses only
it); `partial_reads` names each partition it left unread instead, by the columns its rows
carry (a null column: any value). The finer rule (transform/macros/loaded.sql): a row is
current when its `_read_id` is at least that of the latest read, complete or partial, that
did not leave its partition unread. So a skipped partition keeps its rows as last read, while
a revocation anywhere else leaves; `unread_since` and `reads` say for how long.

Synced after every other stream: the SDK stops at the first stream that fails, so a failed
run records no read, and neither does a dry run (`--test`) or a stream with a skip that names
no partition (`SyncRun.finished_reads`, `GraphStream.read_complete`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_meta_bm.output import BatchedByTheWriter
from tap_meta_bm.run import FinishedRead, RunStream, SyncRun
from tap_meta_bm.streams.schema import string, timestamp

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context


#: Every column a full-table stream's partition can be told by (its `context_columns`; a
#: test keeps this in step with the streams): `partial_reads` has one for each.
PARTITION_COLUMNS = ("business_id", "relationship", "account_id", "page_id", "pixel_id",
                     "catalog_id", "group_id", "user_id", "form_id", "asset_type", "asset_id")


#: What names a read, first in both streams.
READ_COLUMNS = (
    string("stream", description="The full-table stream read."),
    th.Property("read_id", th.IntegerType,
                description="The read: the `_read_id` the rows it wrote carry, the "
                            "millisecond the run started."),
    timestamp("read_at"),
)


def millis_time(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat()


class ReadsStream(BatchedByTheWriter, RunStream):
    """A record the tap writes of this run's reads, after every other stream."""

    replication_key = "read_at"
    is_sorted = True

    def __init__(self, tap: Tap, *, run: SyncRun) -> None:
        super().__init__(tap)
        self.run = run

    def read_of(self, stream: FinishedRead) -> dict[str, Any]:
        # The replication key follows read_id (this machine's clock), so it only grows.
        return {"stream": stream.name, "read_id": self.run.read_id,
                "read_at": millis_time(self.run.read_id)}


class CompleteReadsStream(ReadsStream):
    """One row per full-table stream this run read completely."""

    name = "complete_reads"
    primary_keys = ("stream", "read_id")
    schema = th.PropertiesList(
        *READ_COLUMNS,
        th.Property("graph_read_at", th.DateTimeType,
                    description="When the read began by Graph's clock (its answers' Date "
                                "header): what access reviews measure ages from. read_at is "
                                "this machine's."),
        string("account_shard", description="`K/N` of a sharded job: the read covers that "
                                             "shard's ad accounts (null: all of them)."),
        th.Property("records", th.IntegerType, description="Rows the read wrote."),
    ).to_dict()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        graph_read_at = datetime.fromtimestamp(
            self.run.client.graph_time(self.run.read_id / 1000), UTC).isoformat()
        for stream in self.run.finished_reads(whole=True):
            yield {**self.read_of(stream), "graph_read_at": graph_read_at,
                   "account_shard": self.config.get("account_shard"),
                   "records": self.run.summary.tally(stream.name).records}


class PartialReadsStream(ReadsStream):
    """One row per partition a read of a full-table stream left unread, the rest of it read
    completely."""

    name = "partial_reads"
    primary_keys = ("stream", "read_id", "partition")
    schema = th.PropertiesList(
        *READ_COLUMNS,
        string("partition", description="The partition, as `column=value` pairs."),
        *(string(column, description=f"The unread rows' {column} (null: any).")
          for column in PARTITION_COLUMNS),
        th.Property("unread_since", th.DateTimeType,
                    description="When the first of the reads in a row that left it unread "
                                "began: its rows are as read before then."),
        th.Property("reads", th.IntegerType,
                    description="How many reads in a row left it unread, this one included."),
    ).to_dict()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        for stream in self.run.finished_reads(whole=False):
            for unread in stream.still_unread or []:
                yield {**self.read_of(stream),
                       "partition": " ".join(f"{k}={v}" for k, v in unread.partition.items()),
                       **{column: unread.partition.get(column) for column in PARTITION_COLUMNS},
                       "unread_since": millis_time(unread.since), "reads": unread.reads}
