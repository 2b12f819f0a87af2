"""People and access: a business's people, system users, pending invitations, partners and
asset groups; who holds which tasks on each asset (`assigned_users?business=`), which partners
each asset is shared with (`agencies`), what a partner's own token reads (partners.py), and
the changes an admin makes in Business Settings (revoke, set tasks, remove a person, unshare)."""

from __future__ import annotations

from typing import Any

from tests.fakegraph.data import (
    BUSINESS_LIST_EDGES,
    CATALOG_TASKS,
    PARTNER_BASE,
    PIXEL_TASKS,
)
from tests.fakegraph.routes import (
    ROBOT,
    Add,
    Family,
    GraphErrorResponse,
    Route,
    TruthScope,
    account_of,
    business_required,
)
from tests.graph_sdk import CONTAINED_ASSET

#: Our access grants a complete sync reads: (business, asset type, asset id, user) -> tasks.
Grants = dict[tuple[str, str, str, str], str]
#: Which Graph node types a partner's `assigned_users` hangs off, by id prefix.
PARTNER_ASSET_TYPES = {"act": "AdAccount", "3": "Page", "91": "AdsPixel"}


class PeopleEdges(Family):
    def route(self, node: str, edge: str, params: dict[str, str]) -> Route | None:
        data = self.data
        if node == ROBOT and edge == "assigned_pages":
            pages = [{"id": data.page(p)["id"], "name": data.page(p)["name"]}
                     for b in range(data.scale.businesses) for rel in ("OWNED", "CLIENT")
                     for p in data.page_indexes(b, rel)
                     if data.page(p)["id"] not in self.faults.pages_without_task]
            return Route("Page", node, len(pages), pages.__getitem__, edge, owner="SystemUser")
        if (account := account_of(node, data)) is not None:
            return self._account(*account, edge, params)
        if (b := data.business_index(node)) is not None:
            return self._business(b, node, edge)
        if (p := data.page_index(node)) is not None:
            if edge == "assigned_users":
                return self._assigned(params, p, node, "Page", data.scale.assigned_per_page)
            if edge == "agencies":  # Meta: a Page token of someone with MANAGE on the Page
                return self._agencies(node, "Page", edge, page=node)
            return None
        for kind, node_type, tasks, per in (
                ("pixels", "AdsPixel", PIXEL_TASKS, data.scale.assigned_per_pixel),
                ("catalogs", "ProductCatalog", CATALOG_TASKS, data.scale.assigned_per_catalog)):
            if (n := data.asset_index(kind, node)) is None:
                continue
            if edge == "assigned_users":
                client = n % data.asset_total(kind) >= getattr(data.scale, f"owned_{kind}")
                owner = business_required(params, data)
                items = data.asset_assigned_users(owner, node, per, tasks, client)
                return Route("AssignedUser", node, len(items), items.__getitem__, edge,
                             owner=node_type)
            if edge == ("shared_agencies" if kind == "pixels" else "agencies"):
                return self._agencies(node, node_type, edge)
        if (person := data.person(node)) is not None and \
                edge == "assigned_business_asset_groups":
            groups = data.group_assignments(node)
            return Route("BusinessAssetGroup", node, len(groups), groups.__getitem__, edge,
                         owner="SystemUser" if person[2] else "BusinessUser")
        if (g := data.group_index(node)) is not None and edge.startswith("contained_"):
            items = data.group_contents(g, edge)
            return Route(CONTAINED_ASSET, node, len(items), items.__getitem__, edge,
                         owner="BusinessAssetGroup")
        return None

    def _account(self, a: int, key: str, edge: str, params: dict[str, str]) -> Route | None:
        if edge == "assigned_users":
            return self._assigned(params, a, key, "AdAccount",
                                  self.data.scale.assigned_per_account)
        if edge == "agencies":
            agencies = self.data.agencies_of_account(a)
            return Route("Business", key, len(agencies), agencies.__getitem__, edge,
                         owner="AdAccount")
        return None

    def _business(self, b: int, node: str, edge: str) -> Route | None:
        data = self.data
        if edge == "business_users":
            people = data.business_users(b)
            return Route("BusinessUser", node, len(people), people.__getitem__, edge,
                         owner="Business")
        if edge == "system_users":
            return Route("SystemUser", node, data.scale.system_users,
                         lambda i: data.system_user(b, i), edge, owner="Business")
        if edge == "business_asset_groups":
            return Route("BusinessAssetGroup", node, data.scale.asset_groups,
                         lambda i: data.asset_group(b * data.scale.asset_groups + i), edge,
                         owner="Business")
        if edge in BUSINESS_LIST_EDGES:
            node_type, method, _ = BUSINESS_LIST_EDGES[edge]
            items = getattr(data, method)(b)
            return Route(node_type, node, len(items), items.__getitem__, edge, owner="Business")
        if edge in ("agencies", "clients"):
            items = data.partners(b, "AGENCY" if edge == "agencies" else "CLIENT")
            return Route("Business", node, len(items), items.__getitem__, edge,
                         owner="Business")
        return None

    def _assigned(self, params: dict[str, str], index: int, key: str, owner_type: str,
                  per_asset: int) -> Route:
        owner = business_required(params, self.data)
        salt = "account" if owner_type == "AdAccount" else "page"
        items = self.data.assigned_users(owner, index, per_asset, salt)
        return Route("AssignedUser", key, len(items), items.__getitem__, "assigned_users",
                     owner=owner_type)

    def _agencies(self, asset_id: str, owner_type: str, edge: str, page: str | None = None
                  ) -> Route:
        """Partner businesses an asset is shared with (Business nodes: no edge fields are
        documented on the Page, pixel and catalog edges)."""
        partners = [self.data.partner_node(g.partner_id)
                    for g in self.data.grants_of_asset(asset_id)]
        return Route("Business", asset_id, len(partners), partners.__getitem__, edge,
                     owner=owner_type, page=page)

    # -- a partner's token (tests/fakegraph/partners.py) ---------------------------------------
    def partner_route(self, partner: str, segments: list[str], params: dict[str, str]) -> Route:
        """What a partner's system-user token reads: itself, its business, its business's
        people, and its people on the assets of ours shared with it; nothing else of ours."""
        data = self.data
        node = segments[0] if segments else ""
        edge = segments[1] if len(segments) > 1 else ""
        robot = data.partner_robot(partner)
        if node == "me" and edge == "":
            return Route("User", partner, 1, lambda _: {"id": robot["id"],
                                                        "name": robot["name"]}, edge,
                         single=True)
        if node == "me" and edge == "businesses":
            return Route("Business", partner, 1, lambda _: data.partner_node(partner), edge,
                         owner="User")
        if node == partner and edge == "business_users":
            people = data.partner_people(partner)
            return Route("BusinessUser", partner, len(people), people.__getitem__, edge,
                         owner="Business")
        if node == partner and edge == "system_users":
            return Route("SystemUser", partner, 1, lambda _: robot, edge, owner="Business")
        if edge == "assigned_users" and node:
            if params.get("business") != partner:
                raise GraphErrorResponse(400, 100, "(#100) Param business must be a valid "
                                                   "business")
            users = data.partner_assigned(partner, node)
            if users is not None:
                node_type = next((t for prefix, t in PARTNER_ASSET_TYPES.items()
                                  if node.startswith(prefix)), "ProductCatalog")
                return Route("AssignedUser", node.removeprefix("act_"), len(users),
                             users.__getitem__, edge, owner=node_type)
        raise GraphErrorResponse(403, 200, "(#200) Permissions error")

    # -- Business Settings -----------------------------------------------------------------------
    def change_access(self, command: str, params: dict[str, str]) -> str | None:
        """A grant revoked, a grant's tasks changed, a person removed from the business, an
        asset no longer shared with a partner, as an admin does in Business Settings. What
        Business Settings could not do (a grant or a person that is not there) changes
        nothing: the reason."""
        data = self.data
        held = {(asset.removeprefix("act_"), user) for _, _, asset, user in self.access_truth()}
        for b in range(len(data.business_ids())):  # partners' people, on our assets
            held |= {(grant.asset_id.removeprefix("act_"), user["id"]) for grant in data.grants(b)
                     for user in data.partner_assigned(grant.partner_id, grant.asset_id) or []}
        if command == "remove_user":
            if params["user"] not in {user for _, user in held}:
                return f"user {params['user']} holds no task on any asset now"
            data.removed_users.add(params["user"])
        elif command == "unshare":
            asset, partner = params["asset"], params["partner"]
            if partner not in {g.partner_id for g in data.grants_of_asset(asset)}:
                return f"{asset} is not shared with partner {partner} now"
            data.unshared.add((asset, partner))
        else:
            grant = (params["asset"].removeprefix("act_"), params["user"])
            if grant not in held:
                return f"user {params['user']} holds no task on {params['asset']} now"
            if command == "revoke":
                data.revoked.add(grant)
            else:
                data.changed_tasks[grant] = [t for t in params["tasks"].split(",") if t]
        return None

    # -- the truth -------------------------------------------------------------------------------
    def access_truth(self) -> dict[tuple[str, str, str, str], str]:
        """Every direct grant a complete sync reads: (business, asset type, asset id as the
        tap writes it, user) -> its tasks, sorted and comma-joined."""
        data, scale = self.data, self.data.scale
        grants: dict[tuple[str, str, str, str], Any] = {}
        for b, bid in enumerate(data.business_ids()):
            for relationship in ("OWNED", "CLIENT"):
                for a in data.account_indexes(b, relationship):
                    account = data.ad_account(a)["id"]
                    for user in data.assigned_users(b, a, scale.assigned_per_account,
                                                    "account"):
                        grants[bid, "AD_ACCOUNT", account, user["id"]] = user["tasks"]
                for p in data.page_indexes(b, relationship):
                    for user in data.assigned_users(b, p, scale.assigned_per_page, "page"):
                        grants[bid, "PAGE", data.page(p)["id"], user["id"]] = user["tasks"]
                for kind, asset_type, get, tasks, per in (
                        ("pixels", "PIXEL", data.pixel, PIXEL_TASKS, scale.assigned_per_pixel),
                        ("catalogs", "PRODUCT_CATALOG", data.catalog, CATALOG_TASKS,
                         scale.assigned_per_catalog)):
                    for n in data.asset_indexes(kind, b, relationship):
                        asset_id = get(n)["id"]
                        for user in data.asset_assigned_users(b, asset_id, per, tasks,
                                                              relationship == "CLIENT"):
                            grants[bid, asset_type, asset_id, user["id"]] = user["tasks"]
        return {grant: ",".join(sorted(tasks)) for grant, tasks in grants.items()}

    def partner_access_truth(self, partners: tuple[str, ...]
                             ) -> dict[tuple[str, str, str, str], str]:
        """What the partners' people hold on our assets, as their tokens read it:
        (partner, asset type, asset id, user) -> tasks, sorted and comma-joined."""
        out: dict[tuple[str, str, str, str], str] = {}
        for b in range(self.data.scale.businesses):
            for grant in self.data.grants(b):
                if grant.partner_id in partners:
                    for user in self.data.partner_assigned(grant.partner_id,
                                                           grant.asset_id) or []:
                        out[grant.partner_id, grant.asset_type, grant.asset_id, user["id"]] = \
                            ",".join(sorted(user["tasks"]))
        return out

    def truth(self, add: Add, scope: TruthScope) -> None:
        data, scale = self.data, self.data.scale
        for b, bid, a, account in self.accounts():
            if not self.denied(account, "assigned_users"):
                for user in data.assigned_users(b, a, scale.assigned_per_account, "account"):
                    add("ad_account_assignments", bid, account, user["id"])
            if not self.denied(account, "agencies"):
                for agency in data.agencies_of_account(a):
                    add("ad_account_agencies", account, agency["id"])
        for b, bid, p, page_id in self.pages():
            if not self.denied(page_id, "assigned_users"):
                for user in data.assigned_users(b, p, scale.assigned_per_page, "page"):
                    add("page_assignments", bid, page_id, user["id"])
        for b, bid in enumerate(data.business_ids()):
            self._asset_assignments_truth(add, b, bid)
            for user in data.business_users(b):
                add("business_users", bid, user["id"])
                for group in data.group_assignments(user["id"]):
                    add("asset_group_assignments", bid, user["id"], group["id"])
            for s in range(scale.system_users):
                robot = data.system_user(b, s)["id"]
                add("system_users", bid, robot)
                for group in data.group_assignments(robot):
                    add("asset_group_assignments", bid, robot, group["id"])
            for edge, (_, method, stream) in BUSINESS_LIST_EDGES.items():
                if not self.denied(bid, edge):
                    for item in getattr(data, method)(b):
                        add(stream, bid, item["id"])
            for relationship in ("AGENCY", "CLIENT"):
                for partner in data.partners(b, relationship):
                    add("partners", bid, partner["id"])
            self._grants_truth(add, b, bid, scope.partners)
            for n in range(scale.asset_groups):
                group = data.asset_group(b * scale.asset_groups + n)
                add("business_asset_groups", bid, group["id"])
                for edge, asset_type in (("contained_adaccounts", "AD_ACCOUNT"),
                                         ("contained_pages", "PAGE")):
                    for asset in data.group_contents(b * scale.asset_groups + n, edge):
                        add("business_asset_group_assets", group["id"], asset_type,
                            asset["id"])

    def _asset_assignments_truth(self, add: Add, b: int, bid: str) -> None:
        data = self.data
        for kind, edge_kind, get, stream, tasks, per in (
                ("pixels", "pixels", data.pixel, "pixel_assignments", PIXEL_TASKS,
                 data.scale.assigned_per_pixel),
                ("catalogs", "product_catalogs", data.catalog, "catalog_assignments",
                 CATALOG_TASKS, data.scale.assigned_per_catalog)):
            for relationship in ("OWNED", "CLIENT"):  # the edges are owned_/client_<kind>
                if self.denied(bid, f"{relationship.lower()}_{edge_kind}"):
                    continue
                for n in data.asset_indexes(kind, b, relationship):
                    asset_id = get(n)["id"]
                    if not self.denied(asset_id, "assigned_users"):
                        for user in data.asset_assigned_users(b, asset_id, per, tasks,
                                                              relationship == "CLIENT"):
                            add(stream, bid, asset_id, user["id"])

    def _grants_truth(self, add: Add, b: int, bid: str, partners: tuple[str, ...]) -> None:
        """Our assets' grants to partners, and what the partners' tokens read of them."""
        data = self.data
        streams = {"PAGE": "page_agencies", "PIXEL": "pixel_agencies",
                   "PRODUCT_CATALOG": "catalog_agencies"}
        for grant in data.grants(b):
            if grant.asset_type in streams:
                add(streams[grant.asset_type], bid, grant.asset_id, grant.partner_id)
            if grant.partner_id in partners:
                for user in data.partner_assigned(grant.partner_id, grant.asset_id) or []:
                    add("partner_assignments", grant.partner_id, grant.asset_type,
                        grant.asset_id, user["id"])
        for partner in partners:
            if data.partner_index(partner) is not None and \
                    int(partner) - 100 * b - PARTNER_BASE in range(data.scale.agencies):
                for person in data.partner_people(partner):
                    add("partner_business_users", partner, person["id"])
                add("partner_system_users", partner, data.partner_robot(partner)["id"])
