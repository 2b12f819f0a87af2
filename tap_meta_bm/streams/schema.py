"""Schema pieces shared by several streams: Graph references, free-form objects, columns."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

#: A Graph reference to another node: `{"id": ..., "name": ...}` (name present when readable).
Ref = th.ObjectType(
    th.Property("id", th.StringType),
    th.Property("name", th.StringType),
)
#: A reference to an ad account, as Graph sends it (the node's default fields).
AccountRef = th.ObjectType(
    th.Property("id", th.StringType, description="act_ and the account's number."),
    th.Property("account_id", th.StringType, description="The account's number."),
)
#: A structured Graph value whose keys vary by object or API version (targeting, specs ...).
#: Declared with no `properties` at all: the SDK's flattening then keeps it as one JSON
#: column. An empty `properties: {}` would have it flatten the value's keys into columns the
#: schema never declares, which loaders drop.
Free = th.CustomType({"type": "object", "additionalProperties": True})
FreeList = th.ArrayType(Free)
Strings = th.ArrayType(th.StringType)
#: `{code, description}` status objects (delivery_status, operation_status ...).
Status = th.ObjectType(
    th.Property("code", th.IntegerType),
    th.Property("description", th.StringType),
)


def string(name: str, **kwargs: Any) -> th.Property:
    return th.Property(name, th.StringType, **kwargs)


def money(name: str) -> th.Property:
    """An amount in the minor units of the ad account's currency (cents for USD, yen for JPY),
    as Graph counts it; Graph sends the digits as text."""
    return th.Property(name, th.IntegerType, description="Minor units of the account's "
                                                         "currency (cents for USD).")


def timestamp(name: str) -> th.Property:
    return th.Property(name, th.DateTimeType)


def client_permitted(name: str = "permitted_tasks") -> th.Property:
    """What the owner of a client's asset lets this business assign there (read on the
    `client_*` edge only; null on the business's own assets)."""
    return th.Property(name, Strings, description=(
        "CLIENT rows: what the client permits this business to assign on its asset (Meta's "
        f"`{name}` on the client_* edge); whatever this business's people hold there is "
        "within it. Null on OWNED rows."))


#: The columns of every row read below an ad account: its business and the account.
ACCOUNT_COLUMNS = (
    string("business_id", description="The configured business the account was read from."),
    string("account_id", description="The ad account, without `act_`."),
)
