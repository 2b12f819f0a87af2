"""Singer message output: the SDK's msgspec encoding, flushed and de-duplicated cheaply.

RECORD messages stay in the stdout buffer (the SDK flushes after every message: one system
call per record, a large part of a fast sync); every other message flushes it. A STATE is
therefore never visible downstream before the records it covers, and a process that dies loses
only records that no emitted STATE covers either.

STATE is the largest object the tap holds (one bookmark per ad account and stream: 10,000 at
the benchmark's large scale). The SDK's state writer deep-copies it to remember what it last
sent, and deep-copies it again to encode it. Here it is encoded once, and the encoded line is
what is remembered and compared.
"""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.helpers._state import StateWriter
from singer_sdk.singerlib import Message, RecordMessage


class BufferedRecordWriter(MsgSpecWriter):
    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()


class EncodedStateWriter(StateWriter):
    """Writes a STATE message only when the state changed, comparing encoded lines."""

    def __init__(self, message_writer: Any) -> None:
        super().__init__(message_writer)
        self._last_line: bytes | None = None

    def write_state(self, state: dict[str, Any]) -> None:
        line = bytes(serialize_jsonl({"type": "STATE", "value": state}))
        if line != self._last_line:
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            self._last_line = line
