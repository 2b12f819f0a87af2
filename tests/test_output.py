"""RECORD messages: written in blocks, selection applied, the SDK's maps honoured."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest
import requests_mock

from tap_meta_bm import output
from tests.helpers import BASE, BUSINESS, mock_empty_graph, page, records, run


@pytest.fixture
def graph():
    with requests_mock.Mocker() as mocker:
        mock_empty_graph(mocker)
        mocker.get(f"{BASE}/{BUSINESS}/owned_ad_accounts", json=page([{"id": "act_1"}]))
        mocker.get(re.compile(rf"^{re.escape(BASE)}/act_1/campaigns"), json=page([
            {"id": "c1", "name": "Spring", "updated_time": "2024-01-02T03:04:05+0000",
             "promoted_object": {"page_id": "9"}}]))
        yield mocker


def test_deselected_columns_never_reach_the_record(graph):
    messages = run(["campaigns"], deselect={"campaigns": ["business_id", "name"]})
    assert records(messages, "campaigns") == [{
        "id": "c1", "updated_time": "2024-01-02T03:04:05+00:00",
        "promoted_object": {"page_id": "9"}, "account_id": "1"}]
    [message] = [m for m in messages if m["type"] == "RECORD"]
    assert set(message) == {"type", "stream", "record", "time_extracted"}


def test_stream_maps_and_flattening_still_apply(graph):
    messages = run(["campaigns"], stream_maps={"campaigns": {"name": "name.upper()"}},
                   flattening_enabled=True, flattening_max_depth=1)
    [record] = records(messages, "campaigns")
    assert record["name"] == "SPRING"
    # A free-form object stays one JSON column, as its flattened schema declares it.
    assert json.loads(record["promoted_object"]) == {"page_id": "9"}
    schema = next(m for m in messages if m["type"] == "SCHEMA")["schema"]
    assert schema["properties"]["promoted_object"] == {"type": ["string", "null"]}


class CountingFile(io.RawIOBase):
    """A raw, unbuffered stdout (what PYTHONUNBUFFERED gives): each write is a system call."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.writes.append(bytes(data))
        return len(data)


def test_records_leave_in_blocks_and_every_other_message_flushes_them(monkeypatch):
    raw = CountingFile()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, write_through=True))
    for n in range(3):
        output.write_record_line(b'{"type":"RECORD","n":%d}\n' % n)
    assert raw.writes == []
    output.write_line(b'{"type":"STATE"}\n')
    assert [json.loads(line)["type"] for line in b"".join(raw.writes).splitlines()] == [
        "RECORD", "RECORD", "RECORD", "STATE"]
    assert len(raw.writes) == 1
