"""Usage headers -> blocks and pacing, with a fake clock."""

from __future__ import annotations

import json
import logging

import pytest

from tap_meta_bm.errors import Action, GraphError
from tap_meta_bm.governor import APP, MAX_PACE_SECONDS, Governor


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def governor(clock):
    return Governor(75, logging.getLogger("test"), fallback_block_seconds=30, clock=clock,
                    sleep=clock.sleep)


def buc(key, minutes, pct=50):
    return {"X-Business-Use-Case-Usage": json.dumps({key: [{
        "type": "ads_management", "call_count": pct, "total_cputime": 1, "total_time": 1,
        "estimated_time_to_regain_access": minutes}]})}


def test_no_usage_no_wait(governor, clock):
    assert governor.wait_turn("1") == 0
    assert clock.sleeps == []


def test_business_use_case_block_holds_that_object_only(governor, clock, caplog):
    governor.observe(buc("1", 2), "1")
    assert governor.wait_turn("2") == 0  # another account goes on
    assert governor.wait_turn("1") == 120  # minutes -> seconds
    assert clock.sleeps == [120]
    assert [r.getMessage().split(" until ")[0] for r in caplog.records] == [
        "Rate limit: no requests to object 1"]


def test_block_is_logged_once_not_per_request(governor, caplog):
    governor.observe(buc("1", 2), "1")
    governor.observe(buc("1", 1), "1")  # shorter: already covered
    assert len(caplog.records) == 1


def test_ad_account_usage_at_100_blocks_for_reset_time(governor, clock):
    governor.observe({"x-ad-account-usage": json.dumps(
        {"acc_id_util_pct": 100, "reset_time_duration": 45})}, "7")
    assert governor.wait_turn("7") == 45


def test_app_usage_above_threshold_paces_every_object(governor, clock):
    governor.observe({"X-App-Usage": json.dumps(
        {"call_count": 87.5, "total_time": 10, "total_cputime": 10})}, "1")
    assert governor.wait_turn("9") == pytest.approx(MAX_PACE_SECONDS * 0.5)


def test_usage_below_threshold_does_not_pace(governor):
    governor.observe({"X-App-Usage": json.dumps({"call_count": 75})}, "1")
    assert governor.wait_turn("1") == 0


@pytest.mark.parametrize(("code", "subcode", "blocked"), [
    (4, None, APP), (17, None, APP), (341, None, APP),
    (17, 2446079, "5"), (613, None, "5"), (80004, None, "5"), (32, None, "5"),
])
def test_throttle_error_without_header_blocks_for_fallback(governor, clock, code, subcode,
                                                           blocked):
    governor.throttled(GraphError(Action.THROTTLE, 400, code, subcode), "5")
    assert governor.blocked_until(blocked) == 30
    other = "6" if blocked == "5" else "anything"
    assert governor.wait_turn(other) == (30 if blocked == APP else 0)


def test_throttle_error_with_header_keeps_meta_estimate(governor):
    governor.observe(buc("5", 10), "5")
    governor.throttled(GraphError(Action.THROTTLE, 400, 80004), "5")
    assert governor.blocked_until("5") == 600


def test_halt_stops_every_caller(governor):
    governor.halt(RuntimeError("token dead"))
    with pytest.raises(RuntimeError, match="token dead"):
        governor.wait_turn("1")


def test_garbage_headers_are_ignored(governor):
    governor.observe({"X-App-Usage": "not json", "X-Business-Use-Case-Usage": "[1,2]",
                      "X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": "lots"})}, "1")
    assert governor.wait_turn("1") == 0


def test_clear_means_no_block_no_pause_and_no_halt(governor, clock):
    assert governor.clear("123")
    governor.observe(buc("123", 2), "123")
    assert not governor.clear("123") and governor.clear("456")
    clock.now += 121
    assert governor.clear("123")
    governor.observe({"X-App-Usage": json.dumps({"call_count": 90})}, "456")
    assert not governor.clear("456")  # usage above the threshold: requests are paced
    governor.halt(RuntimeError("token"))
    assert not governor.clear("789")


def throttle(app: float, account: float) -> dict[str, str]:
    return {"x-fb-ads-insights-throttle": json.dumps({"app_id_util_pct": app,
                                                      "acc_id_util_pct": account})}


def test_report_jobs_start_only_under_the_insights_throttle(clock):
    governor = Governor(75, logging.getLogger("test"), clock=clock, sleep=clock.sleep)
    assert governor.may_start_report("1")
    governor.observe(throttle(10, 75), "1")
    assert not governor.may_start_report("1")  # the account is at the threshold
    assert governor.may_start_report("2")  # another account is not
    governor.observe(throttle(80, 0), "2")
    assert not governor.may_start_report("2")  # the app is over it: no account starts
    governor.observe(throttle(0, 0), "1", report_usage=False)  # read elsewhere: not counted
    assert not governor.may_start_report("1")
    governor.observe(throttle(0, 50), "1")
    assert governor.may_start_report("1")


class ScoredAccount:
    """Meta's ad-account score as graph-api-facts-3.md (section 3) has it: 1 point a read
    over a sliding window; a call past the points is refused and blocks the account."""

    def __init__(self, clock, points: int, window: float):
        self.clock, self.points, self.window = clock, points, window
        self.calls: list[float] = []
        self.refused = 0

    def call(self) -> dict[str, str]:
        now = self.clock()
        self.calls = [t for t in self.calls if t > now - self.window]
        if len(self.calls) >= self.points:
            self.refused += 1
        else:
            self.calls.append(now)
        return {"X-Ad-Account-Usage": json.dumps({
            "acc_id_util_pct": round(100 * len(self.calls) / self.points, 2),
            "reset_time_duration": self.calls[-1] + self.window - now,
            "ads_api_access_tier": "development_access"})}


@pytest.mark.parametrize("window", [300.0, 30.0])
def test_a_limited_tier_account_is_paced_to_its_rate_and_never_refused(governor, clock,
                                                                       window):
    """60 points per window (the Limited tier's 300 s, and ten times faster): 600 reads go
    through without one refusal, in at most 1.2 times the floor of 600 / (60 / window)."""
    account = ScoredAccount(clock, 60, window)
    for _ in range(600):
        governor.wait_turn("7")
        clock.now += 0.01  # the call's own time
        governor.observe(account.call(), "7")
    assert account.refused == 0
    floor = 600 / (60 / window)
    assert clock.now <= 1.2 * floor, clock.now / floor
    assert clock.now >= 0.8 * floor  # paced, not lucky: 60 a window at most
