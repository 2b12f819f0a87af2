"""The people side of a business: its users, system users and pending invitations."""

from __future__ import annotations

from typing import ClassVar

from singer_sdk import typing as th

from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.graph_stream import DirectoryStream, GraphStream
from tap_meta_bm.streams.schema import Free, Ref, Strings, string, timestamp


class BusinessPeopleStream(GraphStream):
    """A full-table edge below `/{business_id}`."""

    partitions_from: ClassVar[PartitionKind | None] = PartitionKind.BUSINESS
    primary_keys = ("business_id", "id")
    context_columns = ("business_id",)


#: A business's users and its system users, as the partners' streams read them too.
BUSINESS_USER_PROPERTIES = (
    string("business_id"),
    string("id"),
    string("name"),
    string("email"),
    string("first_name"),
    string("last_name"),
    string("title"),
    string("role"),
    th.Property("tasks", Strings, description="The granular business-level tasks Meta "
                                              "gives since v23 beside the role."),
    string("two_fac_status"),
    string("finance_permission"),
    string("ip_permission"),
    string("pending_email"),
    th.Property("marked_for_removal", th.BooleanType),
)
SYSTEM_USER_PROPERTIES = (
    string("business_id"),
    string("id"),
    string("name"),
    string("role", description="Admin or Employee (read on this edge only)."),
    th.Property("created_by", Ref),
    timestamp("created_time"),
    string("finance_permission"),
    string("ip_permission"),
)


class BusinessUsersStream(DirectoryStream, BusinessPeopleStream):
    """Also the directory of people whose asset-group assignments are read."""

    name = "business_users"
    path = "/{business_id}/business_users"
    schema = th.PropertiesList(*BUSINESS_USER_PROPERTIES).to_dict()


class SystemUsersStream(DirectoryStream, BusinessPeopleStream):
    name = "system_users"
    path = "/{business_id}/system_users"
    schema = th.PropertiesList(*SYSTEM_USER_PROPERTIES).to_dict()


class PendingUsersStream(BusinessPeopleStream):
    name = "pending_users"
    path = "/{business_id}/pending_users"
    # `invite_link` is left out on purpose: whoever holds it can join the business.
    schema = th.PropertiesList(
        string("business_id"),
        string("id"),
        string("email"),
        string("role"),
        string("status"),
        th.Property("tasks", Strings),
        th.Property("invited_user_type", Strings),
        string("finance_role"),
        string("ip_role"),
        th.Property("owner", Ref),
        th.Property("created_by", Free),
        th.Property("updated_by", Free),
        timestamp("created_time"),
        timestamp("updated_time"),
        timestamp("expiration_time"),
    ).to_dict()
