"""Partners' people, read with the tokens partners share (`partner_tokens`), against the fake
Graph API's partners (tests/fakegraph/partners.py): what each token reads, and only that."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tests.e2e.conftest import Faults, run_tap, tap_config
from tests.e2e.test_doctor import doctor
from tests.e2e.test_pipeline import assert_complete
from tests.fakegraph.partners import PARTNER_STREAMS

SECRET = "partner-app-secret-0123"


def agencies(graph) -> list[str]:
    return [p["id"] for p in graph.data.partners(0, "AGENCY")]


def test_each_partner_token_reads_its_people_on_our_shared_assets_and_nothing_else(
        fake_graph, tmp_path):
    graph = fake_graph("small", app_secret=SECRET)
    partners = agencies(graph)
    tokens = [graph.partner_token(p) for p in partners]
    run = run_tap(tmp_path, tap_config(graph, app_secret=SECRET, partner_tokens=tokens))
    assert run.returncode == 0, run.stderr[-2000:]
    assert_complete(run, graph.truth(partners=tuple(partners)))
    by_partner = [e for e in graph.log if e.get("partner")]
    # Each partner's token read its business, its people, and its people on our assets
    # shared with it: the fake refuses anything else with (#200), and nothing was refused.
    assert by_partner and all(e["status"] == 200 for e in by_partner)
    for entry in by_partner:
        partner = entry["partner"]
        assert entry["path"].removeprefix("/v26.0") in (
            "/me/businesses", f"/{partner}/business_users", f"/{partner}/system_users") or (
            entry["path"].endswith("/assigned_users")
            and entry["params"]["business"] == partner)
        # Its own proof: the HMAC of the token that travelled, never the system user's.
        token = graph.partner_token(partner)
        assert entry["params"]["appsecret_proof"] == hmac.new(
            SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
        assert not entry.get("batch")  # a batch carries the system user's token
    assert {e["partner"] for e in by_partner} == set(partners)
    # Names and tasks as the partner's business has them.
    held = {(r["business_id"], r["asset_type"], r["asset_id"], r["user_id"]):
            ",".join(sorted(r["tasks"])) for r in run.records("partner_assignments")}
    assert held == graph.partner_access_truth(tuple(partners))
    names = {r["id"]: r["name"] for r in run.records("partner_business_users")}
    assert names == {p["id"]: p["name"] for partner in partners
                     for p in graph.data.partner_people(partner)}
    for token in tokens:
        assert token not in run.stdout and token not in run.stderr
    assert all("access_token" not in e["params"] for e in graph.log)


def test_without_partner_tokens_the_partner_streams_are_off(fake_graph, tmp_path):
    """Nothing of theirs can be read: no schema, no rows, no complete read (an empty table
    would read as "the partner has no people"), and the agencies edges read concurrently."""
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph))
    assert run.returncode == 0, run.stderr[-2000:]
    assert not set(run.schemas()) & set(PARTNER_STREAMS)
    assert not [e for e in graph.log if e.get("partner")]
    assert not {r["stream"] for r in run.records("complete_reads")} & set(PARTNER_STREAMS)
    assert any(e.get("batch") and e["path"].endswith("/agencies") for e in graph.log)


@pytest.mark.parametrize("refused_after", [0, 4])
def test_a_refused_partner_token_costs_a_warning_not_the_run(fake_graph, tmp_path,
                                                             refused_after):
    """Refused at once (whose token it is cannot be known) or mid-run: exit 0, one warning
    naming the token or the partner, the partner streams incomplete (so nothing of any
    partner is deleted), every other stream complete."""
    graph = fake_graph("small")
    first, second = agencies(graph)
    graph.faults.partner_token_refused_after[first] = refused_after
    run = run_tap(tmp_path, tap_config(graph, max_workers=1, partner_tokens=[
        graph.partner_token(first), graph.partner_token(second)]))
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [line for line in run.stderr.splitlines()
                if "Graph refused the partner token of" in line]
    named = "partner token #1" if refused_after == 0 else first
    assert len(warnings) == 1 and f"the partner token of {named} [" in warnings[0]
    assert warnings[0].endswith("nothing of them is marked deleted); ask the partner for a "
                                "new token (README, Partners' people)")
    # What the refusal cut short is incomplete: everything, for a token refused at once; the
    # people on our assets, for one refused once its people were read.
    complete = {r["stream"] for r in run.records("complete_reads")}
    cut_short = set(PARTNER_STREAMS) if refused_after == 0 else {"partner_assignments"}
    assert set(PARTNER_STREAMS) - complete == cut_short
    assert {"ad_account_assignments", "page_agencies", "ad_account_agencies"} <= complete
    # The other partner's people were read all the same.
    assert {r["user_id"] for r in run.records("partner_assignments")
            if r["business_id"] == second} == {
        user for (partner, _, _, user) in graph.partner_access_truth((second,))}
    # Once refused, the token is not sent again (one request at a time: none was in flight).
    refused = [e for e in graph.log if e.get("partner") == first and e["status"] != 200]
    assert len(refused) == 1
    assert graph.partner_token(first) not in run.stdout + run.stderr


def test_a_partner_token_that_is_ours_is_named_and_not_used(fake_graph, tmp_path):
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph, partner_tokens=[graph.token]))
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "tap-meta-bm: error: partner_tokens: token #1 is access_token itself; a partner token "
        "is one the partner generates in its own business.")
    assert graph.log == []
    assert graph.token not in run.stderr


def test_the_doctor_names_each_partner_and_a_refused_token(fake_graph, tmp_path):
    graph = fake_graph("small", faults=Faults())
    first, second = agencies(graph)
    graph.faults.partner_token_refused_after[second] = 0
    config = tap_config(graph, partner_tokens=[graph.partner_token(first),
                                               graph.partner_token(second)])
    run = doctor(tmp_path, config)
    assert run.returncode == 1, run.stderr[-2000:]
    shared = {grant.asset_id for grant in graph.data.grants(0) if grant.partner_id == first}
    assert f"Partner {first:<16}people read on {len(shared)} of our shared assets" \
        in run.stdout
    assert "Partner token           partner token #2: refused (Error validating access " \
           "token" in run.stdout
    assert "  - partner token #2 was refused: Error validating access token" in run.stdout
    assert graph.partner_token(second) not in run.stdout + run.stderr
