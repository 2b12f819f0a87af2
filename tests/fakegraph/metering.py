"""Meta's rate limits as the fake meters them: usage headers from a call budget per app and
per object (X-App-Usage, X-Business-Use-Case-Usage), a block injected on an object
(Faults.throttle_object), and the ad-account score of the Limited and Full tiers
(graph-api-facts-3.md, section 3: X-Ad-Account-Usage, 17/2446079 past it)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tests.fakegraph.faults import Faults
from tests.fakegraph.routes import GraphErrorResponse


class Meter:
    def __init__(self, faults: Faults, *, app_budget: int, object_budget: int,
                 is_account: Callable[[str], bool]) -> None:
        self.faults = faults
        self.app_budget, self.object_budget = app_budget, object_budget
        self._is_account = is_account
        self._lock = threading.Lock()
        self._calls = 0
        self._calls_per_object: dict[str, int] = {}
        self._blocked_until: dict[str, float] = {}
        #: Per ad account: (when, points) of the calls in the score's window, and until when
        #: the score blocks it (Faults.account_score).
        self._scores: dict[str, deque[tuple[float, int]]] = {}
        self._score_blocked: dict[str, float] = {}

    def meter(self, key: str, entry: dict[str, Any]) -> dict[str, str]:
        """One call to object `key`: its usage headers, or Graph's refusal while blocked."""
        now = time.monotonic()
        faults = self.faults
        score = self._score(key, entry, now) if faults.account_score is not None and \
            key.isdigit() and self._is_account(key) else {}
        with self._lock:
            calls = self._calls_per_object[key] = self._calls_per_object.get(key, 0) + 1
            self._calls += 1
            total = self._calls
            blocked_until = self._blocked_until.get(key, 0.0)
            if blocked_until > now:
                entry["while_blocked"] = True
            elif key == faults.throttle_object and calls == faults.throttle_at_call:
                blocked_until = self._blocked_until[key] = now + faults.throttle_seconds
        app_pct = min(100, round(100 * total / self.app_budget, 2))
        object_pct = min(100, round(100 * calls / self.object_budget, 2))
        remaining_minutes = max(0.0, blocked_until - now) / 60
        usage_type = "pages" if key.startswith("3") else "ads_management"
        headers = {
            "X-App-Usage": json.dumps({"call_count": app_pct, "total_time": app_pct / 2,
                                       "total_cputime": app_pct / 2}),
            "X-Business-Use-Case-Usage": json.dumps({key: [{
                "type": usage_type, "call_count": 100 if remaining_minutes else object_pct,
                "total_cputime": object_pct, "total_time": object_pct,
                "estimated_time_to_regain_access": round(remaining_minutes, 4),
                "ads_api_access_tier": "standard_access"}]}),
        }
        if remaining_minutes:
            raise GraphErrorResponse(400, 80004, "There have been too many calls to this "
                                                 "ad-account. Wait a bit and try again.",
                                     subcode=2446079, headers=headers)
        return {**headers, **score}

    def _score(self, key: str, entry: dict[str, Any], now: float) -> dict[str, str]:
        """The ad-account score (Faults.account_score): its X-Ad-Account-Usage header, or
        Graph's refusal once the call would pass it."""
        points, window = self.faults.account_score or (0, 0.0)
        cost = 3 if entry.get("method") == "POST" else 1
        with self._lock:
            spent = self._scores.setdefault(key, deque())
            while spent and spent[0][0] <= now - window:
                spent.popleft()
            score = sum(c for _, c in spent)
            blocked = self._score_blocked.get(key, 0.0) > now
            if not blocked and score + cost > points:
                self._score_blocked[key] = now + self.faults.account_score_block
                blocked = True
            if not blocked:
                spent.append((now, cost))
                score += cost
            left = max(self._score_blocked.get(key, 0.0) - now, 0.0)
            reset = spent[-1][0] + window - now if spent else 0.0
        usage = {"acc_id_util_pct": round(min(100.0, 100 * score / points), 2),
                 "reset_time_duration": round(max(reset, left), 1),
                 "ads_api_access_tier": "development_access"}
        headers = {"X-Ad-Account-Usage": json.dumps(usage)}
        if blocked:
            entry["score_refused"] = True
            buc = {key: [{"type": "ads_management", "call_count": 100, "total_cputime": 0,
                          "total_time": 0, "estimated_time_to_regain_access":
                              round(left / 60, 4), "ads_api_access_tier":
                              "development_access"}]}
            raise GraphErrorResponse(400, 17, "(#17) User request limit reached", subcode=2446079,
                                     headers={**headers, "X-Business-Use-Case-Usage":
                                              json.dumps(buc)})
        return headers
