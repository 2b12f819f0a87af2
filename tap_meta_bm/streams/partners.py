"""The partners' side of access: what a partner business's own people hold on our assets.

Meta assigns a partner's people under the partner's business: `assigned_users` lists the
people of the one business it is asked for (`business=`), and only that business's tokens
read them. So each partner shares a token of a system user of its own (`partner_tokens`;
README, "Partners' people"), and with it the tap reads the partner's business users and
system users, and, on each of our assets shared with the partner (the agencies streams),
which of them hold which tasks. Nothing else: a partner's other clients are not ours to read
(graph-api-facts-3.md §1).
"""

from __future__ import annotations

from typing import Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.graph_stream import GraphStream
from tap_meta_bm.streams.access import ASSIGNED_USER
from tap_meta_bm.streams.people import BUSINESS_USER_PROPERTIES, SYSTEM_USER_PROPERTIES


class PartnerPeopleStream(GraphStream):
    """A full-table edge below a partner's business, read with the partner's token."""

    partitions_from: ClassVar[PartitionKind | None] = PartitionKind.PARTNER
    partitions_named = "partners"
    primary_keys = ("business_id", "id")
    context_columns = ("business_id",)
    reads_as_partner = True
    access_hint = ("The partner's token needs business_management, from a system user of "
                   "the partner's business (README, Partners' people).")


class PartnerBusinessUsersStream(PartnerPeopleStream):
    name = "partner_business_users"
    path = "/{business_id}/business_users"
    schema = th.PropertiesList(*BUSINESS_USER_PROPERTIES).to_dict()


class PartnerSystemUsersStream(PartnerPeopleStream):
    name = "partner_system_users"
    path = "/{business_id}/system_users"
    schema = th.PropertiesList(*SYSTEM_USER_PROPERTIES).to_dict()


class PartnerAssignmentsStream(GraphStream):
    """`/{asset}/assigned_users?business={partner}` with the partner's token: one row per
    (partner, our asset, partner's person), with the tasks the person holds there."""

    name = "partner_assignments"
    path = "/{asset_id}/assigned_users"
    partitions_from = PartitionKind.PARTNER_ASSET
    partitions_named = "shared assets"
    primary_keys = ("business_id", "asset_type", "asset_id", "user_id")
    context_columns = ("business_id", "asset_type", "asset_id")
    graph_names: ClassVar[dict[str, str]] = {"user_id": "id"}
    reads_as_partner = True
    access_hint = ("The partner's system user needs the asset assigned in the partner's "
                   "business (Full control), and its token business_management.")
    schema = th.PropertiesList(*ASSIGNED_USER).to_dict()

    @override
    def edge_params(self, context: Context | None) -> dict[str, Any]:
        return {"business": (context or {})["business_id"]}
