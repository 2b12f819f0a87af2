"""Keeps the access token and app secret out of every log line and traceback.

The token travels in the Authorization header, and in the POST body of a Batch API call (never
in a URL), so it should never reach a log; this is the belt to that pair of braces: a
log-record factory that redacts any configured secret from the message, its arguments and a
formatted traceback, whichever logger produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

REDACTED = "***"
#: Values shorter than this are not scrubbed: redacting "1" everywhere would garble logs and
#: such a value is not a real credential anyway.
MIN_SECRET_LENGTH = 8


class SecretScrubber:
    """Log-record factory wrapper; installed once per process, secrets can be added later."""

    def __init__(self, base: Any) -> None:
        self._base = base
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self._base(*args, **kwargs)
        if not self.secrets:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not become a crash here
            message = str(record.msg)
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            cleaned = self.redact(text)
            if cleaned != text:
                record.exc_text = cleaned
        return record


def protect(secrets: Iterable[str | None]) -> SecretScrubber:
    """Scrub these values from all logging in this process from now on."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, SecretScrubber):
        factory = SecretScrubber(factory)
        logging.setLogRecordFactory(factory)
    factory.secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
    return factory


def redact(text: str) -> str:
    """`text` with every protected secret replaced, for output that bypasses logging."""
    factory = logging.getLogRecordFactory()
    return factory.redact(text) if isinstance(factory, SecretScrubber) else text
