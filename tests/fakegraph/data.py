"""A deterministic synthetic Business Manager, generated lazily from (seed, index).

Nothing is stored per object: any object is rebuilt from its position when asked for, so the
large scale costs no more memory than the small one. Only "touched" objects (bumped
`updated_time` / `time_updated`) are remembered, to test incremental runs.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakegraph.partners import (
    CLIENT_PERMITTED,
    GRANTED,
    Grant,
    holders,
    partner_people,
    partner_robot,
)

EPOCH = 1704067200  # 2024-01-01T00:00:00Z: every generated time lies in the 300 days after
SPAN = 300 * 86400


@dataclass(frozen=True)
class Scale:
    businesses: int
    owned_accounts: int  # per business
    client_accounts: int
    campaigns: int  # per ad account
    adsets: int
    ads: int
    custom_audiences: int
    saved_audiences: int
    owned_pages: int  # per business
    client_pages: int
    users: int  # business users per business
    system_users: int
    pending_users: int
    agencies: int
    clients: int
    asset_groups: int
    assigned_per_account: int
    assigned_per_page: int
    # Assets of graph-api-facts-2.md §2b-2i: per business, per ad account, per page or form.
    owned_pixels: int = 2
    client_pixels: int = 1
    owned_catalogs: int = 1
    client_catalogs: int = 1
    instagram_accounts: int = 2
    client_instagram_accounts: int = 1  # Instagram accounts clients share with the business
    owned_apps: int = 1
    client_apps: int = 1
    creatives: int = 6
    images: int = 3
    videos: int = 2
    custom_conversions: int = 2
    ad_rules: int = 2
    activities: int = 8
    forms_every_nth_page: int = 3  # the other pages have no lead forms: empty edges
    forms_per_page: int = 2
    leads_per_form: int = 4
    assigned_per_pixel: int = 2
    assigned_per_catalog: int = 2

    @property
    def accounts(self) -> int:
        return self.owned_accounts + self.client_accounts

    @property
    def pages(self) -> int:
        return self.owned_pages + self.client_pages


SCALES = {
    "small": Scale(1, 3, 1, 25, 10, 10, 8, 3, 4, 1, 12, 2, 2, 2, 1, 1, 4, 3),
    # Many ad accounts with little in each: enough accounts that every one of a few account
    # shards gets some (tests/e2e/test_shards.py).
    "fleet": Scale(2, 6, 2, 2, 2, 3, 2, 1, 2, 1, 6, 2, 1, 1, 1, 1, 3, 2),
    "medium": Scale(2, 90, 10, 100, 25, 25, 20, 5, 225, 25, 995, 5, 10, 5, 5, 3, 5, 3),
    "large": Scale(20, 90, 10, 100, 25, 25, 20, 5, 225, 25, 995, 5, 10, 5, 5, 3, 5, 3),
}


def agency_scale(accounts: int) -> Scale:
    """One agency's business: `accounts` ad accounts, a sixth of them its own and the rest
    its clients', with a few objects in each (issue 24's simulator: 3,000 accounts)."""
    owned = accounts // 6
    return Scale(1, owned, accounts - owned, 2, 2, 3, 1, 1, 20, 10, 30, 3, 2, 5, 50, 3, 2, 2,
                 creatives=2, images=1, videos=1, custom_conversions=1, activities=2)


SCALES.update({"agency": agency_scale(3000), "agency-1000": agency_scale(1000),
               "agency-500": agency_scale(500)})
#: A few ad accounts with many objects each: enough reads per account that a Limited-tier
#: score (60 points per window) binds, many windows over (benchmarks/limited_tier.py).
SCALES["limited"] = Scale(1, 6, 0, 1000, 1000, 1000, 1, 1, 1, 0, 2, 1, 1, 1, 1, 1, 2, 1)

# Id ranges: the first digits say what a node is, so the server can route by id alone.
BUSINESS_BASE = 100_000_000_000
ACCOUNT_BASE = 200_000_000_000
PAGE_BASE = 300_000_000_000
GROUP_BASE = 400_000_000_000
USER_BASE = 500_000_000_000
SYSTEM_USER_BASE = 600_000_000_000
PENDING_BASE = 700_000_000_000
PARTNER_BASE = 800_000_000_000
PIXEL_BASE = 910_000_000_000
CATALOG_BASE = 920_000_000_000
INSTAGRAM_BASE = 930_000_000_000
#: InstagramBusinessAsset ids (the business's asset, not the Instagram user it stands for).
INSTAGRAM_ASSET_BASE = 935_000_000_000
#: Instagram users of clients' accounts shared with a business.
CLIENT_INSTAGRAM_BASE = 937_000_000_000
APP_BASE = 940_000_000_000
FORM_BASE = 950_000_000_000
CHILD_PREFIX = {"campaigns": "23", "adsets": "24", "ads": "25", "custom_audiences": "26",
                "saved_audiences": "27", "creatives": "28", "images": "29", "videos": "30",
                "custom_conversions": "31", "ad_rules": "32"}
#: The ad account's asset edges (GET edges of the SDK's AdAccount): edge -> (kind, node type,
#: the stream that reads them, for the truth). A kind is counted on Scale, has an id prefix in
#: CHILD_PREFIX and its records in `Dataset.account_asset`; the server routes every edge
#: here, so a new one is a line here and its records.
ACCOUNT_ASSET_EDGES = {
    "adcreatives": ("creatives", "AdCreative", "ad_creatives"),
    "adimages": ("images", "AdImage", "ad_images"),
    "advideos": ("videos", "AdVideo", "ad_videos"),
    "customconversions": ("custom_conversions", "CustomConversion", "custom_conversions"),
    "adrules_library": ("ad_rules", "AdRule", "ad_rules"),
}
#: The business's edges that list nodes of one kind (GET edges of the SDK's Business): edge ->
#: (node type, the Dataset method listing business b's, the stream that reads them, for the
#: truth). The server routes every edge here, so a new one is a line here and its method.
BUSINESS_LIST_EDGES = {
    "pending_users": ("BusinessRoleRequest", "pending_users_of", "pending_users"),
}
#: Per-business asset kinds: (owned count field, client count field, id base).
BUSINESS_ASSETS = {"pixels": ("owned_pixels", "client_pixels", PIXEL_BASE),
                   "catalogs": ("owned_catalogs", "client_catalogs", CATALOG_BASE),
                   "apps": ("owned_apps", "client_apps", APP_BASE)}
PIXEL_TASKS = ["AA_ANALYZE", "ADVERTISE", "ANALYZE", "EDIT", "UPLOAD"]  # AdsPixel.Tasks
CATALOG_TASKS = ["AA_ANALYZE", "ADVERTISE", "MANAGE", "MANAGE_AR"]  # ProductCatalog.Tasks
NAMES = ["Acme", "Façade Café", "Żółw Media", "東京 Ads", "Ünïcödé", "Rocket 🚀", "O'Brien & Co",
         "Ελληνικά", "Nordlys", "Zebra"]


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def graph_time(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def capped(users: list[dict[str, Any]], permitted: list[str] | None) -> list[dict[str, Any]]:
    """On a client's asset a business's people hold only what the client permitted (Meta
    refuses any other assignment): each user's tasks within `permitted`, none left: no grant."""
    if permitted is None:
        return users
    out = []
    for user in users:
        tasks = [t for t in user["tasks"] if t in permitted]
        if tasks:
            out.append({**user, "tasks": tasks,
                        **({"permitted_tasks": list(permitted)} if "permitted_tasks" in user
                           else {})})
    return out


def status_of(index: int) -> str:
    if index % 50 == 49:
        return "DELETED"
    if index % 20 == 19:
        return "ARCHIVED"
    return "PAUSED" if index % 3 == 2 else "ACTIVE"


class Dataset:
    """The synthetic Business Manager for one scale and seed."""

    def __init__(self, scale: str = "small", seed: int = 1) -> None:
        self.scale_name = scale
        self.scale = SCALES[scale]
        self.seed = seed
        self._touched: dict[str, int] = {}
        #: Business users removed from their business (and so from every asset).
        self.removed_users: set[str] = set()
        #: Grants revoked at the source: (asset id, user id); the asset is an ad account's
        #: bare number, a page, pixel or catalog id, or a business asset group.
        self.revoked: set[tuple[str, str]] = set()
        #: Grants whose tasks were changed at the source: (asset id, user id) -> tasks.
        self.changed_tasks: dict[tuple[str, str], list[str]] = {}
        #: Our assets no longer shared with a partner: (asset id, as `grants` names it,
        #: partner business id). The partner's people lose them too.
        self.unshared: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        #: When this Business Manager is looked at: its one recent invitation and the recent
        #: entry of each ad account's activity log date from here.
        # (the day it is opened, at midnight UTC: two fakes of one test agree).
        self.opened_at = int(time.time()) // 86400 * 86400

    # -- ids --------------------------------------------------------------------------
    def business_ids(self) -> list[str]:
        return [str(BUSINESS_BASE + b) for b in range(self.scale.businesses)]

    def business_index(self, business_id: str) -> int | None:
        b = int(business_id) - BUSINESS_BASE
        return b if 0 <= b < self.scale.businesses else None

    @staticmethod
    def _indexes(b: int, relationship: str, owned: int, total: int) -> range:
        """Business b's slice of a global index: its owned assets first, then its clients'."""
        first = b * total
        if relationship == "OWNED":
            return range(first, first + owned)
        return range(first + owned, first + total)

    def account_indexes(self, b: int, relationship: str) -> range:
        return self._indexes(b, relationship, self.scale.owned_accounts, self.scale.accounts)

    def account_index(self, account_id: str) -> int | None:
        a = int(account_id) - ACCOUNT_BASE
        return a if 0 <= a < self.scale.accounts * self.scale.businesses else None

    def page_indexes(self, b: int, relationship: str) -> range:
        return self._indexes(b, relationship, self.scale.owned_pages, self.scale.pages)

    def page_index(self, page_id: str) -> int | None:
        p = int(page_id) - PAGE_BASE
        return p if 0 <= p < self.scale.pages * self.scale.businesses else None

    def group_index(self, group_id: str) -> int | None:
        g = int(group_id) - GROUP_BASE
        return g if 0 <= g < self.scale.asset_groups * self.scale.businesses else None

    def asset_total(self, kind: str) -> int:
        owned, client, _ = BUSINESS_ASSETS[kind]
        return getattr(self.scale, owned) + getattr(self.scale, client)

    def asset_indexes(self, kind: str, b: int, relationship: str) -> range:
        owned, _, _ = BUSINESS_ASSETS[kind]
        return self._indexes(b, relationship, getattr(self.scale, owned), self.asset_total(kind))

    def asset_index(self, kind: str, asset_id: str) -> int | None:
        n = int(asset_id) - BUSINESS_ASSETS[kind][2]
        return n if 0 <= n < self.asset_total(kind) * self.scale.businesses else None

    def owned(self, kind: str, n: int) -> bool:
        """Whether asset n of a per-business kind is its business's own (not a client's)."""
        return n % self.asset_total(kind) < getattr(self.scale, BUSINESS_ASSETS[kind][0])

    def form_index(self, form_id: str) -> tuple[int, int] | None:
        """(page index, form number) of a lead form id."""
        n = int(form_id) - FORM_BASE
        p, f = divmod(n, 100)
        if not (0 <= p < self.scale.pages * self.scale.businesses and 0 <= f < 100):
            return None
        return (p, f) if f < len(self.lead_forms(p)) else None

    def child_count(self, kind: str) -> int:
        return getattr(self.scale, kind)

    def child_id(self, kind: str, a: int, i: int) -> str:
        return f"{CHILD_PREFIX[kind]}{a:07d}{i:05d}"

    # -- touching -----------------------------------------------------------------------
    def touch(self, kind: str, count: int) -> list[str]:
        """Bump the update time of `count` visible objects of `kind`, spread over accounts."""
        now = int(time.time())
        accounts = self.scale.accounts * self.scale.businesses
        touched: list[str] = []
        i = 0
        while len(touched) < count and i < accounts * self.child_count(kind):
            a, n = i % accounts, i // accounts
            i += 1
            if kind in ("campaigns", "adsets", "ads") and status_of(n) != "ACTIVE":
                continue
            touched.append(self.child_id(kind, a, n))
        with self._lock:
            for object_id in touched:
                self._touched[object_id] = now
        return touched

    def updated(self, object_id: str, created: int) -> int:
        with self._lock:
            if object_id in self._touched:
                return self._touched[object_id]
        return created + _hash(self.seed, "u", object_id) % (30 * 86400)

    # -- objects ------------------------------------------------------------------------
    def name(self, kind: str, index: int) -> str:
        return f"{NAMES[_hash(self.seed, kind, index) % len(NAMES)]} {kind} {index}"

    def business(self, b: int) -> dict[str, Any]:
        created = EPOCH - 86400 * (b + 1)
        bid = str(BUSINESS_BASE + b)
        return {
            "id": bid, "name": self.name("business", b), "created_time": graph_time(created),
            "updated_time": graph_time(self.updated(bid, created)),
            "created_by": {"id": str(USER_BASE + b * 1000), "name": "Founder"},
            "link": f"https://business.facebook.com/settings/?business_id={bid}",
            "timezone_id": 1 + b % 20, "two_factor_type": "none",
            "verification_status": "verified" if b % 2 == 0 else "not_verified",
            "vertical": "ADVERTISING", "vertical_id": 1, "is_hidden": False,
            "primary_page": {"id": str(PAGE_BASE + b * self.scale.pages),
                             "name": self.name("page", b * self.scale.pages)},
        }

    def partner_business(self, index: int, relationship: str) -> dict[str, Any]:
        pid = str(PARTNER_BASE + index)
        created = EPOCH - 86400 * 400 + index
        return {"id": pid, "name": self.name(relationship, index), "link": "https://example.com",
                "verification_status": "verified", "vertical": "ADVERTISING",
                "created_time": graph_time(created), "updated_time": graph_time(created + 99)}

    def ad_account(self, a: int) -> dict[str, Any]:
        b, j = divmod(a, self.scale.accounts)
        owned = j < self.scale.owned_accounts
        created = EPOCH - 86400 * 200 + a * 60
        owner = str(BUSINESS_BASE + b) if owned else str(PARTNER_BASE + 900 + a)
        record: dict[str, Any] = {
            "id": f"act_{ACCOUNT_BASE + a}", "account_id": str(ACCOUNT_BASE + a),
            "name": self.name("account", a), "account_status": 1 if a % 11 else 2,
            "disable_reason": 0, "currency": ["USD", "EUR", "JPY"][a % 3],
            # Three time zones: an account's insights days are its own calendar days.
            **[{"timezone_id": 1, "timezone_name": "America/Los_Angeles",
                "timezone_offset_hours_utc": -8.0},
               {"timezone_id": 61, "timezone_name": "Europe/Berlin",
                "timezone_offset_hours_utc": 1.0},
               {"timezone_id": 51, "timezone_name": "Asia/Tokyo",
                "timezone_offset_hours_utc": 9.0}][a % 3],
            "amount_spent": str(_hash(a) % 10**7),
            "balance": "0", "spend_cap": "0", "min_daily_budget": 100,
            "business": {"id": owner, "name": "Owner"},
            "owner_business": {"id": owner, "name": "Owner"},
            "business_name": "Owner", "business_country_code": "US",
            "created_time": graph_time(created), "funding_source": str(_hash("fs", a) % 10**9),
            "is_personal": 0, "is_prepay_account": a % 2 == 0, "age": 200.5,
            "user_tasks": ["MANAGE", "ADVERTISE", "ANALYZE", "DRAFT"],
            "capabilities": ["CAN_USE_REACH_AND_FREQUENCY"],
            "tos_accepted": {"web_custom_audience_tos": 1},
            "end_advertiser": owner, "end_advertiser_name": "Owner", "media_agency": "NONE",
            "partner": "NONE",
        }
        if not owned:  # read on client_ad_accounts only (the edge field)
            record["permitted_tasks"] = list(CLIENT_PERMITTED["AD_ACCOUNT"])
        return record

    def child(self, kind: str, a: int, i: int) -> dict[str, Any]:
        object_id = self.child_id(kind, a, i)
        created = EPOCH + _hash(self.seed, kind, a, i) % SPAN
        updated = self.updated(object_id, created)
        account_id = str(ACCOUNT_BASE + a)
        if kind in ("custom_audiences", "saved_audiences"):
            return self._audience(kind, object_id, account_id, i, created, updated)
        status = status_of(i)
        record: dict[str, Any] = {
            "id": object_id, "account_id": account_id, "name": self.name(kind, i),
            "status": status, "configured_status": status, "effective_status": status,
            "created_time": graph_time(created), "updated_time": graph_time(updated),
        }
        campaign_id = self.child_id("campaigns", a, i % self.scale.campaigns)
        if kind == "campaigns":
            record.update({
                "objective": "OUTCOME_TRAFFIC", "buying_type": "AUCTION",
                "bid_strategy": "LOWEST_COST_WITHOUT_CAP", "daily_budget": str(1000 + i),
                "budget_remaining": "1000", "special_ad_categories": [],
                "start_time": graph_time(created), "can_use_spend_cap": True,
                "pacing_type": ["standard"], "issues_info": [] if i % 7 else
                [{"level": "CAMPAIGN", "error_code": 1815695, "error_summary": "Limited"}],
            })
            if i % 4 == 0:
                record["stop_time"] = graph_time(created + 30 * 86400)
        elif kind == "adsets":
            record.update({
                "campaign_id": campaign_id, "billing_event": "IMPRESSIONS",
                "optimization_goal": "LINK_CLICKS", "bid_amount": 150 + i,
                "targeting": {"geo_locations": {"countries": ["US", "DE"]},
                              "age_min": 18, "age_max": 65},
                "start_time": graph_time(created), "daily_budget": str(500 + i),
            })
        else:
            record.update({
                "campaign_id": campaign_id,
                "adset_id": self.child_id("adsets", a, i % self.scale.adsets),
                "creative": {"id": f"28{a:07d}{i:05d}"},
                "tracking_specs": [{"action.type": ["offsite_conversion"], "fb_pixel": ["1"]}],
            })
        return record

    def _audience(self, kind: str, object_id: str, account_id: str, i: int, created: int,
                  updated: int) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": object_id, "name": self.name(kind, i),
            "description": ("Ω long description " * 120) if i % 9 == 0 else None,
            "approximate_count_lower_bound": -1 if i % 5 == 0 else 1000 * (i + 1),
            "approximate_count_upper_bound": -1 if i % 5 == 0 else 1200 * (i + 1),
            "operation_status": {"code": 200, "description": "Normal"},
            "delete_time": 0,
        }
        if kind == "custom_audiences":
            record.update({
                "account_id": account_id,
                "subtype": ["CUSTOM", "LOOKALIKE", "WEBSITE", "ENGAGEMENT"][i % 4],
                "delivery_status": {"code": 200 if i % 6 else 300,
                                    "description": "This audience is ready"},
                "data_source": {"type": "FILE_IMPORTED", "sub_type": "HASHES"},
                "retention_days": 180, "time_created": created, "time_updated": updated,
                "time_content_updated": updated, "is_value_based": False,
                "rule": '{"inclusions":{"operator":"or","rules":[]}}',
            })
        else:
            record.update({
                # An AdAccount asked without subfields: Graph sends its default fields,
                # account_id and id (what GET /me/adaccounts sends with no fields=).
                "account": {"account_id": str(account_id), "id": f"act_{account_id}"},
                "run_status": "ACTIVE",
                "targeting": {"geo_locations": {"countries": ["FR"]}},
                "time_created": graph_time(created), "time_updated": graph_time(updated),
            })
        return record

    def page(self, p: int) -> dict[str, Any]:
        b, j = divmod(p, self.scale.pages)
        owner = str(BUSINESS_BASE + b) if j < self.scale.owned_pages else str(PARTNER_BASE + p)
        return {
            "id": str(PAGE_BASE + p), "name": self.name("page", p), "username": f"page{p}",
            "category": "Brand", "category_list": [{"id": "2", "name": "Brand"}],
            "link": f"https://www.facebook.com/{PAGE_BASE + p}", "fan_count": _hash(p) % 100000,
            "followers_count": _hash("f", p) % 100000, "is_published": p % 13 != 0,
            "verification_status": "not_verified", "business": {"id": owner, "name": "Owner"},
            "access_token": self.page_token(str(PAGE_BASE + p)),
            "emails": [f"page{p}@example.com"], "about": "Über uns ✨",
            **({} if j < self.scale.owned_pages else
               {"permitted_tasks": list(CLIENT_PERMITTED["PAGE"])}),
        }

    # -- assets (graph-api-facts-2.md §2b-2i) --------------------------------------------
    def pixel(self, n: int) -> dict[str, Any]:
        b = n // self.asset_total("pixels")
        created = EPOCH - 86400 * 50 + n * 3600
        return {"id": str(PIXEL_BASE + n), "name": self.name("pixel", n),
                "creation_time": graph_time(created),
                "last_fired_time": graph_time(created + 86400 * (n % 40)),
                "is_unavailable": False, "is_created_by_business": True,
                "owner_business": {"id": str(BUSINESS_BASE + b), "name": "Owner"},
                "data_use_setting": "ADVERTISING_AND_ANALYTICS",
                "enable_automatic_matching": n % 2 == 0,
                "automatic_matching_fields": ["em", "ph"] if n % 2 == 0 else [],
                "first_party_cookie_status": "FIRST_PARTY_COOKIE_ENABLED",
                "event_time_min": created, "event_time_max": created + 86400,
                "code": "<script>fbq('init', '…')</script>",
                **({} if self.owned("pixels", n) else
                   {"permitted_tasks": list(CLIENT_PERMITTED["PIXEL"])})}

    def catalog(self, n: int) -> dict[str, Any]:
        b = n // self.asset_total("catalogs")
        return {"id": str(CATALOG_BASE + n), "name": self.name("catalog", n),
                "business": {"id": str(BUSINESS_BASE + b), "name": "Owner"},
                "owner_business": {"id": str(BUSINESS_BASE + b), "name": "Owner"},
                "product_count": 100 * (n + 1), "feed_count": 1 + n % 3,
                "vertical": "commerce", "is_catalog_segment": False,
                "is_local_catalog": False,
                **({} if self.owned("catalogs", n) else
                   {"permitted_roles": list(CLIENT_PERMITTED["PRODUCT_CATALOG"])})}

    def app(self, n: int) -> dict[str, Any]:
        return {"id": str(APP_BASE + n), "name": self.name("app", n), "category": "Business",
                "link": f"https://www.facebook.com/games/?app_id={APP_BASE + n}",
                "namespace": f"app{n}", "company": "Acme"}

    def instagram_account(self, b: int, n: int) -> dict[str, Any]:
        i = b * self.scale.instagram_accounts + n
        return {"id": str(INSTAGRAM_BASE + i), "username": f"brand_{i}",
                "name": self.name("instagram", i), "followers_count": 1000 * (i + 1),
                "media_count": 10 + i, "is_published": True,
                "owner_business": {"id": str(BUSINESS_BASE + b)}}

    def instagram_assets(self, b: int, relationship: str) -> list[dict[str, Any]]:
        """`/{business_id}/owned_instagram_assets` and `/client_instagram_assets`
        (InstagramBusinessAsset: id, ig_user_id, ig_username): the owned ones are the
        business's Instagram accounts (`instagram_account`), each a business asset too."""
        if relationship == "OWNED":
            users = [self.instagram_account(b, n)
                     for n in range(self.scale.instagram_accounts)]
        else:
            first = b * self.scale.client_instagram_accounts
            users = [{"id": str(CLIENT_INSTAGRAM_BASE + first + n),
                      "username": f"client_brand_{first + n}"}
                     for n in range(self.scale.client_instagram_accounts)]
        offset = 0 if relationship == "OWNED" else 500_000_000
        return [{"id": str(INSTAGRAM_ASSET_BASE + offset + int(user["id"]) % 10**9),
                 "ig_user_id": user["id"], "ig_username": user["username"]} for user in users]

    def account_asset(self, kind: str, a: int, i: int) -> dict[str, Any]:
        """Creatives, images, videos, custom conversions, ad rules of ad account `a`."""
        object_id = self.child_id(kind, a, i)
        created = EPOCH + _hash(self.seed, kind, a, i) % SPAN
        updated = self.updated(object_id, created)
        account_id = str(ACCOUNT_BASE + a)
        if kind == "creatives":
            return {"id": object_id, "account_id": account_id, "name": self.name(kind, i),
                    "status": "ACTIVE", "object_type": ["SHARE", "VIDEO", "PHOTO"][i % 3],
                    "title": f"Título {i}", "body": "Buy now ✨", "call_to_action_type":
                    "SHOP_NOW", "object_story_spec": {"page_id": str(PAGE_BASE)},
                    "thumbnail_url": f"https://example.com/t/{object_id}.jpg"}
        if kind == "images":
            image_hash = f"{_hash(self.seed, 'hash', a, i):032x}"[:32]
            return {"id": f"{account_id}:{image_hash}", "hash": image_hash,
                    "account_id": account_id, "name": f"image{i}.png", "width": 1080,
                    "height": 1080, "status": "ACTIVE", "url": f"https://example.com/{i}.png",
                    "created_time": graph_time(created), "updated_time": graph_time(updated)}
        if kind == "videos":
            return {"id": object_id, "title": f"Video {i}", "description": "Spot",
                    "length": 15.5 + i, "created_time": graph_time(created),
                    "updated_time": graph_time(updated), "published": True,
                    "permalink_url": f"/videos/{object_id}"}
        if kind == "ad_rules":  # Meta's Ad Rule reference and its Ad Rules Engine guide
            return {"id": object_id, "account_id": account_id, "name": self.name(kind, i),
                    "status": ["ENABLED", "DISABLED"][i % 2],
                    "evaluation_spec": {"evaluation_type": "SCHEDULE", "filters": [
                        {"field": "entity_type", "value": "AD", "operator": "EQUAL"},
                        {"field": "cpc", "value": 150 + i, "operator": "GREATER_THAN"}]},
                    "execution_spec": {"execution_type": "PAUSE"},
                    "schedule_spec": {"schedule_type": "SEMI_HOURLY"},
                    "created_by": {"id": str(USER_BASE), "name": "Ana"},
                    "created_time": graph_time(created), "updated_time": graph_time(updated)}
        return {"id": object_id, "account_id": account_id, "name": self.name(kind, i),
                "custom_event_type": "PURCHASE", "rule": '{"url":{"i_contains":"thanks"}}',
                "creation_time": graph_time(created), "is_archived": False,
                "is_unavailable": False, "pixel": {"id": str(PIXEL_BASE)},
                "default_conversion_value": 0, "event_source_type": "pixel"}

    def activity_count(self) -> int:
        """Entries in each ad account's log: the scale's, and one recent."""
        return self.scale.activities + 1

    def activity(self, a: int, i: int) -> dict[str, Any]:
        """AdActivity has no `id`. Every fourth pair shares the second, type, object and
        actor with the one before and differs only in what changed (`extra_data`). The last
        is two days before the fake was opened, by the account's first assigned person."""
        if i == self.scale.activities:
            b = a // self.scale.accounts
            actor = self.business_user(b, _hash(self.seed, "account", a, 0) % self.scale.users)
            return {"event_time": graph_time(self.opened_at - 2 * 86400),
                    "event_type": "update_campaign_budget",
                    "object_id": self.child_id("campaigns", a, 0), "object_name": "Campaign 0",
                    "object_type": "CAMPAIGN", "actor_id": actor["id"],
                    "actor_name": actor["name"], "translated_event_type": "Changed",
                    "extra_data": json_dumps({"old_value": 1, "new_value": 2}),
                    "date_time_in_timezone": "recent"}
        j = i - 1 if i % 4 == 3 else i
        event = EPOCH + 86400 * 30 + a * 600 + j * 60
        return {"event_time": graph_time(event),
                "event_type": ["update_campaign_budget", "create_campaign",
                               "ad_account_add_user_to_role"][j % 3],
                "object_id": self.child_id("campaigns", a, 0), "object_name": "Campaign 0",
                "object_type": "CAMPAIGN", "actor_id": str(USER_BASE + j % 3),
                "actor_name": f"Actor {j % 3}", "translated_event_type": "Changed",
                "extra_data": json_dumps({"old_value": i, "new_value": i + 1}),
                "date_time_in_timezone": "01/31/2024 at 4:00 PM"}

    def agencies_of_account(self, a: int) -> list[dict[str, Any]]:
        """`/act_{id}/agencies`: the partner the account is shared with, and what it may
        assign (its edge fields); a client's account lists none of the client's partners."""
        return [{**self.partner_node(grant.partner_id), "access_status": "CONFIRMED",
                 "permitted_tasks": list(grant.permitted),
                 "access_requested_time": graph_time(EPOCH),
                 "access_updated_time": graph_time(EPOCH + 3600)}
                for grant in self.grants_of_asset(f"act_{ACCOUNT_BASE + a}")]

    # -- partners (tests/fakegraph/partners.py) -----------------------------------------
    def grants(self, b: int) -> list[Grant]:
        """Business b's own assets shared with its agencies, one agency each."""
        ids = ([f"act_{ACCOUNT_BASE + a}" for a in self.account_indexes(b, "OWNED")]
               + [str(PAGE_BASE + p) for p in self.page_indexes(b, "OWNED")]
               + [str(PIXEL_BASE + n) for n in self.asset_indexes("pixels", b, "OWNED")]
               + [str(CATALOG_BASE + n) for n in self.asset_indexes("catalogs", b, "OWNED")])
        return [g for asset_id in ids for g in self.grants_of_asset(asset_id)]

    def grants_of_asset(self, asset_id: str) -> list[Grant]:
        """The grant of one of our own assets to an agency of its business (none for a
        client's asset, or where the business has no agency)."""
        where = self._owned_position(asset_id)
        if where is None or not self.scale.agencies:
            return []
        asset_type, b, j = where
        options = GRANTED[asset_type]
        partner = str(PARTNER_BASE + b * 100 + j % self.scale.agencies)
        if (asset_id, partner) in self.unshared:
            return []
        return [Grant(asset_type, asset_id, partner, tuple(options[j % len(options)]))]

    def _owned_position(self, asset_id: str) -> tuple[str, int, int] | None:
        """(asset type, business, index among its own of that type) of an owned asset."""
        if asset_id.startswith("act_"):
            a = self.account_index(asset_id.removeprefix("act_"))
            if a is None:
                return None
            b, j = divmod(a, self.scale.accounts)
            return ("AD_ACCOUNT", b, j) if j < self.scale.owned_accounts else None
        if (p := self.page_index(asset_id)) is not None:
            b, j = divmod(p, self.scale.pages)
            return ("PAGE", b, j) if j < self.scale.owned_pages else None
        for kind, asset_type in (("pixels", "PIXEL"), ("catalogs", "PRODUCT_CATALOG")):
            n = int(asset_id) - BUSINESS_ASSETS[kind][2]
            if 0 <= n < 10**9 and (n := self.asset_index(kind, asset_id)) is not None:
                b, j = divmod(n, self.asset_total(kind))
                owned = getattr(self.scale, BUSINESS_ASSETS[kind][0])
                return (asset_type, b, j) if j < owned else None
        return None

    def partner_index(self, partner_id: str) -> int | None:
        """The index of an agency of one of the businesses (None for anything else)."""
        agencies = {p["id"] for b in range(self.scale.businesses)
                    for p in self.partners(b, "AGENCY")}
        return int(partner_id) - PARTNER_BASE if partner_id in agencies else None

    def partner_node(self, partner_id: str) -> dict[str, Any]:
        index = int(partner_id) - PARTNER_BASE
        return self.partner_business(index, "AGENCY" if index % 100 < 50 else "CLIENT")

    def partner_people(self, partner_id: str) -> list[dict[str, Any]]:
        index = int(partner_id) - PARTNER_BASE
        people = partner_people(self.partner_node(partner_id), index)
        return [p for p in people if p["id"] not in self.removed_users]

    def partner_robot(self, partner_id: str) -> dict[str, Any]:
        return partner_robot(self.partner_node(partner_id), int(partner_id) - PARTNER_BASE)

    def partner_assigned(self, partner_id: str, asset_id: str) -> list[dict[str, Any]] | None:
        """The partner's people on one of our assets; None when it is not shared with it."""
        grant = next((g for g in self.grants_of_asset(asset_id) if g.partner_id == partner_id),
                     None)
        if grant is None:
            return None
        index = int(partner_id) - PARTNER_BASE
        people = partner_people(self.partner_node(partner_id), index)
        users = holders(grant, people, self.partner_robot(partner_id),
                        _hash(self.seed, "partner", asset_id))
        bare = asset_id.removeprefix("act_")
        return self._present(users, bare)

    def lead_forms(self, p: int) -> list[dict[str, Any]]:
        if p % self.scale.forms_every_nth_page:
            return []
        return [{"id": str(FORM_BASE + p * 100 + f), "name": f"Form {f}",
                 "status": "ACTIVE", "locale": "en_US", "page_id": str(PAGE_BASE + p),
                 "created_time": graph_time(EPOCH + p * 100 + f),
                 "leads_count": self.scale.leads_per_form,
                 "questions": [{"key": "email", "type": "EMAIL"}]}
                for f in range(self.scale.forms_per_page)]

    def leads(self, p: int, f: int) -> list[dict[str, Any]]:
        form_id = str(FORM_BASE + p * 100 + f)
        out = []
        for n in range(self.scale.leads_per_form):
            lead_id = f"{form_id}{n:04d}"
            created = EPOCH + 86400 * 60 + p * 1000 + f * 100 + n * 10
            out.append({"id": lead_id, "form_id": form_id,
                        "created_time": graph_time(self.updated(lead_id, created)
                                                   if lead_id in self._touched else created),
                        "field_data": [{"name": "email", "values": [f"lead{n}@example.org"]}],
                        "is_organic": n % 2 == 0, "platform": "fb"})
        return out

    def asset_assigned_users(self, b: int, asset_id: str, per_asset: int, tasks: list[str],
                             client: bool = False) -> list[dict[str, Any]]:
        """Some of the business's people (`business=` lists one business's people only); on
        a client's asset, within what the client permitted."""
        kind = "PIXEL" if int(asset_id) < CATALOG_BASE else "PRODUCT_CATALOG"
        users = []
        for k in range(per_asset):
            u = _hash(self.seed, "asset", asset_id, k) % self.scale.users
            user = self.business_user(b, u)
            users.append({"id": user["id"], "name": user["name"], "user_type": "business_user",
                          "business": user["business"], "tasks": tasks[k % len(tasks):][:2],
                          "permitted_tasks": tasks})
        return self._present(capped(users, CLIENT_PERMITTED[kind] if client else None),
                             asset_id)

    def _present(self, users: list[dict[str, Any]], asset_id: str) -> list[dict[str, Any]]:
        """Each user once (the first), none that was removed from the business or whose grant
        on the asset was revoked, each with the tasks it holds now."""
        unique = {u["id"]: u for u in reversed(users)}
        present = []
        for user in users:
            grant = (asset_id, user["id"])
            if unique.get(user["id"]) is not user or user["id"] in self.removed_users \
                    or grant in self.revoked:
                continue
            if grant in self.changed_tasks:
                user = {**user, "tasks": list(self.changed_tasks[grant])}
            present.append(user)
        return present

    def group_assignments(self, person_id: str) -> list[dict[str, Any]]:
        """The business asset groups a business user or system user is assigned to (every
        third business user, and the second system user), with the tasks they give per asset
        type (the edge fields of `assigned_business_asset_groups`, Meta's business-user and
        system-user references)."""
        person = self.person(person_id)
        if person is None:
            return []
        b, n, robot = person
        if (robot and n != 1) or (not robot and n % 3) or person_id in self.removed_users:
            return []
        g = b * self.scale.asset_groups + (0 if robot else (n // 3) % self.scale.asset_groups)
        group = self.asset_group(g)
        if (group["id"], person_id) in self.revoked:
            return []
        tasks = self.changed_tasks.get((group["id"], person_id),
                                       ["ADVERTISE", "ANALYZE"] if robot or n % 2 else
                                       ["ANALYZE"])
        return [{**group, "adaccount_tasks": list(tasks), "page_tasks": ["ANALYZE"],
                 "pixel_tasks": [], "offline_conversion_data_set_tasks": []}]

    def business_users(self, b: int) -> list[dict[str, Any]]:
        users = (self.business_user(b, u) for u in range(self.scale.users))
        return [user for user in users if user["id"] not in self.removed_users]

    def page_token(self, page_id: str) -> str:
        """The Page's own access token: what `/{page_id}?fields=access_token` hands out."""
        return f"fake-page-token-{page_id}-{_hash(self.seed, 'page-token', page_id):x}"

    def page_of_token(self, token: str) -> str | None:
        """The page a Page token belongs to; None for anything that is not one."""
        page_id = token.removeprefix("fake-page-token-").partition("-")[0]
        return page_id if token == self.page_token(page_id) else None

    def person(self, person_id: str) -> tuple[int, int, bool] | None:
        """(business, index, is a system user) of a business user's or system user's id."""
        n = int(person_id)
        if USER_BASE <= n < USER_BASE + 100_000 * self.scale.businesses:
            b, u = divmod(n - USER_BASE, 100_000)
            return (b, u, False) if u < self.scale.users else None
        if SYSTEM_USER_BASE <= n < SYSTEM_USER_BASE + 1000 * self.scale.businesses:
            b, s = divmod(n - SYSTEM_USER_BASE, 1000)
            return (b, s, True) if s < self.scale.system_users else None
        return None

    def business_user(self, b: int, u: int) -> dict[str, Any]:
        uid = str(USER_BASE + b * 100_000 + u)
        role = ["ADMIN", "EMPLOYEE", "FINANCE_ANALYST", "DEVELOPER"][u % 4]
        return {"id": uid, "name": self.name("user", u), "email": f"user{u}@b{b}.example.com",
                "first_name": "First", "last_name": f"Last{u}", "role": role, "title": None,
                # One admin (the second) has not turned two-factor authentication on.
                "two_fac_status": "not_enabled" if u == 4 else "enabled",
                "tasks": ["MANAGE"] if role == "ADMIN" else
                ["ADVERTISE", "ANALYZE"], "marked_for_removal": False,
                "business": {"id": str(BUSINESS_BASE + b), "name": self.name("business", b)}}

    def system_user(self, b: int, s: int) -> dict[str, Any]:
        created = EPOCH + s * 3600
        return {"id": str(SYSTEM_USER_BASE + b * 1000 + s), "name": f"robot-{s}",
                "role": "ADMIN" if s == 0 else "EMPLOYEE",
                "created_time": graph_time(created),
                "created_by": {"id": str(USER_BASE + b * 100_000), "name": "Founder"}}

    def pending_users_of(self, b: int) -> list[dict[str, Any]]:
        return [self.pending_user(b, r) for r in range(self.scale.pending_users)]

    def pending_user(self, b: int, r: int) -> dict[str, Any]:
        """Invitations of 2024, but the second: sent the day before the fake was opened."""
        created = self.opened_at - 86400 if r == 1 else EPOCH + r * 86400
        return {"id": str(PENDING_BASE + b * 1000 + r), "email": f"invitee{r}@example.org",
                "role": "EMPLOYEE", "status": "PENDING", "tasks": ["ANALYZE"],
                "created_time": graph_time(created), "updated_time": graph_time(created),
                "expiration_time": graph_time(created + 30 * 86400),
                "invite_link": "https://business.facebook.com/invitation/?token=SECRET",
                "owner": {"id": str(BUSINESS_BASE + b), "name": self.name("business", b)}}

    def partners(self, b: int, relationship: str) -> list[dict[str, Any]]:
        count = self.scale.agencies if relationship == "AGENCY" else self.scale.clients
        first = b * 100 + (0 if relationship == "AGENCY" else 50)
        return [self.partner_business(first + n, relationship) for n in range(count)]

    def assigned_users(self, b: int, asset: int, per_asset: int, salt: str
                       ) -> list[dict[str, Any]]:
        users = []
        for k in range(per_asset):
            u = _hash(self.seed, salt, asset, k) % self.scale.users
            user = self.business_user(b, u)
            users.append({"id": user["id"], "name": user["name"], "user_type": "business_user",
                          "business": user["business"],
                          "tasks": ["MANAGE", "ADVERTISE"] if k == 0 else ["ANALYZE"],
                          "permitted_tasks": ["ANALYZE"]})
        robot = self.system_user(b, asset % self.scale.system_users)
        users.append({"id": robot["id"], "name": robot["name"], "user_type": "system_user",
                      "business": {"id": str(BUSINESS_BASE + b)}, "tasks": ["MANAGE"]})
        if salt == "account":
            client = asset % self.scale.accounts >= self.scale.owned_accounts
            permitted = CLIENT_PERMITTED["AD_ACCOUNT"] if client else None
        else:
            client = asset % self.scale.pages >= self.scale.owned_pages
            permitted = CLIENT_PERMITTED["PAGE"] if client else None
        # Same user twice would be a duplicate key: keep the first of each id.
        base = ACCOUNT_BASE if salt == "account" else PAGE_BASE
        return self._present(capped(users, permitted), str(base + asset))

    def asset_group(self, g: int) -> dict[str, Any]:
        b = g // self.scale.asset_groups
        return {"id": str(GROUP_BASE + g), "name": self.name("group", g),
                "owner_business": {"id": str(BUSINESS_BASE + b)}}

    def group_contents(self, g: int, edge: str) -> list[dict[str, Any]]:
        b, n = divmod(g, self.scale.asset_groups)
        if edge == "contained_adaccounts":
            accounts = self.account_indexes(b, "OWNED")
            return [{"id": f"act_{ACCOUNT_BASE + a}", "name": self.name("account", a)}
                    for a in accounts if a % self.scale.asset_groups == n]
        if edge == "contained_pages":
            return [{"id": str(PAGE_BASE + p), "name": self.name("page", p)}
                    for p in self.page_indexes(b, "OWNED") if p % self.scale.asset_groups == n]
        return []
