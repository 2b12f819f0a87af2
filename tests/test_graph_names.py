"""Every field and edge the tap asks Graph for exists in Meta's official SDK (facebook-business).

The live API is out of reach from CI; the SDK's generated `adobjects` are Meta's own machine-made
description of it, so a misspelt or invented name fails here rather than in a user's run.
"""

from __future__ import annotations

import inspect

import pytest
from facebook_business.adobjects import adaccount, page

from tap_meta_bm.tap import TapMetaBM
from tests.graph_sdk import CONTAINED_ASSET, has_edge, node_fields
from tests.helpers import config

NODE_OF_STREAM = {
    "businesses": "Business",
    "ad_accounts": "AdAccount",
    "campaigns": "Campaign",
    "adsets": "AdSet",
    "ads": "Ad",
    "custom_audiences": "CustomAudience",
    "saved_audiences": "SavedAudience",
    "pages": "Page",
    "business_users": "BusinessUser",
    "system_users": "SystemUser",
    "pending_users": "BusinessRoleRequest",
    "partners": "Business",
    "ad_account_assignments": "AssignedUser",
    "page_assignments": "AssignedUser",
    "business_asset_groups": "BusinessAssetGroup",
    "business_asset_group_assets": CONTAINED_ASSET,
}
#: The node whose SDK class declares each edge the tap reads (None: the node itself).
EDGE_OWNER = {
    "owned_ad_accounts": "Business", "client_ad_accounts": "Business",
    "owned_pages": "Business", "client_pages": "Business", "business_users": "Business",
    "system_users": "Business", "pending_users": "Business", "agencies": "Business",
    "clients": "Business", "business_asset_groups": "Business", "campaigns": "AdAccount",
    "adsets": "AdAccount", "ads": "AdAccount", "customaudiences": "AdAccount",
    "saved_audiences": "AdAccount",
}


@pytest.fixture(scope="module")
def streams():
    return TapMetaBM(config=config()).streams


@pytest.mark.parametrize("name", sorted(NODE_OF_STREAM))
def test_every_requested_field_exists(streams, name):
    requested = set(streams[name].graph_fields.split(","))
    assert requested - node_fields(NODE_OF_STREAM[name]) == set()


def test_page_schema_never_asks_for_the_page_access_token(streams):
    assert "access_token" not in streams["pages"].graph_fields.split(",")


@pytest.mark.parametrize("name", sorted(NODE_OF_STREAM))
def test_every_edge_exists(streams, name):
    stream = streams[name]
    for path in [v.path for v in stream.variants] or [stream.path]:
        edge = path.rsplit("/", 1)[-1]
        if edge.startswith("{") or path == "/me/businesses":
            continue  # a node read by id; /me/businesses is the User node's edge
        if edge == "assigned_users":
            owners = ["AdAccount", "Page"]
        elif edge.startswith("contained_"):
            owners = ["BusinessAssetGroup"]
        else:
            owners = [EDGE_OWNER[edge]]
        for owner in owners:
            assert has_edge(owner, edge), f"{name}: {owner} has no edge /{edge}"


def test_assigned_users_declares_the_business_parameter():
    for owner in (adaccount.AdAccount, page.Page):
        assert "'business': 'string'" in inspect.getsource(owner.get_assigned_users)
