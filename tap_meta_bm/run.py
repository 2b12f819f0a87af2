"""What one run shares between the tap and its streams: the Graph client, the directory, the
state checkpoints and the end-of-run summary. Handed to each stream; streams never reach into the
tap for them."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tap_meta_bm.directory import Directory
from tap_meta_bm.graph import GraphClient
from tap_meta_bm.output import record_bytes, write_line
from tap_meta_bm.state import StateCheckpoints
from tap_meta_bm.summary import RunSummary

if TYPE_CHECKING:
    from singer_sdk import Stream


@runtime_checkable
class ReadingStream(Protocol):
    """What the run asks of a stream that reads Graph (graph_stream.GraphStream): work it
    starts ahead of its turn, and threads it ends after a failure. Streams depend on the run,
    never the other way round."""

    selected: bool

    def start_early(self) -> None: ...

    def stop_reading(self) -> None: ...


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

    def stop_reading(self) -> None:
        """After a failure: every stream ends the threads its reading started (those started
        early too), so none outlives the run."""
        for stream in self.streams:
            if isinstance(stream, ReadingStream):
                stream.stop_reading()

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
