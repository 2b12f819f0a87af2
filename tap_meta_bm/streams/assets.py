"""The business's other assets: pixels, product catalogs, Instagram accounts, apps, and each
ad account's pixels and custom conversions: GET edges of the SDK's `Business`
(`owned_`/`client_` pixels, product catalogs, Instagram assets and apps,
`owned_instagram_accounts`) and `AdAccount` (`adspixels`, `customconversions`)."""

from __future__ import annotations

from typing import ClassVar

from singer_sdk import typing as th

from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.graph_stream import AdAccountEdgeStream, DirectoryStream, EdgeVariant, GraphStream
from tap_meta_bm.streams.schema import (
    ACCOUNT_COLUMNS,
    Free,
    Ref,
    Strings,
    client_permitted,
    string,
    timestamp,
)


def owned_and_client(edge: str, client_fields: tuple[str, ...] = ()
                     ) -> tuple[EdgeVariant, ...]:
    """`/{business_id}/owned_{edge}` and `/client_{edge}`, told apart by `relationship`;
    `client_fields` are read on the client edge only (its edge fields)."""
    return (EdgeVariant(f"/{{business_id}}/owned_{edge}", {"relationship": "OWNED"}),
            EdgeVariant(f"/{{business_id}}/client_{edge}", {"relationship": "CLIENT"},
                        client_fields))


BUSINESS_ASSET = (
    string("business_id", description="The configured business this row was read from."),
    string("relationship", description="OWNED by that business, or CLIENT (shared to it)."),
    string("id"),
    string("name"),
)


class PixelsStream(DirectoryStream):
    """Pixels (datasets); no `updated_time` exists, so full table. Their JavaScript `code`
    is left out: it is the same snippet for every pixel, and large."""

    name = "pixels"
    primary_keys = ("business_id", "id")
    context_columns = ("business_id", "relationship")
    variants = owned_and_client("pixels", ("permitted_tasks",))
    schema = th.PropertiesList(
        *BUSINESS_ASSET,
        client_permitted(),
        timestamp("creation_time"),
        timestamp("last_fired_time"),
        th.Property("owner_business", Ref),
        th.Property("owner_ad_account", Ref),
        th.Property("creator", Ref),
        th.Property("is_unavailable", th.BooleanType),
        th.Property("is_created_by_business", th.BooleanType),
        string("data_use_setting"),
        th.Property("enable_automatic_matching", th.BooleanType),
        th.Property("automatic_matching_fields", Strings),
        string("first_party_cookie_status"),
        timestamp("event_time_min"),
        timestamp("event_time_max"),
    ).to_dict()


class ProductCatalogsStream(DirectoryStream):
    name = "product_catalogs"
    primary_keys = ("business_id", "id")
    context_columns = ("business_id", "relationship")
    # Meta's client_product_catalogs adds `permitted_roles` ("Roles that are assignable to
    # this product catalog"), not permitted_tasks.
    variants = owned_and_client("product_catalogs", ("permitted_roles",))
    schema = th.PropertiesList(
        *BUSINESS_ASSET,
        client_permitted("permitted_roles"),
        th.Property("business", Ref),
        th.Property("owner_business", Ref),
        th.Property("product_count", th.IntegerType),
        th.Property("feed_count", th.IntegerType),
        string("vertical"),
        th.Property("is_catalog_segment", th.BooleanType),
        th.Property("is_local_catalog", th.BooleanType),
    ).to_dict()


class InstagramAccountsStream(GraphStream):
    """Instagram accounts the business owns (`/owned_instagram_accounts`, IGUser). Their
    fields are Instagram's: an app without its permission is refused the request, which then
    costs those fields (read again with the ids alone), never the business's accounts."""

    name = "instagram_accounts"
    path = "/{business_id}/owned_instagram_accounts"
    partitions_from = PartitionKind.BUSINESS
    primary_keys = ("business_id", "id")
    context_columns = ("business_id",)
    optional_fields: ClassVar[dict[str, str]] = {
        name: "Instagram's fields need instagram_basic (and the account shared with the "
              "app's business); instagram_assets lists the accounts without it"
        for name in ("username", "name", "followers_count", "media_count", "is_published",
                     "owner_business")}
    schema = th.PropertiesList(
        string("business_id"),
        string("id"),
        string("username"),
        string("name"),
        th.Property("followers_count", th.IntegerType),
        th.Property("media_count", th.IntegerType),
        th.Property("is_published", th.BooleanType),
        th.Property("owner_business", Ref),
    ).to_dict()


class BusinessAssetStream(GraphStream):
    """Assets of one kind a business owns and its clients share with it, one row each."""

    partitions_from = PartitionKind.BUSINESS
    primary_keys = ("business_id", "id")
    context_columns = ("business_id", "relationship")


class InstagramAssetsStream(BusinessAssetStream):
    """The Instagram accounts a business has as assets: its own and those its clients share
    (`/owned_instagram_assets`, `/client_instagram_assets`, InstagramBusinessAsset, Meta's
    reference of 2025-07). Business assets, read with business_management."""

    name = "instagram_assets"
    variants = owned_and_client("instagram_assets")
    schema = th.PropertiesList(
        *BUSINESS_ASSET[:2],
        string("id", description="The business asset (not the Instagram user's id)."),
        string("ig_user_id", description="The Instagram account it stands for (the id of "
                                         "instagram_accounts and Pages' "
                                         "instagram_business_account)."),
        string("ig_username"),
    ).to_dict()


class AppsStream(BusinessAssetStream):
    name = "apps"
    variants = owned_and_client("apps")
    schema = th.PropertiesList(
        *BUSINESS_ASSET,
        string("category"),
        string("link"),
        string("namespace"),
        string("company"),
    ).to_dict()


class AdAccountPixelsStream(AdAccountEdgeStream):
    """Which pixels each ad account can use (`/act_{id}/adspixels`)."""

    name = "ad_account_pixels"
    path = "/act_{account_id}/adspixels"
    primary_keys = ("account_id", "id")
    schema = th.PropertiesList(
        *ACCOUNT_COLUMNS,
        string("id", description="The pixel."),
        string("name"),
        th.Property("owner_business", Ref),
    ).to_dict()


class CustomConversionsStream(AdAccountEdgeStream):
    """Custom conversions of each ad account; no `updated_time` exists, so full table."""

    name = "custom_conversions"
    path = "/act_{account_id}/customconversions"
    primary_keys = ("id",)
    schema = th.PropertiesList(
        *ACCOUNT_COLUMNS,
        string("id"),
        string("name"),
        string("description"),
        string("custom_event_type"),
        string("rule"),
        string("event_source_type"),
        th.Property("pixel", Ref),
        th.Property("default_conversion_value", th.NumberType),
        th.Property("is_archived", th.BooleanType),
        th.Property("is_unavailable", th.BooleanType),
        timestamp("creation_time"),
        timestamp("first_fired_time"),
        timestamp("last_fired_time"),
    ).to_dict()


class AdRulesStream(AdAccountEdgeStream):
    """Automated rules of each ad account (`/act_{id}/adrules_library`, AdRule): what they
    watch, when, and what they do. Full table: a deleted rule leaves the edge."""

    name = "ad_rules"
    path = "/act_{account_id}/adrules_library"
    primary_keys = ("id",)
    schema = th.PropertiesList(
        *ACCOUNT_COLUMNS,
        string("id"),
        string("name"),
        string("status", description="ENABLED, DISABLED, DELETED or HAS_ISSUES."),
        th.Property("evaluation_spec", Free, description="Which objects, on what condition."),
        th.Property("execution_spec", Free, description="What the rule does to them."),
        th.Property("schedule_spec", Free),
        th.Property("disable_error_code", th.IntegerType),
        th.Property("created_by", Ref),
        timestamp("created_time"),
        timestamp("updated_time"),
    ).to_dict()
