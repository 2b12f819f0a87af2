"""Ad insights: one stream per report (`ads_insights`, and each of `insights_reports`).

Rows come from async report jobs (report_jobs.py), one set of jobs per ad account, over the
account's own calendar days. The key is the level's id, `date_start` and one column per
breakdown, so breakdown rows never collapse. Each run re-reads `lookback_days` before the
bookmark (conversions are attributed days later) and targets upsert by the key; the bookmark
of an account is the last day read, written only once its rows are out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from difflib import get_close_matches
from functools import cached_property
from types import GenericAlias
from typing import Any, ClassVar, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_meta_bm.concurrency import PartitionReader
from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.errors import AssetSkipped, ConfigError, parse_body
from tap_meta_bm.graph import EdgePolicy, records_of
from tap_meta_bm.graph_stream import GraphStream, as_integer
from tap_meta_bm.report_jobs import Piece, ReportJobs, months_before
from tap_meta_bm.streams.insights_catalog import (
    ACTION_BREAKDOWNS,
    ACTION_REPORT_TIMES,
    ACTION_STATS_KEYS,
    ATTRIBUTION_WINDOWS,
    BREAKDOWNS,
    FIELD_KINDS,
    LEVELS,
)
from tap_meta_bm.streams.schema import FreeList, string

#: Meta keeps insights for 37 months; one day of margin, as the start is computed before the
#: job reaches Meta.
RETENTION_MONTHS = 37
#: Windows that return no data since 2026-01-12 (Meta developer blog, 2025-10-16).
RETIRED_WINDOWS = frozenset({"7d_view", "28d_view"})
DEFAULT_WINDOWS = ("7d_click", "1d_view")
#: Rows read ahead of the one being written, every account together: an insights row with
#: its action lists is ten times a typical record, and the read-ahead is most of the memory.
READ_AHEAD_ROWS = 1000
REPORT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Fields Graph refuses together with any breakdown (Meta's Insights API "Breakdowns" page,
#: developers.facebook.com/documentation/ads-commerce/marketing-api/insights/breakdowns).
NOT_WITH_BREAKDOWNS = frozenset({"app_store_clicks", "newsfeed_avg_position", "newsfeed_clicks",
                                 "relevance_score", "newsfeed_impressions"})
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
        if self.action_breakdowns and self.asks_actions:
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
    fields = _names(raw, "fields", where, set(FIELD_KINDS), "a readable AdsInsights field")
    breakdowns = _names(raw, "breakdowns", where, BREAKDOWNS, "a breakdown")
    action_breakdowns = _names(raw, "action_breakdowns", where, ACTION_BREAKDOWNS,
                               "an action breakdown", default=("action_type",))
    windows = _names(raw, "action_attribution_windows", where, ATTRIBUTION_WINDOWS,
                     "an attribution window", default=DEFAULT_WINDOWS)
    if breakdowns and (clash := sorted(NOT_WITH_BREAKDOWNS & set(fields))):
        raise ConfigError(f"{where}: Graph refuses {clash[0]} together with breakdowns.")
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
    report = InsightsReport(name, level, fields or DEFAULT_METRICS, breakdowns,
                            action_breakdowns, increment, windows, report_time, lookback,
                            retired_window_warnings(where, windows))
    if report.stream_name in taken:
        raise ConfigError(f"{where}: a stream called {report.stream_name} exists already; "
                          "rename the report.")
    clash = sorted(set(report.breakdowns) & set(report.columns()))
    if clash:
        raise ConfigError(f"{where}: {clash[0]} is both a field and a breakdown.")
    return report


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


# -- values -----------------------------------------------------------------------------------
def exact_number(value: Any) -> Any:
    """Graph's decimal text as an exact Decimal (written as a JSON number, digit for digit);
    a float would turn 0.1 + 0.2 cents into noise."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def exact_count(value: Any) -> Any:
    if isinstance(value, str):
        count = as_integer(value)
        return count if isinstance(count, int) else exact_number(value)
    return value


def _stats(entries: Any) -> Any:
    if not isinstance(entries, list):
        return entries
    for entry in entries:
        if isinstance(entry, dict):
            for key, value in entry.items():
                if isinstance(value, str) and not key.startswith("action_"):
                    entry[key] = exact_number(value)
    return entries


_CONVERT = {"count": exact_count, "number": exact_number, "actions": _stats}
#: What each kind decodes into straight from Graph's text (msgspec, lax: "1200" -> 1200,
#: "61.71" -> 61.71). Money and rates become floats, and still leave as the digits Graph sent:
#: a decimal of at most 15 significant digits survives the trip to a binary64 float and back
#: through its shortest repr (what msgspec writes) digit for digit, and Graph's metrics have
#: fewer (cents of amounts below 10^13, rates to 6 decimals); the test of this proves it over
#: that range. Decimals there cost a quarter of the tap's CPU per row: a Python object built,
#: and later printed, for each of the ~50 numbers of a row with its action lists.
#: TypedDict and list[...] built from names known at run time (mypy checks literal ones only).
_typed_dict: Any = TypedDict
_ACTION_STAT_TYPE = _typed_dict("ActionStat", {
    k: str if k.startswith("action_") else float for k in ACTION_STATS_KEYS}, total=False)
_DECODED: dict[str, Any] = {"text": str, "count": int | float, "number": float,
                            "actions": GenericAlias(list, (_ACTION_STAT_TYPE,)),
                            "histogram": Any, "objects": Any}


def page_type(report: InsightsReport) -> Any:
    """A results page of `report` as a msgspec type: its rows come out of the decoder with
    numbers already numbers. Keys outside the type (none Graph sends for what was asked)
    would be left out."""
    row = _typed_dict("Row", {
        **{name: _DECODED[FIELD_KINDS[name]] for name in report.columns()},
        **dict.fromkeys(report.breakdowns, str)}, total=False)
    return _typed_dict("Page", {"data": GenericAlias(list, (row,)), "paging": Any,
                                "error": Any}, total=False)


def page_decoder(report: InsightsReport) -> Callable[[bytes], Any]:
    """A results page of `report` to its JSON, numbers as numbers: in one pass in C, or, for a
    page that does not fit `page_type` (a value Graph has never sent there), decoded as it is
    and converted row by row (`_CONVERT`)."""
    typed = msgspec.json.Decoder(page_type(report), strict=False)
    conversions = [(name, _CONVERT[FIELD_KINDS[name]]) for name in report.columns()
                   if FIELD_KINDS[name] in _CONVERT]

    def decode(body: bytes) -> Any:
        if not body:
            return None
        try:
            return typed.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            page = parse_body(body)
        for row in records_of(page):
            for name, convert in conversions:
                value = row.get(name)
                if value is not None:
                    row[name] = convert(value)
        return page

    return decode


# -- calendar ---------------------------------------------------------------------------------
def account_today(timezone_name: str | None, now: float) -> date:
    try:
        zone = ZoneInfo(timezone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(now, zone).date()


def windows(since: date, until: date, job_days: int, increment: int) -> list[tuple[date, date]]:
    """[since, until] in consecutive jobs of about `job_days` (whole time increments each)."""
    step = max(increment, job_days // increment * increment)
    out = []
    start = since
    while start <= until:
        stop = min(until, start + timedelta(days=step - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


class InsightsStream(GraphStream):
    """The rows of one report, per ad account (see the module docstring)."""

    partitions_from = PartitionKind.AD_ACCOUNT
    partitions_named = "ad accounts"
    path = "/act_{account_id}/insights"  # POSTed; rows are read from each job's own edge
    state_partitioning_keys: ClassVar[list[str] | None] = ["account_id"]
    replication_key = "date_start"
    context_columns = ("business_id",)
    report: ClassVar[InsightsReport] = InsightsReport("ads_insights")
    access_hint = ("Insights need the ads_read permission and an ANALYZE (or ADVERTISE, "
                   "MANAGE) task for the system user on the ad account.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._jobs: ReportJobs | None = None
        self._pieces: dict[str, list[Piece]] = {}
        self._read_through: dict[str, date] = {}
        #: Accounts with a finished report job whose rows could not be read, and how many.
        self._unread_jobs: dict[str, int] = {}
        self._clamped: list[str] = []

    @classmethod
    def for_report(cls, report: InsightsReport) -> type[InsightsStream]:
        return type(f"InsightsStream_{report.name}", (cls,), {
            "name": report.stream_name, "listed": False, "report": report,
            "primary_keys": report.key,
            "computed_columns": report.breakdowns, "schema": report_schema(report)})

    @property
    def lookback_days(self) -> int:
        own = self.report.lookback_days
        return int(self.config["insights_lookback_days"]) if own is None else own

    @override
    def edge_params(self, context: Context | None) -> dict[str, Any]:
        """What a synchronous read of the report sends (the doctor's probe; the rows come
        from report jobs): the report's own parameters, and the account's today."""
        day = account_today(self.run.directory.account_timezone(
            str((context or {}).get("account_id"))), float(self.run.run_started)).isoformat()
        return {**dict(self.report.params()),
                "time_range": json.dumps({"since": day, "until": day}, separators=(",", ":"))}

    # -- plan -------------------------------------------------------------------------------
    def account_range(self, context: Context) -> tuple[date, date]:
        """The days this run reads for one account (module docstring), in its time zone."""
        account_id = str(context["account_id"])
        today = account_today(self.run.directory.account_timezone(account_id),
                              float(self.run.run_started))
        earliest = months_before(today, RETENTION_MONTHS) + timedelta(days=1)
        state = self.get_context_state(context)
        bookmark = state.get("replication_key_value") \
            if state.get("replication_key") == self.replication_key else None
        start = self.config.get("start_date")
        start_day = datetime.fromisoformat(str(start)).date() if start else None
        if bookmark:
            since = min(date.fromisoformat(str(bookmark)[:10]), today) - \
                timedelta(days=self.lookback_days)
            # The lookback re-reads days that may still change, never days before start_date.
            since = max(since, start_day) if start_day else since
        elif start_day:
            since = start_day
        else:
            since = today - timedelta(days=self.lookback_days)
        if since < earliest:
            self._clamped.append(account_id)
            since = earliest
        return since, today

    @override
    def starting(self, partitions: list[dict[str, Any]]) -> None:
        report = self.report
        jobs = self._jobs = ReportJobs(
            self.run.client, stream=self.name, params=(*report.params(),
                                                       ("fields", self.graph_fields)),
            level=report.level, timeout=float(self.config["insights_job_timeout"]),
            logger=self.logger)
        days = 0
        for partition in partitions:
            since, until = self.account_range(partition)
            account_id = str(partition["account_id"])
            self._read_through[account_id] = until
            self._pieces[account_id] = jobs.add(account_id, windows(
                since, until, int(self.config["insights_job_days"]), report.time_increment))
            days += (until - since).days + 1
        if self._clamped:
            self.logger.warning(
                "%s: Meta keeps insights for %d months; %d ad account(s) start at that limit "
                "instead (start_date is earlier)", self.name, RETENTION_MONTHS,
                len(self._clamped))
        self.logger.info("Starting %s: %d ad accounts, %d account-days in report jobs of up "
                         "to %d days", self.name, len(partitions), days,
                         int(self.config["insights_job_days"]))

    @cached_property
    def results_policy(self) -> EdgePolicy:
        """Report rows: the fields were chosen with the job; pages as large as Graph allows."""
        # Read on the partition workers: the job scheduler's own calls keep the budget.
        return EdgePolicy(stream=self.name, fields=(), columns={}, paged=True,
                          page_size=int(self.config["page_size"]),
                          added_columns=self.context_columns, reports_usage=False,
                          decode=page_decoder(self.report))

    def _rows_of(self, partition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        assert self._jobs is not None
        account_id = str(partition["account_id"])
        policy = self.results_policy
        client = self.run.client
        for run_id in self._jobs.finished(self._pieces[account_id]):
            read = self._jobs.results(run_id, account_id, policy,
                                      (partition.get("business_id"),))
            try:
                yield from client.records_or_skip(read)
            except AssetSkipped as skipped:
                client.note_skipped(read, skipped)
                self._unread_jobs[account_id] = self._unread_jobs.get(account_id, 0) + 1

    @override
    def make_reader(self, partitions: list[dict[str, Any]]) -> PartitionReader:
        """Each account's rows, read from its finished report jobs; the jobs' scheduler
        stops with the reader."""
        self.starting(partitions)
        reader = PartitionReader(self._rows_of, partitions, int(self.config["max_workers"]),
                                 buffer_records=READ_AHEAD_ROWS,
                                 page_records=self.results_policy.limit)
        if self._jobs is not None:
            reader.owns(self._jobs)
        return reader

    @override
    def progress_detail(self) -> str:
        return self._jobs.status() if self._jobs is not None else ""

    @override
    def shape(self, row: dict[str, Any]) -> dict[str, Any]:
        for breakdown in self.report.breakdowns:
            row.setdefault(breakdown, "")
        return row

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        yield from super().get_records(context)
        if not context:
            return
        # Reached once every row of the account is out: the bookmark moves to the last day
        # read, whatever days had rows; unless some rows could not be read, when it stays.
        account_id = str(context["account_id"])
        state = self.get_context_state(context)
        kept = state.get("replication_key_value") \
            if state.get("replication_key") == self.replication_key else None
        self.state_manager.finalize_state(state)
        unread = self._unread_jobs.get(account_id)
        if unread:
            self._keep_bookmark(state, account_id, unread, kept)
            return
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = self._read_through[account_id].isoformat()

    def _keep_bookmark(self, state: dict[str, Any], account_id: str, unread: int,
                       kept: Any) -> None:
        """The account's bookmark as it was (none on a first run): the days of the unread
        jobs lie after it, so the next run reads them again."""
        for name in ("replication_key", "replication_key_value"):
            state.pop(name, None)
        if kept:
            state["replication_key"], state["replication_key_value"] = \
                self.replication_key, kept
        where = f"at {kept}" if kept else "with none (its first run starts again)"
        self.logger.warning(
            "%s: ad account %s: the rows of %d finished report job(s) could not be read; its "
            "bookmark stays %s, so the next run reads those days again", self.name,
            account_id, unread, where)
        self.run.summary.kept_bookmark(self.name, f"ad account {account_id} {where}")

    @override
    def log_sync_costs(self) -> None:
        if self._jobs is not None:
            counts = self._jobs.counts
            self.logger.info("%s: %d report jobs (%d run again, %d split), %d polls",
                             self.name, counts.started, counts.retried, counts.split,
                             counts.polls)
        super().log_sync_costs()
