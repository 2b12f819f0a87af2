"""What Meta changes under the tap, end to end: a dropped field, Page edges wanting Page tokens."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Faults, run_tap, tap_config
from tests.e2e.test_pipeline import assert_complete
from tests.helpers import comparable_state


def test_field_dropped_mid_run_costs_the_column_not_the_run(fake_graph, tmp_path):
    control = run_tap(tmp_path, tap_config(fake_graph("small")))
    # Graph stops reading it after the second campaigns call of the run (counted apart from
    # the other calls, which report jobs started with the run interleave).
    graph = fake_graph("small", faults=Faults(drop_field=("Campaign", "objective"),
                                              drop_field_after=2))
    run = run_tap(tmp_path, tap_config(graph))
    assert run.returncode == 0, run.stderr[-2000:]
    assert_complete(run, graph.truth())
    # The same records as without the drop, less `objective` from the drop on.
    before = {r["id"]: r for r in control.records("campaigns")}
    after = run.records("campaigns")
    assert [r["id"] for r in after] == list(before)
    assert [{k: v for k, v in r.items() if k != "objective"} for r in after] == [
        {k: v for k, v in r.items() if k != "objective"} for r in before.values()]
    kept = [r for r in after if "objective" in r]
    assert 0 < len(kept) < len(after)
    assert all(r["objective"] == before[r["id"]]["objective"] for r in kept)
    assert comparable_state(run.state) == comparable_state(control.state)
    warnings = [line for line in run.stderr.splitlines() if "no longer reads field" in line]
    assert len(warnings) == 1
    assert ("Graph v26.0 no longer reads field 'objective' of stream campaigns [HTTP 400, code "
            "100, fbtrace_id ") in warnings[0]
    assert "the column stays null; deselect it or pin api_version" in warnings[0]
    assert ("Fields left out for the rest of the run (null from then on): campaigns.objective"
            in run.stderr)
    # Refused once per request in flight when Graph dropped it (here the one batch of first
    # pages), then never again: everything sent after the warning leaves the field out.
    refused = [e for e in graph.log if e.get("code") == 100]
    accounts = len({e["object"] for e in graph.log if e["path"].endswith("/campaigns")})
    assert 1 <= len(refused) <= accounts - 1
    assert all("objective" not in e["params"]["fields"].split(",") for e in graph.log
               if e["path"].endswith("/campaigns") and e["n"] > refused[-1]["n"])


@pytest.mark.parametrize("max_workers", [1, 16])
def test_page_edges_read_with_page_tokens_when_graph_wants_them(fake_graph, tmp_path,
                                                               max_workers):
    secret = "fake-app-secret-0123456789"
    graph = fake_graph("small", app_secret=secret,
                       faults=Faults(page_token_required=True))
    run = run_tap(tmp_path, tap_config(graph, app_secret=secret, max_workers=max_workers))
    assert run.returncode == 0, run.stderr[-2000:]
    assert_complete(run, graph.truth())
    pages = {p["page_id"] for p in run.records("page_assignments")}
    token_reads = [e for e in graph.log if e["params"].get("fields") == "access_token"]
    assert sorted(e["object"] for e in token_reads) == sorted(pages)  # once per page
    assert all(not e["page_token"] for e in token_reads)
    with_page_token = [e for e in graph.log if e["page_token"]]
    # Each page's assignments, and its agencies (which Meta reads with a Page token only).
    for edge in ("assigned_users", "agencies"):
        assert sorted(e["object"] for e in with_page_token
                      if e["path"].endswith(f"/{edge}")) == sorted(pages)
    assert all(e["status"] == 200 for e in with_page_token)
    assert len(with_page_token) == 2 * len(pages)
    refused = [e for e in graph.log if e.get("code") == 190]
    assert 1 <= len(refused) <= (1 if max_workers == 1 else len(pages))
    page_tokens = [graph.data.page_token(page) for page in pages]
    for token in page_tokens:
        assert token not in run.stdout and token not in run.stderr


def test_page_without_a_task_is_skipped_and_named(fake_graph, tmp_path):
    probe = fake_graph("small")
    page = probe.data.page(0)["id"]
    graph = fake_graph("small", faults=Faults(page_token_required=True,
                                              pages_without_task={page}))
    run = run_tap(tmp_path, tap_config(graph))
    assert run.returncode == 0, run.stderr[-2000:]
    truth = graph.truth()
    for stream in ("page_assignments", "page_agencies"):  # both read with the Page's token
        truth[stream] = {k for k in truth[stream] if k[1] != page}
    assert_complete(run, truth)
    assert f"Graph wants Page {page}'s own access token, and the system user cannot " \
           "get it" in run.stderr
    assert "PARTIAL: 2 asset edge(s) skipped" in run.stderr  # its assignments and agencies
