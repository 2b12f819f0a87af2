"""Who can do what on which asset: partners, per-asset assignments, business asset groups."""

from __future__ import annotations

from typing import Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.graph_stream import AdAccountEdgeStream, DirectoryStream, EdgeVariant, GraphStream
from tap_meta_bm.streams.schema import ACCOUNT_COLUMNS, Ref, Strings, string, timestamp


class PartnersStream(GraphStream):
    """Agencies working for a business, and clients it works for."""

    name = "partners"
    partitions_from = PartitionKind.BUSINESS
    primary_keys = ("business_id", "id")
    context_columns = ("business_id", "relationship")
    variants = (
        EdgeVariant("/{business_id}/agencies", {"relationship": "AGENCY"}),
        EdgeVariant("/{business_id}/clients", {"relationship": "CLIENT"}),
    )
    schema = th.PropertiesList(
        string("business_id", description="The configured business."),
        string("relationship", description="AGENCY works for it; CLIENT it works for."),
        string("id", description="The partner business."),
        string("name"),
        string("link"),
        string("verification_status"),
        string("vertical"),
        th.Property("primary_page", Ref),
        timestamp("created_time"),
        timestamp("updated_time"),
    ).to_dict()


ASSIGNED_USER = (
    string("asset_type", description="AD_ACCOUNT, PAGE, PIXEL or PRODUCT_CATALOG: the same "
                                     "columns on every assignments stream, for one query."),
    string("asset_id", description="The asset's Graph id (act_<id> for an ad account)."),
    string("business_id", description="The business whose people these are (`business=`)."),
    string("user_id"),
    string("name"),
    string("user_type", description="e.g. business_user, system_user"),
    th.Property("tasks", Strings, description="Tasks the user holds on the asset."),
    th.Property("permitted_tasks", Strings),
    th.Property("business", Ref, description="The business the user belongs to: another "
                                             "business than business_id means a partner's user."),
)


class AssetEdgeStream(GraphStream):
    """An edge of each asset of one type (`/{asset}/assigned_users`, `/{asset}/agencies`):
    a subclass names its edge, partitions, `asset_type` and `asset_key` (the partition key
    naming the asset), and its key and schema follow (`asset_columns`)."""

    asset_type: ClassVar[str]
    asset_key: ClassVar[str]

    @classmethod
    def asset_columns(cls, key: tuple[str, ...], *properties: th.Property) -> None:
        """Key and schema: the asset's partition column, then `properties` (set before the
        base's `__init_subclass__`, which adds to the schema)."""
        cls.context_columns = ("business_id", cls.asset_key, "asset_type", "asset_id")
        # The SDK types these as properties, which stream classes shadow with class
        # attributes (as every other stream does in its class body).
        setattr(cls, "primary_keys", ("business_id", cls.asset_key, *key))  # noqa: B010
        setattr(cls, "schema",  # noqa: B010
                th.PropertiesList(string(cls.asset_key), *properties).to_dict())

    @override
    def extra_columns(self, context: Context | None) -> dict[str, Any]:
        asset = str((context or {})[self.asset_key])
        return {"asset_type": self.asset_type,
                "asset_id": f"act_{asset}" if self.asset_type == "AD_ACCOUNT" else asset}


class AssignmentsStream(AssetEdgeStream):
    """`/{asset}/assigned_users?business=`: one row per (business, asset, user)."""

    graph_names: ClassVar[dict[str, str]] = {"user_id": "id"}

    @override
    def __init_subclass__(cls, **kwargs: Any) -> None:
        cls.asset_columns(("user_id",), *ASSIGNED_USER)
        super().__init_subclass__(**kwargs)

    @override
    def edge_params(self, context: Context | None) -> dict[str, Any]:
        # Required by Graph on every asset: it says whose people to list.
        return {"business": (context or {})["business_id"]}


class AdAccountAssignmentsStream(AssignmentsStream):
    name = "ad_account_assignments"
    path = "/act_{account_id}/assigned_users"
    partitions_from = PartitionKind.BUSINESS_AD_ACCOUNT
    asset_type, asset_key = "AD_ACCOUNT", "account_id"


class PageAssignmentsStream(AssignmentsStream):
    name = "page_assignments"
    path = "/{page_id}/assigned_users"
    partitions_from = PartitionKind.BUSINESS_PAGE
    asset_type, asset_key = "PAGE", "page_id"


class PixelAssignmentsStream(AssignmentsStream):
    name = "pixel_assignments"
    path = "/{pixel_id}/assigned_users"
    partitions_from = PartitionKind.BUSINESS_PIXEL
    asset_type, asset_key = "PIXEL", "pixel_id"


class CatalogAssignmentsStream(AssignmentsStream):
    name = "catalog_assignments"
    path = "/{catalog_id}/assigned_users"
    partitions_from = PartitionKind.BUSINESS_CATALOG
    asset_type, asset_key = "PRODUCT_CATALOG", "catalog_id"


class AssetGroupAssignmentsStream(GraphStream):
    """The business asset groups each person of a business is assigned to, one row per
    (business, person, group), with the tasks the assignment gives on the group's ad
    accounts, pages and pixels (fields Meta's references for business-user/ and
    system-user/assigned_business_asset_groups add to each group)."""

    name = "asset_group_assignments"
    path = "/{user_id}/assigned_business_asset_groups"
    partitions_from = PartitionKind.BUSINESS_PERSON
    primary_keys = ("business_id", "user_id", "group_id")
    context_columns = ("business_id", "user_id")
    graph_names: ClassVar[dict[str, str]] = {"group_id": "id"}
    schema = th.PropertiesList(
        string("business_id", description="The business whose person this is."),
        string("user_id", description="A business user or system user of it."),
        string("group_id"),
        string("name", description="The group's name."),
        th.Property("owner_business", Ref),
        th.Property("adaccount_tasks", Strings, description="Tasks on the group's ad "
                                                            "accounts."),
        th.Property("page_tasks", Strings, description="Tasks on the group's pages."),
        th.Property("pixel_tasks", Strings, description="Tasks on the group's pixels."),
        th.Property("offline_conversion_data_set_tasks", Strings),
    ).to_dict()


class AdAccountAgenciesStream(AdAccountEdgeStream):
    """The agencies (partner businesses) with access to each ad account, and to what: the
    tasks each may assign its people (`permitted_tasks`, an edge field of this edge)."""

    grants_to_partners = ("AD_ACCOUNT", "account_id")

    name = "ad_account_agencies"
    path = "/act_{account_id}/agencies"
    primary_keys = ("account_id", "id")
    schema = th.PropertiesList(
        *ACCOUNT_COLUMNS,
        string("id", description="The agency's business."),
        string("name"),
        string("access_status"),
        th.Property("permitted_tasks", Strings),
        timestamp("access_requested_time"),
        timestamp("access_updated_time"),
    ).to_dict()


class AssetAgenciesStream(AssetEdgeStream):
    """The partner businesses one of our assets is shared with (Business nodes: Meta
    documents no edge fields on the Page, pixel and catalog edges, so what each partner may
    assign there is not read; effective_access says so)."""

    @override
    def __init_subclass__(cls, **kwargs: Any) -> None:
        cls.grants_to_partners = (cls.asset_type, cls.asset_key)
        cls.asset_columns(("id",), string("business_id"), string("asset_type"),
                          string("asset_id"), string("id", description="The partner "
                                                                       "business."),
                          string("name"))
        super().__init_subclass__(**kwargs)


class PageAgenciesStream(AssetAgenciesStream):
    name = "page_agencies"
    path = "/{page_id}/agencies"
    partitions_from = PartitionKind.PAGE
    asset_type, asset_key = "PAGE", "page_id"
    # Meta's reference: "A Page access token requested by a person who can perform the
    # MANAGE task on the Page".
    page_token = True


class PixelAgenciesStream(AssetAgenciesStream):
    name = "pixel_agencies"
    path = "/{pixel_id}/shared_agencies"  # the edge Meta documents for reading
    partitions_from = PartitionKind.BUSINESS_PIXEL
    asset_type, asset_key = "PIXEL", "pixel_id"


class CatalogAgenciesStream(AssetAgenciesStream):
    name = "catalog_agencies"
    path = "/{catalog_id}/agencies"
    partitions_from = PartitionKind.BUSINESS_CATALOG
    asset_type, asset_key = "PRODUCT_CATALOG", "catalog_id"


class BusinessAssetGroupsStream(DirectoryStream):
    name = "business_asset_groups"
    path = "/{business_id}/business_asset_groups"
    primary_keys = ("business_id", "id")
    context_columns = ("business_id",)
    schema = th.PropertiesList(
        string("business_id"),
        string("id"),
        string("name"),
        th.Property("owner_business", Ref),
    ).to_dict()


class BusinessAssetGroupAssetsStream(GraphStream):
    """What each asset group contains, one row per (group, asset)."""

    name = "business_asset_group_assets"
    partitions_from = PartitionKind.ASSET_GROUP
    primary_keys = ("group_id", "asset_type", "asset_id")
    context_columns = ("business_id", "group_id", "asset_type")
    graph_names: ClassVar[dict[str, str]] = {"asset_id": "id"}
    variants = tuple(
        EdgeVariant(f"/{{group_id}}/contained_{edge}", {"asset_type": asset_type})
        for edge, asset_type in (
            ("adaccounts", "AD_ACCOUNT"),
            ("pages", "PAGE"),
            ("pixels", "PIXEL"),
            ("product_catalogs", "PRODUCT_CATALOG"),
            ("instagram_accounts", "INSTAGRAM_ACCOUNT"),
            ("applications", "APPLICATION"),
            ("custom_conversions", "CUSTOM_CONVERSION"),
        )
    )
    schema = th.PropertiesList(
        string("business_id"),
        string("group_id"),
        string("asset_type"),
        string("asset_id"),
        string("name"),
    ).to_dict()
