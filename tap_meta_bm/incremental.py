"""Incremental streams: one bookmark per partition (ad account, lead form), exact across reruns.

Graph timestamps have one-second resolution. While a bookmark is recent, the filter sent to
Graph starts at the bookmark's own second (`GREATER_THAN bookmark - 1`): an object updated in
that second after the previous run read it is never missed, and the ids already emitted at
exactly that second (kept in the partition's state) are not emitted twice. Once the previous
read began SETTLE_SECONDS or more after the bookmark, everything stamped with the bookmark's
second was visible to that read, and the filter is strict (`GREATER_THAN bookmark`): an account
that did not change costs one request and returns nothing.

The SDK keeps the bookmark: it follows the newest value among the records emitted (records
of one account come in no particular order, so it keeps the maximum aside until the account
is done), and this module promotes it once the account's last record is out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.graph_stream import GraphStream
from tap_meta_bm.state import IDS_AT_BOOKMARK, READ_STARTED, bookmark_of

#: How long after an update Graph's list edges are assumed to show it (generous: minutes).
SETTLE_SECONDS = 300


def _unix(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339).timestamp())


class IncrementalStream(GraphStream):
    """A Graph edge replicated incrementally, with a bookmark per partition."""

    #: Graph `filtering` field for the server-side filter; None filters client-side only.
    server_filter_field: ClassVar[str | None] = None
    #: `effective_status` values that list everything but DELETED (with include_archived).
    all_statuses: ClassVar[tuple[str, ...]] = ()

    def bookmark(self, context: Context | None) -> str | None:
        """Where this partition starts: its bookmark, or start_date, whichever is later (as
        the SDK decides it), to the second, in RFC 3339 UTC."""
        # Not the SDK's starting value: the reads of every partition are built before the
        # SDK has come to any but the first.
        value = bookmark_of(self.get_context_state(context), str(self.replication_key))
        start_date = self.config.get("start_date")
        if value and start_date:
            value = self.compare_start_date(str(value), str(start_date))
        value = value or start_date
        if not value:
            return None
        since = datetime.fromisoformat(str(value))
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return since.astimezone(UTC).replace(microsecond=0).isoformat()

    @override
    def starting(self, partitions: list[dict[str, Any]]) -> None:
        # One line per stream; the SDK's line per partition is quieted (sdk_surface.py).
        known = sorted(b for b in map(self.bookmark, partitions) if b)
        earliest = f" (earliest {known[0]})" if known else ""
        self.logger.info(
            "Starting incremental sync of '%s' for %d %s: %d from a bookmark or start_date%s, "
            "%d from the beginning", self.name, len(partitions), self.partitions_named,
            len(known), earliest, len(partitions) - len(known))

    def lower_bound(self, context: Context | None) -> int | None:
        """Unix second that what Graph returns must come after (see the module docstring)."""
        since = self.bookmark(context)
        if since is None:
            return None
        bookmark = _unix(since)
        read_started = self.get_context_state(context).get(READ_STARTED)
        settled = isinstance(read_started, int) and bookmark <= read_started - SETTLE_SECONDS
        return bookmark if settled else bookmark - 1

    def bound_params(self, after: int) -> dict[str, Any]:
        """The parameters that ask Graph only for what came after `after`."""
        if not self.server_filter_field:
            return {}
        return {"filtering": json.dumps(
            [{"field": self.server_filter_field, "operator": "GREATER_THAN", "value": after}],
            separators=(",", ":"))}

    @override
    def edge_params(self, context: Context | None) -> dict[str, Any]:
        after = self.lower_bound(context)
        params: dict[str, Any] = self.bound_params(after) if after is not None else {}
        if self.config["include_archived"] and self.all_statuses:
            params["effective_status"] = json.dumps(list(self.all_statuses),
                                                    separators=(",", ":"))
        return params

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        key = str(self.replication_key)
        bookmark = self.bookmark(context)
        state = self.get_context_state(context)
        # Settled: the previous read saw the bookmark's whole second (module docstring).
        settled = bookmark is not None and self.lower_bound(context) == _unix(bookmark)
        seen = set(state.get(IDS_AT_BOOKMARK, [])) if bookmark and not settled else set()
        newest, ids_at_newest = bookmark, set(seen)
        for record in super().get_records(context):
            updated = record.setdefault(key, None)  # Graph leaves nulls out; the SDK reads it
            if bookmark and updated is not None and (updated < bookmark or (
                    updated == bookmark and (settled or record["id"] in seen))):
                continue  # read again only because the filter starts early, or has none
            if updated is not None:
                if newest is None or updated > newest:
                    newest, ids_at_newest = updated, {record["id"]}
                elif updated == newest:
                    ids_at_newest.add(record["id"])
            yield record
        # Reached only after every record above was emitted: this account's bookmark moves
        # now rather than at the end of the stream, so a run that dies on a later account
        # resumes after this one.
        # In Graph's clock: it is compared with the update times Graph wrote.
        state[READ_STARTED] = started = int(self.run.client.graph_time(self.run.run_started))
        # The next run filters strictly past a bookmark this run began SETTLE_SECONDS after
        # (`lower_bound`), and never looks at these ids: kept only while it will.
        if newest is not None and ids_at_newest and \
                _unix(newest) > started - SETTLE_SECONDS:
            state[IDS_AT_BOOKMARK] = sorted(ids_at_newest)
        else:
            state.pop(IDS_AT_BOOKMARK, None)
        self.state_manager.finalize_state(state)


class IncrementalAdAccountStream(IncrementalStream):
    """A Graph edge below `/act_{account_id}`, replicated incrementally."""

    partitions_from = PartitionKind.AD_ACCOUNT
    state_partitioning_keys: ClassVar[list[str] | None] = ["account_id"]
    context_columns = ("business_id", "account_id")
    partitions_named = "ad accounts"
