"""The installed tap against the fake Graph API: complete, exact, incremental, resilient."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import jsonschema
import pytest

from tests.e2e.conftest import Faults, run_tap, tap_config
from tests.fakegraph import DEFAULT_TOKEN
from tests.helpers import TAP_COMMAND

#: Streams whose key the tap builds (AdActivity has no id): compared on what Graph sends.
NATURAL_KEYS = {"ad_activities": ("account_id", "event_time", "event_type", "object_id",
                                  "actor_id", "extra_data")}


#: Personal data: not synced unless selected (README, Streams).
OFF_BY_DEFAULT = {"lead_forms", "leads"}


def full_table_streams(run) -> set[str]:
    """The streams whose records name the read that produced them."""
    return {stream for stream, message in run.schemas().items()
            if "_read_id" in message["schema"]["properties"]}


def assert_complete(run, truth):
    """Every stream's keys equal the fake's truth, with no duplicates (streams off by default
    only where the run selected them)."""
    for stream, expected in truth.items():
        if stream in OFF_BY_DEFAULT and stream not in run.schemas():
            continue
        keys = run.keys(stream, NATURAL_KEYS.get(stream))
        duplicates = [k for k, n in Counter(keys).items() if n > 1]
        assert duplicates == [], f"{stream} duplicates {duplicates[:3]}"
        assert set(keys) == expected, f"{stream}: {len(keys)} keys vs {len(expected)} expected"


def undeclared(value: object, schema: dict, path: str = "") -> set[str]:
    """The keys of `value`, at any depth, that `schema` does not declare: a loader that
    builds columns from the schema drops them. An object declared without `properties` is
    free-form (one JSON column), and its keys are its own."""
    found: set[str] = set()
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.add(f"{path}{key}")
            else:
                found |= undeclared(item, schema["properties"][key], f"{path}{key}.")
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            found |= undeclared(item, schema["items"], path)
    return found


def select_everything(tmp_path, config: dict) -> dict:
    """The tap's discovered catalog with every stream selected, leads too."""
    (tmp_path / "config.json").write_text(json.dumps(config))
    catalog = json.loads(subprocess.run(
        [TAP_COMMAND, "--config", str(tmp_path / "config.json"), "--discover"],
        capture_output=True, text=True, check=True, timeout=60).stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = True
    return catalog


def assert_every_key_declared(run) -> None:
    schemas = {stream: m["schema"] for stream, m in run.schemas().items()}
    found: dict[str, set[str]] = {}
    for message in run.messages:
        if message["type"] == "RECORD":
            keys = undeclared(message["record"], schemas[message["stream"]])
            if keys:
                found.setdefault(message["stream"], set()).update(keys)
    assert found == {}


@pytest.mark.parametrize("depth", [1, 3])
def test_flattened_every_key_of_every_record_is_declared(fake_graph, tmp_path, depth):
    """With the SDK's flattening on, a free-form object (targeting, specs) stays one JSON
    column, declared: none of its keys lands in a column the schema does not have."""
    graph = fake_graph("small")
    config = {**tap_config(graph), "flattening_enabled": True, "flattening_max_depth": depth}
    run = run_tap(tmp_path, config, catalog=select_everything(tmp_path, config))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.streams() == set(graph.truth()) | {"complete_reads"}
    assert_every_key_declared(run)
    adsets = run.schemas()["adsets"]["schema"]["properties"]
    assert adsets["targeting"] == {"type": ["string", "null"]}
    assert all(isinstance(json.loads(r["targeting"]), dict) for r in run.records("adsets"))


def test_discover_select_all_full_sync_matches_truth(fake_graph, tmp_path):
    graph = fake_graph("small")
    config = tap_config(graph)
    run = run_tap(tmp_path, config, catalog=select_everything(tmp_path, config))
    assert run.returncode == 0, run.stderr[-2000:]
    assert_every_key_declared(run)
    # One validator per schema: `jsonschema.validate` checks the schema itself on every call.
    validators = {stream: jsonschema.validators.validator_for(m["schema"])(m["schema"])
                  for stream, m in run.schemas().items()}
    for message in run.messages:
        if message["type"] == "RECORD":
            validators[message["stream"]].validate(message["record"])
    assert_complete(run, graph.truth())
    assert run.streams() == set(graph.truth()) | {"complete_reads"}
    # Every full-table stream was read completely: its rows carry the read's id.
    (read_id,) = {r["read_id"] for r in run.records("complete_reads")}
    assert {r["stream"] for r in run.records("complete_reads")} == full_table_streams(run)
    assert {r["_read_id"] for s in full_table_streams(run) for r in run.records(s)} == {read_id}
    assert run.messages[-1]["type"] == "STATE"
    # Timestamps leave as RFC 3339 UTC, never Graph's +0000.
    assert all(r["updated_time"].endswith("+00:00") for r in run.records("campaigns"))
    assert all(r["time_updated"].endswith("+00:00") for r in run.records("custom_audiences"))
    # The Bearer header, never a token in the URL: no request the server saw carries one.
    assert all("access_token" not in entry["params"] for entry in graph.log)


@pytest.mark.parametrize("graph_refuses_audience_filter", [
    False, True,
    # Refused in words that name the replication key: still the filter (issue 23, item 5).
    "(#100) Tried accessing nonexisting field (time_updated) on node type (CustomAudience)",
])
def test_incremental_run_returns_only_what_changed(fake_graph, tmp_path,
                                                   graph_refuses_audience_filter):
    graph = fake_graph("small", faults=Faults(
        reject_audience_filter=graph_refuses_audience_filter))
    config = tap_config(graph)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr[-2000:]
    touched_campaigns = set(graph.touch("campaigns", 50))
    touched_audiences = set(graph.touch("custom_audiences", 10))
    graph.log.clear()
    second = run_tap(tmp_path, config, state=first.state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert {r["id"] for r in second.records("campaigns")} == touched_campaigns
    assert {r["id"] for r in second.records("custom_audiences")} == touched_audiences
    assert second.records("adsets") == [] and second.records("ads") == []
    campaign_requests = [e for e in graph.log if e["path"].endswith("/campaigns")]
    assert campaign_requests and all(
        json.loads(e["params"]["filtering"])[0]["field"] == "campaign.updated_time"
        for e in campaign_requests)
    audience_items = sum(e.get("items", 0) for e in graph.log
                         if e["path"].endswith("/customaudiences"))
    if graph_refuses_audience_filter:
        assert "Graph refused the filtering parameter on custom_audiences" in second.stderr
        assert audience_items == len(graph.truth()["custom_audiences"])
    else:  # the changes, plus the one-second overlap at each account's bookmark
        assert len(touched_audiences) <= audience_items <= 2 * len(touched_audiences)
    # A third run with the second's state: nothing changed, nothing emitted twice.
    third = run_tap(tmp_path, config, state=second.state)
    assert third.records("campaigns") == [] and third.records("custom_audiences") == []


def test_faults_are_ridden_through_without_losing_a_record(fake_graph, tmp_path):
    probe = fake_graph("small")
    first_account = probe.data.ad_account(0)["account_id"]
    second_account = probe.data.ad_account(1)["account_id"]
    faults = Faults(transient_rate=0.05, throttle_object=first_account, throttle_at_call=2,
                    throttle_seconds=1.5, reduce_data_edge="customaudiences",
                    reduce_data_max_limit=50, denied={(second_account, "campaigns")},
                    malformed_at_request=7)
    graph = fake_graph("small", seed=7, faults=faults)
    run = run_tap(tmp_path, tap_config(graph))
    assert run.returncode == 0, run.stderr[-3000:]
    assert_complete(run, graph.truth())
    assert "PARTIAL: 1 asset edge(s) skipped:" in run.stderr
    assert f"campaigns: campaigns edge /act_{second_account}/campaigns: HTTP 403, code 200" \
        in run.stderr
    assert [e for e in graph.log if e.get("while_blocked")] == []
    assert any(e.get("code") == 80004 for e in graph.log)
    assert "page size now 250 for the rest of the run" in run.stderr
    assert "page size now 31 for the rest of the run" in run.stderr  # 500 halved to <= 50
    assert "page size now 15 " not in run.stderr  # concurrent failures at 62 halve it once
    assert DEFAULT_TOKEN not in run.stdout + run.stderr


def test_invalid_token_fails_fast_with_a_plain_message(fake_graph, tmp_path):
    graph = fake_graph("small")
    bad = "EAAwrongwrongwrongwrongwrong123"
    run = run_tap(tmp_path, {**tap_config(graph), "access_token": bad})
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "tap-meta-bm: error: Meta rejected the access token (the token is invalid or was "
        "revoked: Invalid OAuth access token - Cannot parse access token) [HTTP 400, code "
        "190/467, fbtrace_id " + run.stderr.split("fbtrace_id ")[-1].split("]")[0] + "]. "
        "Generate a new system-user token in Business Settings > System users and update "
        "access_token.")
    assert bad not in run.stdout + run.stderr
    assert len(graph.log) <= 8  # one per worker at most, then the governor halts everyone


def test_killed_run_resumes_to_the_same_data_as_a_clean_run(fake_graph, tmp_path):
    clean_graph = fake_graph("small")
    clean = run_tap(tmp_path, tap_config(clean_graph, max_workers=1))
    dying_graph = fake_graph("small", faults=Faults(expire_token_after=20))
    dying = run_tap(tmp_path, tap_config(dying_graph, max_workers=1))
    assert dying.returncode == 1
    assert "the token has expired" in dying.stderr.splitlines()[-1]
    dying_graph.faults.expire_token_after = None
    resumed = run_tap(tmp_path, tap_config(dying_graph, max_workers=1), state=dying.state)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for stream in ("campaigns", "adsets", "ads", "custom_audiences", "saved_audiences"):
        combined = {r["id"] for r in dying.records(stream) + resumed.records(stream)}
        assert combined == {r["id"] for r in clean.records(stream)}, stream


def test_app_secret_proof_is_accepted_by_a_server_that_requires_it(fake_graph, tmp_path):
    graph = fake_graph("small", app_secret="app-secret-for-e2e")
    run = run_tap(tmp_path, tap_config(graph, app_secret="app-secret-for-e2e"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert_complete(run, graph.truth())
    assert "app-secret-for-e2e" not in run.stdout + run.stderr
    assert all(e["params"].get("appsecret_proof") for e in graph.log)
