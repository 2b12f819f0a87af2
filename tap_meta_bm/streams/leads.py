"""Lead forms of each page and the leads they collected (`/{page_id}/leadgen_forms`, then
`/{form_id}/leads`: the SDK's `Page.get_lead_gen_forms` and `LeadgenForm.get_leads`).

Leads are personal data (names, emails, phone numbers in `field_data`): both streams are off
unless selected. Meta wants a Page access token on these edges; the tap reads it with the
system user's token and keeps it in memory only (page_tokens.py).
"""

from __future__ import annotations

from typing import ClassVar

from singer_sdk import typing as th

from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.graph_stream import DirectoryStream
from tap_meta_bm.incremental import IncrementalStream
from tap_meta_bm.streams.schema import Free, FreeList, Ref, string, timestamp

LEADS_ACCESS = ("Reading lead forms and leads needs leads_retrieval (with pages_show_list, "
                "pages_read_engagement, pages_manage_ads and ads_management), a task on the "
                "Page that can advertise, and, where the business customised the Leads Access "
                "Manager, the system user granted there.")


class LeadsAccess:
    """Off unless selected, read with the Page's token, refusals explained."""

    page_token: ClassVar[bool] = True
    access_hint: ClassVar[str | None] = LEADS_ACCESS
    selected_by_default: ClassVar[bool] = False


class LeadFormsStream(LeadsAccess, DirectoryStream):
    name = "lead_forms"
    path = "/{page_id}/leadgen_forms"
    partitions_from = PartitionKind.PAGE
    primary_keys = ("id",)
    context_columns = ("business_id", "page_id")
    schema = th.PropertiesList(
        string("business_id"),
        string("page_id"),
        string("id"),
        string("name"),
        string("status"),
        string("locale"),
        timestamp("created_time"),
        th.Property("leads_count", th.IntegerType),
        th.Property("expired_leads_count", th.IntegerType),
        th.Property("organic_leads_count", th.IntegerType),
        th.Property("questions", FreeList),
        string("privacy_policy_url"),
        th.Property("creator", Ref),
    ).to_dict()


class LeadsStream(LeadsAccess, IncrementalStream):
    """Incremental on `created_time`: Graph's filter for it is named `time_created`."""

    name = "leads"
    path = "/{form_id}/leads"
    partitions_from = PartitionKind.LEAD_FORM
    state_partitioning_keys: ClassVar[list[str] | None] = ["form_id"]
    partitions_named = "lead forms"
    primary_keys = ("id",)
    replication_key = "created_time"
    server_filter_field = "time_created"
    context_columns = ("business_id", "page_id", "form_id")
    schema = th.PropertiesList(
        string("business_id"),
        string("page_id"),
        string("form_id"),
        string("id"),
        timestamp("created_time"),
        th.Property("field_data", th.ArrayType(Free),
                    description="The answers: personal data."),
        string("ad_id"),
        string("adset_id"),
        string("campaign_id"),
        th.Property("is_organic", th.BooleanType),
        string("platform"),
    ).to_dict()
