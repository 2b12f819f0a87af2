"""Singer message output: the SDK's msgspec writer, flushed with the messages that matter.

The SDK flushes stdout after every message: one system call per record, a large part of a
fast sync. Here RECORD messages stay in the stdout buffer and every other message (SCHEMA,
STATE ...) flushes it. A STATE is therefore never visible downstream before the records it
covers, and a process that dies loses only records that no emitted STATE covers either.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import Message, RecordMessage


class BufferedRecordWriter(MsgSpecWriter):
    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
