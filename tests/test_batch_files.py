"""BATCH (the SDK's `batch_config`): the same records in jsonl(.gz) files, each announced
before any STATE that covers it; versioned full-table records stay RECORD messages."""

from __future__ import annotations

import gzip
import json
import re

import pytest
import requests_mock

from tests.helpers import BASE, BUSINESS, mock_empty_graph, page, records, run

CAMPAIGNS = [{"id": f"c{n}", "name": f"Spring {n}", "updated_time": f"2024-01-0{n}T03:04:05+0000"}
             for n in range(1, 4)]


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": "act_1"}]))
        mocker.get(re.compile(rf"^{re.escape(BASE)}/act_1/campaigns"), json=page(CAMPAIGNS))
        mocker.get(f"{BASE}/act_1/assigned_users", json=page([
            {"id": "u1", "tasks": ["MANAGE"]}, {"id": "u2", "tasks": ["ANALYZE"]}]))
        yield mocker


def batch_config(tmp_path, **extra):
    return {"encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "meta-"}, **extra}


def batched(messages: list[dict], stream: str) -> list[dict]:
    out = []
    for message in messages:
        if message["type"] == "BATCH" and message["stream"] == stream:
            assert message["encoding"] == {"format": "jsonl", "compression": "gzip"}
            for url in message["manifest"]:
                with gzip.open(url.removeprefix("file://")) as file:
                    out += [json.loads(line) for line in file]
    return out


def test_records_go_to_files_and_every_file_is_announced_before_the_state(graph, tmp_path):
    by_messages = records(run(["campaigns"]), "campaigns")
    messages = run(["campaigns"], batch_config=batch_config(tmp_path, batch_size=2))
    assert records(messages, "campaigns") == []
    assert batched(messages, "campaigns") == by_messages
    kinds = [m["type"] for m in messages if m.get("stream", "campaigns") == "campaigns"]
    assert kinds == ["SCHEMA", "BATCH", "BATCH", "STATE"]  # two records a file
    files = sorted(p.name for p in (tmp_path / "batches").iterdir())
    assert len(files) == 2 and all(re.fullmatch(r"meta-campaigns-\d+-\d\.jsonl\.gz", f)
                                   for f in files)
    state = [m for m in messages if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["campaigns"]["bookmarks_by_read"]


def test_records_with_a_table_version_stay_messages(graph, tmp_path):
    """A BATCH file has no place for the version: a loader would take its rows for deleted
    at ACTIVATE_VERSION."""
    messages = run(["ad_account_assignments"], emit_activate_version_messages=True,
                   batch_config=batch_config(tmp_path))
    assert [m["type"] for m in messages if m.get("stream") == "ad_account_assignments"] == [
        "SCHEMA", "RECORD", "RECORD", "ACTIVATE_VERSION"]
    assert not (tmp_path / "batches").exists()
    # Without ACTIVATE_VERSION, no record carries a version: they are batched.
    messages = run(["ad_account_assignments"], batch_config=batch_config(tmp_path))
    assert len(batched(messages, "ad_account_assignments")) == 2
