"""Singer message output: the SDK's msgspec encoding, written in large blocks.

RECORD lines are collected in memory and written to stdout a megabyte at a time; every other
message writes out what is collected, then itself, and flushes. The SDK flushes after every
message, and stdout's own buffer is 8 KB (or nothing at all under PYTHONUNBUFFERED, which many
container images set): a system call every few records, each one handing the interpreter lock
to the fetching threads and waiting to get it back. A STATE is never visible downstream before
the records it covers, and a process that dies loses only records no emitted STATE covers.

STATE is the largest object the tap holds (one bookmark per ad account and stream: 10,000 at
the benchmark's large scale). The SDK's state writer deep-copies it to remember what it last
sent, and deep-copies it again to encode it. Here it is encoded once, and a digest of the
encoded line is what is remembered and compared.
"""

from __future__ import annotations

import atexit
import hashlib
import sys
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib import Message, RecordMessage

BLOCK_BYTES = 1 << 20
_records = bytearray()


def write_record_line(line: bytes | bytearray) -> None:
    """One encoded RECORD line, written out with the next block or the next other message."""
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
    def write_message(self, message: Message) -> None:
        if isinstance(message, RecordMessage):
            write_record_line(self.format_message(message))
        else:
            write_line(self.format_message(message))


class EncodedStateWriter:
    """Writes a STATE message only when the state changed, comparing digests of encoded lines
    (the line itself is megabytes with thousands of ad accounts: no copy of it is kept).

    What the tap's `state_writer` is: the SDK calls its `write_state` for every stream."""

    def __init__(self) -> None:
        self._last_digest: bytes | None = None

    def write_state(self, state: dict[str, Any]) -> None:
        line = serialize_jsonl({"type": "STATE", "value": state})
        digest = hashlib.blake2b(line, digest_size=16).digest()
        if digest != self._last_digest:
            _write_out()
            _write_all(line)
            sys.stdout.flush()
            self._last_digest = digest
