"""Pages a business owns, and those its clients share with it."""

from __future__ import annotations

from typing import ClassVar

from singer_sdk import typing as th

from tap_meta_bm.graph_stream import DirectoryStream, EdgeVariant
from tap_meta_bm.streams.schema import Free, Ref, Strings, client_permitted, string


class PagesStream(DirectoryStream):
    name = "pages"
    primary_keys = ("business_id", "id")
    context_columns = ("business_id", "relationship")
    variants = (
        EdgeVariant("/{business_id}/owned_pages", {"relationship": "OWNED"}),
        EdgeVariant("/{business_id}/client_pages", {"relationship": "CLIENT"},
                    ("permitted_tasks",)),
    )
    # Meta's Page reference: since v12 these fields throw an error for apps that lack their
    # permissions; such an error costs the field, not the Page directory (recovery.py).
    optional_fields: ClassVar[dict[str, str]] = {
        name: "it needs instagram_basic (and the Page's Instagram account shared with the "
              "app's business)"
        for name in ("instagram_business_account", "connected_instagram_account")}
    # Never `access_token`: Page has such a field, and it is a credential.
    schema = th.PropertiesList(
        string("business_id"),
        string("relationship"),
        client_permitted(),
        string("id"),
        string("name"),
        string("username"),
        string("category"),
        th.Property("category_list", th.ArrayType(Ref)),
        string("link"),
        string("verification_status"),
        th.Property("fan_count", th.IntegerType),
        th.Property("followers_count", th.IntegerType),
        th.Property("is_published", th.BooleanType),
        th.Property("instagram_business_account", Ref),
        th.Property("connected_instagram_account", Ref),
        th.Property("business", Ref),
        th.Property("owner_business", Ref),
        string("about"),
        string("website"),
        th.Property("emails", Strings),
        string("phone"),
        th.Property("location", Free),
    ).to_dict()
