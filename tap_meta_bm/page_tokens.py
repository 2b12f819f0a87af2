"""Page access tokens, for the Page edges that refuse the system user's own token.

Meta's reference for `/{page_id}/assigned_users` (and for lead forms) asks for a Page access
token. When Graph refuses the system user's token there, the tap reads the Page's token with
it (`GET /{page_id}?fields=access_token`, which works when the system user holds a task on the
Page) and sends that Page's edge with the Page token. The tokens live here, in memory, for one
run: never in a record, the state, a URL or a log line (each is scrubbed from logs the moment
it arrives), and never sent for any other object.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tap_meta_bm.edges import EdgePolicy, EdgeRead, Page
from tap_meta_bm.errors import Action, AssetSkipped, GraphError
from tap_meta_bm.redaction import protect

#: Reads one node with the system user's token, through the client's whole error policy.
ReadNode = Callable[[EdgeRead], Page]

_NO_TASK = ("it holds no task on the Page (assign the Page to the system user with Manage, "
            "and grant pages_manage_metadata)")


class PageTokens:
    """Which Page edges want their Page's own token, and the tokens: one per Page, read once
    per run however many streams and workers ask."""

    def __init__(self, read_node: ReadNode, logger: logging.Logger) -> None:
        self._read_node = read_node
        self.logger = logger
        self._lock = threading.Lock()
        self._tokens: dict[str, str | None] = {}
        self._reading: dict[str, threading.Lock] = {}
        #: Pages whose edges refused the system user's token, and how: read with their own
        #: token from then on.
        self._refused: dict[str, GraphError] = {}

    def wanted(self, read: EdgeRead) -> bool:
        return read.page_id is not None and (read.policy.wants_page_token
                                             or read.page_id in self._refused)

    def token_for(self, read: EdgeRead) -> str | None:
        """The Page's own token for a Page edge that wants one; None: the system user's. A
        Page whose token the system user cannot get is skipped."""
        if not self.wanted(read):
            return None
        page_id = str(read.page_id)
        token = self._token_of(page_id, read)
        if token is not None:
            return token
        refused = self._refused.get(page_id)
        if refused is not None:  # Graph's own words first: they may name the fix
            raise AssetSkipped(GraphError(
                Action.SKIP, refused.http_status, refused.code, refused.subcode,
                f"{refused.message}; and the system user cannot get the Page's own "
                f"token: {_NO_TASK}", fbtrace_id=refused.fbtrace_id), read.where)
        raise AssetSkipped(GraphError(Action.SKIP, 200, message=(
            f"Graph wants Page {page_id}'s own access token, and the system user cannot "
            f"get it: {_NO_TASK}")), read.where)

    def want(self, read: EdgeRead, error: GraphError, whole_stream: bool) -> None:
        """From now on this Page's edges, or the stream's every Page's (`whole_stream`: Graph
        said so of the stream), are read with the Page's own token."""
        if not whole_stream:
            self._refused[str(read.page_id)] = error
            self.logger.info("%s refused the system user's token [%s]: trying the Page's own",
                              read.where, error.reference)
        elif read.policy.want_page_token():
            self.logger.info(
                "Graph wants Page access tokens for %s [%s]: reading each Page's token with "
                "the system user's token (kept in memory only, never written)",
                read.policy.stream, error.reference)

    def _read_token(self, read: EdgeRead) -> str | None:
        """`GET /{page_id}?fields=access_token`, with the system user's token."""
        policy = EdgePolicy.plain(read.policy.stream, ("access_token",))
        token = self._read_node(EdgeRead(f"/{read.page_id}", (), str(read.page_id),
                                         policy)).get("access_token")
        return token if isinstance(token, str) else None

    def _token_of(self, page_id: str, read: EdgeRead) -> str | None:
        """The Page's token, read on first use by whichever worker asks first."""
        with self._lock:
            if page_id in self._tokens:
                return self._tokens[page_id]
            reading = self._reading.setdefault(page_id, threading.Lock())
        with reading:  # another worker may be reading this page's token right now
            with self._lock:
                if page_id in self._tokens:
                    return self._tokens[page_id]
            token = self._read_token(read) or None
            if token:
                protect([token])
            with self._lock:
                self._tokens[page_id] = token
                self._reading.pop(page_id, None)
        return token
