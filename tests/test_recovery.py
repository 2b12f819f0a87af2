"""The recovery decision on its own: Graph's documented answers in, steps out, no HTTP.

Each error body is Meta's own shape and words (errors.py cites them); the decision is checked
as the exact steps it returns, so a change of policy shows here first.
"""

from __future__ import annotations

import random

import pytest
import requests

from tap_meta_bm.edges import EdgePolicy, EdgeRead
from tap_meta_bm.errors import AssetSkipped, GraphError, GraphFatalError, classify_graph_error
from tap_meta_bm.recovery import (
    DropFields,
    End,
    LeaveOut,
    RefuseCredential,
    Retry,
    RetryPolicy,
    Shrink,
    StopRun,
    UsePageToken,
    Wait,
    decide,
)
from tap_meta_bm.transport import Endpoint

ENDPOINT = Endpoint("https://graph.facebook.com", "v26.0", timeout=300, connect_timeout=10)


def graph_error(status: int, code: int, message: str, subcode: int | None = None
                ) -> GraphError:
    body = {"error": {"message": message, "type": "OAuthException", "code": code,
                      "fbtrace_id": "Atrace"}}
    if subcode is not None:
        body["error"]["error_subcode"] = subcode
    error = classify_graph_error(status, body)
    assert error is not None
    return error


def campaigns(**policy: object) -> EdgeRead:
    settings: dict = {"stream": "campaigns", "fields": ("id", "name", "updated_time"),
                      "columns": {}, "paged": True, "page_size": 100,
                      "keys": frozenset({"id"}), "replication_key": "updated_time", **policy}
    return EdgeRead("/act_1/campaigns", (), "act_1", EdgePolicy(**settings))


def page_users(**read: object) -> EdgeRead:
    policy = EdgePolicy(stream="page_assigned_users", fields=("id", "tasks"), columns={},
                        paged=True, page_size=100)
    return EdgeRead("/p1/assigned_users", (), "p1", policy, page_id="p1", **read)


NONEXISTING = "(#100) Tried accessing nonexisting field ({field}) on node type (Campaign)"
SENT = {"fields": "id,name,updated_time", "limit": "100"}


def test_a_retired_field_is_left_out_and_nothing_else_changes():
    error = graph_error(400, 100, NONEXISTING.format(field="name"))
    assert decide(campaigns(), error, SENT, False, "v26.0") == (DropFields(("name",)),)


def test_a_retired_key_ends_the_stream_with_what_to_do():
    error = graph_error(400, 100, NONEXISTING.format(field="updated_time"))
    (step,) = decide(campaigns(), error, SENT, False, "v26.0")
    assert isinstance(step, End) and isinstance(step.failure, GraphFatalError)
    assert str(step.failure) == (
        "campaigns edge /act_1/campaigns: Graph v26.0 no longer reads 'updated_time', the "
        "replication key of stream campaigns, so the stream cannot be synced [HTTP 400, code "
        "100, fbtrace_id Atrace]. Pin api_version to the version that worked, or deselect the "
        "stream.")


def test_a_field_the_user_named_in_a_report_ends_the_run_rather_than_a_null_column():
    error = graph_error(400, 100, NONEXISTING.format(field="name"))
    (step,) = decide(campaigns(explicit_fields=frozenset({"name"})), error, SENT, False,
                     "v26.0")
    assert isinstance(step, End)
    assert "names in insights_reports" in str(step.failure)


def test_a_field_refused_inside_an_optional_filter_leaves_the_filter_out_not_the_field():
    error = graph_error(400, 100, NONEXISTING.format(field="updated_time"))
    read = campaigns(optional_params={"filtering": "reading every row instead"})
    sent = {**SENT, "filtering": '[{"field":"updated_time","operator":"GREATER_THAN"}]'}
    assert decide(read, error, sent, False, "v26.0") == (LeaveOut(("filtering",)),)


def test_a_field_not_asked_for_is_a_request_bug_not_a_retired_field():
    error = graph_error(400, 100, NONEXISTING.format(field="status"))
    (step,) = decide(campaigns(), error, SENT, False, "v26.0")
    assert isinstance(step, End) and isinstance(step.failure, GraphFatalError)


def test_too_much_data_halves_the_page_that_was_sent_until_one_row_is_too_much():
    error = graph_error(500, 1, "Please reduce the amount of data you're asking for, then "
                                "retry your request")
    assert decide(campaigns(), error, {**SENT, "limit": "40"}, False, "v26.0") == (Shrink(40),)
    (step,) = decide(campaigns(), error, {**SENT, "limit": "1"}, False, "v26.0")
    assert isinstance(step, End)
    assert str(step.failure).startswith("campaigns edge /act_1/campaigns (even limit=1 is too "
                                        "much data; deselect heavy fields of this stream)")


def test_a_transient_fault_is_retried_and_a_throttle_waits():
    unknown = graph_error(500, 2, "An unexpected error has occurred. Please retry your "
                                  "request later.")
    throttled = graph_error(400, 17, "(#17) User request limit reached", subcode=2446079)
    assert decide(campaigns(), unknown, SENT, False, "v26.0") == (Retry(),)
    assert decide(campaigns(), throttled, SENT, False, "v26.0") == (Wait(),)


def test_a_dead_token_stops_the_run_but_a_dead_partner_token_only_its_reads():
    expired = graph_error(400, 190, "Error validating access token: Session has expired",
                          subcode=463)
    assert decide(campaigns(), expired, SENT, False, "v26.0") == (StopRun(),)
    partner = EdgeRead("/b9/business_users", (), "b9", campaigns().policy, credential="b9")
    assert decide(partner, expired, SENT, False, "v26.0") == (RefuseCredential(),)


def test_a_page_edge_tries_the_pages_own_token_once_then_is_skipped():
    refused = graph_error(403, 200, "(#200) Requires pages_manage_metadata permission to "
                                    "manage the object")
    assert decide(page_users(), refused, SENT, False, "v26.0") == (UsePageToken(False),)
    (step,) = decide(page_users(), refused, SENT, True, "v26.0")  # a permission: Graph's words
    assert isinstance(step, End) and isinstance(step.failure, AssetSkipped)
    assert step.failure.error is refused
    dead = graph_error(400, 190, "Error validating access token: The session is invalid",
                       subcode=460)
    (step,) = decide(page_users(), dead, SENT, True, "v26.0")  # never the run's token
    assert isinstance(step, End) and isinstance(step.failure, AssetSkipped)
    assert step.failure.error.message == (
        "Graph refused the Page's own token as well (Error validating access token: The "
        "session is invalid)")


def test_graph_asking_for_page_tokens_switches_the_whole_stream():
    wants = graph_error(400, 190, "(#190) This method must be called with a Page Access Token")
    assert decide(page_users(), wants, SENT, False, "v26.0") == (UsePageToken(True),)


def test_a_refusal_while_asked_for_permissioned_fields_costs_those_fields_first():
    refused = graph_error(403, 200, "(#200) Requires instagram_basic permission")
    read = campaigns(optional_fields={"name": "it needs instagram_basic"})
    assert decide(read, refused, SENT, False, "v26.0") == (
        DropFields(("name",), needed_permission=True),)
    (step,) = decide(read, refused, {"fields": "id,updated_time"}, False, "v26.0")
    assert isinstance(step, End) and isinstance(step.failure, AssetSkipped)


def test_an_expired_version_names_the_version_graph_offers():
    old = graph_error(400, 2635, "(#2635) You are calling a deprecated version of the Ads "
                                 "API. Please update to the latest version: v26.0.")
    (step,) = decide(campaigns(), old, SENT, False, "v19.0")
    assert isinstance(step, End)
    assert "Set api_version to v26.0" in str(step.failure)


@pytest.mark.parametrize(("failure", "attempts", "expected"), [
    (requests.ConnectTimeout(), 2, None),
    (requests.ConnectTimeout(), 3,
     "graph.facebook.com:443 did not accept a connection within connect_timeout (10 s), 3 "
     "times in a row, for campaigns edge /act_1/campaigns. Check api_url "
     "(https://graph.facebook.com) and the network; for a slow but working Graph, raise "
     "that timeout."),
    (requests.ReadTimeout(), 1, None),
    (requests.ReadTimeout(), 2,
     "graph.facebook.com:443 accepted the connection but sent no answer within "
     "request_timeout (300 s), 2 times in a row, for campaigns edge /act_1/campaigns. Check "
     "api_url (https://graph.facebook.com) and the network; for a slow but working Graph, "
     "raise that timeout."),
    (requests.ConnectionError(ConnectionRefusedError(111, "Connection refused")), 1,
     "cannot reach graph.facebook.com (connection refused) for campaigns edge "
     "/act_1/campaigns. Check api_url (https://graph.facebook.com) and the network."),
    (requests.ConnectionError("reset"), 5, None),
    (requests.ConnectionError("reset"), 6,
     "campaigns edge /act_1/campaigns: still failing after 6 attempts: ConnectionError "
     "talking to graph.facebook.com. Meta may be having an outage; rerun later (the state "
     "already written lets the rerun resume)."),
])
def test_the_retry_policy_gives_up_where_it_says(failure, attempts, expected):
    given_up = RetryPolicy().give_up("campaigns edge /act_1/campaigns", failure, attempts,
                                     ENDPOINT)
    assert (None if given_up is None else str(given_up)) == expected


def test_a_batch_sent_once_gives_up_on_a_silent_host_at_once():
    given_up = RetryPolicy().give_up("w", requests.ReadTimeout(), 1, ENDPOINT, final=True)
    assert given_up is not None and "sent no answer within request_timeout" in str(given_up)


def test_backoff_is_full_jitter_on_doubling_delays_up_to_the_cap(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # each range's top
    delays = RetryPolicy().delays()
    assert [next(delays) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
