"""The businesses themselves: `/{business_id}` each, or `/me/businesses` when none is configured."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_meta_bm.graph_stream import DirectoryStream
from tap_meta_bm.ids import id_list
from tap_meta_bm.streams.schema import Ref, string, timestamp


class BusinessesStream(DirectoryStream):
    name = "businesses"
    primary_keys = ("id",)
    schema = th.PropertiesList(
        string("id"),
        string("name"),
        timestamp("created_time"),
        timestamp("updated_time"),
        timestamp("extended_updated_time"),
        th.Property("created_by", Ref),
        th.Property("updated_by", Ref),
        string("link"),
        th.Property("primary_page", Ref),
        th.Property("timezone_id", th.IntegerType),
        string("two_factor_type"),
        string("verification_status"),
        string("vertical"),
        th.Property("vertical_id", th.IntegerType),
        th.Property("is_hidden", th.BooleanType),
        string("profile_picture_uri"),
        timestamp("user_access_expire_time"),
    ).to_dict()

    @property
    def configured(self) -> list[str]:
        return id_list(self.config.get("business_ids"))

    @property
    @override
    def path(self) -> str:  # type: ignore[override]
        return "/{business_id}" if self.configured else "/me/businesses"

    @property
    @override
    def paged(self) -> bool:
        return not self.configured

    @property
    @override
    def partitions(self) -> list[dict[str, Any]] | None:
        return [{"business_id": b} for b in self.configured] or None
