"""Every field and edge the tap asks Graph for exists in Meta's official SDK (facebook-business).

The live API is out of reach from CI; the SDK's generated `adobjects` are Meta's own machine-made
description of it, so a misspelt or invented name fails here rather than in a user's run.
"""

from __future__ import annotations

import inspect
import re

import pytest
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

from tap_meta_bm.tap import TapMetaBM
from tests.helpers import config

NODE_OF_STREAM = {
    "businesses": business.Business,
    "ad_accounts": adaccount.AdAccount,
    "campaigns": campaign.Campaign,
    "adsets": adset.AdSet,
    "ads": ad.Ad,
    "custom_audiences": customaudience.CustomAudience,
    "saved_audiences": savedaudience.SavedAudience,
    "pages": page.Page,
    "business_users": businessuser.BusinessUser,
    "system_users": systemuser.SystemUser,
    "pending_users": businessrolerequest.BusinessRoleRequest,
    "partners": business.Business,
    "ad_account_assignments": assigneduser.AssignedUser,
    "page_assignments": assigneduser.AssignedUser,
    "business_asset_groups": businessassetgroup.BusinessAssetGroup,
    "business_asset_group_assets": None,  # contained assets of several types: id and name
}
#: Fields Graph adds on the assigned_users edge itself (graph-api-facts.md, "Asset access").
EDGE_FIELDS = {"ad_account_assignments": {"tasks", "permitted_tasks"},
               "page_assignments": {"tasks", "permitted_tasks"}}
#: The node whose SDK class declares each edge the tap reads.
EDGE_OWNER = {
    "/{business_id}": None, "/me/businesses": None,
    "owned_ad_accounts": business, "client_ad_accounts": business, "owned_pages": business,
    "client_pages": business, "business_users": business, "system_users": business,
    "pending_users": business, "agencies": business, "clients": business,
    "business_asset_groups": business, "campaigns": adaccount, "adsets": adaccount,
    "ads": adaccount, "customaudiences": adaccount, "saved_audiences": adaccount,
}


@pytest.fixture(scope="module")
def streams():
    return TapMetaBM(config=config()).streams


def sdk_fields(node: type) -> set[str]:
    return {v for k, v in vars(node.Field).items() if not k.startswith("_")}


@pytest.mark.parametrize("name", sorted(NODE_OF_STREAM))
def test_every_requested_field_exists(streams, name):
    requested = set(streams[name].graph_fields.split(","))
    node = NODE_OF_STREAM[name]
    known = sdk_fields(node) if node else {"id", "name"}
    assert requested - known - EDGE_FIELDS.get(name, set()) == set()


def test_page_schema_never_asks_for_the_page_access_token(streams):
    assert "access_token" not in streams["pages"].graph_fields.split(",")


def test_every_edge_exists(streams):
    for stream in streams.values():
        paths = [v.path for v in stream.variants] or [stream.path]
        for path in paths:
            edge = path.rsplit("/", 1)[-1]
            if path in EDGE_OWNER:
                continue
            if edge == "assigned_users":
                owners = [adaccount, page]
            elif edge.startswith("contained_"):
                owners = [businessassetgroup]
            else:
                owners = [EDGE_OWNER[edge]]
            for owner in owners:
                assert re.search(rf"endpoint='/{edge}'", inspect.getsource(owner)), (
                    f"{stream.name}: {owner.__name__} has no edge /{edge}")


def test_assigned_users_declares_the_business_parameter():
    for owner in (adaccount.AdAccount, page.Page):
        source = inspect.getsource(owner.get_assigned_users)
        assert "'business': 'string'" in source
