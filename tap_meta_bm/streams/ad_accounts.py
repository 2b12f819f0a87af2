"""Ad accounts a business owns, and those its clients share with it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_meta_bm.graph_stream import DirectoryStream, EdgeVariant
from tap_meta_bm.streams.schema import (
    Free,
    Ref,
    Strings,
    client_permitted,
    money,
    string,
    timestamp,
)

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class AdAccountsStream(DirectoryStream):
    name = "ad_accounts"
    # One account may be owned by one configured business and shared with another: both
    # relationships are facts worth keeping, so the business is part of the key.
    primary_keys = ("business_id", "id")
    context_columns = ("business_id", "relationship")
    # An account's insights days are its own calendar days (Directory.account_timezone).
    always_fields = ("timezone_name",)
    variants = (
        EdgeVariant("/{business_id}/owned_ad_accounts", {"relationship": "OWNED"}),
        EdgeVariant("/{business_id}/client_ad_accounts", {"relationship": "CLIENT"},
                    ("permitted_tasks",)),
    )
    schema = th.PropertiesList(
        string("business_id", description="The configured business this row was read from."),
        string("relationship", description="OWNED by that business, or CLIENT (shared to it)."),
        client_permitted(),
        string("id", description="`act_` + account_id"),
        string("account_id"),
        string("name"),
        th.Property("account_status", th.IntegerType,
                    description="1 ACTIVE, 2 DISABLED, 3 UNSETTLED, 7 PENDING_RISK_REVIEW, "
                                "8 PENDING_SETTLEMENT, 9 IN_GRACE_PERIOD, 100 PENDING_CLOSURE, "
                                "101 CLOSED"),
        th.Property("disable_reason", th.IntegerType),
        string("currency"),
        th.Property("timezone_id", th.IntegerType),
        string("timezone_name"),
        th.Property("timezone_offset_hours_utc", th.NumberType),
        money("amount_spent"),
        money("balance"),
        money("spend_cap"),
        th.Property("min_daily_budget", th.IntegerType),
        th.Property("business", Ref),
        th.Property("owner_business", Ref),
        string("business_name"),
        string("business_country_code"),
        timestamp("created_time"),
        string("funding_source"),
        th.Property("is_personal", th.IntegerType),
        th.Property("is_prepay_account", th.BooleanType),
        string("end_advertiser"),
        string("end_advertiser_name"),
        string("media_agency"),
        string("partner"),
        th.Property("age", th.NumberType),
        th.Property("user_tasks", Strings,
                    description="Tasks the token's system user holds on this account."),
        th.Property("capabilities", Strings),
        th.Property("tos_accepted", Free),
    ).to_dict()

    @property
    @override
    def per_ad_account(self) -> bool:
        return True  # read per business, but each row is one account's

    @override
    def source_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        # Under account_shard every shard lists the accounts, and emits only its own.
        owns = self.run.directory.owns_account
        return (r for r in super().source_records(context) if owns(str(r["id"])))
