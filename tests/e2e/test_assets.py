"""Every Business Manager asset and who can touch it, end to end against the fake Graph API."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from tests.e2e.conftest import Faults, run_tap, tap_config
from tests.e2e.test_pipeline import assert_complete
from tests.helpers import catalog

ASSET_STREAMS = ["pixels", "product_catalogs", "instagram_accounts", "instagram_assets", "apps",
                 "ad_account_pixels", "custom_conversions", "ad_creatives", "ad_images",
                 "ad_videos", "pixel_assignments", "catalog_assignments",
                 "ad_account_agencies", "ad_activities", "lead_forms", "leads",
                 "ad_account_assignments", "page_assignments"]


def everything(graph) -> dict:
    return catalog(ASSET_STREAMS, api_url=graph.url)


def test_every_asset_stream_equals_the_truth_with_one_read_per_edge(fake_graph, tmp_path):
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph), catalog=everything(graph))
    assert run.returncode == 0, run.stderr[-2000:]
    truth = {s: keys for s, keys in graph.truth().items() if s in ASSET_STREAMS}
    assert set(truth) == set(ASSET_STREAMS)
    assert_complete(run, truth)
    for stream in ASSET_STREAMS:  # keys unique by the key the tap declares, built ones too
        keys = run.keys(stream)
        assert len(keys) == len(set(keys)), stream
    # Activities that differ only in what changed keep a row each.
    assert len(run.records("ad_activities")) == len(truth["ad_activities"])
    # One read per asset and edge, no per-record calls: every (path, cursor) once; the Page
    # token reads are one per page with lead forms.
    reads = Counter((e["path"], e["params"].get("after")) for e in graph.log
                    if e["status"] == 200)
    assert [read for read, n in reads.items() if n > 1] == []
    token_reads = [e for e in graph.log if e["params"].get("fields") == "access_token"]
    pages = {r["page_id"] for r in run.records("page_assignments")}
    assert sorted(e["object"] for e in token_reads) == sorted(pages)
    for page in pages:
        assert graph.data.page_token(page) not in run.stdout + run.stderr


def test_instagram_fields_refused_for_want_of_instagram_basic_cost_the_fields_only(
        fake_graph, tmp_path):
    """Graph refuses a request for IGUser fields the app may not read (the whole request,
    as Meta's Page reference says such fields do): the accounts are read with their ids, the
    fields are null, one warning; instagram_assets needs no Instagram permission."""
    graph = fake_graph("small", faults=Faults(field_needs_permission={
        ("IGUser", "username"), ("IGUser", "followers_count")}))
    run = run_tap(tmp_path, tap_config(graph),
                  catalog=catalog(["instagram_accounts", "instagram_assets"], api_url=graph.url))
    assert run.returncode == 0, run.stderr[-2000:]
    truth = graph.truth()
    assert set(run.keys("instagram_accounts")) == truth["instagram_accounts"]
    assert set(run.keys("instagram_assets")) == truth["instagram_assets"]
    assert {r["relationship"] for r in run.records("instagram_assets")} == {"OWNED", "CLIENT"}
    users = {r["id"] for r in run.records("instagram_accounts")}
    assert {r["ig_user_id"] for r in run.records("instagram_assets")
            if r["relationship"] == "OWNED"} == users
    assert all(set(r) == {"business_id", "id", "_read_id"}
               for r in run.records("instagram_accounts"))
    warnings = [line for line in run.stderr.splitlines() if "instagram_basic" in line]
    assert len(warnings) == 6, warnings  # one per field left out, once for the run
    assert "PARTIAL" not in run.stderr


def test_leads_are_personal_data_and_off_by_default(fake_graph, tmp_path):
    graph = fake_graph("small")
    run = run_tap(tmp_path, tap_config(graph))
    assert run.returncode == 0, run.stderr[-2000:]
    assert {"lead_forms", "leads"} & run.streams() == set()
    assert not any(e["path"].endswith(("/leadgen_forms", "/leads")) for e in graph.log)


def test_denied_asset_edges_are_skipped_with_their_warning(fake_graph, tmp_path):
    probe = fake_graph("small")
    pixel = probe.data.pixel(0)["id"]
    page = probe.data.page(0)["id"]
    graph = fake_graph("small", faults=Faults(denied={(pixel, "assigned_users"),
                                                      (page, "leadgen_forms")}))
    run = run_tap(tmp_path, tap_config(graph), catalog=everything(graph))
    assert run.returncode == 0, run.stderr[-2000:]
    truth = {s: keys for s, keys in graph.truth().items() if s in ASSET_STREAMS}
    assert_complete(run, truth)
    assert f"Skipping no access to pixel_assignments edge /{pixel}/assigned_users" in run.stderr
    assert (f"Skipping no access to lead_forms edge /{page}/leadgen_forms: (#200) The user "
            "does not have permission") in run.stderr
    assert ("Reading lead forms and leads needs leads_retrieval (with pages_show_list, "
            "pages_read_engagement, pages_manage_ads and ads_management)") in run.stderr
    assert "PARTIAL: 2 asset edge(s) skipped" in run.stderr


def test_activity_log_and_leads_rerun_from_their_bookmarks(fake_graph, tmp_path):
    graph = fake_graph("small")
    config = tap_config(graph)
    selected = catalog(["ad_activities", "leads"], api_url=graph.url)
    first = run_tap(tmp_path, config, catalog=selected)
    assert first.returncode == 0, first.stderr[-2000:]
    bookmarks = first.state["bookmarks"]
    assert {p["context"]["account_id"] for p in bookmarks["ad_activities"]["partitions"]} == {
        r["account_id"] for r in first.records("ad_activities")}
    assert {p["context"]["form_id"] for p in bookmarks["leads"]["partitions"]} == {
        r["form_id"] for r in first.records("leads")}
    graph.log.clear()
    second = run_tap(tmp_path, config, catalog=selected, state=first.state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.records("ad_activities") == [] and second.records("leads") == []
    since = {e["object"]: int(e["params"]["since"]) for e in graph.log
             if e["path"].endswith("/activities")}
    newest = {}
    for record in first.records("ad_activities"):
        newest[record["account_id"]] = max(newest.get(record["account_id"], ""),
                                           record["event_time"])
    # The first run began long after these bookmarks: strictly after the bookmark's second.
    assert since == {account: int(datetime.fromisoformat(t).timestamp()) + 1
                     for account, t in newest.items()}
    assert all("time_created" in e["params"]["filtering"] for e in graph.log
               if e["path"].endswith("/leads"))
