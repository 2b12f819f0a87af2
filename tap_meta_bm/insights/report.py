"""An insights report: what it asks Graph for (level, fields, breakdowns, windows), read
from the config and checked there, and the schema of its rows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from singer_sdk import typing as th

from tap_meta_bm.errors import ConfigError
from tap_meta_bm.insights.catalog import (
    ACTION_BREAKDOWNS,
    ACTION_REPORT_TIMES,
    ACTION_STATS_KEYS,
    ATTRIBUTION_WINDOWS,
    BREAKDOWNS,
    FIELD_KINDS,
    LEVELS,
)
from tap_meta_bm.streams.schema import FreeList, string

#: Windows that return no data since 2026-01-12 (Meta developer blog, 2025-10-16).
RETIRED_WINDOWS = frozenset({"7d_view", "28d_view"})
DEFAULT_WINDOWS = ("7d_click", "1d_view")
REPORT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Fields Graph refuses together with any breakdown (Meta's Insights API "Breakdowns" page,
#: developers.facebook.com/documentation/ads-commerce/marketing-api/insights/breakdowns).
NOT_WITH_BREAKDOWNS = frozenset({"app_store_clicks", "newsfeed_avg_position", "newsfeed_clicks",
                                 "relevance_score", "newsfeed_impressions"})
#: Breakdowns Meta's SDK lists that Graph answers "(#100) Tried accessing nonexisting field"
#: (probed against live accounts, 2026-05: graph-api-facts-3.md, section 4).
NONEXISTING_BREAKDOWNS = frozenset({"media_asset_url", "media_creator", "media_destination_url",
                                    "media_format", "media_origin_url", "media_text_content"})
#: Breakdowns Graph refuses with any action breakdown: "(#100) Current combination of data
#: breakdown columns (action_type, media_type) is invalid" (same probe).
WITHOUT_ACTION_BREAKDOWNS = frozenset({"media_type"})
#: Meta's breakdowns page: hourly breakdowns support neither reach nor unique fields; frequency
#: and cpp are reach's ratios ("reach and related fields", the insights best practices).
HOURLY_BREAKDOWNS = frozenset({"hourly_stats_aggregated_by_advertiser_time_zone",
                               "hourly_stats_aggregated_by_audience_time_zone"})
REACH_FIELDS = frozenset({"reach", "frequency", "cpp"})
#: Breakdowns most ad accounts must be opted in to since 2026-08-03 (Marketing API
#: out-of-cycle changes, 2026-05-08): without it Graph may answer no rows.
OPT_IN_BREAKDOWNS = frozenset({"impression_device",
                               "hourly_stats_aggregated_by_audience_time_zone",
                               "frequency_value"})
#: What `ads_insights` reads: delivery, cost, clicks, conversions and video per ad and day.
DEFAULT_METRICS = (
    "account_currency", "objective", "optimization_goal", "buying_type",
    "impressions", "reach", "frequency", "clicks", "unique_clicks", "inline_link_clicks",
    "unique_inline_link_clicks", "inline_post_engagement", "spend", "cpm", "cpc", "cpp", "ctr",
    "unique_ctr", "cost_per_inline_link_click", "actions", "unique_actions", "action_values",
    "cost_per_action_type", "conversions", "conversion_values", "outbound_clicks",
    "purchase_roas", "video_play_actions", "video_p25_watched_actions",
    "video_p50_watched_actions", "video_p75_watched_actions", "video_p100_watched_actions",
    "video_thruplay_watched_actions", "quality_ranking", "engagement_rate_ranking",
    "conversion_rate_ranking",
)
#: The ids and names each level's rows carry, from the account down to the level.
LEVEL_COLUMNS = {
    "account": ("account_id", "account_name"),
    "campaign": ("account_id", "account_name", "campaign_id", "campaign_name"),
    "adset": ("account_id", "account_name", "campaign_id", "campaign_name", "adset_id",
              "adset_name"),
    "ad": ("account_id", "account_name", "campaign_id", "campaign_name", "adset_id",
           "adset_name", "ad_id", "ad_name"),
}
SETTINGS = ("name", "level", "fields", "breakdowns", "action_breakdowns", "time_increment",
            "action_attribution_windows", "action_report_time", "lookback_days")


@dataclass(frozen=True)
class InsightsReport:
    """One report: what Graph is asked, and what the stream is called."""

    name: str
    level: str = "ad"
    fields: tuple[str, ...] = DEFAULT_METRICS
    breakdowns: tuple[str, ...] = ()
    #: Meta's default is `action_type`; the others split action rows (and change the
    #: numbers: peers' users lost purchases to a default of three).
    action_breakdowns: tuple[str, ...] = ("action_type",)
    time_increment: int = 1
    action_attribution_windows: tuple[str, ...] = DEFAULT_WINDOWS
    action_report_time: str | None = None
    lookback_days: int | None = None  # None: the tap's insights_lookback_days
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def stream_name(self) -> str:
        return self.name if self.name == "ads_insights" else f"insights_{self.name}"

    @property
    def key(self) -> tuple[str, ...]:
        return (f"{self.level}_id", "date_start", *self.breakdowns)

    def columns(self) -> tuple[str, ...]:
        """Every Graph field asked for, in schema order: ids and names, dates, metrics."""
        return tuple(dict.fromkeys((*LEVEL_COLUMNS[self.level], "date_start", "date_stop",
                                    *self.fields)))

    @property
    def opt_in_breakdowns(self) -> tuple[str, ...]:
        return opt_in(self.breakdowns)

    @property
    def asks_actions(self) -> bool:
        """Whether any field asked is an action list: `action_breakdowns` splits those only,
        and Graph wants `actions` asked whenever they are given."""
        return any(FIELD_KINDS.get(name) == "actions" for name in self.fields)

    def params(self) -> tuple[tuple[str, str], ...]:
        """The report's own POST parameters (the scheduler adds the time range)."""
        params = [("level", self.level), ("time_increment", str(self.time_increment)),
                  ("action_attribution_windows", _json_list(self.action_attribution_windows))]
        if self.breakdowns:
            params.append(("breakdowns", _json_list(self.breakdowns)))
        if self.asks_actions or not self.action_breakdowns:
            # An empty list is said: left out, Graph splits by action_type (its default).
            params.append(("action_breakdowns", _json_list(self.action_breakdowns)))
        if self.action_report_time:
            params.append(("action_report_time", self.action_report_time))
        return tuple(params)


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def parse_report(raw: Any, taken: set[str]) -> InsightsReport:
    """One `insights_reports` entry, checked against Graph's enums and readable fields; a
    ConfigError names the report, the setting and what it accepts."""
    if not isinstance(raw, dict):
        raise ConfigError(f"insights_reports: each report is an object with a name, got "
                          f"{raw!r}.")
    name = raw.get("name")
    where = f"insights_reports[{name!r}]"
    if not isinstance(name, str) or not REPORT_NAME.match(name):
        raise ConfigError(f"{where}: name must be lower case letters, digits and _ "
                          "(starting with a letter); it names the stream insights_<name>.")
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; a report takes "
                          f"{', '.join(SETTINGS)}.")
    level = raw.get("level", "ad")
    if level not in LEVELS:
        raise ConfigError(f"{where}: level {level!r} must be one of {', '.join(sorted(LEVELS))}.")
    fields = _names(raw, "fields", where, set(FIELD_KINDS),
                    "a readable AdsInsights field") or DEFAULT_METRICS
    breakdowns = _names(raw, "breakdowns", where, BREAKDOWNS, "a breakdown")
    action_breakdowns = _names(raw, "action_breakdowns", where, ACTION_BREAKDOWNS,
                               "an action breakdown", default=("action_type",))
    windows = _names(raw, "action_attribution_windows", where, ATTRIBUTION_WINDOWS,
                     "an attribution window", default=DEFAULT_WINDOWS)
    check_combinations(where, fields, breakdowns, action_breakdowns)
    if action_breakdowns and "actions" not in fields and any(
            FIELD_KINDS[f] == "actions" for f in fields):
        fields = (*fields, "actions")  # Graph wants `actions` whenever action_breakdowns is set
    report_time = raw.get("action_report_time")
    if report_time is not None and report_time not in ACTION_REPORT_TIMES:
        raise ConfigError(f"{where}: action_report_time {report_time!r} must be one of "
                          f"{', '.join(sorted(ACTION_REPORT_TIMES))}.")
    increment = _whole(raw, "time_increment", where, 1, 90, 1)
    lookback = raw.get("lookback_days")
    if lookback is not None:
        lookback = _whole(raw, "lookback_days", where, 0, 90, 28)
    report = InsightsReport(name, level, fields, breakdowns,
                            action_breakdowns, increment, windows, report_time, lookback,
                            (*retired_window_warnings(where, windows),
                             *opt_in_warnings(where, breakdowns)))
    if report.stream_name in taken:
        raise ConfigError(f"{where}: a stream called {report.stream_name} exists already; "
                          "rename the report.")
    clash = sorted(set(report.breakdowns) & set(report.columns()))
    if clash:
        raise ConfigError(f"{where}: {clash[0]} is both a field and a breakdown.")
    return report


def check_combinations(where: str, fields: tuple[str, ...], breakdowns: tuple[str, ...],
                       action_breakdowns: tuple[str, ...]) -> None:
    """What Graph refuses of a report's combination, refused here before any job (each
    would end the run at the first one)."""
    if clash := sorted(NOT_WITH_BREAKDOWNS & set(fields) if breakdowns else ()):
        raise ConfigError(f"{where}: Graph refuses {clash[0]} together with breakdowns.")
    if nonexisting := sorted(NONEXISTING_BREAKDOWNS & set(breakdowns)):
        raise ConfigError(f"{where}: breakdowns: Graph answers {nonexisting[0]} as a "
                          "nonexisting field, though Meta's SDK lists it; media_type is the "
                          "media breakdown it reads (with \"action_breakdowns\": []).")
    alone = sorted(WITHOUT_ACTION_BREAKDOWNS & set(breakdowns))
    if alone and action_breakdowns:
        raise ConfigError(f"{where}: breakdowns: Graph refuses {alone[0]} with any action "
                          f"breakdown ({', '.join(action_breakdowns)} here; action_type is "
                          "Meta's default); add \"action_breakdowns\": [] to the report.")
    hourly = sorted(HOURLY_BREAKDOWNS & set(breakdowns))
    per_person = [f for f in fields if f in REACH_FIELDS or "unique" in f]
    if hourly and per_person:
        raise ConfigError(f"{where}: Graph counts no reach or unique people by the hour: "
                          f"{', '.join(per_person)} cannot go with {hourly[0]}; name the "
                          "report's fields without them.")


def opt_in(breakdowns: Iterable[str]) -> tuple[str, ...]:
    """The breakdowns an ad account may need Meta's opt-in for (OPT_IN_BREAKDOWNS)."""
    return tuple(b for b in breakdowns if b in OPT_IN_BREAKDOWNS)


def opt_in_warnings(where: str, breakdowns: Iterable[str]) -> tuple[str, ...]:
    return tuple(f"{where}: breakdown {b} needs Meta's opt-in on most ad accounts since "
                 "2026-08-03: an account without it answers no rows, and keeps its bookmark "
                 "until it has (README, Insights)." for b in opt_in(breakdowns))


def default_report(config: dict[str, Any]) -> InsightsReport:
    """ads_insights, with the attribution windows the tap's settings name."""
    windows = _names(config, "insights_attribution_windows", "", ATTRIBUTION_WINDOWS,
                     "an attribution window", default=DEFAULT_WINDOWS)
    return InsightsReport("ads_insights", action_attribution_windows=windows,
                          warnings=retired_window_warnings("insights_attribution_windows",
                                                           windows))


def retired_window_warnings(where: str, windows: Iterable[str]) -> tuple[str, ...]:
    return tuple(f"{where}: the {w} attribution window returns no data since 2026-01-12 "
                 "(Meta retired it); its values will be empty." for w in windows
                 if w in RETIRED_WINDOWS)


def _names(raw: dict[str, Any], setting: str, where: str, allowed: Iterable[str], what: str,
           default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """`raw[setting]`, a list of names each in `allowed`; `where` ("" for a setting of the
    tap itself) starts the one-line error."""
    values = raw.get(setting)
    if values is None:
        return default
    label = f"{where}: {setting}" if where else setting
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{label} must be a list of names.")
    allowed = set(allowed)
    for value in values:
        if value not in allowed:
            near = get_close_matches(value, sorted(allowed), n=3, cutoff=0.8)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise ConfigError(f"{label}: {value!r} is not {what} Graph accepts{hint}.")
    return tuple(dict.fromkeys(values))


def _whole(raw: dict[str, Any], setting: str, where: str, low: int, high: int,
           default: int) -> int:
    value = raw.get(setting, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: {setting} must be a whole number from {low} to {high}.")
    return value


# -- schema -----------------------------------------------------------------------------------
_ACTION_STAT = th.ObjectType(
    *(th.Property(k, th.StringType if k.startswith("action_") else th.NumberType)
      for k in ACTION_STATS_KEYS),
    additional_properties=True,
)
_HISTOGRAM = th.ObjectType(th.Property("action_type", th.StringType),
                           th.Property("value", th.ArrayType(th.IntegerType)),
                           additional_properties=True)
_KIND_TYPES: dict[str, Any] = {
    "text": th.StringType, "count": th.IntegerType, "number": th.NumberType,
    "actions": th.ArrayType(_ACTION_STAT), "histogram": th.ArrayType(_HISTOGRAM),
    "objects": FreeList,
}


def report_schema(report: InsightsReport) -> dict[str, Any]:
    properties = [string("business_id", description="The configured business the ad "
                                                    "account was read from.")]
    for name in report.columns():
        kind = FIELD_KINDS[name]
        description = {"count": None, "number": "The decimal Graph reports, digit for digit "
                                                "(money in the account currency's units)."}
        properties.append(th.Property(name, _KIND_TYPES[kind],
                                      description=description.get(kind)))
    properties.extend(string(b, description="Breakdown value; '' when Graph left it out")
                      for b in report.breakdowns)
    schema = th.PropertiesList(*properties).to_dict()
    schema["properties"]["date_start"]["format"] = "date"
    schema["properties"]["date_stop"]["format"] = "date"
    return schema
