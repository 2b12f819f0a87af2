"""The Singer SDK's standard tap tests, against a small mocked Business Manager."""

from __future__ import annotations

import re

import pytest
import requests_mock
from singer_sdk.testing import get_tap_test_class

from tap_meta_bm.tap import TapMetaBM
from tests.helpers import BASE, BUSINESS, config, page

EDGES = {
    f"/{BUSINESS}": {"id": BUSINESS, "name": "Acme", "updated_time": "2024-01-01T00:00:00+0000"},
    f"/{BUSINESS}/owned_ad_accounts": page([{"id": "act_1", "account_id": "1", "name": "A"}]),
    f"/{BUSINESS}/owned_pages": page([{"id": "p1", "name": "Page"}]),
    f"/{BUSINESS}/business_asset_groups": page([{"id": "g1", "name": "Group"}]),
    "/act_1/campaigns": page([{"id": "c1", "updated_time": "2024-01-01T00:00:00+0000"}]),
    "/act_1/adsets": page([{"id": "s1", "updated_time": "2024-01-01T00:00:00+0000"}]),
    "/act_1/ads": page([{"id": "d1", "updated_time": "2024-01-01T00:00:00+0000"}]),
    "/act_1/customaudiences": page([{"id": "a1", "time_updated": 1704067200}]),
    "/act_1/saved_audiences": page([{"id": "v1", "time_updated": "2024-01-01T00:00:00+0000"}]),
    "/act_1/assigned_users": page([{"id": "u1", "user_type": "business_user",
                                    "tasks": ["MANAGE"]}]),
    "/p1/assigned_users": page([{"id": "u1", "tasks": ["MODERATE"]}]),
    "/g1/contained_adaccounts": page([{"id": "act_1", "name": "A"}]),
    f"/{BUSINESS}/business_users": page([{"id": "u1", "name": "Ana", "role": "ADMIN"}]),
    f"/{BUSINESS}/system_users": page([{"id": "s9", "name": "Robot"}]),
    f"/{BUSINESS}/pending_users": page([{"id": "r1", "email": "x@example.com"}]),
    f"/{BUSINESS}/agencies": page([{"id": "222", "name": "Agency"}]),
}


@pytest.fixture(autouse=True, scope="module")
def graph():
    with requests_mock.Mocker() as mocker:
        mocker.get(re.compile(r"^https://graph\.facebook\.com/"), json={"data": []})
        for edge, body in EDGES.items():
            mocker.get(BASE + edge, json=body)
        yield mocker


TestTapMetaBM = get_tap_test_class(tap_class=TapMetaBM, config=config())
