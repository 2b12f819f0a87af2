"""Singer message output: the SDK's msgspec encoding, written in large blocks.

RECORD lines are collected in memory and written to stdout a megabyte at a time; every other
message writes out what is collected, then itself, and flushes. The SDK flushes after every
message, and stdout's own buffer is 8 KB (or nothing at all under PYTHONUNBUFFERED, which many
container images set): a system call every few records, each one handing the interpreter lock
to the fetching threads and waiting to get it back. A STATE is never visible downstream before
the records it covers, and a process that dies loses only records no emitted STATE covers.

What STATE holds and when it is written is state.py's; the bytes of RECORD lines written so
far (`record_bytes`) are what it weighs a STATE against.
"""

from __future__ import annotations

import atexit
import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import Message, RecordMessage
from typing_extensions import override

BLOCK_BYTES = 1 << 20
_records = bytearray()
_record_bytes = [0]


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
    """Any other message: the records before it go first, and all of it is flushed."""
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
        if isinstance(message, RecordMessage):
            write_record_line(self.format_message(message))
        else:
            write_line(self.format_message(message))
