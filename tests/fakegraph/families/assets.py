"""Assets: the token's own node and businesses, each business's ad accounts, Pages, pixels,
catalogs, apps and Instagram accounts (owned and client), an ad account's creatives, images,
videos, custom conversions, rules, audiences and pixels, and the token's `debug_token`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakegraph.data import ACCOUNT_ASSET_EDGES, Dataset
from tests.fakegraph.faults import Faults
from tests.fakegraph.routes import (
    ROBOT,
    Add,
    Family,
    GraphErrorResponse,
    Route,
    TruthScope,
    account_of,
)

#: Audiences: Graph edge -> (Dataset kind, node type); read like an account's ads, without
#: a status filter.
AUDIENCE_EDGES = {"customaudiences": ("custom_audiences", "CustomAudience"),
                  "saved_audiences": ("saved_audiences", "SavedAudience")}
#: The business's asset edges beyond accounts and Pages: kind -> (node type, Dataset getter
#: name, stream).
BUSINESS_ASSETS = {"pixels": ("AdsPixel", "pixel", "pixels"),
                   "product_catalogs": ("ProductCatalog", "catalog", "product_catalogs"),
                   "apps": ("Application", "app", "apps")}


class AssetEdges(Family):
    def __init__(self, data: Dataset, faults: Faults, token: Callable[[], str]) -> None:
        super().__init__(data, faults)
        self._token = token

    def route(self, node: str, edge: str, params: dict[str, str]) -> Route | None:
        if node in ("me", "debug_token"):
            return self._token_route(node, edge, params)
        if (account := account_of(node, self.data)) is not None:
            return self._account(*account, edge)
        if (b := self.data.business_index(node)) is not None:
            return self._business(b, node, edge)
        if edge == "" and (p := self.data.page_index(node)) is not None:
            return Route("Page", node, 1, lambda _: self._page_node(p), edge, single=True)
        return None

    def _token_route(self, node: str, edge: str, params: dict[str, str]) -> Route | None:
        data = self.data
        if node == "me" and edge == "businesses":
            ids = data.business_ids()
            return Route("Business", "me", len(ids), lambda i: data.business(i), edge,
                         owner="User")
        if node == "me" and edge == "":
            return Route("User", "me", 1, lambda _: {"id": ROBOT, "name": "robot-0"}, edge,
                         single=True)
        if node == "me" and edge == "adaccounts":  # what peers find their account with
            count = data.scale.businesses * data.scale.accounts
            return Route("AdAccount", "me", count, data.ad_account, edge, owner="User")
        if node == "me" and edge == "permissions":  # Permission: {permission, status}
            granted = [{"permission": scope, "status": "granted"}
                       for scope in self.faults.scopes]
            return Route("Permission", "me", len(granted), granted.__getitem__, edge,
                         owner="User")
        if node == "debug_token" and edge == "":
            if self.faults.debug_token_wants_app_token:
                # Meta: "You must provide an app access token, or a user access token that is
                # an owner or developer of the app" (debug_token reference).
                raise GraphErrorResponse(400, 100, "(#100) You must provide an app access "
                                                   "token, or a user access token that is an "
                                                   "owner or developer of the app")
            return Route("DebugToken", "app", 1, lambda _: self._debug_token(params), edge,
                         single=True)
        return None

    def _debug_token(self, params: dict[str, str]) -> dict[str, Any]:
        """`GET /debug_token?input_token=`: the token's own metadata (facts §2g)."""
        faults = self.faults
        if params.get("input_token") != self._token():
            return {"data": {"is_valid": False, "error": {"code": 190,
                                                          "message": "Invalid OAuth token"}}}
        return {"data": {"app_id": "1234567890", "type": faults.token_type,
                         "application": "Acme Data Sync", "is_valid": True,
                         "data_access_expires_at": faults.token_expires_at,
                         "expires_at": faults.token_expires_at, "issued_at": 1700000000,
                         "scopes": list(faults.scopes), "user_id": ROBOT,
                         "granular_scopes": [{"scope": s} for s in faults.scopes]}}

    def _account(self, a: int, key: str, edge: str) -> Route | None:
        data = self.data
        if edge == "":
            return Route("AdAccount", key, 1, lambda _: data.ad_account(a), edge, single=True)
        if edge in AUDIENCE_EDGES:
            kind, node_type = AUDIENCE_EDGES[edge]
            return Route(node_type, key, data.child_count(kind),
                         lambda i: data.child(kind, a, i), edge, owner="AdAccount")
        if edge in ACCOUNT_ASSET_EDGES:
            kind, node_type, _ = ACCOUNT_ASSET_EDGES[edge]
            return Route(node_type, key, data.child_count(kind),
                         lambda i: data.account_asset(kind, a, i), edge, owner="AdAccount")
        if edge == "adspixels":  # the pixels of the business that owns the account
            owned = self._account_pixels(a)
            return Route("AdsPixel", key, len(owned), lambda i: data.pixel(owned[i]), edge,
                         owner="AdAccount")
        return None

    def _account_pixels(self, a: int) -> range:
        data = self.data
        if a % data.scale.accounts >= data.scale.owned_accounts:
            return range(0)
        return data.asset_indexes("pixels", a // data.scale.accounts, "OWNED")

    def _business(self, b: int, node: str, edge: str) -> Route | None:
        data = self.data
        if edge == "":
            return Route("Business", node, 1, lambda _: data.business(b), edge, single=True)
        relationship = "OWNED" if edge.startswith("owned_") else "CLIENT"
        if edge in ("owned_ad_accounts", "client_ad_accounts"):
            indexes = data.account_indexes(b, relationship)
            return Route("AdAccount", node, len(indexes),
                         lambda i: self._listed_account(indexes[i]), edge, owner="Business")
        if edge in ("owned_pages", "client_pages"):
            indexes = data.page_indexes(b, relationship)
            return Route("Page", node, len(indexes), lambda i: data.page(indexes[i]), edge,
                         owner="Business")
        for kind, (node_type, getter, _) in BUSINESS_ASSETS.items():
            if edge in (f"owned_{kind}", f"client_{kind}"):
                get = getattr(data, getter)
                indexes = data.asset_indexes(kind.removeprefix("product_"), b, relationship)
                return Route(node_type, node, len(indexes),
                             lambda i, get=get, indexes=indexes: get(indexes[i]), edge,
                             owner="Business")
        if edge == "owned_instagram_accounts":
            return Route("IGUser", node, data.scale.instagram_accounts,
                         lambda i: data.instagram_account(b, i), edge, owner="Business")
        if edge in ("owned_instagram_assets", "client_instagram_assets"):
            items = data.instagram_assets(b, relationship)
            return Route("InstagramBusinessAsset", node, len(items), items.__getitem__, edge,
                         owner="Business")
        return None

    def _listed_account(self, a: int) -> dict[str, Any]:
        account = self.data.ad_account(a)
        if account["account_id"] in self.faults.unassigned_accounts:
            account["user_tasks"] = []  # the business lists it; its system user has no task
        return account

    def _page_node(self, p: int) -> dict[str, Any]:
        page = self.data.page(p)
        if page["id"] in self.faults.pages_without_task:
            page.pop("access_token")  # Graph leaves out what the caller may not see
        return page

    def truth(self, add: Add, scope: TruthScope) -> None:
        data = self.data
        for b, bid in enumerate(data.business_ids()):
            add("businesses", bid)
            for kind, (_, getter, stream) in BUSINESS_ASSETS.items():
                for relationship in ("OWNED", "CLIENT"):
                    if not self.denied(bid, f"{relationship.lower()}_{kind}"):
                        for n in data.asset_indexes(kind.removeprefix("product_"), b,
                                                    relationship):
                            add(stream, bid, getattr(data, getter)(n)["id"])
            if not self.denied(bid, "owned_instagram_accounts"):
                for n in range(data.scale.instagram_accounts):
                    add("instagram_accounts", bid, data.instagram_account(b, n)["id"])
            for relationship in ("OWNED", "CLIENT"):
                if not self.denied(bid, f"{relationship.lower()}_instagram_assets"):
                    for asset in data.instagram_assets(b, relationship):
                        add("instagram_assets", bid, asset["id"])
        for _, bid, a, account in self.accounts():
            add("ad_accounts", bid, f"act_{account}")
            for edge, (kind, _) in AUDIENCE_EDGES.items():
                if not self.denied(account, edge):
                    for i in range(data.child_count(kind)):
                        add(kind, data.child_id(kind, a, i))
            for edge, (kind, _, stream) in ACCOUNT_ASSET_EDGES.items():
                if not self.denied(account, edge):
                    for i in range(data.child_count(kind)):
                        add(stream, data.account_asset(kind, a, i)["id"])
            if not self.denied(account, "adspixels"):
                for n in self._account_pixels(a):
                    add("ad_account_pixels", account, data.pixel(n)["id"])
        for _, bid, _, page_id in self.pages():
            add("pages", bid, page_id)
