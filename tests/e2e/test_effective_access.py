"""Effective access never claims more than Meta grants, and a partition refused for good
leaves the rest of the access review current: on DuckDB and on PostgreSQL, through the real
`meltano run` and `meltano invoke dbt:build` (tests/e2e/warehouse.py; DuckDB here,
PostgreSQL in test_effective_access_postgres.py, so that pytest-xdist's workers share the
long stories)."""

from __future__ import annotations

import pytest

from tests.e2e.warehouse import Warehouse, held_truth, warehouse_on
from tests.fakegraph import FakeGraph
from tests.fakegraph.control import change_access
from tests.fakegraph.data import ACCOUNT_BASE, PAGE_BASE
from tests.fakegraph.partners import CLIENT_PERMITTED

pytestmark = pytest.mark.meltano
warehouse = warehouse_on("duckdb")


def test_effective_access_never_claims_more_than_meta_grants(warehouse, fake_graph):
    """With one partner's token (the other's people are unknown): what each principal
    holds is within what the fake's truth gives it, on owned and client assets alike; the
    partner's people are exactly the fake's; powers to grant are never counted as held.
    Then the partner revokes its token mid-run: its rows stay as they were."""
    graph = fake_graph("small")
    known, unknown = (p["id"] for p in graph.data.partners(0, "AGENCY"))
    warehouse.run(graph, first=True, partner_tokens=[graph.partner_token(known)])
    rows = effective_rows(warehouse)
    held = held_truth(graph, (known,))
    holds = [r for r in rows if r["access"] == "holds"]
    assert holds and all(set(r["tasks"].split(",")) <= held[r["asset_id"], r["principal_id"]]
                         for r in holds)
    assert {(r["business_id"], r["asset_type"], r["asset_id"], r["principal_id"]): r["tasks"]
            for r in holds if r["via"] == "direct"} == graph.access_truth()
    partner_people = {(r["via_id"], r["asset_type"], r["asset_id"], r["principal_id"]):
                      r["tasks"] for r in holds if r["via"] == "partner_person"}
    assert partner_people == graph.partner_access_truth((known,))
    names = {p["id"]: p["name"] for p in graph.data.partner_people(known)}
    names[graph.data.partner_robot(known)["id"]] = graph.data.partner_robot(known)["name"]
    assert {r["principal_id"]: r["principal_name"] for r in holds
            if r["via"] == "partner_person"} == {
        user: names[user] for (_, _, _, user) in partner_people}
    # The partner without a token: one row per asset shared with it, its people unknown.
    shared = {g.asset_id for g in graph.data.grants(0) if g.partner_id == unknown}
    assert {r["asset_id"] for r in rows if r["access"] == "unknown"} == shared
    assert all(r["principal_id"] == unknown and r["tasks"] == "" for r in rows
               if r["access"] == "unknown")
    assert not [r for r in rows if r["principal_business_id"] == unknown
                and r["principal_type"] != "partner_business"]
    # Full control on a client's asset: within what the client permits (catalogs: unknown).
    client = {(r["asset_type"], r["asset_id"]) for r in client_assets(graph)}
    for r in rows:
        if r["via"] == "full_control" and (r["asset_type"], r["asset_id"]) in client:
            permitted = CLIENT_PERMITTED.get(r["asset_type"]) \
                if r["asset_type"] != "PRODUCT_CATALOG" else None
            assert r["tasks"] == ",".join(sorted(permitted or [])), r
    assert {r["access"] for r in rows} == {"holds", "can_grant", "unknown"}

    # The known partner's token is refused from its third call on, and one of its people
    # lost a grant at the source meanwhile: the run succeeds, and that partner's rows stay.
    (_, _, asset, user), *_ = sorted(partner_people)
    change_access(graph.url, "revoke", asset=asset, user=user)
    graph.faults.partner_token_refused_after[known] = 2
    warehouse.run(graph, partner_tokens=[graph.partner_token(known)])
    assert {(r["via_id"], r["asset_type"], r["asset_id"], r["principal_id"]): r["tasks"]
            for r in effective_rows(warehouse)
            if r["via"] == "partner_person"} == partner_people


def test_an_account_refused_on_every_run_keeps_its_rows_while_the_others_revocations_leave(
        warehouse, fake_graph):
    """Meta documents (#200) on `/act_{id}/agencies`; an account refused for good must not
    freeze the rest. One account refused from the first run on, another from the second,
    after its first read: a person's grant revoked and a partner unshared on each of the
    second and on a third account. access_matrix and effective_access lose the third
    account's, keep the second's as read, and never hold the first's; partial_reads says
    which accounts for how many reads."""
    graph = fake_graph("small")
    before = graph.access_truth()
    shared = {g.asset_id: g.partner_id for g in graph.data.grants(0)
              if g.asset_type == "AD_ACCOUNT"}
    never, later, other = [a for a in sorted(shared)
                           if sum(g[2] == a for g in before) >= 1][:3]
    deny(graph, never)
    warehouse.run(graph, first=True)
    assert warehouse.matrix() == {g: t for g, t in before.items() if g[2] != never}
    assert partner_rows(warehouse) == {(a, p) for a, p in shared.items() if a != never}

    deny(graph, later)
    revoked = [next(g for g in before if g[2] == account) for account in (later, other)]
    for _, _, asset, user in revoked:
        change_access(graph.url, "revoke", asset=asset, user=user)
    for account in (later, other):
        change_access(graph.url, "unshare", asset=account, partner=shared[account])
    warehouse.run(graph)
    assert warehouse.matrix() == {g: t for g, t in before.items()
                                  if g[2] != never and g != revoked[1]}
    assert partner_rows(warehouse) == {(a, p) for a, p in shared.items()
                                       if a not in (never, other)}
    assert {(stream, account, reads) for stream, account, reads in warehouse.query(
        "select stream, account_id, reads from meta_bm.partial_reads "
        "where read_id = (select max(read_id) from meta_bm.partial_reads)")} == {
        (stream, account.removeprefix("act_"), reads) for stream in (
            "ad_account_agencies", "ad_account_assignments")
        for account, reads in ((never, "2"), (later, "1"))}


def deny(graph: FakeGraph, account: str) -> None:
    """The account's people and partners refused to the token, as Graph may with (#200)."""
    for edge in ("agencies", "assigned_users"):
        graph.faults.denied.add((account.removeprefix("act_"), edge))


def partner_rows(warehouse: Warehouse) -> set[tuple[str, str]]:
    """(ad account, partner business) of effective_access's partner businesses."""
    return {(r["asset_id"], r["principal_id"]) for r in effective_rows(warehouse)
            if r["principal_type"] == "partner_business" and r["asset_type"] == "AD_ACCOUNT"}


def effective_rows(warehouse: Warehouse) -> list[dict[str, str]]:
    columns = ("business_id", "asset_type", "asset_id", "principal_id", "principal_name",
               "principal_type", "principal_business_id", "access", "via", "via_id", "tasks")
    return [dict(zip(columns, row, strict=True)) for row in warehouse.query(
        f"select {', '.join(columns)} from meta_bm_marts.effective_access")]


def client_assets(graph: FakeGraph) -> list[dict[str, str]]:
    data = graph.data
    out = [{"asset_type": "AD_ACCOUNT", "asset_id": f"act_{ACCOUNT_BASE + a}"}
           for a in data.account_indexes(0, "CLIENT")]
    out += [{"asset_type": "PAGE", "asset_id": str(PAGE_BASE + p)}
            for p in data.page_indexes(0, "CLIENT")]
    out += [{"asset_type": "PIXEL", "asset_id": data.pixel(n)["id"]}
            for n in data.asset_indexes("pixels", 0, "CLIENT")]
    out += [{"asset_type": "PRODUCT_CATALOG", "asset_id": data.catalog(n)["id"]}
            for n in data.asset_indexes("catalogs", 0, "CLIENT")]
    return out
