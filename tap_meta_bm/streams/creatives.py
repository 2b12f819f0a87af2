"""Each ad account's creatives, images and videos: `/act_{id}/adcreatives`, `/adimages` and
`/advideos` (the SDK's `AdAccount.get_ad_creatives`, `get_ad_images`, `get_ad_videos`)."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_meta_bm.graph_stream import AdAccountEdgeStream
from tap_meta_bm.incremental import IncrementalAdAccountStream
from tap_meta_bm.streams.schema import ACCOUNT_COLUMNS, Free, string, timestamp


class AdCreativesStream(AdAccountEdgeStream):
    """AdCreative has no timestamp at all: full table, per ad account."""

    name = "ad_creatives"
    path = "/act_{account_id}/adcreatives"
    primary_keys = ("id",)
    schema = th.PropertiesList(
        *ACCOUNT_COLUMNS,
        string("id"),
        string("name"),
        string("status"),
        string("object_type"),
        string("title"),
        string("body"),
        string("call_to_action_type"),
        string("image_hash"),
        string("image_url"),
        string("thumbnail_url"),
        string("video_id"),
        string("link_url"),
        string("url_tags"),
        string("object_story_id"),
        string("effective_object_story_id"),
        string("instagram_user_id"),
        string("actor_id"),
        th.Property("object_story_spec", Free),
        th.Property("asset_feed_spec", Free),
    ).to_dict()


class AdImagesStream(IncrementalAdAccountStream):
    """Graph documents no time filter on `/adimages`: each run reads the edge and emits what
    changed since the account's bookmark."""

    name = "ad_images"
    path = "/act_{account_id}/adimages"
    primary_keys = ("id",)
    replication_key = "updated_time"
    schema = th.PropertiesList(
        *ACCOUNT_COLUMNS,
        string("id", description="`<account_id>:<hash>`"),
        string("hash"),
        string("name"),
        string("status"),
        th.Property("width", th.IntegerType),
        th.Property("height", th.IntegerType),
        string("url"),
        string("permalink_url"),
        timestamp("created_time"),
        timestamp("updated_time"),
    ).to_dict()


class AdVideosStream(IncrementalAdAccountStream):
    """Likewise client-side incremental. AdVideo reads `title`; `name` is an upload-only
    parameter."""

    name = "ad_videos"
    path = "/act_{account_id}/advideos"
    primary_keys = ("id",)
    replication_key = "updated_time"
    schema = th.PropertiesList(
        *ACCOUNT_COLUMNS,
        string("id"),
        string("title"),
        string("description"),
        th.Property("length", th.NumberType),
        th.Property("published", th.BooleanType),
        string("permalink_url"),
        string("picture"),
        timestamp("created_time"),
        timestamp("updated_time"),
    ).to_dict()
