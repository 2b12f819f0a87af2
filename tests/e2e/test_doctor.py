"""The set-up doctor against the fake Graph API in each state a new user can be in."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Faults, tap_config
from tests.fakegraph import DEFAULT_TOKEN
from tests.helpers import TAP_COMMAND

BUSINESS = "100000000000"


def doctor(tmp_path: Path, config: dict, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "c.json").write_text(json.dumps(config))
    return subprocess.run([TAP_COMMAND, "--config", str(tmp_path / "c.json"), "--doctor",
                           *extra], capture_output=True, text=True, timeout=120, check=False)


def report(tmp_path: Path, config: dict) -> tuple[int, dict]:
    done = doctor(tmp_path, config, "--format", "json")
    return done.returncode, json.loads(done.stdout)


def gaps(found: dict) -> list[str]:
    return [g["what"] for g in found["gaps"]]


def test_all_good_costs_a_handful_of_calls_and_never_prints_the_token(fake_graph, tmp_path):
    graph = fake_graph("small")
    done = doctor(tmp_path, tap_config(graph))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[:8] == [
        "tap-meta-bm doctor", "", "Token", "  type                  SYSTEM_USER",
        "  app                   Acme Data Sync (1234567890)",
        "  expires               never", "  data access expires   never",
        "  permissions           ads_management, ads_read, business_management, "
        "catalog_management, leads_retrieval, pages_manage_ads, pages_manage_metadata, "
        "pages_read_engagement, pages_show_list"]
    assert "Identity                robot-0 (600000000000)" in lines
    assert f"Businesses              none configured: every one the token reaches ({BUSINESS})" \
        in lines
    assert "  ad accounts           4 listed, 4 readable" in lines
    assert lines[-1] == "Every selected stream can be served."
    assert DEFAULT_TOKEN not in done.stdout + done.stderr
    assert all(DEFAULT_TOKEN not in json.dumps(e["params"]) or e.get("batch")
               for e in graph.log)  # debug_token's input travels in a batch's body
    selected = sum(1 for line in lines if line.endswith(" ok"))
    # One probe a stream, a few calls a business, and a Page's token for the probe of the Page
    # edge that wants one (page_agencies).
    assert len(graph.log) <= selected + 22


def test_an_unassigned_ad_account_is_named_with_its_fix(fake_graph, tmp_path):
    graph = fake_graph("small", faults=Faults(unassigned_accounts={"200000000002"}))
    status, found = report(tmp_path, tap_config(graph))
    assert status == 1
    assert gaps(found) == [f"ad account act_200000000002 of business {BUSINESS}: the system "
                           "user holds no task on it"]
    assert found["gaps"][0]["fix"] == ("Business Settings > System users > robot-0 > Assign "
                                       "assets > Ad accounts > Full control (or View "
                                       "performance) on act_200000000002")


def test_a_missing_permission_is_named_per_stream(fake_graph, tmp_path):
    scopes = ("business_management", "ads_read", "pages_show_list", "pages_manage_metadata")
    graph = fake_graph("small", faults=Faults(scopes=scopes))
    status, found = report(tmp_path, tap_config(graph))
    assert status == 1
    assert gaps(found) == [f"{stream}: the token lacks the catalog_management permission"
                           for stream in ("catalog_assignments", "catalog_agencies")]
    assert found["gaps"][0]["fix"] == "generate the token with catalog_management"


@pytest.mark.parametrize(("faults", "gap"), [
    (Faults(token_type="USER"), "the token is a USER token, not a system user's: it stops "
                                "working with that person's session or password"),
    (Faults(token_expires_at=int(time.time()) - 3600), "the token is not valid or has "
                                                       "expired"),
])
def test_a_token_that_is_not_a_lasting_system_user_token(fake_graph, tmp_path, faults, gap):
    graph = fake_graph("small", faults=faults)
    status, found = report(tmp_path, tap_config(graph))
    assert status == 1
    assert gap in gaps(found)
    assert found["gaps"][0]["fix"].startswith("Business Settings > System users > Generate "
                                              "new token (token expiration: Never)")


def test_an_unreadable_business_is_named(fake_graph, tmp_path):
    graph = fake_graph("small")
    status, found = report(tmp_path, {**tap_config(graph), "business_ids": [BUSINESS, "999"]})
    assert status == 1
    assert found["businesses"] == {"configured": [BUSINESS, "999"], "reachable": [BUSINESS],
                                   "unreachable": ["999"], "explicit": True}
    assert gaps(found) == ["business 999 is configured but the token does not reach it"]


def test_a_gap_line_ends_in_one_period(fake_graph, tmp_path):
    graph = fake_graph("small", faults=Faults(denied={("200000000000", "campaigns")}))
    done = doctor(tmp_path, {**tap_config(graph), "business_ids": [BUSINESS]})
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert f"Businesses              configured {BUSINESS}; the token reaches {BUSINESS}" in lines
    gap_lines = [line for line in lines if line.startswith("  - ")]
    assert gap_lines and all(".." not in line and line.endswith(".") for line in gap_lines)


def test_the_insights_probe_asks_as_the_report_jobs_do(fake_graph, tmp_path):
    graph = fake_graph("small")
    done = doctor(tmp_path, tap_config(graph))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    (probe,) = [e for e in graph.log if e["path"].endswith("/insights")]
    params = probe["params"]
    assert (probe["status"], params["level"], params["time_increment"]) == (200, "ad", "1")
    assert params["action_breakdowns"] == '["action_type"]'
    day = json.loads(params["time_range"])
    assert day["since"] == day["until"] and len(day["since"]) == 10
    assert params["limit"] == "1"


def test_an_account_id_the_businesses_do_not_have_is_one_gap_said_once(fake_graph, tmp_path):
    graph = fake_graph("medium")
    done = doctor(tmp_path, tap_config(graph, account_ids=["act_999", "200000000000"]))
    assert done.returncode == 1, done.stdout + done.stderr[-2000:]
    assert [line for line in done.stdout.splitlines() if "account_ids" in line] == [
        "  - account_ids: 999 is not an ad account of the businesses read (owned or shared "
        "with them). Fix: remove it from account_ids, or add the business it belongs to to "
        "business_ids (and give the system user a task on it)."]
    assert [line for line in done.stderr.splitlines() if "account_ids" in line] == [
        "account_ids: 999 are not ad accounts of the businesses read; going on with the "
        "others."]


def test_a_refused_list_is_a_gap_of_its_own_and_the_other_checks_go_on(fake_graph, tmp_path):
    robot, business = "600000000000", BUSINESS
    graph = fake_graph("small", faults=Faults(denied={(robot, "assigned_pages"),
                                                      (business, "owned_pages")}))
    done = doctor(tmp_path, tap_config(graph))
    assert done.returncode == 1, done.stdout + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    gaps = [line for line in done.stdout.splitlines() if line.startswith("  - ")]
    refused = [g for g in gaps if "could not be read" in g]
    assert [g.split(" [HTTP")[0] for g in refused] == [
        f"  - the Pages assigned to robot-0 could not be read: (#200) The user does not have "
        f"permission to access assigned_pages of {robot}",
        f"  - owned_pages of business {business} could not be read: (#200) The user does not "
        f"have permission to access owned_pages of {business}"]
    assert not [g for g in gaps if "not assigned to the system user" in g]  # not known
    assert "  ad accounts           4 listed, 4 readable" in done.stdout.splitlines()


def test_every_page_of_a_large_business_is_read(fake_graph, tmp_path):
    """1,000 ad accounts are two pages and more: the first page alone would miss most."""
    graph = fake_graph("agency-1000")
    done = doctor(tmp_path, tap_config(graph))
    assert "  ad accounts           1000 listed, 1000 readable" in done.stdout.splitlines(), \
        done.stdout[-3000:]


def test_a_refused_debug_token_costs_the_tokens_type_not_the_examination(fake_graph,
                                                                          tmp_path):
    """debug_token wants an app token (Meta's reference): the doctor says what it could not
    examine, takes the identity from /me and the permissions from /me/permissions, and goes
    on to every other check."""
    graph = fake_graph("small", faults=Faults(debug_token_wants_app_token=True))
    done = doctor(tmp_path, tap_config(graph))
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[3:7] == [
        "  type                  unknown (debug_token wants an app token)",
        "  expires               unknown (debug_token wants an app token)",
        "  permissions           ads_management, ads_read, business_management, "
        "catalog_management, leads_retrieval, pages_manage_ads, pages_manage_metadata, "
        "pages_read_engagement, pages_show_list",
        "Identity                robot-0 (600000000000)"]
    assert lines[-1] == "Every selected stream can be served."
    assert "Traceback" not in done.stderr
