"""GraphClient on its own: plain reads in, parsed pages and records out, no SDK object."""

from __future__ import annotations

import ast
import logging
import re
import socket
import threading
from email.utils import formatdate
from pathlib import Path

import requests_mock

from tap_meta_bm import graph
from tap_meta_bm.edges import EdgePolicy, EdgeRead
from tap_meta_bm.governor import Governor
from tap_meta_bm.graph import GraphClient
from tap_meta_bm.summary import RunSummary
from tests.helpers import BASE, TOKEN, page, path, query


def client(**overrides) -> GraphClient:
    logger = logging.getLogger("test")
    settings = {"api_url": "https://graph.facebook.com", "api_version": "v26.0",
                "access_token": TOKEN, "app_secret": None, "timeout": 5.0,
                "governor": Governor(75, logger), "summary": RunSummary(), "logger": logger,
                "user_agent": "tap-meta-bm/test", **overrides}
    return GraphClient(**settings)


def campaigns(account: str, policy: EdgePolicy) -> EdgeRead:
    return EdgeRead(f"/act_{account}/campaigns", (("effective_status", '["ACTIVE"]'),),
                    account, policy, column_values=(account,))


def policy() -> EdgePolicy:
    return EdgePolicy(stream="campaigns", fields=("id", "name"), columns={}, paged=True,
                      page_size=2, added_columns=("account_id",), keys=frozenset({"id"}))


def test_a_read_follows_cursors_and_adds_its_columns():
    with requests_mock.Mocker() as mocker:
        mocker.get(f"{BASE}/act_1/campaigns", [
            {"json": page([{"id": "c1"}, {"id": "c2"}], after="A")},
            {"json": page([{"id": "c3"}])}])
        got = list(client().records(campaigns("1", policy())))
        sent = [(path(r), query(r), r.headers["Authorization"]) for r in mocker.request_history]
    assert got == [{"id": "c1", "account_id": "1"}, {"id": "c2", "account_id": "1"},
                   {"id": "c3", "account_id": "1"}]
    expected = {"fields": "id,name", "limit": "2", "effective_status": '["ACTIVE"]'}
    assert sent == [("/v26.0/act_1/campaigns", expected, f"Bearer {TOKEN}"),
                    ("/v26.0/act_1/campaigns", {**expected, "after": "A"}, f"Bearer {TOKEN}")]
    assert all(TOKEN not in r.url for r in mocker.request_history)


def test_reads_from_many_threads_share_one_client():
    shared = client()
    one_policy = policy()
    results: dict[str, list[dict]] = {}
    with requests_mock.Mocker() as mocker:
        for n in range(8):
            mocker.get(f"{BASE}/act_{n}/campaigns", json=page([{"id": f"c{n}"}]))

        def read(n: int) -> None:
            results[str(n)] = list(shared.records(campaigns(str(n), one_policy)))

        threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {str(n): [{"id": f"c{n}", "account_id": str(n)}] for n in range(8)}
    assert shared.summary.tally("campaigns").requests == 8


def test_the_transport_holds_no_sdk_object():
    for module in ("graph.py", "edges.py", "transport.py", "recovery.py", "batch.py", "governor.py",
                   "page_tokens.py", "summary.py"):
        tree = ast.parse((Path(graph.__file__).parent / module).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        assert not any(str(name).startswith("singer_sdk") for name in imported), module


def test_a_body_cut_short_is_a_transient_failure_and_the_page_is_read_again(caplog,
                                                                         monkeypatch):
    # A server that promises 100 bytes, sends 10 and hangs up; then answers in full.
    body = b'{"data": [{"id": "c1", "name": "One"}]}'
    answers = [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"data\": [",
               b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body]
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for answer in answers:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setattr(graph.time, "sleep", lambda _: None)  # the backoff
    host, port = server.getsockname()
    try:
        records = list(client(api_url=f"http://{host}:{port}").records(
            campaigns("1", policy())))
    finally:
        server.close()
    assert records == [{"id": "c1", "name": "One", "account_id": "1"}]
    assert [re.sub(r"in [\d.]+ s", "in N s", r.getMessage()) for r in caplog.records
            if r.levelno == logging.WARNING] == [
        f"Retrying campaigns edge /act_1/campaigns in N s: ChunkedEncodingError talking to "
        f"{host}:{port}"]


def test_the_run_takes_its_calendar_from_graphs_date_header(wall_clock):
    """A machine whose clock is 5 hours and 3 seconds off reads Graph's days: the first
    answer's `Date` header sets the offset, later ones do not move it."""
    graph_now = wall_clock.time() + 5 * 3600 + 3
    with requests_mock.Mocker() as mocker:
        mocker.get(f"{BASE}/act_1/campaigns", [
            {"json": page([]), "headers": {"Date": formatdate(graph_now, usegmt=True)}},
            {"json": page([]), "headers": {"Date": formatdate(graph_now + 999, usegmt=True)}}])
        graph_client = client()
        assert graph_client.graph_time(1000.0) == 1000.0  # nothing heard from Graph yet
        list(graph_client.records(campaigns("1", policy())))
        list(graph_client.records(campaigns("1", policy())))
    assert abs(graph_client.graph_time(wall_clock.time()) - int(graph_now)) < 1.5


def test_an_answer_without_a_readable_date_leaves_the_local_clock():
    with requests_mock.Mocker() as mocker:
        mocker.get(f"{BASE}/act_1/campaigns", json=page([]), headers={"Date": "yesterday"})
        graph_client = client()
        list(graph_client.records(campaigns("1", policy())))
    assert graph_client.graph_time(1234.5) == 1234.5
