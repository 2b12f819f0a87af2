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
import threading
from collections.abc import Iterable
from datetime import UTC
from typing import Any, ClassVar

import requests
from singer_sdk.helpers._state import increment_state
from singer_sdk.helpers.types import Context

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
        self._partition_state: dict[str, Any] = {}

    def prepare_partitions(self, partitions: list[dict[str, Any]]) -> None:
        # Workers read each partition's starting point; write them all before they start.
        for partition in partitions:
            self._write_starting_replication_value(partition)

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
        state = self._partition_state = self.get_context_state(context)
        seen = set(state.get(IDS_AT_BOOKMARK, [])) if bookmark else set()
        newest, ids_at_newest = bookmark, set(seen)
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
            yield record
        # Reached only after every record above was emitted and counted into the bookmark:
        # this account's bookmark can be promoted now rather than at the end of the stream,
        # so a run that dies on a later account resumes after this one.
        state[IDS_AT_BOOKMARK] = sorted(ids_at_newest)
        state[READ_STARTED] = self._tap.run_started
        self._finalize_state(state)

    def _increment_stream_state(self, latest_record: dict[str, Any], *,
                                context: Context | None = None) -> None:
        # Graph omits null fields; a record without the replication key still counts as data
        # but cannot move the bookmark (the SDK would fail on it).
        if latest_record.get(self.replication_key) is None:
            return
        # The SDK finds the partition's state by scanning every partition, per record: with
        # thousands of ad accounts that scan dominated. This partition's dict is at hand.
        increment_state(self._partition_state, replication_key=self.replication_key,
                        latest_record=latest_record, is_sorted=False, check_sorted=True)
