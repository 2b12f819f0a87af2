"""One test per row of the error table: real-shaped Graph bodies -> exact classification."""

from __future__ import annotations

import pytest

from tap_meta_bm.errors import Action, GraphError, classify_graph_error, parse_body


def envelope(code, subcode=None, message="msg", transient=False, **extra):
    error = {"message": message, "type": "OAuthException", "code": code,
             "is_transient": transient, "fbtrace_id": "AbCdEf123", **extra}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@pytest.mark.parametrize(("status", "body", "action"), [
    # token: stop at once
    (400, envelope(190, 463, "Error validating access token: Session has expired"), Action.TOKEN),
    (400, envelope(190, 460), Action.TOKEN),
    (400, envelope(190), Action.TOKEN),
    (400, envelope(102), Action.TOKEN),
    (400, envelope(104), Action.TOKEN),
    # permission on one asset: skip it
    (403, envelope(10, message="(#10) Application does not have permission"), Action.SKIP),
    (400, envelope(200, message="(#200) Requires business_management permission"), Action.SKIP),
    (400, envelope(272), Action.SKIP),
    (400, envelope(294), Action.SKIP),
    (400, envelope(100, 33, "Unsupported get request. Object does not exist"), Action.SKIP),
    # throttled: wait
    (400, envelope(4, message="Application request limit reached"), Action.THROTTLE),
    (400, envelope(17, 2446079, "User request limit reached"), Action.THROTTLE),
    (400, envelope(32), Action.THROTTLE),
    (400, envelope(613, 1487742), Action.THROTTLE),
    (400, envelope(80000), Action.THROTTLE),
    (400, envelope(80004, message="There have been too many calls to this ad-account"),
     Action.THROTTLE),
    (400, envelope(80014), Action.THROTTLE),
    (400, envelope(341, message="Application limit reached", transient=True), Action.THROTTLE),
    # too much data: shrink
    (500, envelope(1, 99, "Please reduce the amount of data you're asking for, then retry "
                          "your request"), Action.SHRINK),
    (500, envelope(1, message="Please reduce the amount of data you're asking for, then "
                              "retry your request"), Action.SHRINK),
    (400, envelope(100, 1487534, "(#100) too much data"), Action.SHRINK),
    # transient: retry with backoff
    (500, envelope(1, message="An unknown error occurred"), Action.RETRY),
    (503, envelope(2, message="Service temporarily unavailable", transient=True), Action.RETRY),
    (400, envelope(9999, transient=True), Action.RETRY),
    (502, {"not": "graph"}, Action.RETRY),
    (200, None, Action.RETRY),  # "Service Unavailable" 200 with an HTML or text body
    (504, None, Action.RETRY),
    # a field Graph no longer reads: ask without it
    (400, envelope(100, message="(#100) Tried accessing nonexisting field (bogus)"),
     Action.DROP_FIELD),
    (400, envelope(100, message="(#100) Tried accessing nonexisting field "
                                "(invited_user_type) on node type (BusinessUser)"),
     Action.DROP_FIELD),
    # a Page edge that wants the Page's own token (the token itself is fine)
    (400, envelope(190, message="(#190) This method must be called with a Page Access Token"),
     Action.PAGE_TOKEN),
    (400, envelope(210, message="(#210) A page access token is required to request this "
                                "resource."), Action.PAGE_TOKEN),
    (400, envelope(190, 467, "Invalid OAuth access token - page access token"), Action.TOKEN),
    # request bug: stop and say what is wrong
    (400, envelope(100, message="(#100) Unknown fields: bogus"), Action.REQUEST),
    (400, envelope(2500, message="Error parsing graph query"), Action.REQUEST),
    (400, envelope(2635, message="You are calling a deprecated version"), Action.REQUEST),
    (404, {"foo": 1}, Action.REQUEST),
])
def test_classification(status, body, action):
    error = classify_graph_error(status, body)
    assert error is not None
    assert error.action is action


def test_success_is_not_an_error():
    assert classify_graph_error(200, {"data": []}) is None
    assert classify_graph_error(200, {"id": "1"}) is None


def test_decided_by_code_not_http_status():
    same_body = envelope(80004)
    assert {classify_graph_error(s, same_body).action for s in (400, 403, 429, 500)} == {
        Action.THROTTLE}


def test_parse_body_returns_none_for_non_json():
    assert parse_body(b"Service Unavailable") is None
    assert parse_body(b"") is None
    assert parse_body(None) is None
    assert parse_body(b'{"data": [') is None  # cut off mid-body
    assert parse_body(b'{"name": "\xff"}') is None  # not UTF-8
    assert parse_body(b'{"data": []}') == {"data": []}


def test_parse_body_decodes_graph_values_exactly():
    body = ('{"id": "120210000000000001", "n": 12345678901234567890123, "x": 0.1, '
            '"name": "Acme \u00e9 🚀", "ok": true, "none": null}')
    assert parse_body(body.encode()) == parse_body(body) == {
        "id": "120210000000000001", "n": 12345678901234567890123, "x": 0.1,
        "name": "Acme é 🚀", "ok": True, "none": None}


def test_token_message_is_plain_and_actionable():
    error = classify_graph_error(400, envelope(190, 463, "Session has expired on Tuesday"))
    assert error.describe("campaigns edge /act_1/campaigns") == (
        "Meta rejected the access token (the token has expired: Session has expired on "
        "Tuesday) [HTTP 400, code 190/463, fbtrace_id AbCdEf123]. Generate a new system-user "
        "token in Business Settings > System users and update access_token."
    )


def test_skip_message_names_asset_and_missing_permission():
    error = classify_graph_error(403, envelope(
        200, message="(#200) Requires business_management permission",
        error_user_msg="You need business_management"))
    assert error.describe("pages edge /111/client_pages") == (
        "no access to pages edge /111/client_pages: You need business_management "
        "[HTTP 403, code 200, fbtrace_id AbCdEf123]. The token's system user needs the asset "
        "assigned with a task that allows reading it, and the app needs business_management / "
        "ads_read."
    )


def test_nonexisting_field_names_the_field():
    error = classify_graph_error(400, envelope(
        100, message="(#100) Tried accessing nonexisting field (bogus) on node type (Campaign)"))
    assert error.field == "bogus"
    assert classify_graph_error(400, envelope(100, message="(#100) Other")).field is None
    assert error.describe("campaigns edge /act_1/campaigns") == (
        "Graph refused the request for campaigns edge /act_1/campaigns: (#100) Tried "
        "accessing nonexisting field (bogus) on node type (Campaign) [HTTP 400, code 100, "
        "fbtrace_id AbCdEf123]. Check the field, parameter or api_version it names."
    )


@pytest.mark.parametrize(("message", "fields"), [
    ("(#100) cpp is not valid for fields param. please check https://developers.facebook.com"
     "/docs/marketing-api/reference/ads-insights/ for all valid values", "cpp"),
    ("(#100) cpp, unique_clicks are not valid for fields param. please check ...",
     "cpp,unique_clicks"),
])
def test_a_retired_insights_metric_is_a_field_to_drop(message, fields):
    error = classify_graph_error(400, envelope(100, message=message))
    assert (error.action, error.field) == (Action.DROP_FIELD, fields)


def test_odd_envelopes_do_not_crash():
    assert classify_graph_error(400, {"error": "plain string"}).action is Action.REQUEST
    assert classify_graph_error(400, {"error": {"code": "190"}}).action is Action.TOKEN
    assert classify_graph_error(400, {"error": {"code": "¹"}}).action is Action.REQUEST
    weird = classify_graph_error(500, {"error": {"code": True, "error_subcode": [1]}})
    assert weird == GraphError(Action.RETRY, 500, message="")
