"""Shared test helpers: run the tap in-process against requests-mock and read its messages."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tap_meta_bm.state import expand_state
from tap_meta_bm.tap import TapMetaBM

BASE = "https://graph.facebook.com/v26.0"
TOKEN = "EAAtesttoken0123456789secret"
BUSINESS = "111"
#: The read id of every run by `run`: full-table records carry it as `_read_id`.
READ_ID = 1764633600000


def config(**overrides: Any) -> dict[str, Any]:
    return {"access_token": TOKEN, "business_ids": [BUSINESS], "max_workers": 1, **overrides}


def catalog(streams: list[str], deselect: dict[str, list[str]] | None = None,
            **config_overrides: Any) -> dict:
    """The tap's own catalog with only `streams` selected (and some properties deselected)."""
    cat = TapMetaBM(config=config(**config_overrides)).catalog_dict
    deselect = deselect or {}
    for entry in cat["streams"]:
        for meta in entry["metadata"]:
            crumb = meta["breadcrumb"]
            if not crumb:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
            elif crumb[-1] in deselect.get(entry["tap_stream_id"], []):
                meta["metadata"]["selected"] = False
    return cat


def run(streams: list[str], *, state: dict | None = None,
        deselect: dict[str, list[str]] | None = None, read_id: int = READ_ID,
        **config_overrides: Any) -> list[dict]:
    """Sync the selected streams (the run's id `read_id`); returns every Singer message
    written to stdout."""
    tap = TapMetaBM(
        config=config(**config_overrides),
        catalog=catalog(streams, deselect, **config_overrides),
        state=state,
    )
    tap.run.read_id = read_id
    return messages_of(tap.sync_all)


def run_failing(streams: list[str], fails_with: str, **config_overrides: Any) -> list[dict]:
    """Sync the selected streams, which must stop on a Graph error matching `fails_with`;
    returns the messages written before it did."""
    from tap_meta_bm.errors import GraphFatalError

    tap = TapMetaBM(config=config(**config_overrides),
                    catalog=catalog(streams, **config_overrides))

    def sync() -> None:
        with pytest.raises(GraphFatalError, match=fails_with):
            tap.sync_all()

    return messages_of(sync)


def messages_of(call: Any) -> list[dict]:
    """Every Singer message `call()` writes to stdout."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")  # the tap writes bytes to stdout.buffer
    with contextlib.redirect_stdout(out):
        call()
    out.flush()
    return [json.loads(line) for line in raw.getvalue().decode().splitlines() if line.strip()]


def records(messages: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def last_state(messages: list[dict]) -> dict:
    """The last STATE's value in the SDK's shape (state.py writes it compact), partitions in
    the order of their context."""
    return sdk_state([m for m in messages if m["type"] == "STATE"][-1]["value"])


def sdk_state(value: dict) -> dict:
    state = expand_state(value)
    for stream in state.get("bookmarks", {}).values():
        if isinstance(stream, dict) and "partitions" in stream:
            stream["partitions"].sort(key=lambda p: json.dumps(p.get("context"), sort_keys=True))
    return state


def comparable_state(state: dict) -> dict:
    """A state without `read_started` (the second a run began) and the last complete read's
    id (the millisecond it began), to compare two runs' states."""
    copy = json.loads(json.dumps(state))
    copy.get("bookmarks", {}).get("complete_reads", {}).pop("replication_key_value", None)
    for stream in copy.get("bookmarks", {}).values():
        for partition in stream.get("partitions", []):
            partition.pop("read_started", None)
    return copy


def query(request: Any) -> dict[str, str]:
    """A mocked request's query string as a flat dict (values kept exactly as sent)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def path(request: Any) -> str:
    return urlsplit(request.url).path


def mock_empty_graph(mocker: Any) -> None:
    """Every edge answers an empty page; tests register the edges they care about after this
    (requests-mock tries the most recent registration first)."""
    mocker.get(re.compile(r"^https://graph\.facebook\.com/"), json={"data": []})
    mock_report_jobs(mocker)


#: Report run ids of `mock_report_jobs`: REPORT_PREFIX + the account id.
REPORT_PREFIX = "7000"


def mock_report_jobs(mocker: Any) -> None:
    """Report jobs that complete at once with no rows: `POST /act_{id}/insights` answers
    report run REPORT_PREFIX + id; its poll says "Job Completed"; its rows are empty."""
    def start(request: Any, context: Any) -> dict[str, str]:
        account = path(request).split("/")[-2].removeprefix("act_")
        return {"report_run_id": f"{REPORT_PREFIX}{account}"}

    mocker.post(re.compile(rf"^{re.escape(BASE)}/act_\d+/insights$"), json=start)
    mocker.get(re.compile(rf"^{re.escape(BASE)}/{REPORT_PREFIX}\d+(\?|$)"),
               json={"async_status": "Job Completed", "async_percent_completion": 100})


def batch_calls(request: Any) -> list[dict[str, str]]:
    """The sub-requests of a mocked Batch API call."""
    return json.loads(parse_qs(request.text)["batch"][0])


#: What Graph answers a batch sub-request that has no token to use.
NO_TOKEN = {"error": {"message": "An access token is required to request this resource.",
                      "type": "OAuthException", "code": 104, "fbtrace_id": "B"}}


def mock_batch(mocker: Any, unanswered: str | None = None) -> None:
    """`POST /v26.0/` answers each sub-request with what the GET mocks answer it, in Graph's
    batch answer format, under the batch's top-level `access_token` parameter (Meta's batch
    reference; without it, 104 as Graph answers); sub-requests whose relative URL starts with
    `unanswered` get `null`, as when they time out inside the batch."""

    def respond(request: Any, context: Any) -> list[dict[str, Any] | None]:
        answers: list[dict[str, Any] | None] = []
        token = parse_qs(request.text).get("access_token", [None])[0]
        for call in batch_calls(request):
            if unanswered and call["relative_url"].startswith(unanswered):
                answers.append(None)
                continue
            if token is None:
                answers.append({"code": 400, "body": json.dumps(NO_TOKEN), "headers": []})
                continue
            sub = requests.get(f"{BASE}/{call['relative_url']}",
                               headers={"Authorization": f"Bearer {token}"})
            answers.append({"code": sub.status_code, "body": sub.text, "headers": [
                {"name": k, "value": v} for k, v in sub.headers.items()]})
        return answers

    mocker.post(f"{BASE}/", json=respond)


def page(data: list[dict], after: str | None = None) -> dict:
    body: dict[str, Any] = {"data": data}
    if after:
        body["paging"] = {"cursors": {"before": "b", "after": after},
                          "next": f"{BASE}/next?access_token={TOKEN}&after={after}"}
    return body


#: The installed console script of the interpreter running the tests (PATH may not have it).
TAP_COMMAND = str(Path(sys.executable).with_name("tap-meta-bm"))
