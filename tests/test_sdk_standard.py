"""The Singer SDK's standard tap tests, against a small mocked Business Manager."""

from __future__ import annotations

import re

import pytest
import requests_mock
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_meta_bm.tap import TapMetaBM
from tests.helpers import BASE, BUSINESS, catalog, config, mock_report_jobs, page

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
    "/u1/assigned_business_asset_groups": page([{"id": "g1", "adaccount_tasks": ["MANAGE"]}]),
    f"/{BUSINESS}/pending_users": page([{"id": "r1", "email": "x@example.com"}]),
    f"/{BUSINESS}/agencies": page([{"id": "222", "name": "Agency"}]),
    f"/{BUSINESS}/owned_pixels": page([{"id": "px1", "name": "Pixel"}]),
    f"/{BUSINESS}/owned_product_catalogs": page([{"id": "pc1", "name": "Catalog"}]),
    f"/{BUSINESS}/owned_instagram_accounts": page([{"id": "ig1", "username": "brand"}]),
    f"/{BUSINESS}/owned_apps": page([{"id": "ap1", "name": "App"}]),
    "/px1/assigned_users": page([{"id": "u1", "tasks": ["ANALYZE"]}]),
    "/pc1/assigned_users": page([{"id": "u1", "tasks": ["MANAGE"]}]),
    "/act_1/agencies": page([{"id": "222", "name": "Agency", "access_status": "CONFIRMED"}]),
    "/act_1/adspixels": page([{"id": "px1", "name": "Pixel"}]),
    "/act_1/customconversions": page([{"id": "cc1", "name": "Purchase"}]),
    "/act_1/adcreatives": page([{"id": "cr1", "name": "Creative"}]),
    "/act_1/adimages": page([{"id": "1:ab", "hash": "ab",
                              "updated_time": "2024-01-01T00:00:00+0000"}]),
    "/act_1/advideos": page([{"id": "v9", "updated_time": "2024-01-01T00:00:00+0000"}]),
    "/act_1/activities": page([{"event_time": "2024-01-01T00:00:00+0000",
                                "event_type": "create_campaign", "object_id": "c1"}]),
    "/p1": {"id": "p1", "access_token": "EAAPageTokenForStandardTests"},
    "/p1/leadgen_forms": page([{"id": "f1", "name": "Form"}]),
    "/f1/leads": page([{"id": "l1", "created_time": "2024-01-01T00:00:00+0000"}]),
}


@pytest.fixture(autouse=True, scope="module")
def graph():
    with requests_mock.Mocker() as mocker:
        mocker.get(re.compile(r"^https://graph\.facebook\.com/"), json={"data": []})
        for edge, body in EDGES.items():
            mocker.get(BASE + edge, json=body)
        mock_report_jobs(mocker)
        mocker.get(f"{BASE}/70001/insights", json=page([{
            "account_id": "1", "ad_id": "d1", "date_start": "2026-11-30",
            "date_stop": "2026-11-30", "impressions": "10", "spend": "1.25"}]))
        yield mocker


#: Every stream selected, those off by default (personal data) too.
EVERYTHING = catalog(list(TapMetaBM(config=config()).streams))
#: The standard tests sync as a dry run (a sample of each stream), and a dry run reads nothing
#: completely: `complete_reads` rightly stays empty (tests/test_reads.py covers it).
TestTapMetaBM = get_tap_test_class(
    tap_class=TapMetaBM, config=config(), catalog=EVERYTHING,
    suite_config=SuiteConfig(ignore_no_records_for_streams=["complete_reads"]))
