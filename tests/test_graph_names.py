"""Every field and edge the tap asks Graph for is one Graph can read (tests/graph_sdk.py).

The live API is out of reach from CI; Meta's SDK, corrected by the documented exceptions, says
what each edge returns and what that node reads, so a write-only, misspelt or invented name
fails here rather than in a user's first run.
"""

from __future__ import annotations

import pytest

from tap_meta_bm.graph_stream import GraphStream
from tap_meta_bm.tap import TapMetaBM
from tests.graph_sdk import edge_target, get_edges, readable_fields
from tests.helpers import config

#: The node types a path's leading placeholder stands for (`{asset_id}`: any asset shared
#: with a partner, as the partner streams read them).
OWNER_OF = {"{business_id}": ("Business",), "act_{account_id}": ("AdAccount",),
            "{page_id}": ("Page",), "{group_id}": ("BusinessAssetGroup",), "me": ("User",),
            "{pixel_id}": ("AdsPixel",), "{catalog_id}": ("ProductCatalog",),
            "{form_id}": ("LeadgenForm",), "{user_id}": ("BusinessUser",),
            "{asset_id}": ("AdAccount", "Page", "AdsPixel", "ProductCatalog")}


def edges_read(stream) -> list[tuple[str, str | None]]:
    """(owner node, edge) per path a stream reads; edge None for a node read by id."""
    return [(owner, edge) for owner, edge, _ in reads_of(stream)]


def reads_of(stream) -> list[tuple[str, str | None, set[str]]]:
    """(owner node, edge, fields it asks for) per path and node type a stream reads."""
    out = []
    for variant in stream.variants or [None]:
        path = variant.path if variant else stream.path
        extra = set(variant.edge_fields) if variant else set()
        placeholder, _, edge = path.strip("/").partition("/")
        out += [(owner, edge or None, requested(stream) | extra)
                for owner in OWNER_OF[placeholder]]
    return out


@pytest.fixture(scope="module")
def streams():
    return TapMetaBM(config=config()).streams


@pytest.fixture(scope="module")
def unconfigured_streams():
    """Without business_ids, businesses are read from /me/businesses."""
    return TapMetaBM(config=config(business_ids=None)).streams


def requested(stream) -> set[str]:
    return set(stream.graph_fields.split(","))


#: The streams that read Graph (not `complete_reads`, which the tap writes itself).
GRAPH_STREAMS = sorted(name for name, stream in TapMetaBM(config=config()).streams.items()
                       if isinstance(stream, GraphStream))


@pytest.mark.parametrize("name", GRAPH_STREAMS)
def test_every_requested_field_is_readable_on_its_edge(streams, name):
    stream = streams[name]
    for owner, edge, fields in reads_of(stream):
        node = edge_target(owner, edge) if edge else owner
        unreadable = fields - readable_fields(node, owner, edge)
        assert unreadable == set(), f"{name}: /{owner}/{edge or ''} cannot read {unreadable}"


def test_businesses_from_me_read_only_business_fields(unconfigured_streams):
    stream = unconfigured_streams["businesses"]
    assert edges_read(stream) == [("User", "businesses")]
    assert requested(stream) <= readable_fields(edge_target("User", "businesses"))


@pytest.mark.parametrize("name", GRAPH_STREAMS)
def test_every_edge_is_a_get_edge(streams, name):
    for owner, edge in edges_read(streams[name]):
        if edge is not None:
            assert edge in get_edges(owner), f"{name}: {owner} has no GET edge /{edge}"


@pytest.mark.parametrize("name", ["ad_account_assignments", "page_assignments",
                                  "pixel_assignments", "catalog_assignments"])
def test_assignments_send_the_business_parameter_their_edge_declares(streams, name):
    stream = streams[name]
    [(owner, edge)] = edges_read(stream)
    assert "business" in get_edges(owner)[edge].params
    assert stream.edge_params({"business_id": "111"}) == {"business": "111"}


def test_page_schema_never_asks_for_the_page_access_token(streams):
    assert "access_token" not in requested(streams["pages"])


# The source of truth itself: the documented corrections to the SDK's field lists.
def test_create_parameters_are_not_readable():
    assert "invited_user_type" not in readable_fields("BusinessUser", "Business",
                                                      "business_users")
    assert "invited_user_type" in readable_fields("BusinessRoleRequest", "Business",
                                                  "pending_users")
    assert {"role", "system_user_id"} & readable_fields("SystemUser") == set()


def test_edge_fields_are_readable_on_their_edge_only():
    assert "role" in readable_fields("SystemUser", "Business", "system_users")
    assert {"tasks", "permitted_tasks"} <= readable_fields("AssignedUser", "Page",
                                                           "assigned_users")
    assert "tasks" not in readable_fields("AssignedUser")
    assert "permitted_tasks" in readable_fields("AdAccount", "Business", "client_ad_accounts")
    assert "permitted_tasks" not in readable_fields("AdAccount", "Business",
                                                    "owned_ad_accounts")


def test_not_visible_fields_are_not_readable():
    assert "payment_account_id" not in readable_fields("Business")


def test_post_only_edges_are_not_edges():
    # POST /{business_id}/adaccount creates an ad account; nothing reads it.
    assert "adaccount" not in get_edges("Business")
    assert "client_businesses" not in get_edges("Business")
