"""Page access tokens, for the Page edges that refuse the system user's own token.

Meta's reference for `/{page_id}/assigned_users` (and for lead forms) asks for a Page access
token. When Graph refuses the system user's token there, the tap reads the Page's token with
it (`GET /{page_id}?fields=access_token`, which works when the system user holds a task on the
Page) and sends that Page's edge with the Page token. The tokens live here, in memory, for one
run: never in a record, the state, a URL or a log line (each is scrubbed from logs the moment
it arrives), and never sent for any other object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tap_meta_bm.redaction import protect


class PageTokens:
    """One token per Page, read once per run however many streams and workers ask."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str | None] = {}
        self._reading: dict[str, threading.Lock] = {}

    def get(self, page_id: str, read: Callable[[], str | None]) -> str | None:
        """The Page's token, read with `read` on first use; None when Graph gives none."""
        with self._lock:
            if page_id in self._tokens:
                return self._tokens[page_id]
            reading = self._reading.setdefault(page_id, threading.Lock())
        with reading:  # another worker may be reading this page's token right now
            with self._lock:
                if page_id in self._tokens:
                    return self._tokens[page_id]
            token = read() or None
            if token:
                protect([token])
            with self._lock:
                self._tokens[page_id] = token
                self._reading.pop(page_id, None)
        return token
