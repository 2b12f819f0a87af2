"""Partners of the fake's businesses, as Meta models them (graph-api-facts-3.md §1).

- A business shares an asset with a partner (agency) business: the grant lists the tasks the
  partner may assign to its people (`permitted_tasks`, an edge field of `/act_{id}/agencies`;
  the other assets' agencies edges document no edge fields, so they answer Business nodes).
- A business that works for a client holds the client's assets within what the client
  permitted: `permitted_tasks` on `client_ad_accounts`, `client_pages`, `client_pixels`,
  `permitted_roles` on `client_product_catalogs` (Meta's edge references).
- A partner's people are assigned under the partner's business: `assigned_users?business=`
  lists one business's people, and only a token of that business reads its own. Each partner
  can generate one (a system user with Full control on the assets shared with it, as Cerby's
  "native partner" guide sets it up): with it, `/me/businesses`, the partner's
  `business_users` and `system_users`, and `/{asset}/assigned_users?business={partner}` on
  our assets shared with it. Nothing else of ours.

Ids: a partner business is PARTNER_BASE + index (Dataset.partners); its business users are
PARTNER_PERSON_BASE + 100 * index + n, its system user PARTNER_ROBOT_BASE + 100 * index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

#: The tap's streams a partner's token reads (what `FakeGraph.truth(partners=...)` names).
PARTNER_STREAMS = ("partner_business_users", "partner_system_users", "partner_assignments")
PARTNER_PERSON_BASE = 860_000_000_000
PARTNER_ROBOT_BASE = 870_000_000_000
PARTNER_PEOPLE = 3  # business users per partner: an admin and two employees
#: What a partner may assign on each kind of our asset (the grant's permitted tasks).
GRANTED = {
    "AD_ACCOUNT": (["ADVERTISE", "ANALYZE"], ["ADVERTISE", "ANALYZE", "MANAGE"]),
    "PAGE": (["ADVERTISE", "ANALYZE", "CREATE_CONTENT"],),
    "PIXEL": (["ADVERTISE", "ANALYZE"],),
    "PRODUCT_CATALOG": (["ADVERTISE"],),
}
#: What a client permits this business on the client's assets (client_* edges).
CLIENT_PERMITTED = {
    "AD_ACCOUNT": ["ADVERTISE", "ANALYZE", "DRAFT"],
    "PAGE": ["ADVERTISE", "ANALYZE"],
    "PIXEL": ["ADVERTISE", "ANALYZE"],
    "PRODUCT_CATALOG": ["ADVERTISE"],
}


@dataclass(frozen=True)
class Grant:
    """One of our assets shared with a partner business."""

    asset_type: str
    asset_id: str  # as Graph names the node: act_<id> for an ad account
    partner_id: str
    permitted: tuple[str, ...]


def partner_token(partner_id: str, seed: int) -> str:
    """The token a partner generates for its system user and shares with us."""
    digest = hashlib.sha256(f"{seed}:partner-token:{partner_id}".encode()).hexdigest()[:16]
    return f"fake-partner-token-{partner_id}-{digest}"


def partner_of_token(token: str, seed: int) -> str | None:
    partner_id = token.removeprefix("fake-partner-token-").partition("-")[0]
    return partner_id if partner_id.isdigit() and token == partner_token(partner_id, seed) \
        else None


def partner_people(partner: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """BusinessUser nodes of a partner business: its admin (2FA on for even partners only)
    and two employees."""
    people = []
    for n in range(PARTNER_PEOPLE):
        admin = n == 0
        people.append({
            "id": str(PARTNER_PERSON_BASE + 100 * index + n),
            "name": f"{partner['name']} {'admin' if admin else f'employee {n}'}",
            "email": f"person{n}@partner{index}.example.com", "first_name": "Partner",
            "last_name": f"Person{n}", "role": "ADMIN" if admin else "EMPLOYEE",
            "tasks": ["MANAGE"] if admin else ["ADVERTISE", "ANALYZE"],
            "two_fac_status": "enabled" if not admin or index % 2 == 0 else "not_enabled",
            "marked_for_removal": False,
            "business": {"id": partner["id"], "name": partner["name"]}})
    return people


def partner_robot(partner: dict[str, Any], index: int) -> dict[str, Any]:
    """The system user whose token the partner shared (Admin, Full control on our assets)."""
    return {"id": str(PARTNER_ROBOT_BASE + 100 * index), "name": f"{partner['name']} sync",
            "role": "ADMIN", "created_time": "2024-01-02T00:00:00+0000",
            "created_by": {"id": str(PARTNER_PERSON_BASE + 100 * index),
                           "name": f"{partner['name']} admin"}}


def holders(grant: Grant, people: list[dict[str, Any]], robot: dict[str, Any],
            salt: int) -> list[dict[str, Any]]:
    """The partner's people holding tasks on one of our assets (AssignedUser nodes with the
    `tasks` edge field): its system user, Full control within the grant; one employee,
    the grant's first task; the admin holds nothing (it may assign itself up to the grant)."""
    employee = people[1 + salt % (len(people) - 1)]
    business = {"id": grant.partner_id}
    return [
        {"id": robot["id"], "name": robot["name"], "user_type": "system_user",
         "business": business, "tasks": list(grant.permitted)},
        {"id": employee["id"], "name": employee["name"], "user_type": "business_user",
         "business": business, "tasks": [grant.permitted[0]]},
    ]
