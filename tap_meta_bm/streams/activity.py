"""The activity log of each ad account: who changed what, when (`/act_{id}/activities`, the
SDK's `AdAccount.get_activities`, AdActivity nodes).

AdActivity has no `id`. The tap builds one: a digest of the account, `event_time`,
`event_type`, `object_id`, `actor_id` and `extra_data` (what changed). Two changes by the same
person to the same object in the same second differ in `extra_data`, so they keep two rows;
only entries identical in every one of those fields, which say nothing more than one, share a
row.
"""

from __future__ import annotations

import hashlib
from typing import Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_meta_bm.incremental import IncrementalAdAccountStream
from tap_meta_bm.streams.schema import ACCOUNT_COLUMNS, string, timestamp

#: The fields an activity's key is made of, in order.
KEY_FIELDS = ("account_id", "event_time", "event_type", "object_id", "actor_id", "extra_data")


def activity_id(row: dict[str, Any]) -> str:
    joined = "\x1f".join(str(row.get(name) or "") for name in KEY_FIELDS)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


class AdActivitiesStream(IncrementalAdAccountStream):
    name = "ad_activities"
    path = "/act_{account_id}/activities"
    primary_keys = ("id",)
    replication_key = "event_time"
    computed_columns = ("id",)
    schema = th.PropertiesList(
        *ACCOUNT_COLUMNS,
        string("id", description="Built by the tap (AdActivity has none): see the module."),
        timestamp("event_time"),
        string("event_type"),
        string("translated_event_type"),
        string("object_id"),
        string("object_name"),
        string("object_type"),
        string("actor_id"),
        string("actor_name"),
        string("application_id"),
        string("application_name"),
        string("extra_data", description="What changed, as Graph's JSON text."),
        string("date_time_in_timezone", description="The account's local time, as text."),
    ).to_dict()

    @override
    def bound_params(self, after: int) -> dict[str, Any]:
        return {"since": str(after + 1)}  # `since` counts from its own second

    @override
    def shape(self, row: dict[str, Any]) -> dict[str, Any]:
        row = super().shape(row)
        row["id"] = activity_id(row)
        return row
