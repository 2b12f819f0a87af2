"""Page edges that want the Page's own token: read it with the system user's, use it there only."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import pytest
import requests_mock

from tests.helpers import (
    BASE,
    BUSINESS,
    READ_ID,
    TOKEN,
    mock_batch,
    mock_empty_graph,
    page,
    path,
    query,
    records,
    run,
)

PAGE_TOKENS = {"p1": "EAAPageTokenOfP1xxxxxxxx", "p2": "EAAPageTokenOfP2xxxxxxxx"}
WANTS_PAGE_TOKEN = {"error": {"message": "(#190) This method must be called with a Page Access "
                                         "Token", "type": "OAuthException", "code": 190,
                              "fbtrace_id": "PT"}}
ANA = {"id": "u1", "name": "Ana", "tasks": ["MANAGE"]}


def assigned_users(page_id: str):
    """Answers like Graph with `page_token_required`: only the Page's token reads the edge."""

    def respond(request, context):
        if request.headers["Authorization"] == f"Bearer {PAGE_TOKENS[page_id]}":
            return page([{**ANA, "id": f"u-{page_id}"}])
        context.status_code = 400
        return WANTS_PAGE_TOKEN

    return respond


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mock_batch(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_pages", json=page([{"id": "p1"}, {"id": "p2"}]))
        for page_id, token in PAGE_TOKENS.items():
            mocker.get(f"{BASE}/{page_id}", json={"access_token": token, "id": page_id})
            mocker.get(f"{BASE}/{page_id}/assigned_users", json=assigned_users(page_id))
        yield mocker


def sent(graph) -> list[tuple[str, str, dict[str, str]]]:
    """(path, token sent, query) of every GET below a page."""
    out = []
    for r in graph.request_history:
        if r.method == "GET" and path(r).startswith("/v26.0/p"):
            bearer = r.headers["Authorization"].removeprefix("Bearer ")
            name = next((f"page token of {p}" for p, t in PAGE_TOKENS.items() if t == bearer),
                        "system user" if bearer == TOKEN else bearer)
            out.append((path(r), name, query(r)))
    return out


ASSIGNED_QUERY = {"fields": "id,name,user_type,tasks,permitted_tasks,business",
                  "business": BUSINESS, "limit": "500"}


def test_page_edge_refusing_the_system_user_token_gets_the_page_token(graph, caplog):
    caplog.set_level("DEBUG")
    messages = run(["page_assignments"])
    assert records(messages, "page_assignments") == [
        {"user_id": "u-p1", "name": "Ana", "tasks": ["MANAGE"], "business_id": BUSINESS,
         "_read_id": READ_ID, "page_id": "p1", "asset_type": "PAGE", "asset_id": "p1"},
        {"user_id": "u-p2", "name": "Ana", "tasks": ["MANAGE"], "business_id": BUSINESS,
         "_read_id": READ_ID, "page_id": "p2", "asset_type": "PAGE", "asset_id": "p2"}]
    assert sent(graph) == [
        ("/v26.0/p1/assigned_users", "system user", ASSIGNED_QUERY),
        ("/v26.0/p1", "system user", {"fields": "access_token"}),
        ("/v26.0/p1/assigned_users", "page token of p1", ASSIGNED_QUERY),
        # Learned once: the next page's token is read first, no refused call per page.
        ("/v26.0/p2", "system user", {"fields": "access_token"}),
        ("/v26.0/p2/assigned_users", "page token of p2", ASSIGNED_QUERY),
    ]
    output = json.dumps(messages) + "\n".join(r.getMessage() for r in caplog.records)
    for token in PAGE_TOKENS.values():
        assert token not in output
    assert ("Graph wants Page access tokens for page_assignments [HTTP 400, code 190, "
            "fbtrace_id PT]: reading each Page's token with the system user's token (kept in "
            "memory only, never written)") in [r.getMessage() for r in caplog.records]


def test_page_token_travels_with_its_own_appsecret_proof(graph):
    run(["page_assignments"], app_secret="s3cr3t-app-secret")

    def proof(token: str) -> str:
        return hmac.new(b"s3cr3t-app-secret", token.encode(), hashlib.sha256).hexdigest()

    assert [(p, who, q["appsecret_proof"]) for p, who, q in sent(graph)] == [
        ("/v26.0/p1/assigned_users", "system user", proof(TOKEN)),
        ("/v26.0/p1", "system user", proof(TOKEN)),
        ("/v26.0/p1/assigned_users", "page token of p1", proof(PAGE_TOKENS["p1"])),
        ("/v26.0/p2", "system user", proof(TOKEN)),
        ("/v26.0/p2/assigned_users", "page token of p2", proof(PAGE_TOKENS["p2"])),
    ]


def test_batched_first_pages_refused_go_alone_with_page_tokens(graph):
    messages = run(["page_assignments"], max_workers=4)
    assert sorted(r["user_id"] for r in records(messages, "page_assignments")) == [
        "u-p1", "u-p2"]
    batches = [r for r in graph.request_history if r.method == "POST"]
    assert len(batches) == 1
    assert "Page" not in batches[0].text and "EAAPage" not in batches[0].text
    with_page_token = sorted(p for p, who, _ in sent(graph) if who.startswith("page token"))
    assert with_page_token == ["/v26.0/p1/assigned_users", "/v26.0/p2/assigned_users"]


def test_system_user_token_accepted_means_no_page_token_is_read(graph):
    graph.get(f"{BASE}/p1/assigned_users", json=page([ANA]))
    graph.get(f"{BASE}/p2/assigned_users", json=page([]))
    messages = run(["page_assignments"])
    assert [r["user_id"] for r in records(messages, "page_assignments")] == ["u1"]
    assert sent(graph) == [("/v26.0/p1/assigned_users", "system user", ASSIGNED_QUERY),
                           ("/v26.0/p2/assigned_users", "system user", ASSIGNED_QUERY)]


def test_page_without_a_task_is_skipped_with_what_to_fix(graph, caplog):
    graph.get(f"{BASE}/p1", json={"id": "p1"})  # Graph leaves out what the caller may not see
    messages = run(["page_assignments"])
    assert [r["page_id"] for r in records(messages, "page_assignments")] == ["p2"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and r.getMessage().startswith("Skipping")]
    assert warnings == [
        "Skipping no access to page_assignments edge /p1/assigned_users: Graph wants Page p1's "
        "own access token, and the system user cannot get it: it holds no task on the Page "
        "(assign the Page to the system user with Manage, and grant pages_manage_metadata) "
        "[HTTP 200, no code]. The token's system user needs the asset assigned with a task "
        "that allows reading it, and the app needs business_management / ads_read."]


def test_page_token_refused_as_well_skips_that_page(graph, caplog):
    graph.get(f"{BASE}/p1/assigned_users", status_code=400, json=WANTS_PAGE_TOKEN)
    messages = run(["page_assignments"])
    assert [r["page_id"] for r in records(messages, "page_assignments")] == ["p2"]
    assert [(p, who) for p, who, _ in sent(graph)] == [
        ("/v26.0/p1/assigned_users", "system user"), ("/v26.0/p1", "system user"),
        ("/v26.0/p1/assigned_users", "page token of p1"), ("/v26.0/p2", "system user"),
        ("/v26.0/p2/assigned_users", "page token of p2")]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
            and r.getMessage().startswith("Skipping")] == [
        "Skipping no access to page_assignments edge /p1/assigned_users: Graph refused the "
        "Page's own token as well ((#190) This method must be called with a Page Access Token) "
        "[HTTP 400, code 190, fbtrace_id PT]. The token's system user needs the asset assigned "
        "with a task that allows reading it, and the app needs business_management / ads_read."]


def test_page_token_wanted_off_a_page_edge_is_fatal(graph):
    from tap_meta_bm.errors import GraphFatalError
    graph.get(f"{BASE}/{BUSINESS}/business_users", status_code=400, json=WANTS_PAGE_TOKEN)
    with pytest.raises(GraphFatalError, match=r"^business_users edge /111/business_users wants "
                                              r"a Page access token"):
        run(["business_users"])


@pytest.mark.parametrize("refusal", [
    {"code": 190, "error_subcode": 460, "message": "Error validating access token: the "
                                                   "session was invalidated"},
    {"code": 200, "message": "(#200) Requires pages_manage_metadata permission"},
    {"code": 210, "message": "(#210) User not visible"},
    {"code": 10, "message": "(#10) This endpoint requires the 'pages_read_engagement' "
                            "permission"},
])
def test_any_refusal_of_the_system_user_token_on_a_page_edge_tries_the_page_token(
        graph, refusal):
    def respond(request, context):
        if request.headers["Authorization"] == f"Bearer {PAGE_TOKENS['p1']}":
            return page([{**ANA, "id": "u-p1"}])
        context.status_code = 400
        return {"error": {**refusal, "type": "OAuthException", "fbtrace_id": "R"}}

    graph.get(f"{BASE}/p1/assigned_users", json=respond)
    messages = run(["page_assignments"])
    assert [r["user_id"] for r in records(messages, "page_assignments")] == ["u-p1", "u-p2"]
    assert sent(graph)[:3] == [
        ("/v26.0/p1/assigned_users", "system user", ASSIGNED_QUERY),
        ("/v26.0/p1", "system user", {"fields": "access_token"}),
        ("/v26.0/p1/assigned_users", "page token of p1", ASSIGNED_QUERY)]


def test_a_page_token_refused_with_190_skips_that_page_not_the_run(graph, caplog):
    expired = {"error": {"code": 190, "error_subcode": 463, "type": "OAuthException",
                         "message": "Error validating access token: Session has expired",
                         "fbtrace_id": "X"}}
    graph.get(f"{BASE}/p1/assigned_users", status_code=400, json=expired)
    caplog.set_level(logging.WARNING)
    messages = run(["page_assignments"])
    assert [r["user_id"] for r in records(messages, "page_assignments")] == ["u-p2"]
    assert any(m.startswith("Skipping no access to page_assignments edge /p1/assigned_users: "
                            "Graph refused the Page's own token as well (Error validating "
                            "access token: Session has expired) [HTTP 400, code 190/463")
               for m in caplog.messages)
