"""Meta's own machine-made description of Graph nodes (facebook-business `adobjects`).

Shared by the field-name tests (every field the tap asks for must exist) and the fake server
(which answers an unknown field with error 100, as Graph does).
"""

from __future__ import annotations

import inspect
import sys
from functools import cache

from facebook_business.adobjects import (
    ad,
    adaccount,
    adset,
    assigneduser,
    business,
    businessassetgroup,
    businessrolerequest,
    businessuser,
    campaign,
    customaudience,
    page,
    savedaudience,
    systemuser,
)

NODES: dict[str, type] = {
    "Business": business.Business, "AdAccount": adaccount.AdAccount,
    "Campaign": campaign.Campaign, "AdSet": adset.AdSet, "Ad": ad.Ad,
    "CustomAudience": customaudience.CustomAudience,
    "SavedAudience": savedaudience.SavedAudience, "Page": page.Page,
    "BusinessUser": businessuser.BusinessUser, "SystemUser": systemuser.SystemUser,
    "BusinessRoleRequest": businessrolerequest.BusinessRoleRequest,
    "AssignedUser": assigneduser.AssignedUser,
    "BusinessAssetGroup": businessassetgroup.BusinessAssetGroup,
}
#: Fields Graph adds on an edge rather than the node (graph-api-facts.md, "Asset access").
EDGE_FIELDS = {"AssignedUser": frozenset({"tasks", "permitted_tasks"})}
#: What a business asset group's `contained_*` edges return: assets of several types.
CONTAINED_ASSET = "ContainedAsset"


@cache
def node_fields(node: str) -> frozenset[str]:
    """Every field a node of this type can be asked for."""
    if node == CONTAINED_ASSET:
        return frozenset({"id", "name"})
    declared = vars(NODES[node].Field).items()
    return frozenset(v for k, v in declared if not k.startswith("_")) | EDGE_FIELDS.get(
        node, frozenset())


def has_edge(node: str, edge: str) -> bool:
    """Whether the SDK declares `/{node}/{edge}` (it generates one method per edge)."""
    source = inspect.getsource(sys.modules[NODES[node].__module__])
    return f"endpoint='/{edge}'" in source
