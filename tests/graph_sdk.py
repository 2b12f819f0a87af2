"""What Graph can read: the one source of truth for the name tests and the fake Graph API.

Built from Meta's own machine-made description of Graph, the `facebook-business` SDK, with the
corrections `../shared/graph-api-facts-2.md` §0-§1 documents:

- A node's readable fields are the alphabetical block at the head of its SDK `Field` class.
  The SDK's generator writes readable fields in order, then appends creation parameters that
  Graph will not read back (`BusinessUser.invited_user_type`): the first step backwards in the
  order starts that write-only tail.
- Where the appended parameters happen to sort after the readable ones there is no step back,
  so those are listed by hand (`HIDDEN_WRITE_ONLY`), from the codegen specs and Meta's field
  tables; so are the fields the codegen marks `not_visible` (`NOT_VISIBLE`).
- Some edges add fields to the nodes they return ("The following fields will be added to each
  node that is returned" in Meta's edge references): `EDGE_FIELDS`, readable on that edge only.
- Edges are the SDK's GET edges only: a POST-only edge cannot be read.

The tap's own code and schemas are never consulted here: a fake built from them would share
their blind spots.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from functools import cache

#: Appended creation parameters that sort after the readable block, so the order rule cannot
#: see them. SystemUser's are confirmed: absent from the codegen spec `SystemUser.json` and
#: from Meta's System User field table, and exactly the parameters of
#: `POST /{business_id}/system_users`. The others match the same pattern (last of the run,
#: a POST parameter, absent from the codegen spec) and are unconfirmed: treated as write-only,
#: since asking for a write-only field fails the whole edge.
HIDDEN_WRITE_ONLY: dict[str, frozenset[str]] = {
    "SystemUser": frozenset({"role", "system_user_id"}),
    "AdCreative": frozenset({"wamo_whatsapp_identity_spec"}),
}
#: Fields the codegen's `api_specs/SDKCodegen.json` marks `"not_visible": true`.
NOT_VISIBLE: dict[str, frozenset[str]] = {
    "Business": frozenset({"payment_account_id"}),
    "AdAccount": frozenset({"can_create_brand_lift_study"}),
}
_ASSIGNMENT_FIELDS = frozenset({"tasks", "permitted_tasks"})
_GROUP_TASKS = frozenset({"adaccount_tasks", "page_tasks", "pixel_tasks",
                          "offline_conversion_data_set_tasks"})
#: (owner node, edge) -> fields that edge adds to the nodes it returns, from Meta's references.
EDGE_FIELDS: dict[tuple[str, str], frozenset[str]] = {
    # reference/ad-account/assigned_users, page/assigned_users, ads-pixel/assigned_users,
    # product-catalog/assigned_users
    ("AdAccount", "assigned_users"): _ASSIGNMENT_FIELDS,
    ("Page", "assigned_users"): _ASSIGNMENT_FIELDS,
    ("AdsPixel", "assigned_users"): _ASSIGNMENT_FIELDS,
    ("ProductCatalog", "assigned_users"): _ASSIGNMENT_FIELDS,
    ("BusinessAssetGroup", "assigned_users"): _ASSIGNMENT_FIELDS,
    # reference/business/system_users ("only base roles including Admin and Employee")
    ("Business", "system_users"): frozenset({"role"}),
    # reference/business/client_ad_accounts, client_pages, client_pixels ("Tasks that are
    # assignable"), business/client_product_catalogs (`permitted_roles`, "Roles that are
    # assignable to this product catalog")
    ("Business", "client_ad_accounts"): frozenset({"permitted_tasks"}),
    ("Business", "client_pages"): frozenset({"permitted_tasks"}),
    ("Business", "client_pixels"): frozenset({"permitted_tasks"}),
    ("Business", "client_product_catalogs"): frozenset({"permitted_roles"}),
    # reference/business-user/assigned_business_asset_groups and
    # system-user/assigned_business_asset_groups: a person's tasks per asset type of a group
    ("BusinessUser", "assigned_business_asset_groups"): _GROUP_TASKS,
    ("SystemUser", "assigned_business_asset_groups"): _GROUP_TASKS,
    # reference/ad-account/agencies
    ("AdAccount", "agencies"): frozenset({"access_requested_time", "access_status",
                                          "access_updated_time", "permitted_tasks"}),
}
#: What a business asset group's `contained_*` edges return: assets of several types, each
#: of which (AdAccount, Page, AdsPixel, ProductCatalog, IGUser, Application,
#: CustomConversion) reads `id` and `name`.
CONTAINED_ASSET = "ContainedAsset"


def node_class(node: str) -> type:
    """The SDK's class of a node type: `facebook_business.adobjects.<type, lower case>`, the
    generator's own naming (AdAccount in adaccount, IGUser in iguser)."""
    module = importlib.import_module(f"facebook_business.adobjects.{node.lower()}")
    return getattr(module, node)


@cache
def declared_fields(node: str) -> tuple[str, ...]:
    """Every value of the SDK's `Field` class, in declaration order."""
    return tuple(v for k, v in vars(node_class(node).Field).items() if not k.startswith("_"))


@cache
def node_readable(node: str) -> frozenset[str]:
    """The fields a node of this type reads on any edge (and when read by id)."""
    if node == CONTAINED_ASSET:
        return frozenset({"id", "name"})
    values = declared_fields(node)
    end = next((i for i in range(1, len(values)) if values[i] < values[i - 1]), len(values))
    return (frozenset(values[:end]) - HIDDEN_WRITE_ONLY.get(node, frozenset())
            - NOT_VISIBLE.get(node, frozenset()))


def readable_fields(node: str, owner: str | None = None, edge: str | None = None
                    ) -> frozenset[str]:
    """What Graph reads on a `node` returned by `/{owner}/{edge}` (or read by id)."""
    extra = EDGE_FIELDS.get((owner, edge), frozenset()) if owner and edge else frozenset()
    return node_readable(node) | extra


@dataclass(frozen=True)
class GetEdge:
    """One GET edge the SDK declares: what it returns and the parameters it takes."""

    target: str
    params: frozenset[str]


_METHOD = re.compile(r"\n    def (?=\w)")
_GET = re.compile(r"method='GET',\s*endpoint='/(\w+)'")
_TARGET = re.compile(r"target_class=(\w+)")
_PARAM = re.compile(r"^\s*'(\w+)': ", re.M)


@cache
def get_edges(owner: str) -> dict[str, GetEdge]:
    """The GET edges of a node type (the SDK generates one method per edge and method)."""
    source = inspect.getsource(inspect.getmodule(node_class(owner)))
    edges: dict[str, GetEdge] = {}
    for body in _METHOD.split(source):
        get, target = _GET.search(body), _TARGET.search(body)
        if get and target:
            params = body.split("param_types = {", 1)[-1].split("}", 1)[0]
            edges[get.group(1)] = GetEdge(target.group(1),
                                          frozenset(_PARAM.findall(params)))
    return edges


def edge_target(owner: str, edge: str) -> str:
    """The node type `/{owner}/{edge}` returns; KeyError when there is no such GET edge."""
    if edge.startswith("contained_") and owner == "BusinessAssetGroup":
        get_edges(owner)[edge]  # the edge must exist all the same
        return CONTAINED_ASSET
    return get_edges(owner)[edge].target
