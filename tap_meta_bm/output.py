"""Singer message output: the SDK's msgspec encoding, written in large blocks.

RECORD lines are collected in memory and written to stdout a megabyte at a time; every other
message writes out what is collected, then itself, and flushes. The SDK flushes after every
message, and stdout's own buffer is 8 KB (or nothing at all under PYTHONUNBUFFERED, which many
container images set): a system call every few records, each one handing the interpreter lock
to the fetching threads and waiting to get it back. A STATE is never visible downstream before
the records it covers, and a process that dies loses only records no emitted STATE covers.

What STATE holds and when it is written is state.py's; the bytes of RECORD lines written so
far (`record_bytes`) are what it weighs a STATE against.

BATCH (the SDK's `batch_config`) is a transport of the same records (`BatchFiles`): a record
goes into its stream's jsonl(.gz) file instead of a RECORD line, and every other message first
closes the open files and announces each with a BATCH message. So a STATE still follows the
records it covers, whatever writes it (a checkpoint, a failure, SIGTERM). A record that carries
a table version stays a RECORD line: a BATCH file has no place for the version, and a loader
that soft-deletes on ACTIVATE_VERSION would take every row of it for deleted.
"""

from __future__ import annotations

import atexit
import gzip
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib import Message, RecordMessage
from singer_sdk.streams import Stream
from typing_extensions import override

BLOCK_BYTES = 1 << 20
_records = bytearray()
_record_bytes = [0]


class BatchFiles:
    """One open file of records per stream, in `directory`; `close` ends them all."""

    def __init__(self, directory: Path, *, prefix: str, compress: bool, batch_size: int,
                 run: str) -> None:
        self.directory, self.prefix, self.batch_size = directory, prefix, batch_size
        self.compress = compress
        self._run = run
        self._open: dict[str, tuple[IO[bytes] | gzip.GzipFile, Path]] = {}
        self._counts: dict[str, int] = {}
        self._files = 0

    def add(self, stream: str, record_line: bytes | bytearray) -> None:
        if stream not in self._open:
            if not self._files:
                self.directory.mkdir(parents=True, exist_ok=True)
            self._files += 1
            path = self.directory / (f"{self.prefix}{stream}-{self._run}-{self._files}.jsonl"
                                     + (".gz" if self.compress else ""))
            # Open across calls until `close` (no `with`); compresslevel 1: most of gzip's
            # saving at a fraction of its CPU.
            file: IO[bytes] | gzip.GzipFile = (
                gzip.open(path, "xb", compresslevel=1) if self.compress  # noqa: SIM115
                else path.open("xb"))
            self._open[stream] = (file, path)
            self._counts[stream] = 0
        self._open[stream][0].write(record_line)
        self._counts[stream] += 1
        if self._counts[stream] >= self.batch_size:
            _records.extend(self._close(stream))

    def close(self) -> bytes:
        """Every open file closed; the BATCH messages that announce them."""
        return b"".join(self._close(stream) for stream in list(self._open))

    def _close(self, stream: str) -> bytes:
        file, path = self._open.pop(stream)
        file.close()
        # A copy: serialize_jsonl answers in one buffer, which its next call overwrites.
        return bytes(serialize_jsonl({
            "type": "BATCH", "stream": stream,
            "encoding": {"format": "jsonl", "compression": "gzip" if self.compress else None},
            "manifest": [path.resolve().as_uri()]}))


_batch_files: list[BatchFiles | None] = [None]


def batch_records(files: BatchFiles | None) -> None:
    """From now on, records without a table version go to `files` (None: RECORD lines)."""
    _batch_files[0] = files


def batching() -> bool:
    return _batch_files[0] is not None


def write_batched_record(stream: str, record_line: bytes | bytearray) -> None:
    """One record, encoded alone (not a message), into its stream's batch file."""
    files = _batch_files[0]
    assert files is not None, "batch_records() first"
    _record_bytes[0] += len(record_line)
    files.add(stream, record_line)
    if len(_records) >= BLOCK_BYTES:
        _write_out()


def record_bytes() -> int:
    """Bytes of RECORD lines written by this process so far."""
    return _record_bytes[0]


def write_record_line(line: bytes | bytearray) -> None:
    """One encoded RECORD line, written out with the next block or the next other message."""
    _record_bytes[0] += len(line)
    _records.extend(line)
    if len(_records) >= BLOCK_BYTES:
        _write_out()


def write_line(line: bytes | bytearray) -> None:
    """Any other message: the records before it go first (batch files closed and announced),
    and all of it is flushed."""
    if _batch_files[0] is not None:
        line = bytes(line)  # the encoder's buffer, which announcing the files reuses
        _records.extend(_batch_files[0].close())
    _records.extend(line)
    _write_out()


@atexit.register
def _write_out() -> None:
    if _records:
        _write_all(_records)
        _records.clear()
    sys.stdout.flush()


def _write_all(data: bytes | bytearray) -> None:
    # Under PYTHONUNBUFFERED stdout is the raw file, whose write may take only part of a
    # block (a pipe interrupted by a signal): write the rest.
    view = memoryview(data)
    while view:
        view = view[sys.stdout.buffer.write(view) or 0:]


class BufferedRecordWriter(MsgSpecWriter):
    @override
    def write_message(self, message: Message) -> None:
        if isinstance(message, RecordMessage) and message.version is None and batching():
            write_batched_record(message.stream, serialize_jsonl(message.record))
        elif isinstance(message, RecordMessage):
            write_record_line(self.format_message(message))
        else:
            write_line(self.format_message(message))


class BatchedByTheWriter(Stream):
    """A stream whose records the writer batches (above), never the SDK's batch path."""

    @override
    def get_batch_config(self, config: Mapping[str, Any]) -> None:
        """None: with `batch_config` set, the SDK would take its own batch path, which skips
        the selection, the shaping, the table version and the order of STATE."""
        return None
