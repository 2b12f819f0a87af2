"""Ad insights for the fake Graph API: deterministic numbers, async report jobs, Graph's refusals.

Built from graph-api-facts-2.md §2a and the SDK's enums (`AdsInsights.Level`, `.Breakdowns`,
`.ActionBreakdowns`, `.ActionAttributionWindows`, `.DatePreset`, `.ActionReportTime`), never
from the tap:

- One row per ad per day where the ad delivered (Graph leaves out days without delivery);
  campaign, ad set and account rows are the sums of their ads' rows, and breakdown rows split
  an ad's day so that they add up to it exactly (reach is summed too: a simplification).
- Counts travel as digit strings, money as decimal strings in the account's currency (two
  decimals, none for JPY), rates with six decimals; action metrics as lists of
  `{"action_type", "value"}` with one key per attribution window asked for.
- `POST /act_{id}/insights` answers `{"report_run_id"}`; `GET /{run}` reports
  `async_status`/`async_percent_completion` (100 % a little before "Job Completed", as
  peers saw); `GET /{run}/insights` pages the rows. Jobs can fail, be skipped, get stuck or
  fail for too much data (code 100/1487534), and results can fail with 2601/1815107.
- `x-fb-ads-insights-throttle` on every insights call, from the jobs running per account and
  per app; a new job beyond either capacity is refused (80000 per account, 4/1504022 app).
- A `time_range` starting more than 37 months before the account's today: error 3018.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

from facebook_business.adobjects.adsinsights import AdsInsights

REPORT_BASE = 960_000_000_000
ACTION_TYPES = ("link_click", "landing_page_view", "offsite_conversion.fb_pixel_purchase",
                "lead")
PURCHASE = "offsite_conversion.fb_pixel_purchase"
#: Breakdown values the fake models by name; any other valid breakdown gets three values.
BREAKDOWN_VALUES = {
    "age": ("18-24", "25-34", "35-44", "45-54", "55-64", "65+"),
    "gender": ("female", "male", "unknown"),
    "country": ("US", "DE", "JP", "BR"),
    "publisher_platform": ("facebook", "instagram", "audience_network", "messenger"),
    "platform_position": ("feed", "story", "reels", "right_hand_column"),
    "device_platform": ("mobile_app", "mobile_web", "desktop"),
    "impression_device": ("iphone", "android_smartphone", "desktop", "ipad"),
}
#: Fields Graph refuses together with any breakdown (facts §2a).
NO_BREAKDOWN_FIELDS = frozenset({"app_store_clicks", "newsfeed_avg_position", "newsfeed_clicks",
                                 "relevance_score", "newsfeed_impressions"})
LEVELS = ("account", "campaign", "adset", "ad")
#: Reach "and related fields, such as frequency and cpp" (Meta's insights best practices).
REACH_FIELDS = frozenset({"reach", "frequency", "cpp"})
#: Since 2026-08-03 most accounts need an opt-in for these; without it, calls "may return no
#: results" (Marketing API out-of-cycle changes, 2026-05-08; graph-api-facts-3.md, section 4).
OPT_IN_BREAKDOWNS = frozenset({"impression_device",
                               "hourly_stats_aggregated_by_audience_time_zone",
                               "frequency_value"})
#: In AdsInsights.Breakdowns, answered as nonexisting fields (graph-api-facts-3.md, section 4).
NONEXISTING_BREAKDOWNS = frozenset({"media_asset_url", "media_creator", "media_destination_url",
                                    "media_format", "media_origin_url", "media_text_content"})


def _enum(kind: type) -> frozenset[str]:
    return frozenset(v for k, v in vars(kind).items() if not k.startswith("_"))


ENUMS = {
    "level": _enum(AdsInsights.Level),
    "breakdowns": _enum(AdsInsights.Breakdowns),
    "action_breakdowns": _enum(AdsInsights.ActionBreakdowns),
    "action_attribution_windows": _enum(AdsInsights.ActionAttributionWindows),
    "date_preset": _enum(AdsInsights.DatePreset),
    "action_report_time": _enum(AdsInsights.ActionReportTime),
}


class InsightsRefusal(Exception):
    """What Graph answers to a bad insights request: (status, code, message, subcode)."""

    def __init__(self, code: int, message: str, subcode: int | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.code, self.subcode, self.status = code, subcode, status


@dataclass
class InsightsFaults:
    """What goes wrong with report jobs, and when."""

    job_seconds: float = 0.0  # how long a job runs before "Job Completed"
    #: (account id, since) -> what the next jobs over that range do, one entry per job:
    #: "failed", "skipped", "stuck" (never completes), "too_much" (fails with 1487534).
    fates: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: Jobs spanning more than this many days fail with 1487534 (None: no limit).
    max_days_per_job: int | None = None
    #: Ad-level jobs without a campaign filter fail with 1487534 when their range holds a day
    #: listed here (account id, day): too many rows that day, at any date range; only
    #: reading that day by campaign gets them.
    too_much_unfiltered_days: set[tuple[str, str]] = field(default_factory=set)
    results_transient_first: int = 0  # the first N result reads of each job: 2601/1815107
    #: Accounts whose finished jobs' rows cannot be read: 100/33, as Graph answers an object
    #: the token may not see (the job completed; its rows stay out of reach).
    unreadable_results: set[str] = field(default_factory=set)
    poll_missing_first: int = 0  # the first N polls of each job: 100/33 (not yet visible)
    #: Fates apply to jobs at these levels only (None: every level).
    fate_levels: set[str] | None = None
    jobs_per_account: int = 10  # capacity before acc_id_util_pct reaches 100
    #: Meta's insights best-practices page (since 2025-06-10): jobs with breakdowns that ask
    #: for reach (or frequency, cpp) from more than 13 months back: "up to 10 requests per
    #: Ad Account per day", counted in x-fb-ads-insights-reach-throttle; past it, "Reach-
    #: related metric breakdowns are unavailable due to rate limit threshold".
    reach_jobs_per_day: int = 10
    reach_header: bool = True  # False: Graph's refusal is the only word of the budget
    jobs_per_app: int = 100
    #: Ad accounts without Meta's opt-in for OPT_IN_BREAKDOWNS: a request with one of them
    #: answers no rows (job or synchronous read alike).
    not_opted_in: set[str] = field(default_factory=set)


@dataclass
class Job:
    run_id: str
    account: int
    account_id: str
    request: dict[str, Any]
    started: float
    fate: str | None
    polls: int = 0
    result_reads: int = 0
    rows: list[dict[str, Any]] | None = None


def _as_list(value: str | None, name: str) -> list[str]:
    if value is None or value == "":
        return []
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise InsightsRefusal(100, f"(#100) param {name} must be an array.") from None
        if not isinstance(parsed, list):
            raise InsightsRefusal(100, f"(#100) param {name} must be an array.")
        return [str(v) for v in parsed]
    return [v.strip() for v in text.split(",") if v.strip()]


def account_today(timezone_name: str, now: float | None = None) -> date:
    return datetime.fromtimestamp(time.time() if now is None else now,
                                  ZoneInfo(timezone_name)).date()


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


class Insights:
    """The insights of one Dataset, and the report jobs asked of them."""

    def __init__(self, data: Any, hash_: Callable[..., int], faults: InsightsFaults) -> None:
        self.data = data
        self._hash = hash_
        self.faults = faults
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._fates: dict[tuple[str, str], list[str]] = {}
        self._answered: dict[tuple[int, str], list[dict[str, Any]]] = {}
        #: Today's jobs per account that counted against the reach budget.
        self._reach_jobs: dict[str, int] = {}
        #: The most jobs that ran at once, per account, and in all.
        self.peak_per_account: dict[str, int] = defaultdict(int)
        self.peak_in_flight = 0
        #: Jobs not known to be over yet (the others never run again).
        self._live: dict[str, Job] = {}

    # -- the numbers ---------------------------------------------------------------------
    def ad_day(self, a: int, i: int, day: str) -> dict[str, int] | None:
        """The additive counts of ad i of account a on one day; None when it did not deliver.
        Money in minor units."""
        ad_id = self.data.child_id("ads", a, i)
        h = self._hash(self.data.seed, "insights", ad_id, day)
        if h % 4 == 0:
            return None
        impressions = 100 + h % 5000
        clicks = impressions * ((h >> 8) % 50) // 1000
        counts = {
            "impressions": impressions, "clicks": clicks,
            "reach": impressions * (60 + (h >> 16) % 30) // 100,
            "unique_clicks": clicks * 9 // 10,
            "inline_link_clicks": clicks * 7 // 10,
            "unique_inline_link_clicks": clicks * 6 // 10,
            "inline_post_engagement": clicks + (h >> 24) % 7,
            "spend": impressions * (1 + (h >> 28) % 400) // 100,
            "video_view": impressions // 3, "video_p25": impressions // 4,
            "video_p50": impressions // 6, "video_p75": impressions // 9,
            "video_p100": impressions // 14, "thruplay": impressions // 10,
        }
        for n, action in enumerate(ACTION_TYPES):
            base = counts["inline_link_clicks"] >> n
            counts[f"{action}:7d_click"] = base
            counts[f"{action}:1d_view"] = (h >> (32 + n)) % 3 if n else 0
            counts[f"{action}:1d_click"] = base * 2 // 3
            counts[f"{action}:28d_click"] = base + base // 4
        counts["purchase_value"] = counts[f"{PURCHASE}:7d_click"] * (1999 + h % 5000)
        return counts

    def _ads_of(self, a: int) -> Iterable[tuple[int, dict[str, str]]]:
        for i in range(self.data.scale.ads):
            ad = self.data.child("ads", a, i)
            adset = self.data.child("adsets", a, i % self.data.scale.adsets)
            campaign_index = int(ad["campaign_id"][-5:])
            campaign = self.data.child("campaigns", a, campaign_index)
            yield i, {"ad_id": ad["id"], "ad_name": ad["name"], "adset_id": ad["adset_id"],
                      "adset_name": adset["name"], "campaign_id": ad["campaign_id"],
                      "campaign_name": campaign["name"]}

    def rows(self, a: int, request: dict[str, Any]) -> list[dict[str, Any]]:
        """What Graph returns for one insights request on account a (validated already)."""
        account = self.data.ad_account(a)
        if self.withheld(str(account["account_id"]), request):
            return []  # "may return no results": no rows, no error
        level, fields = request["level"], request["fields"]
        breakdowns, windows = request["breakdowns"], request["windows"]
        since, until = request["since"], request["until"]
        campaigns = request.get("campaign_ids")
        buckets: dict[tuple, dict[str, Any]] = {}
        day = since
        while day <= until:
            start, stop = self._bucket(day, since, until, request["time_increment"])
            for i, names in self._ads_of(a):
                if campaigns is not None and names["campaign_id"] not in campaigns:
                    continue
                counts = self.ad_day(a, i, day.isoformat())
                if counts is None:
                    continue
                ids = self._level_ids(level, account, names)
                for values, share in self._split(names["ad_id"], day, breakdowns, counts):
                    key = (start, *ids.values(), *values)
                    bucket = buckets.setdefault(key, {"ids": ids, "start": start,
                                                      "stop": stop, "values": values,
                                                      "counts": defaultdict(int)})
                    for name, value in share.items():
                        bucket["counts"][name] += value
            day += timedelta(days=1)
        out = []
        for key in sorted(buckets, key=lambda k: tuple(map(str, k))):
            bucket = buckets[key]
            if bucket["counts"]["impressions"] <= 0:
                continue
            out.append(self._row(account, bucket, fields, breakdowns, windows))
        return out

    @staticmethod
    def _bucket(day: date, since: date, until: date, increment: str) -> tuple[date, date]:
        if increment == "all_days":
            return since, until
        if increment == "monthly":
            start = max(since, day.replace(day=1))
            next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
            return start, min(until, next_month - timedelta(days=1))
        n = int(increment)
        start = since + timedelta(days=(day - since).days // n * n)
        return start, min(until, start + timedelta(days=n - 1))

    @staticmethod
    def _level_ids(level: str, account: dict[str, Any], names: dict[str, str]
                   ) -> dict[str, str]:
        ids = {"account_id": account["account_id"], "account_name": account["name"]}
        for upper in ("campaign", "adset", "ad")[:LEVELS.index(level)]:
            ids[f"{upper}_id"] = names[f"{upper}_id"]
            ids[f"{upper}_name"] = names[f"{upper}_name"]
        return ids

    def _split(self, ad_id: str, day: date, breakdowns: list[str], counts: dict[str, int]
               ) -> list[tuple[tuple[str, ...], dict[str, int]]]:
        """The ad's day split over every combination of breakdown values, exactly."""
        if not breakdowns:
            return [((), counts)]
        combos = list(product(*(BREAKDOWN_VALUES.get(b, (f"{b}_0", f"{b}_1", f"{b}_2"))
                                for b in breakdowns)))
        weights = [1 + self._hash("w", ad_id, day.isoformat(), combo) % 9 for combo in combos]
        total_weight = sum(weights)
        shares: list[dict[str, int]] = [{} for _ in combos]
        for name, value in counts.items():
            given = 0
            for n, weight in enumerate(weights):
                part = value - given if n == len(weights) - 1 else value * weight // total_weight
                shares[n][name] = part
                given += part
        return list(zip(combos, shares, strict=True))

    def _row(self, account: dict[str, Any], bucket: dict[str, Any], fields: list[str],
             breakdowns: list[str], windows: list[str]) -> dict[str, Any]:
        c, currency = bucket["counts"], account["currency"]
        spend = c["spend"]

        def money(minor: int) -> str:
            return str(minor) if currency == "JPY" else f"{minor // 100}.{minor % 100:02d}"

        def rate(numerator: float, denominator: float) -> str | None:
            return f"{numerator / denominator:.6f}" if denominator else None

        def actions(names: Iterable[str], per: Callable[[str, str], int]) -> list[dict]:
            out = []
            for action in names:
                entry: dict[str, Any] = {"action_type": action}
                for window in windows:
                    entry[window] = str(per(action, window))
                entry["value"] = str(sum(per(action, w) for w in ("7d_click", "1d_view")))
                if entry["value"] != "0":
                    out.append(entry)
            return out

        def count(action: str, window: str) -> int:
            return c.get(f"{action}:{window}", 0)

        def value(action: str, window: str) -> int:
            return count(action, window) * c["purchase_value"] // max(
                1, c[f"{PURCHASE}:7d_click"]) if action == PURCHASE else 0

        def video(key: str, action: str = "video_view") -> list[dict[str, str]]:
            return [{"action_type": action, "value": str(c[key])}] if c[key] else []

        purchases = sum(count(PURCHASE, w) for w in ("7d_click", "1d_view"))
        revenue = sum(value(PURCHASE, w) for w in ("7d_click", "1d_view"))
        builders: dict[str, Callable[[], Any]] = {
            "account_currency": lambda: currency,
            "date_start": lambda: bucket["start"].isoformat(),
            "date_stop": lambda: bucket["stop"].isoformat(),
            "impressions": lambda: str(c["impressions"]), "reach": lambda: str(c["reach"]),
            "clicks": lambda: str(c["clicks"]), "unique_clicks": lambda: str(c["unique_clicks"]),
            "inline_link_clicks": lambda: str(c["inline_link_clicks"]),
            "unique_inline_link_clicks": lambda: str(c["unique_inline_link_clicks"]),
            "inline_post_engagement": lambda: str(c["inline_post_engagement"]),
            "spend": lambda: money(spend),
            "frequency": lambda: rate(c["impressions"], c["reach"]),
            "ctr": lambda: rate(100 * c["clicks"], c["impressions"]),
            "unique_ctr": lambda: rate(100 * c["unique_clicks"], c["reach"]),
            "cpm": lambda: rate(spend * 10 if currency != "JPY" else spend * 1000,
                                c["impressions"]),
            "cpc": lambda: rate(spend / 100 if currency != "JPY" else spend, c["clicks"]),
            "cpp": lambda: rate(spend * 10 if currency != "JPY" else spend * 1000, c["reach"]),
            "cost_per_inline_link_click": lambda: rate(
                spend / 100 if currency != "JPY" else spend, c["inline_link_clicks"]),
            "actions": lambda: actions(ACTION_TYPES, count),
            "unique_actions": lambda: actions(ACTION_TYPES[:1], count),
            "conversions": lambda: actions((PURCHASE,), count),
            "action_values": lambda: [{"action_type": PURCHASE, "value": money(revenue)}]
            if revenue else [],
            "conversion_values": lambda: [{"action_type": PURCHASE, "value": money(revenue)}]
            if revenue else [],
            "cost_per_action_type": lambda: [
                {"action_type": e["action_type"],
                 "value": rate(spend / 100 if currency != "JPY" else spend, int(e["value"]))}
                for e in actions(ACTION_TYPES, count)],
            "outbound_clicks": lambda: [{"action_type": "outbound_click",
                                         "value": str(c["inline_link_clicks"])}]
            if c["inline_link_clicks"] else [],
            "purchase_roas": lambda: [{"action_type": "omni_purchase",
                                       "value": rate(revenue, spend)}] if purchases else [],
            "video_play_actions": lambda: video("video_view"),
            "video_p25_watched_actions": lambda: video("video_p25"),
            "video_p50_watched_actions": lambda: video("video_p50"),
            "video_p75_watched_actions": lambda: video("video_p75"),
            "video_p100_watched_actions": lambda: video("video_p100"),
            "video_thruplay_watched_actions": lambda: video("thruplay"),
            "quality_ranking": lambda: "AVERAGE",
            "engagement_rate_ranking": lambda: "ABOVE_AVERAGE_35_PERCENT",
            "conversion_rate_ranking": lambda: "BELOW_AVERAGE_35_PERCENT",
            "objective": lambda: "OUTCOME_TRAFFIC",
            "optimization_goal": lambda: "LINK_CLICKS", "buying_type": lambda: "AUCTION",
        }
        row: dict[str, Any] = {}
        for name in fields:
            if name in bucket["ids"]:
                row[name] = bucket["ids"][name]
            elif name in builders:
                built = builders[name]()
                if built not in (None, []):
                    row[name] = built
        # Graph always answers the dates; breakdown values ride along as row keys.
        row.setdefault("date_start", bucket["start"].isoformat())
        row.setdefault("date_stop", bucket["stop"].isoformat())
        row.update(zip(breakdowns, bucket["values"], strict=True))
        return row

    # -- requests --------------------------------------------------------------------------
    def parse(self, a: int, params: dict[str, str], readable: frozenset[str]
              ) -> dict[str, Any]:
        """An insights request as Graph reads it, or the refusal Graph answers."""
        for name in ("level", "date_preset", "action_report_time"):
            if name in params and params[name] not in ENUMS[name]:
                raise InsightsRefusal(100, f"(#100) {name} must be one of the following "
                                           f"values: {', '.join(sorted(ENUMS[name]))}")
        lists = {name: _as_list(params.get(name), name)
                 for name in ("breakdowns", "action_breakdowns", "action_attribution_windows")}
        for name, values in lists.items():
            for n, value in enumerate(values):
                if value not in ENUMS[name]:
                    raise InsightsRefusal(100, f"(#100) {name}[{n}] must be one of the "
                                               f"following values: "
                                               f"{', '.join(sorted(ENUMS[name]))}")
        fields = _as_list(params.get("fields"), "fields") or ["date_start", "date_stop",
                                                              "account_id", "impressions",
                                                              "spend"]
        for name in fields:
            if name not in readable:
                raise InsightsRefusal(100, f"(#100) {name} is not valid for fields param. "
                                           "please check https://developers.facebook.com/docs"
                                           "/marketing-api/reference/ads-insights/ for all "
                                           "valid values")
        if lists["breakdowns"] and NO_BREAKDOWN_FIELDS & set(fields):
            raise InsightsRefusal(100, "(#100) Cannot request "
                                       f"{sorted(NO_BREAKDOWN_FIELDS & set(fields))[0]} with "
                                       "breakdowns")
        if lists["action_breakdowns"] and "actions" not in fields:
            raise InsightsRefusal(100, "(#100) actions must be requested with "
                                       "action_breakdowns")
        self._refuse_combinations(lists, fields, "action_breakdowns" in params)
        account = self.data.ad_account(a)
        today = account_today(account["timezone_name"])
        since, until = self._range(params, today)
        if since < months_before(today, 37):
            raise InsightsRefusal(3018, "(#3018) The start date of the time range cannot be "
                                        "beyond 37 months from the current date")
        increment = params.get("time_increment", "all_days")
        if increment not in ("monthly", "all_days") and not (
                increment.isdigit() and 1 <= int(increment) <= 90):
            raise InsightsRefusal(100, "(#100) time_increment must be 'monthly', 'all_days' "
                                       "or an integer between 1 and 90")
        return {"level": params.get("level", "account"), "fields": fields,
                "breakdowns": lists["breakdowns"],
                "windows": lists["action_attribution_windows"],
                "since": since, "until": until, "time_increment": increment,
                "campaign_ids": self._campaign_filter(params.get("filtering"))}

    @staticmethod
    def _refuse_combinations(lists: dict[str, list[str]], fields: list[str],
                             action_breakdowns_given: bool) -> None:
        """Breakdowns Graph refuses though Meta's SDK lists them, and combinations it refuses
        (graph-api-facts-3.md, section 4: a probe of live accounts, and Meta's breakdowns
        page)."""
        breakdowns = lists["breakdowns"]
        for name in breakdowns:
            if name in NONEXISTING_BREAKDOWNS:
                raise InsightsRefusal(100, f"(#100) Tried accessing nonexisting field ({name})")
        # Left out, action_breakdowns is Meta's default, action_type.
        actions = lists["action_breakdowns"] if action_breakdowns_given else ["action_type"]
        if "media_type" in breakdowns and actions:
            raise InsightsRefusal(100, "(#100) Current combination of data breakdown columns "
                                       f"({', '.join([*actions, 'media_type'])}) is invalid")
        hourly = [b for b in breakdowns if b.startswith("hourly_stats_aggregated_by_")]
        per_person = [f for f in fields if f in REACH_FIELDS or "unique" in f]
        if hourly and per_person:
            # Meta's page states the rule, not Graph's words: these are the combination's.
            raise InsightsRefusal(100, "(#100) Current combination of data breakdown columns "
                                       f"({hourly[0]}) is invalid with {per_person[0]}")

    @staticmethod
    def _range(params: dict[str, str], today: date) -> tuple[date, date]:
        if "time_ranges" in params and "time_range" not in params:
            # One range in a list (as singer-io sends it); several would be answered apart.
            try:
                ranges = json.loads(params["time_ranges"])
            except ValueError:
                ranges = None
            if not isinstance(ranges, list) or len(ranges) != 1:
                raise InsightsRefusal(100, "(#100) the fake answers time_ranges of one range")
            params = {**params, "time_range": json.dumps(ranges[0])}
        if "time_range" not in params:
            return today - timedelta(days=29), today  # about the last 30 days
        try:
            bounds = json.loads(params["time_range"])
            since = date.fromisoformat(bounds["since"])
            until = date.fromisoformat(bounds["until"])
        except (ValueError, KeyError, TypeError):
            raise InsightsRefusal(100, "(#100) param time_range must be a JSON object with "
                                       "since and until dates") from None
        if since > until:
            raise InsightsRefusal(100, "(#100) time_range: since must not be after until")
        return since, until

    @staticmethod
    def _campaign_filter(filtering: str | None) -> set[str] | None:
        if not filtering:
            return None
        rules = json.loads(filtering)
        ids: set[str] | None = None
        for rule in rules:
            if rule.get("field") != "campaign.id" or rule.get("operator") != "IN":
                raise InsightsRefusal(100, f"(#100) Filtering field {rule.get('field')} with "
                                           "operation is not supported")
            ids = {str(v) for v in rule.get("value", [])}
        return ids

    # -- jobs -------------------------------------------------------------------------------
    def throttle_header(self, account_id: str | None) -> dict[str, str]:
        running = self._running()
        acc = sum(1 for j in running if j.account_id == account_id)
        return {"x-fb-ads-insights-throttle": json.dumps({
            "app_id_util_pct": min(100.0, 100 * len(running) / self.faults.jobs_per_app),
            "acc_id_util_pct": min(100.0, 100 * acc / self.faults.jobs_per_account),
            "ads_api_access_tier": "standard_access"})}

    def _running(self) -> list[Job]:
        now = time.monotonic()
        with self._lock:
            running = [j for j in self._live.values() if self._status(j, now)[0] in
                       ("Job Not Started", "Job Started", "Job Running")]
            self._live = {j.run_id: j for j in running}
            return running

    def reach_header(self, account_id: str) -> dict[str, str]:
        """The reach budget's header (its format is not documented: the insights throttle's
        shape, a percentage of the day's jobs)."""
        used = self._reach_jobs.get(account_id, 0)
        if not self.faults.reach_header:
            return {}
        return {"x-fb-ads-insights-reach-throttle": json.dumps({
            "acc_id_util_pct": min(100.0, 100 * used / self.faults.reach_jobs_per_day)})}

    def _counts_against_reach(self, a: int, request: dict[str, Any]) -> bool:
        today = account_today(self.data.ad_account(a)["timezone_name"])
        return bool(request["breakdowns"]) and bool(REACH_FIELDS & set(request["fields"])) \
            and request["since"] < months_before(today, 13)

    def start(self, a: int, account_id: str, request: dict[str, Any]) -> Job:
        if self._counts_against_reach(a, request):
            with self._lock:
                used = self._reach_jobs.get(account_id, 0)
                if used >= self.faults.reach_jobs_per_day:
                    raise InsightsRefusal(100, "Reach-related metric breakdowns are "
                                               "unavailable due to rate limit threshold.")
                self._reach_jobs[account_id] = used + 1
        running = self._running()
        if sum(1 for j in running if j.account_id == account_id) >= \
                self.faults.jobs_per_account:
            raise InsightsRefusal(80000, "(#80000) There have been too many calls from this "
                                         "ad-account. Wait a bit and try again.", 2446079)
        if len(running) >= self.faults.jobs_per_app:
            raise InsightsRefusal(4, "(#4) Application request limit reached", 1504022)
        key = (account_id, request["since"].isoformat())
        levels = self.faults.fate_levels
        with self._lock:
            if key not in self._fates:
                self._fates[key] = list(self.faults.fates.get(key, []))
            fates = self._fates[key] if levels is None or request["level"] in levels else []
            fate = fates.pop(0) if fates else None
            days = (request["until"] - request["since"]).days + 1
            limit = self.faults.max_days_per_job
            if fate is None and limit is not None and days > limit:
                fate = "too_much"
            if fate is None and request["campaign_ids"] is None and \
                    request["level"] == "ad" and any(
                        account == account_id and
                        request["since"].isoformat() <= day <= request["until"].isoformat()
                        for account, day in self.faults.too_much_unfiltered_days):
                fate = "too_much"
            run_id = str(REPORT_BASE + len(self.jobs))
            job = self.jobs[run_id] = self._live[run_id] = Job(
                run_id, a, account_id, request, time.monotonic(), fate)
            self.peak_in_flight = max(self.peak_in_flight, 1 + len(running))
            self.peak_per_account[account_id] = max(
                self.peak_per_account[account_id],
                1 + sum(1 for j in running if j.account_id == account_id))
        return job

    def _status(self, job: Job, now: float) -> tuple[str, int]:
        elapsed = max(0.0, now - job.started)  # `now` may predate a job started since
        duration = self.faults.job_seconds
        if job.fate == "stuck":
            return "Job Running", 42
        if elapsed >= duration:
            return {"failed": "Job Failed", "skipped": "Job Skipped",
                    "too_much": "Job Failed"}.get(str(job.fate), "Job Completed"), 100
        if elapsed >= duration * 0.9:
            return "Job Running", 100  # 100 % is not done: only "Job Completed" is
        return ("Job Started" if elapsed < duration * 0.1 else "Job Running",
                int(100 * elapsed / duration))

    def report_run(self, job: Job) -> dict[str, Any]:
        """The AdReportRun node, every readable field it has now."""
        with self._lock:
            job.polls += 1
            polls = job.polls
            status, percent = self._status(job, time.monotonic())
        if polls <= self.faults.poll_missing_first:
            raise InsightsRefusal(100, f"(#100) Unsupported get request. Object with ID "
                                       f"'{job.run_id}' does not exist, cannot be loaded due "
                                       "to missing permissions, or does not support this "
                                       "operation", 33)
        node: dict[str, Any] = {
            "id": job.run_id, "account_id": job.account_id, "async_status": status,
            "async_percent_completion": percent,
            "date_start": job.request["since"].isoformat(),
            "date_stop": job.request["until"].isoformat(), "is_running": status in (
                "Job Started", "Job Running", "Job Not Started"),
            "time_ref": int(time.time()), "emails": [], "friendly_name": "",
        }
        if status == "Job Completed":
            node["time_completed"] = int(time.time())
        if status == "Job Failed":
            too_much = job.fate == "too_much"
            node.update({"error_code": 100 if too_much else 1, "error_subcode":
                         1487534 if too_much else 99, "error_message": (
                             "Please reduce the amount of data you're asking for, then retry "
                             "your request" if too_much else "An unknown error occurred"),
                         "error_user_title": "", "error_user_msg": ""})
        return node

    def request_key(self, job: Job) -> str:
        """What a job's result pages are cached by: its request, and whether the account's
        opt-in withholds its rows (which a test may change between runs)."""
        withheld = " withheld" if self.withheld(job.account_id, job.request) else ""
        return f"{job.account_id} {json.dumps(job.request, sort_keys=True, default=str)}" \
               f"{withheld}"

    def withheld(self, account_id: str, request: dict[str, Any]) -> bool:
        """An account without the opt-in, asked for a breakdown that needs it."""
        return account_id in self.faults.not_opted_in and \
            bool(OPT_IN_BREAKDOWNS & set(request["breakdowns"]))

    def results(self, job: Job) -> list[dict[str, Any]]:
        with self._lock:
            status = self._status(job, time.monotonic())[0]
            job.result_reads += 1
            reads = job.result_reads
        if status != "Job Completed":
            raise InsightsRefusal(2601, "(#2601) Error accessing adreport job.")
        if reads <= self.faults.results_transient_first:
            raise InsightsRefusal(2601, "Loading Async Ads Report Failed", 1815107,
                                  status=500)
        if job.account_id in self.faults.unreadable_results:
            raise InsightsRefusal(100, f"(#100) Unsupported get request. Object with ID "
                                       f"'{job.run_id}' does not exist, cannot be loaded due "
                                       "to missing permissions, or does not support this "
                                       "operation", 33)
        if job.rows is None:
            # The same request answers the same rows: benchmarks warm this once and then
            # measure the tap, not the generator.
            key = (job.account, self.request_key(job))
            with self._lock:
                cached = self._answered.get(key)
            if cached is None:
                cached = self.rows(job.account, job.request)
                with self._lock:
                    if len(self._answered) < 1000:
                        self._answered[key] = cached
            job.rows = cached
        return job.rows
