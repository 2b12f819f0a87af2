"""First pages in Batch API calls: what is sent, and that every answer meets the same error
policy as a request sent alone."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from urllib.parse import parse_qs, urlencode

import pytest
import requests
import requests_mock

from tap_meta_bm.batch import FirstPageBatcher, batch_form, form_encode
from tests.helpers import (
    BASE,
    BUSINESS,
    TOKEN,
    batch_calls,
    comparable_state,
    last_state,
    mock_batch,
    mock_empty_graph,
    page,
    path,
    records,
    run,
)

ACCOUNTS = [f"act_{n}" for n in range(1, 13)]
DENIED = {"error": {"message": "(#200) Requires ads_read permission", "code": 200,
                    "fbtrace_id": "D"}}
TRANSIENT = {"error": {"message": "An unexpected error has occurred. Please retry your request "
                                  "later.", "code": 2, "is_transient": True, "fbtrace_id": "T"}}


def campaigns_of(request, context):
    n = int(request.path.split("/")[2].removeprefix("act_"))
    start = int(request.qs.get("after", ["0"])[0])
    data = [{"id": f"{n}-{i}", "updated_time": f"2024-01-{1 + i:02d}T00:00:00+0000"}
            for i in range(start, min(start + 3, n))]
    return page(data, after=str(start + 3) if start + 3 < n else None)


@pytest.fixture
def graph(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # retries back off instantly
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mock_batch(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts",
                   json=page([{"id": a} for a in ACCOUNTS]))
        mocker.get(re.compile(rf"^{re.escape(BASE)}/act_\d+/campaigns"), json=campaigns_of)
        yield mocker


def sent_by_tap(graph) -> list:
    """Requests the tap sent (the batch mock's own sub-requests carry requests' default UA)."""
    return [r for r in graph.request_history
            if not r.headers.get("User-Agent", "").startswith("python-requests")]


def batches(graph) -> list:
    return [r for r in sent_by_tap(graph) if r.method == "POST"]


def campaign_gets(graph) -> list[str]:
    return [r.url.removeprefix(f"{BASE}/") for r in sent_by_tap(graph)
            if r.method == "GET" and path(r).endswith("/campaigns")]


def test_first_pages_of_all_accounts_travel_in_one_batch_call(graph):
    serial = run(["campaigns"], max_workers=1)
    alone = campaign_gets(graph)
    assert batches(graph) == []  # one worker: one call at a time, no batch
    graph.reset_mock()

    parallel = run(["campaigns"], max_workers=4)

    [batch] = batches(graph)
    assert batch.url == f"{BASE}/"
    assert batch.headers["Authorization"] == f"Bearer {TOKEN}"
    form = parse_qs(batch.text)
    assert sorted(form) == ["access_token", "batch", "include_headers"]
    assert form["include_headers"] == ["true"]
    # The token in the body too, for the sub-requests (Meta's batch reference), never a URL.
    assert form["access_token"] == [TOKEN]
    first_pages = [url for url in alone if "after=" not in url]
    assert [c["method"] for c in batch_calls(batch)] == ["GET"] * 12
    assert [c["relative_url"] for c in batch_calls(batch)] == first_pages
    # Later pages go alone, exactly as in the serial run (workers interleave them).
    assert sorted(campaign_gets(graph)) == sorted(url for url in alone if "after=" in url)
    assert TOKEN not in batch.url
    assert not any(TOKEN in c["relative_url"] for c in batch_calls(batch))
    assert records(parallel, "campaigns") == records(serial, "campaigns")
    assert comparable_state(last_state(parallel)) == comparable_state(last_state(serial))


def test_appsecret_proof_is_sent_once_for_the_whole_batch(graph):
    run(["campaigns"], max_workers=4, app_secret="s3cret")
    [batch] = batches(graph)
    proof = hmac.new(b"s3cret", TOKEN.encode(), hashlib.sha256).hexdigest()
    assert parse_qs(batch.text)["appsecret_proof"] == [proof]
    assert all("appsecret_proof" not in c["relative_url"] for c in batch_calls(batch))


def test_transient_failure_inside_a_batch_is_retried_alone(graph):
    graph.get(f"{BASE}/act_3/campaigns", [{"status_code": 500, "json": TRANSIENT},
                                          {"json": page([{"id": "3-0"}])}])
    messages = run(["campaigns"], max_workers=4)
    assert [url.split("?")[0] for url in campaign_gets(graph) if "after=" not in url] == [
        "act_3/campaigns"]
    assert {r["id"] for r in records(messages, "campaigns") if r["account_id"] == "3"} == {"3-0"}
    assert len(records(messages, "campaigns")) == sum(range(1, 13)) - 3 + 1


def test_unanswered_sub_request_is_sent_alone(graph):
    mock_batch(graph, unanswered="act_5/")
    messages = run(["campaigns"], max_workers=4)
    assert [u.split("?")[0] for u in campaign_gets(graph) if "after=" not in u] == [
        "act_5/campaigns"]
    assert len(records(messages, "campaigns")) == sum(range(1, 13))


def test_failed_batch_call_falls_back_to_one_request_per_page(graph, caplog):
    graph.post(f"{BASE}/", status_code=500, json=TRANSIENT)
    with caplog.at_level(logging.WARNING):
        messages = run(["campaigns"], max_workers=4)
    assert len(batches(graph)) == 1
    assert len([u for u in campaign_gets(graph) if "after=" not in u]) == 12
    assert len(records(messages, "campaigns")) == sum(range(1, 13))
    [warning] = [r.getMessage() for r in caplog.records if "Batch of" in r.getMessage()]
    assert warning.startswith("Batch of 12 first pages of campaigns failed (")
    assert warning.endswith("); sending them one by one")


def test_throttled_batch_call_blocks_the_app_before_pages_go_alone(graph, fake_time):
    graph.post(f"{BASE}/", status_code=400, json={"error": {
        "message": "(#4) Application request limit reached", "code": 4, "fbtrace_id": "A"}})
    messages = run(["campaigns"], max_workers=4)
    assert len(records(messages, "campaigns")) == sum(range(1, 13))
    # No page went alone before the governor's fallback block (60 s) had passed.
    assert fake_time.sleeps[0] == 60.0
    assert len([u for u in campaign_gets(graph) if "after=" not in u]) == 12


def test_denied_account_inside_a_batch_is_skipped_and_reported(graph, caplog):
    graph.get(f"{BASE}/act_2/campaigns", status_code=403, json=DENIED)
    with caplog.at_level(logging.WARNING):
        messages = run(["campaigns"], max_workers=4)
    assert campaign_gets(graph) and not any(u.startswith("act_2/") for u in campaign_gets(graph))
    assert {r["account_id"] for r in records(messages, "campaigns")} == {
        str(n) for n in range(1, 13)} - {"2"}
    assert any("Skipping no access to campaigns edge /act_2/campaigns" in r.getMessage()
               for r in caplog.records)


# -- FirstPageBatcher on its own ------------------------------------------------------------
class Recorder:
    def __init__(self, answer=lambda prepared: {"code": 200, "headers": [], "body": "{}"}):
        self.sent: list[list[str]] = []
        self.answer = answer

    def prepare(self, context):
        return requests.Request("GET", f"{BASE}/{context['id']}/campaigns").prepare()

    def send(self, prepared):
        self.sent.append([p.url.removeprefix(f"{BASE}/").split("/")[0] for p in prepared])
        return [self.answer(p) for p in prepared]


def batcher(recorder, count=120, may_batch=lambda c: True, size=50):
    contexts = [{"id": str(n)} for n in range(count)]
    return FirstPageBatcher(contexts, recorder.prepare, recorder.send, may_batch, size), contexts


def test_batcher_sends_each_first_page_once_in_order_of_need():
    recorder = Recorder()
    pages, contexts = batcher(recorder)
    first = pages.first_page(contexts[0])
    assert recorder.sent == [[str(n) for n in range(50)]]
    assert first.status_code == 200
    assert first.request.url == f"{BASE}/0/campaigns"
    assert pages.first_page(contexts[0]) is None  # once: a retry goes alone
    pages.first_page(contexts[60])
    pages.first_page(contexts[55])
    assert recorder.sent[1:] == [[str(n) for n in range(60, 110)],
                                 [str(n) for n in (*range(55, 60), *range(110, 120))]]
    assert pages.first_page({"id": "elsewhere"}) is None


def test_batcher_leaves_out_what_may_not_be_batched_and_what_got_no_answer():
    recorder = Recorder(answer=lambda p: None if p.url.endswith("/7/campaigns") else
                        {"code": 200, "headers": [], "body": "{}"})
    pages, contexts = batcher(recorder, count=10, may_batch=lambda c: c["id"] != "3")
    assert pages.first_page(contexts[3]) is None
    assert pages.first_page(contexts[7]) is None
    assert pages.first_page(contexts[8]) is not None
    assert recorder.sent == [["4", "5", "6", "7", "8", "9"]]


def test_a_run_of_objects_that_may_not_be_batched_costs_one_batch_window_only():
    recorder = Recorder()
    paced = {"on": True}
    pages, contexts = batcher(recorder, count=120, may_batch=lambda c: not paced["on"])
    assert pages.first_page(contexts[0]) is None  # 0..49 examined while paced: all go alone
    paced["on"] = False
    assert pages.first_page(contexts[50]) is not None
    assert recorder.sent == [[str(n) for n in range(50, 100)]]


def test_batch_of_one_is_not_sent():
    recorder = Recorder()
    pages, contexts = batcher(recorder, count=3, size=1)
    assert [pages.first_page(c) for c in contexts] == [None, None, None]
    assert recorder.sent == []


def test_form_encoding_matches_urlencode():
    form = batch_form([requests.Request("GET", f"{BASE}/act_1/campaigns", params={
        "fields": "id,name", "filtering": '[{"field":"campaign.updated_time","value":1}]',
    }).prepare()], BASE, "ab12", TOKEN)
    assert form_encode(form) == urlencode(form)


def test_batch_form_uses_relative_urls_and_one_top_level_proof():
    prepared = requests.Request("GET", f"{BASE}/act_1/campaigns",
                                params={"fields": "id", "appsecret_proof": "p"}).prepare()
    form = batch_form([prepared], BASE, "p", TOKEN)
    assert form == {"access_token": TOKEN,
                    "batch": '[{"method":"GET","relative_url":"act_1/campaigns?fields=id"}]',
                    "include_headers": "true", "appsecret_proof": "p"}
