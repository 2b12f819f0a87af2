"""Campaigns, ad sets and ads of each ad account, incremental on `updated_time`."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_meta_bm.incremental import IncrementalAdAccountStream
from tap_meta_bm.streams.schema import Free, FreeList, Ref, Strings, money, string, timestamp

STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES")
# The properties every level shares, in Graph's names.
COMMON = (
    string("business_id"),
    string("account_id"),
    string("id"),
    string("name"),
    string("status"),
    string("configured_status"),
    string("effective_status"),
    timestamp("created_time"),
    timestamp("updated_time"),
    th.Property("issues_info", FreeList),
    th.Property("recommendations", FreeList),
)


class CampaignsStream(IncrementalAdAccountStream):
    name = "campaigns"
    path = "/act_{account_id}/campaigns"
    primary_keys = ("id",)
    replication_key = "updated_time"
    # Campaigns have no `updated_since`; `filtering` on campaign.updated_time does the job.
    server_filter_field = "campaign.updated_time"
    all_statuses = STATUSES
    schema = th.PropertiesList(
        *COMMON,
        string("objective"),
        string("buying_type"),
        string("bid_strategy"),
        money("daily_budget"),
        money("lifetime_budget"),
        money("budget_remaining"),
        money("spend_cap"),
        th.Property("budget_rebalance_flag", th.BooleanType),
        th.Property("can_use_spend_cap", th.BooleanType),
        th.Property("special_ad_categories", Strings),
        string("special_ad_category"),
        th.Property("special_ad_category_country", Strings),
        timestamp("start_time"),
        timestamp("stop_time"),
        th.Property("adlabels", th.ArrayType(Ref)),
        string("boosted_object_id"),
        th.Property("pacing_type", Strings),
        string("primary_attribution"),
        th.Property("promoted_object", Free),
        string("smart_promotion_type"),
        string("source_campaign_id"),
        string("topline_id"),
        timestamp("last_budget_toggling_time"),
        th.Property("is_skadnetwork_attribution", th.BooleanType),
    ).to_dict()


class AdSetsStream(IncrementalAdAccountStream):
    name = "adsets"
    path = "/act_{account_id}/adsets"
    primary_keys = ("id",)
    replication_key = "updated_time"
    server_filter_field = "adset.updated_time"
    all_statuses = (*STATUSES, "CAMPAIGN_PAUSED")
    schema = th.PropertiesList(
        *COMMON,
        string("campaign_id"),
        timestamp("start_time"),
        timestamp("end_time"),
        money("daily_budget"),
        money("lifetime_budget"),
        money("budget_remaining"),
        string("bid_strategy"),
        th.Property("bid_amount", th.IntegerType),
        string("billing_event"),
        string("optimization_goal"),
        string("destination_type"),
        th.Property("targeting", Free),
        th.Property("promoted_object", Free),
        th.Property("attribution_spec", FreeList),
        th.Property("learning_stage_info", Free),
    ).to_dict()


class AdsStream(IncrementalAdAccountStream):
    name = "ads"
    path = "/act_{account_id}/ads"
    primary_keys = ("id",)
    replication_key = "updated_time"
    server_filter_field = "ad.updated_time"
    all_statuses = (*STATUSES, "CAMPAIGN_PAUSED", "ADSET_PAUSED", "DISAPPROVED",
                    "PENDING_BILLING_INFO", "PENDING_REVIEW", "PREAPPROVED")
    schema = th.PropertiesList(
        *COMMON,
        string("campaign_id"),
        string("adset_id"),
        th.Property("creative", Ref),
        th.Property("bid_amount", th.IntegerType),
        th.Property("tracking_specs", FreeList),
        th.Property("conversion_specs", FreeList),
        th.Property("ad_review_feedback", Free),
        string("preview_shareable_link"),
        string("source_ad_id"),
    ).to_dict()
