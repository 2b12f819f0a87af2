"""Singer message output: the SDK's msgspec writer, flushed with the messages that matter.

The SDK flushes stdout after every message: one system call per record, a large part of a
fast sync. Here RECORD messages stay in the stdout buffer and every other message (SCHEMA,
STATE ...) flushes it. A STATE is therefore never visible downstream before the records it
covers, and a process that dies loses only records that no emitted STATE covers either.

STATE messages are encoded straight from the state: the SDK's generic path deep-copies it
first (dataclass `asdict`), and with one bookmark per ad account and stream the state is the
largest object the tap holds.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib import Message, RecordMessage, StateMessage


class BufferedRecordWriter(MsgSpecWriter):
    def serialize_message(self, message: Message) -> bytearray:
        if isinstance(message, StateMessage):
            return serialize_jsonl({"type": "STATE", "value": message.value})
        return super().serialize_message(message)

    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
