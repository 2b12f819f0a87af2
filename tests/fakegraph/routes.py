"""What the fake's core and its families share: a route (what one Graph path answers), Graph's
error answer, and `Family`, the shape of one family of edges.

A family (families/) knows its nodes and edges from the facts (`tests/graph_sdk.py`: the SDK's
readable fields, Meta's references) and the dataset: it answers `route` for the paths it
serves and adds to `truth` the keys a complete sync of its streams emits. It never reads the
tap's code or schemas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakegraph.data import Dataset
from tests.fakegraph.faults import Faults

#: The system user the fake's token belongs to (robot-0 of the first business).
ROBOT = "600000000000"
#: Adds one primary key of a stream to the truth: `add(stream, *key)`.
Add = Callable[..., None]


class GraphErrorResponse(Exception):
    def __init__(self, status: int, code: int, message: str, subcode: int | None = None,
                 headers: dict[str, str] | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.subcode, self.headers = status, code, subcode, headers or {}
        self.transient = transient

    def body(self) -> dict[str, Any]:
        trace = "Fake" + hashlib.sha256(str(self).encode()).hexdigest()[:8]
        error: dict[str, Any] = {"message": str(self), "type": "OAuthException",
                                 "code": self.code, "is_transient": self.transient,
                                 "fbtrace_id": trace}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def unknown_path(edge: str) -> GraphErrorResponse:
    return GraphErrorResponse(400, 100, f"(#100) Unknown path components: /{edge}")


def missing_object(node: str) -> GraphErrorResponse:
    return GraphErrorResponse(400, 100, f"(#100) Unsupported get request. Object with ID "
                                        f"'{node}' does not exist", subcode=33)


def business_required(params: dict[str, str], data: Dataset) -> int:
    """The business an `assigned_users` read names (Meta: the parameter is required)."""
    if "business" not in params:
        raise GraphErrorResponse(400, 100, "(#100) The parameter business is required")
    owner = data.business_index(params["business"])
    if owner is None:
        raise GraphErrorResponse(400, 100, "(#100) Param business must be a valid business")
    return owner


@dataclass
class Route:
    node: str  # the node type returned
    object_key: str
    count: int
    get: Callable[[int], dict[str, Any]]
    edge: str
    single: bool = False
    filter_prefix: str | None = None
    owner: str | None = None  # the node type the edge hangs off (None: a node read by id)
    page: str | None = None  # the Page an object belongs to: its Page token may read it
    #: The record's time field and the parameter that bounds it: ("event_time", "since")
    #: for `since=<unix>`, ("created_time", "time_created") for `filtering` on that field.
    time_filter: tuple[str, str] | None = None
    #: Rows whose fields were chosen when the report was asked for (report results).
    raw: bool = False
    #: Extra response headers (x-fb-ads-insights-throttle).
    headers: dict[str, str] = field(default_factory=dict)
    #: What identifies its pages in the page cache, when not the path (a report's rows are
    #: the same whichever job asked for them).
    cache_key: str | None = None


@dataclass(frozen=True)
class TruthScope:
    """What a complete sync covers: archived objects too, insights from a day, the partners
    whose tokens it holds."""

    include_archived: bool = False
    insights_since: str | None = None
    partners: tuple[str, ...] = ()


class Family:
    """One family of Graph's edges."""

    def __init__(self, data: Dataset, faults: Faults) -> None:
        self.data = data
        self.faults = faults

    def route(self, node: str, edge: str, params: dict[str, str]) -> Route | None:
        """What `GET /{node}/{edge}` answers, or None when the path is not this family's."""
        raise NotImplementedError

    def truth(self, add: Add, scope: TruthScope) -> None:
        """Adds the keys a complete sync of this family's streams emits."""
        raise NotImplementedError

    def denied(self, node: str, edge: str) -> bool:
        return (node, edge) in self.faults.denied

    def accounts(self) -> Iterator[tuple[int, str, int, str]]:
        """(business index, business id, account index, account id) of every ad account a
        sync lists: those of a business whose account edge is refused are not."""
        for b, bid in enumerate(self.data.business_ids()):
            for relationship in ("OWNED", "CLIENT"):
                if not self.denied(bid, f"{relationship.lower()}_ad_accounts"):
                    for a in self.data.account_indexes(b, relationship):
                        yield b, bid, a, str(self.data.ad_account(a)["account_id"])

    def pages(self) -> Iterator[tuple[int, str, int, str]]:
        """(business index, business id, page index, page id) of every Page a sync lists."""
        for b, bid in enumerate(self.data.business_ids()):
            for relationship in ("OWNED", "CLIENT"):
                if not self.denied(bid, f"{relationship.lower()}_pages"):
                    for p in self.data.page_indexes(b, relationship):
                        yield b, bid, p, self.data.page(p)["id"]


def account_of(node: str, data: Dataset) -> tuple[int, str] | None:
    """An `act_` node's account index and id (the core has checked it exists)."""
    if not node.startswith("act_"):
        return None
    key = node.removeprefix("act_")
    a = data.account_index(key)
    return None if a is None else (a, key)
