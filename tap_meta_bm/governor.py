"""Rate-limit governance: Meta's usage headers -> who is blocked until when, and pacing.

Every request asks `wait_turn(object_key)` first and reports its response headers through
`observe`. The object key is what Meta meters: the ad account id without `act_` for ad
objects, the page id for page edges, the business id for business edges.

Past `threshold_pct` a key's calls are paced. Meta meters a score over a window (an ad
account's: 60 points per 300 s on the Limited tier, 9,000 on Full), so a usage percentage and
the calls of ours it counts say the key's capacity; its calls are then spread at PACE_CEILING
of it, never more in a window, and its usage settles below 100 % instead of reaching the block
(benchmarks/limited_tier.py). A key whose capacity is not known yet pauses along a fixed line.

Meta extends a block when a blocked object keeps being called, so a blocked object gets *no*
request until its time has passed; work on other objects (other threads) goes on meanwhile.
A block that never lifts is not waited out forever: once an object has been blocked for more
than `max_wait_seconds` in all (the `max_throttle_wait` setting), its reads give up
(`ThrottledTooLong`): the client skips that object's edges for the run, or ends the run when
the object is the app itself.

Report jobs (insights) have a budget of their own, reported on every insights call in
`x-fb-ads-insights-throttle`: `acc_id_util_pct` for the ad account, `app_id_util_pct` for the
app. `may_start_report` says whether one more job fits under the threshold.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from requests.structures import CaseInsensitiveDict

from tap_meta_bm.errors import APP_WIDE_THROTTLE_CODES, Action, GraphError, parse_body

APP = "app"  # the key for limits that bind every request of this app and token
APP_USAGE = "x-app-usage"
AD_ACCOUNT_USAGE = "x-ad-account-usage"
BUSINESS_USE_CASE_USAGE = "x-business-use-case-usage"
ADS_INSIGHTS_THROTTLE = "x-fb-ads-insights-throttle"
#: Meta's insights best practices: reach with breakdowns over dates more than 13 months back,
#: "up to 10 requests per Ad Account per day", monitored in this header. Its format is not
#: documented: a JSON object whose `*_pct` values are taken as the share used (an unknown
#: shape reads as nothing used, and Meta's refusal still says when it is spent).
ADS_INSIGHTS_REACH_THROTTLE = "x-fb-ads-insights-reach-throttle"
#: Meta's ad-account score decays over 300 s (graph-api-facts-3.md, section 3): the window a
#: usage percentage is taken over, until X-Ad-Account-Usage's `reset_time_duration` (the time
#: the score takes to decay to 0) says a longer one.
DEFAULT_WINDOW_SECONDS = 300.0
#: Calls of our own a key must have in its window before its usage says its capacity.
MIN_CALLS_FOR_CAPACITY = 10
#: Paced, a key is held to this share of the capacity its usage implies: the rest is the margin
#: for other callers of the same object and for the estimate's error.
PACE_CEILING = 0.9
#: Without a capacity to go by, pacing grows linearly from 0 at the threshold to this many
#: seconds between calls at 100 %.
MAX_PACE_SECONDS = 10.0
#: 17/2446079 is the ad-account score limit: it binds one account, unlike plain 17.
AD_ACCOUNT_SCORE = (17, 2446079)


class ThrottledTooLong(Exception):
    """Meta kept `key` blocked for longer in all than the run waits for (max_throttle_wait)."""

    def __init__(self, key: str, seconds: float, error: GraphError) -> None:
        what = "the app (every object)" if key == APP else f"object {key}"
        super().__init__(f"Meta kept {what} throttled for {seconds:.0f} s in all, more than "
                         f"max_throttle_wait; it last said: {error.message} "
                         f"[{error.reference}]")
        self.key, self.seconds, self.error = key, seconds, error


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _json_header(headers: Mapping[str, str], name: str) -> Any:
    return parse_body(headers.get(name))


class Governor:
    """Thread-safe gate in front of every Graph request."""

    def __init__(
        self,
        threshold_pct: float,
        logger: logging.Logger,
        *,
        fallback_block_seconds: float = 60.0,
        max_wait_seconds: float = float("inf"),
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.threshold_pct = threshold_pct
        self.fallback_block_seconds = fallback_block_seconds
        #: Blocked time one key may accumulate over the run before its throttles give up.
        self.max_wait_seconds = max_wait_seconds
        self._log = logger
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._lock = threading.Lock()
        self._blocked_until: dict[str, float] = {}
        #: Seconds each key has been blocked so far in this run, all blocks added up, and
        #: what Meta last said of it (a throttle error, or why a header blocked it).
        self._blocked_total: dict[str, float] = {}
        self._last_throttle: dict[str, GraphError] = {}
        self._block_reasons: dict[str, str] = {}
        self._usage_pct: dict[str, float] = {}
        #: Pacing by capacity (`_pace_seconds`): when each key answered our calls, how many
        #: calls its window holds (from its usage and those calls), the window, and when the
        #: next paced call of it may go.
        self._answered: dict[str, deque[float]] = defaultdict(deque)
        self._capacity: dict[str, float] = {}
        self._window: dict[str, float] = {}
        self._next_slot: dict[str, float] = {}
        self._insights_pct: dict[str, float] = {}
        self._reach_pct: dict[str, float] = {}
        self._halt: BaseException | None = None

    # -- the gate -----------------------------------------------------------------------
    def wait_turn(self, object_key: str) -> float:
        """Sleep until neither the app nor `object_key` is blocked, then pace; seconds slept."""
        waited = 0.0
        while True:
            with self._lock:
                if self._halt is not None:
                    raise self._halt
                over = self._over_budget(object_key)
                if over is not None:
                    raise over
                now = self._clock()
                until = self._until(object_key)
                pause = until - now if until > now else self._pace_seconds(
                    object_key, now, reserve=True)
            if pause <= 0:
                return waited
            self._sleep(pause)
            waited += pause
            if until <= now:  # that was pacing, not a block: one pause per request
                return waited

    def clear(self, object_key: str) -> bool:
        """True when a request to `object_key` could go out now, without a wait or a pause."""
        with self._lock:
            if self._halt is not None:
                return False
            now = self._clock()
            return self._until(object_key) <= now and self._pace_seconds(object_key, now) <= 0

    def may_start_report(self, object_key: str) -> bool:
        """One more report job for `object_key` stays under the threshold (as last reported
        by Meta), and nothing blocks it."""
        with self._lock:
            usage = max(self._insights_pct.get(APP, 0.0),
                        self._insights_pct.get(object_key, 0.0))
            return self._halt is None and self._until(object_key) <= self._clock() and \
                usage < self.threshold_pct

    def reach_spent(self, object_key: str) -> bool:
        """The day's budget of old reach with breakdowns is used up for `object_key`."""
        with self._lock:
            return self._reach_pct.get(object_key, 0.0) >= 100.0

    def _until(self, object_key: str) -> float:
        """When neither the app nor `object_key` is blocked any more (lock held)."""
        return max(self._blocked_until.get(APP, 0.0), self._blocked_until.get(object_key, 0.0))

    def halt(self, reason: BaseException) -> None:
        """Refuse every further request (the token is dead): other threads stop at once."""
        with self._lock:
            self._halt = reason

    def _pace_seconds(self, object_key: str, now: float, *, reserve: bool = False) -> float:
        """How long a call to `object_key` waits for its pace (lock held): nothing while the
        app's and the object's usage are under the threshold. Above it, a key whose capacity
        is known gets its calls spread at PACE_CEILING of it and never more than that many in
        its window, so that its usage settles below 100 % instead of hitting the block (a
        Limited-tier account: 60 calls per 300 s); `reserve` takes the slot. A key whose
        capacity is unknown pauses along MAX_PACE_SECONDS' line."""
        pause = 0.0
        for key in (APP, object_key):
            usage = self._usage_pct.get(key, 0.0)
            if usage <= self.threshold_pct:
                continue
            capacity = self._capacity.get(key)
            if capacity is None:
                span = max(100.0 - self.threshold_pct, 1.0)
                pause = max(pause, MAX_PACE_SECONDS * min(
                    (usage - self.threshold_pct) / span, 1.0))
                continue
            limit = max(capacity * PACE_CEILING, 1.0)
            window = self._window.get(key, DEFAULT_WINDOW_SECONDS)
            answered = self._recent(key, now)
            at = max(now, self._next_slot.get(key, 0.0))
            if len(answered) >= limit:  # wait for enough of the window's calls to age out
                at = max(at, answered[len(answered) - int(limit)] + window)
            if reserve:
                self._next_slot[key] = at + window / limit
            pause = max(pause, at - now)
        return pause

    def _recent(self, key: str, now: float) -> deque[float]:
        """When `key` answered our calls within its window (lock held)."""
        answered = self._answered[key]
        window = self._window.get(key, DEFAULT_WINDOW_SECONDS)
        while answered and answered[0] <= now - window:
            answered.popleft()
        return answered

    def _learn_capacity(self, key: str, usage: float, calls: int) -> None:
        """How many calls `key`'s window holds, from its usage and our `calls` in the window
        (lock held). Other callers' share makes it an underestimate: a slower pace, never a
        block."""
        if usage > 0 and calls >= MIN_CALLS_FOR_CAPACITY:
            self._capacity[key] = calls * 100.0 / usage

    # -- what Meta tells us ---------------------------------------------------------------
    def observe(self, headers: Mapping[str, str], object_key: str, *,
                report_usage: bool = True) -> None:
        """Record usage from one response's headers (any response, success or error).

        `report_usage=False`: leave the report-job budget alone. Only the thread that starts
        jobs should set it: a response read elsewhere may be observed after a job started
        since, and would make room that is not there."""
        lowered = headers if isinstance(headers, CaseInsensitiveDict) else {
            k.lower(): v for k, v in headers.items()}
        blocks: dict[str, tuple[float, str]] = {}
        usage: dict[str, float] = {}

        app = _json_header(lowered, APP_USAGE)
        if isinstance(app, dict):
            usage[APP] = max(_number(app.get(k)) for k in ("call_count", "total_time",
                                                           "total_cputime"))

        account = _json_header(lowered, AD_ACCOUNT_USAGE)
        window = None
        if isinstance(account, dict):
            pct = _number(account.get("acc_id_util_pct"))
            usage[object_key] = max(usage.get(object_key, 0.0), pct)
            reset = _number(account.get("reset_time_duration"))
            window = min(reset, 3600.0) if reset > 0 else None
            if pct >= 100:
                blocks[object_key] = (reset or self.fallback_block_seconds,
                                      "X-Ad-Account-Usage at 100%")

        buc = _json_header(lowered, BUSINESS_USE_CASE_USAGE)
        if isinstance(buc, dict):
            for key, entries in buc.items():
                for entry in entries if isinstance(entries, list) else []:
                    if not isinstance(entry, dict):
                        continue
                    pct = max(_number(entry.get(k)) for k in ("call_count", "total_time",
                                                              "total_cputime"))
                    usage[str(key)] = max(usage.get(str(key), 0.0), pct)
                    minutes = _number(entry.get("estimated_time_to_regain_access"))
                    if minutes > 0:
                        blocks[str(key)] = (
                            minutes * 60,
                            f"{entry.get('type', 'business use case')} quota exhausted",
                        )

        insights = _json_header(lowered, ADS_INSIGHTS_THROTTLE)
        insights_usage = {APP: _number(insights.get("app_id_util_pct")),
                          object_key: _number(insights.get("acc_id_util_pct"))} \
            if report_usage and isinstance(insights, dict) else {}
        reach = _json_header(lowered, ADS_INSIGHTS_REACH_THROTTLE)
        reach_usage = {object_key: max((_number(v) for k, v in reach.items()
                                        if str(k).endswith("pct")), default=0.0)} \
            if report_usage and isinstance(reach, dict) else {}

        with self._lock:
            now = self._clock()
            if window is not None and window > self._window.get(object_key, 0.0):
                self._window[object_key] = window
            for key in {APP, object_key}:
                self._answered[key].append(now)
                calls = len(self._recent(key, now))  # pruned as it grows, usage or not
                if key in usage:
                    self._learn_capacity(key, usage[key], calls)
            self._usage_pct.update(usage)
            self._insights_pct.update(insights_usage)
            self._reach_pct.update(reach_usage)
        for key, (seconds, reason) in blocks.items():
            self.block(key, seconds, reason)

    def throttled(self, error: GraphError, object_key: str) -> None:
        """A throttle error arrived (its headers already observed): make sure something is
        blocked — what the headers named, else the object or app for a fallback time."""
        if (error.code, error.subcode) == AD_ACCOUNT_SCORE:
            key = object_key
        elif error.code in APP_WIDE_THROTTLE_CODES or error.code == 17:
            key = APP
        else:
            key = object_key
        with self._lock:
            already = self._blocked_until.get(key, 0.0) > self._clock()
        if not already:
            self.block(key, self.fallback_block_seconds, f"throttled, {error.reference}")
        with self._lock:
            self._last_throttle[key] = error
            over = self._over_budget(key)
        if over is not None:
            raise over

    def _over_budget(self, object_key: str) -> ThrottledTooLong | None:
        """A throttle that never lifts would be waited out forever: once the app or the
        object has been blocked for more than max_wait_seconds in all, its reads give up
        (before any more waiting), the caller says so in one line. Under the lock."""
        for key in (APP, object_key):
            total = self._blocked_total.get(key, 0.0)
            if total > self.max_wait_seconds:
                said = self._last_throttle.get(key) or GraphError(
                    Action.THROTTLE, 0, message=self._block_reasons.get(key, "blocked"))
                return ThrottledTooLong(key, total, said)
        return None

    def block(self, key: str, seconds: float, reason: str) -> None:
        """No request touches `key` for `seconds`; logged once, when the block starts or grows."""
        with self._lock:
            now = self._clock()
            until = now + seconds
            previous = self._blocked_until.get(key, 0.0)
            if until <= previous:
                return
            self._blocked_total[key] = self._blocked_total.get(key, 0.0) + until - max(
                now, previous)
            self._block_reasons[key] = reason
            self._blocked_until[key] = until
            # The usage that led here is history once the block ends: pace afresh after it.
            self._usage_pct.pop(key, None)
        wake = datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%H:%M:%SZ")
        target = "every object (app-wide limit)" if key == APP else f"object {key}"
        self._log.warning(
            "Rate limit: no requests to %s until %s (%.0f s): %s", target, wake, seconds, reason
        )

    def blocked_until(self, key: str) -> float:
        """Monotonic time until which `key` is blocked (0 when it is not)."""
        with self._lock:
            return self._blocked_until.get(key, 0.0)
