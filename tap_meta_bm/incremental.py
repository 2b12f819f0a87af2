"""Incremental ad-account children: one bookmark per ad account, exact across reruns.

Graph timestamps have one-second resolution. While a bookmark is recent, the filter sent to
Graph starts at the bookmark's own second (`GREATER_THAN bookmark - 1`): an object updated in
that second after the previous run read it is never missed, and the ids already emitted at
exactly that second (kept in the partition's state) are not emitted twice. Once the previous
read began SETTLE_SECONDS or more after the bookmark, everything stamped with the bookmark's
second was visible to that read, and the filter is strict (`GREATER_THAN bookmark`): an account
that did not change costs one request and returns nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import UTC
from typing import Any, ClassVar

import requests
from singer_sdk.helpers.types import Context
from singer_sdk.streams._state import StreamStateManager

from tap_meta_bm.client import GraphStream
from tap_meta_bm.errors import GraphError

#: State key, per ad account: ids emitted at exactly the bookmark's second.
IDS_AT_BOOKMARK = "ids_at_bookmark"
#: State key, per ad account: unix time at which the run that read it started.
READ_STARTED = "read_started"
#: How long after an update Graph's list edges are assumed to show it (generous: minutes).
SETTLE_SECONDS = 300


class IncrementalAdAccountStream(GraphStream):
    """A Graph edge below `/act_{account_id}`, replicated incrementally."""

    partition_kind = "ad_account"
    state_partitioning_keys: ClassVar[list[str]] = ["account_id"]
    context_columns = ("business_id", "account_id")
    #: Graph `filtering` field for the server-side filter; None filters client-side only.
    server_filter_field: ClassVar[str | None] = None
    #: The filter is not documented for this edge: if Graph refuses it, read the edge whole
    #: (the bookmark is applied client-side either way) instead of failing the run.
    server_filter_optional: ClassVar[bool] = False
    #: `effective_status` values that list everything but DELETED (with include_archived).
    all_statuses: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server_filter_refused = False
        self._refusal_lock = threading.Lock()
        self._starts_written = False

    @property
    def state_manager(self) -> StreamStateManager:
        if self._state_manager is None:
            self._state_manager = IndexedStateManager(
                tap_name=self.tap_name,
                stream_name=self.name,
                tap_state=self._tap_state,
                state_partitioning_keys=self.state_partitioning_keys,
                is_sorted=self.is_sorted,
                check_sorted=self.check_sorted,
            )
        return self._state_manager

    def prepare_partitions(self, partitions: list[dict[str, Any]]) -> None:
        # Requests are prepared ahead (by workers, for batches) from each partition's starting
        # point: write them all first.
        for partition in partitions:
            self._write_starting_replication_value(partition)
        self._starts_written = True
        self._log_starting_points(partitions)

    def _log_starting_points(self, partitions: list[dict[str, Any]]) -> None:
        # One line per stream; the SDK's line per ad account is at DEBUG (IndexedStateManager).
        starts = [self.get_starting_replication_key_value(p) for p in partitions]
        known = sorted(str(start) for start in starts if start)
        earliest = f" (earliest {known[0]})" if known else ""
        self.logger.info(
            "Starting incremental sync of '%s' for %d ad accounts: %d from a bookmark or "
            "start_date%s, %d from the beginning", self.name, len(partitions), len(known),
            earliest, len(partitions) - len(known))

    def _write_starting_replication_value(self, context: Context | None) -> None:
        # The SDK writes it again as it reaches each partition: once is enough (and logged).
        if not self._starts_written:
            super()._write_starting_replication_value(context)

    def _bookmark(self, context: Context | None) -> str | None:
        since = self.get_starting_timestamp(context)
        return since.astimezone(UTC).replace(microsecond=0).isoformat() if since else None

    def current_query(self) -> tuple[dict[str, Any], frozenset[str]]:
        replace, drop = super().current_query()
        return replace, drop | ({"filtering"} if self._server_filter_refused else frozenset())

    def recover_from_request_error(self, error: GraphError, request: requests.PreparedRequest
                                   ) -> bool:
        # Only a request that carried the optional filter can be mended by dropping it; other
        # workers may hold such requests too, so every one of them is resent, warned once.
        if not self.server_filter_optional or "filtering=" not in str(request.url):
            return False
        with self._refusal_lock:
            first = not self._server_filter_refused
            self._server_filter_refused = True
        if first:
            self.logger.warning(
                "Graph refused the %s filter on %s (%s); reading the edge whole and applying "
                "the bookmark to what comes back", self.server_filter_field, self.name,
                error.reference)
        return True

    def edge_params(self, context: Context | None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        since = self.get_starting_timestamp(context)
        if since is not None and self.server_filter_field and not self._server_filter_refused:
            bookmark = int(since.timestamp())
            read_started = self.get_context_state(context).get(READ_STARTED)
            settled = isinstance(read_started, int) and bookmark <= read_started - SETTLE_SECONDS
            params["filtering"] = json.dumps(
                [{"field": self.server_filter_field, "operator": "GREATER_THAN",
                  "value": bookmark if settled else bookmark - 1}],
                separators=(",", ":"),
            )
        if self.config["include_archived"] and self.all_statuses:
            params["effective_status"] = json.dumps(list(self.all_statuses),
                                                    separators=(",", ":"))
        return params

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        key = self.replication_key
        bookmark = self._bookmark(context)
        state = self.get_context_state(context)
        seen = set(state.get(IDS_AT_BOOKMARK, [])) if bookmark else set()
        newest, ids_at_newest = bookmark, set(seen)
        latest: str | None = None  # the newest value emitted by this run
        for record in super().get_records(context):
            updated = record.get(key)
            if bookmark and updated is not None and (
                updated < bookmark or (updated == bookmark and record["id"] in seen)
            ):
                continue
            if updated is not None:
                if newest is None or updated > newest:
                    newest, ids_at_newest = updated, {record["id"]}
                elif updated == newest:
                    ids_at_newest.add(record["id"])
                if latest is None or updated > latest:
                    latest = updated
            yield record
        # Reached only after every record above was emitted: this account's bookmark moves
        # now rather than at the end of the stream, so a run that dies on a later account
        # resumes after this one.
        if latest is not None:
            state["replication_key"] = key
            state["replication_key_value"] = latest
        state[IDS_AT_BOOKMARK] = sorted(ids_at_newest)
        state[READ_STARTED] = self._tap.run_started
        self._finalize_state(state)

    def _increment_stream_state(self, latest_record: dict[str, Any], *,
                                context: Context | None = None) -> None:
        """The bookmark is kept by `get_records`, once per account, not per record.

        Records of one account come in no particular order, so the SDK would keep a
        "not resumable" progress marker per account (and warn once per account) until the
        account ends; `get_records` sets the bookmark exactly when the account ends instead.
        A record without the replication key (Graph omits nulls) never moves it.
        """


class _InfoAsDebug(logging.LoggerAdapter):
    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


class IndexedStateManager(StreamStateManager):
    """Finds a partition's state by its key instead of scanning every partition.

    The SDK looks a partition up in a list on every call (the bookmark, the filter, the
    starting value ... several per request): with thousands of ad accounts, quadratic.
    Its one INFO line, a partition's starting bookmark, goes to DEBUG: thousands of them
    would bury the log; the stream logs their summary instead.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._logger = _InfoAsDebug(self._logger, {})
        self._index: dict[tuple, dict] = {}
        self._indexed: list[dict] | None = None

    def get_context_state(self, context: Context | None) -> dict:
        partition = self.get_state_partition_context(context) if context else None
        if not partition:
            return super().get_context_state(context)
        partitions = self.stream_state.get("partitions")
        if partitions is not self._indexed:  # new or replaced state: index it afresh
            self._index = {}
            self._indexed = partitions
        key = tuple(partition.values())  # always in state_partitioning_keys' order
        state = self._index.get(key)
        if state is None:
            state = self._index[key] = super().get_context_state(context)
            self._indexed = self.stream_state.get("partitions")
        return state
