"""What one run shares between the tap and its streams: the Graph client, the directory, the
state checkpoints and the end-of-run summary. Handed to each stream; streams never reach into the
tap for them."""

from __future__ import annotations

import logging
import time
from typing import Protocol, runtime_checkable

from singer_sdk import Stream
from typing_extensions import override

from tap_meta_bm.directory import Directory
from tap_meta_bm.graph import GraphClient
from tap_meta_bm.output import record_bytes, write_line
from tap_meta_bm.state import StateCheckpoints, UnreadPartition
from tap_meta_bm.summary import RunSummary


@runtime_checkable
class ReadingStream(Protocol):
    """What the run asks of a stream that reads Graph (graph_stream.GraphStream): work it
    starts ahead of its turn, and threads it ends after a failure. Streams depend on the run,
    never the other way round."""

    selected: bool

    def start_early(self) -> None: ...

    def stop_reading(self) -> None: ...

    def finished_read(self) -> FinishedRead | None:
        """Once it has synced: the stream as a full-table read of every partition it could
        read, or None (not full-table, not selected, a dry run, a skip that leaves the
        whole stream in doubt)."""


class FinishedRead(Protocol):
    """A full-table stream's read, once synced: what `complete_reads` and `partial_reads`
    record. (Not checked at run time: its values are the stream's verdict on its own
    sync, computed once, when asked.)"""

    name: str

    @property
    def read_whole(self) -> bool:
        """No partition left unread."""

    @property
    def still_unread(self) -> list[UnreadPartition] | None:
        """The partitions it could not read, with the run of reads that left each unread."""


class RunStream(Stream):
    """A stream's part in the run: where the SDK ends a stream, the run hears of it
    (`SyncRun.stream_done`); every stream of the tap is one, and none calls it itself."""

    run: SyncRun

    @override
    def log_sync_costs(self) -> None:
        super().log_sync_costs()
        self.run.stream_done(self)


class SyncRun:
    """Created before the SDK builds the streams; `start` fills it once the config is valid."""

    def __init__(self) -> None:
        self.summary = RunSummary()
        #: Unix second the run started: no read of this run can precede it (incremental.py).
        self.run_started = int(time.time())
        started_ns = time.time_ns()
        #: What identifies this run's reads: the millisecond it started. Every full-table
        #: record carries it (`_read_id`), and `complete_reads` names the reads that were
        #: complete; a later run's is larger (streams/reads.py).
        self.read_id = started_ns // 1_000_000
        #: The version of this run's full-table rows (ACTIVATE_VERSION): the microsecond it
        #: started, so that two runs differ even when they start in the same second
        #: (`GraphStream.table_version` keeps it above the last one a stream's state holds).
        self.table_version = started_ns // 1_000
        self._client: GraphClient | None = None
        self._directory: Directory | None = None
        #: Every STATE of the run is written through it (state.py).
        self.checkpoints = StateCheckpoints(emitted=record_bytes, write=write_line)
        #: Every stream of the run, in sync order.
        self.streams: list[Stream] = []
        self._last_stream: str | None = None
        self._log = logging.getLogger("tap-meta-bm")
        self._summary_logged = False
        self._checked_before_records = False

    def start(self, *, client: GraphClient, directory: Directory, streams: list[Stream],
              logger: logging.Logger) -> None:
        self._client, self._directory = client, directory
        self.streams, self._log = streams, logger
        self._last_stream = streams[-1].name if streams else None

    @property
    def client(self) -> GraphClient:
        if self._client is None:
            raise RuntimeError("the run has not started: the config was not validated")
        return self._client

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            raise RuntimeError("the run has not started: the config was not validated")
        return self._directory

    def before_first_record(self) -> None:
        """Once, before any record is written: what the config promises and only the
        directory can check (`account_ids` that are no ad account of the businesses read),
        and the work streams start ahead of their turn (report jobs, `start_early`)."""
        if not self._checked_before_records:
            self._checked_before_records = True
            self.directory.check_account_ids()
            for stream in self.streams:
                if isinstance(stream, ReadingStream) and stream.selected and \
                        stream.ABORT_AT_RECORD_COUNT is None:
                    stream.start_early()

    def failed(self) -> None:
        """A stream failed, and the run ends with it: every stream ends the threads its
        reading started (those started early too), so none outlives the run, and the summary
        says what was done."""
        for stream in self.streams:
            if isinstance(stream, ReadingStream):
                stream.stop_reading()
        self.log_summary()

    def finished_reads(self, *, whole: bool) -> list[FinishedRead]:
        """The full-table streams that read every partition (`whole`), or every one they
        could: what `complete_reads` and `partial_reads` record, asked after the last of
        them has synced."""
        reads = (stream.finished_read() for stream in self.streams
                 if isinstance(stream, ReadingStream))
        return [read for read in reads if read is not None and read.read_whole == whole]

    def stream_done(self, stream: Stream) -> None:
        """The SDK is through with a stream; after the last one, the run's last STATE and the
        summary."""
        if stream.name == self._last_stream:
            self.checkpoints.flush(stream.tap_state)
            self.log_summary()

    def log_summary(self) -> None:
        """The end-of-run summary, once, whether the run succeeded or not."""
        if not self._summary_logged:
            self._summary_logged = True
            partial = False
            for line in self.summary.lines():
                partial = partial or line.startswith("  PARTIAL")
                # What was skipped is a warning: the run did not read everything.
                self._log.log(logging.WARNING if partial else logging.INFO, line)
