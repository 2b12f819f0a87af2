"""The settings: one table that gives the JSON schema (`--about`, Meltano and the Hub
definition are made from it: hub/generate.py), the defaults, the bounds and the one-line
messages `check_config` gives before any request."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from singer_sdk import typing as th

from tap_meta_bm.edges import MAX_PAGE_SIZE
from tap_meta_bm.errors import ConfigError
from tap_meta_bm.ids import id_list
from tap_meta_bm.insights.report import DEFAULT_WINDOWS
from tap_meta_bm.shards import SHARD_PATTERN, parse_shard

DEFAULTS: dict[str, Any] = {
    "include_archived": False,
    "api_url": "https://graph.facebook.com",
    "api_version": "v26.0",
    # Graph's largest commonly accepted `limit`; halved automatically on "reduce the amount of
    # data", so a heavy edge costs a few retries, never a failed run.
    "page_size": MAX_PAGE_SIZE,
    # Chosen by benchmarks/run.py (medium scale, 50 ms latency): 1 -> 94 s (one request at a
    # time); 2 to 16 -> about 5 s, since first pages ride 50 to a batch. Later pages of large
    # accounts still travel alone, one per worker: 16 overlaps those while keeping calls in
    # flight modest for Meta's per-app limits; the governor paces all of them.
    "max_workers": 16,
    "request_timeout": 300,
    # A host that does not accept a connection is known in seconds; Graph itself always does.
    "connect_timeout": 10,
    "usage_threshold_pct": 75,
    # Meta's longest documented block is an hour (the ad account score's, at its worst); a
    # throttle that outlasts that much waiting in all is not lifting.
    "max_throttle_wait": 3600,
    "emit_activate_version_messages": False,
    # Conversions are attributed up to 28 days late (Meta's default click window is 7 days,
    # but a 28-day click window and late offline events move older days too).
    "insights_lookback_days": 28,
    # A month of daily rows per job: large enough that most accounts need one or two jobs,
    # small enough that a job rarely hits "too much data"; halved automatically when it does.
    "insights_job_days": 30,
    "insights_job_timeout": 1800,
    "insights_attribution_windows": list(DEFAULT_WINDOWS),
}
#: (low, high) of each bounded number, in the schema (so `--about` and Meltano show them)
#: and in the one-line messages of `check_config`.
LIMITS: dict[str, tuple[int, int]] = {"page_size": (1, MAX_PAGE_SIZE),
                                      "max_workers": (1, 64),
                                      "request_timeout": (1, 3600),
                                      "connect_timeout": (1, 300),
                                      "usage_threshold_pct": (1, 100),
                                      "max_throttle_wait": (1, 86400),
                                      "insights_lookback_days": (0, 90),
                                      "insights_job_days": (1, 90),
                                      "insights_job_timeout": (1, 86400)}
API_VERSION = r"^v\d{1,3}\.\d$"
#: How far ahead of this machine's clock a start_date may be (an account's day can be ahead
#: of UTC's by up to 14 hours).
START_DATE_SLACK_SECONDS = 86400
#: Records per BATCH file when batch_config says nothing (the SDK's own default).
DEFAULT_BATCH_SIZE = 10000
BUSINESS_ID = r"^\d+$"
ACCOUNT_ID = r"^(act_)?\d+$"
API_URL = r"^https?://[^/\s]+"


def _ids(pattern: str, description: str) -> th.Property:
    """A list of ids, numbers or strings (see `ids_from_environment` for one id)."""
    name, text = description.split(":", 1)
    return th.Property(name, th.ArrayType(th.CustomType({"type": ["string", "integer"],
                                                         "pattern": pattern})),
                       description=text.strip())


def ids_from_environment() -> None:
    """`TAP_META_BM_BUSINESS_IDS=123` (or `123,456`; partner tokens likewise) as the JSON
    list the SDK parses arrays from the environment as: it would read a bare id as a number,
    not a list."""
    for name in ("TAP_META_BM_BUSINESS_IDS", "TAP_META_BM_ACCOUNT_IDS",
                 "TAP_META_BM_PARTNER_TOKENS"):
        value = os.environ.get(name, "").strip()
        if value and not value.startswith("["):
            os.environ[name] = json.dumps(id_list(value))


def _setting(name: str, kind: th.JSONTypeHelper | type[th.JSONTypeHelper], description: str,
             **extra: Any) -> th.Property:
    return th.Property(name, kind, description=description, default=DEFAULTS.get(name), **extra)


def _bounded(name: str, kind: type[th.IntegerType] | type[th.NumberType], description: str
             ) -> th.Property:
    low, high = LIMITS[name]
    return _setting(name, kind(minimum=low, maximum=high), f"{description} ({low}-{high}).")


CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property("access_token", th.StringType, required=True, secret=True,
                description="System-user access token; sent as `Authorization: Bearer`, and "
                            "in the POST body of Batch API calls; never in a URL."),
    _ids(BUSINESS_ID, "business_ids: Business ids to extract (numeric). Default: every "
                      "business of `/me/businesses`."),
    th.Property("app_secret", th.StringType, secret=True,
                description="App secret; when set every request carries "
                            "`appsecret_proof`."),
    th.Property("partner_tokens", th.ArrayType(th.StringType), secret=True,
                description="Tokens partners (agencies) share with you, one per partner "
                            "business: each reads that partner's people and which of them "
                            "hold which tasks on your assets shared with it (README, "
                            "Partners' people). Secrets like access_token."),
    th.Property("start_date", th.DateTimeType,
                description="Lower bound for incremental streams on a first run."),
    _ids(ACCOUNT_ID, "account_ids: Only these ad accounts' children (with or without "
                     "`act_`)."),
    th.Property("account_shard", th.StringType(pattern=SHARD_PATTERN),
                description="`K/N`: this job is shard K of N (from 0). It reads the ad "
                            "accounts whose id hashes to K and their streams; only shard "
                            "0 reads the business-level streams. Load each shard into its "
                            "own schema (README, Shards)."),
    _setting("include_archived", th.BooleanType,
             "Also list ARCHIVED campaigns, ad sets and ads."),
    _setting("api_url", th.StringType(pattern=API_URL), "Graph base URL (proxies, tests)."),
    _setting("api_version", th.StringType(pattern=API_VERSION),
             "Graph API version, `vNN.N`."),
    _bounded("page_size", th.IntegerType,
             "First `limit` tried per page; halved automatically when Graph asks for "
             "less data"),
    _bounded("max_workers", th.IntegerType,
             "Ad accounts / pages fetched concurrently (fewer while their pages would not "
             "fit the 2,000-record read-ahead budget); above 1, their first pages also "
             "travel up to 50 per Batch API call; 1 sends one request at a time"),
    _bounded("request_timeout", th.IntegerType,
             "Seconds to wait for Graph's answer once connected (a heavy page can take "
             "minutes); a host that answers nothing is tried twice"),
    _bounded("connect_timeout", th.IntegerType,
             "Seconds to wait for a connection to be accepted; a host that accepts none is "
             "tried three times"),
    _bounded("usage_threshold_pct", th.IntegerType,
             "Start pacing requests when a usage header passes this percentage (and "
             "start no report job while x-fb-ads-insights-throttle passes it)"),
    _bounded("max_throttle_wait", th.IntegerType,
             "Seconds one object (an ad account, a page) may stay throttled in all before its "
             "reads are skipped for the run, with one line naming it (the app's own limit: "
             "the run stops)"),
    _setting("emit_activate_version_messages", th.BooleanType,
             "Full-table streams end with ACTIVATE_VERSION, so loaders that support it "
             "delete (or soft-delete) rows the source no longer has (revoked access); "
             "written only after a run that read everything."),
    _bounded("insights_lookback_days", th.IntegerType,
             "Insights: days before each ad account's bookmark read again every run, "
             "for conversions attributed late"),
    _bounded("insights_job_days", th.IntegerType,
             "Insights: days per report job at first; a job that fails twice, or once "
             "for too much data, is split"),
    _bounded("insights_job_timeout", th.IntegerType,
             "Insights: seconds a report job may run before it is run again; a second "
             "time, it is split"),
    _setting("insights_attribution_windows", th.ArrayType(th.StringType),
             "Attribution windows of ads_insights (Meta's default: 7d_click, 1d_view)."),
    th.Property("insights_reports", th.ArrayType(th.ObjectType(additional_properties=True)),
                description="Custom reports, one stream `insights_<name>` each: name, "
                            "level (account, campaign, adset, ad), fields, breakdowns, "
                            "action_breakdowns, time_increment (days), "
                            "action_attribution_windows, action_report_time, "
                            "lookback_days."),
).to_dict()


def check_partner_tokens(tokens: Any, access_token: str) -> None:
    """Each partner token a token: named by position, never quoted."""
    if tokens is None:
        return
    if not isinstance(tokens, list):
        raise ConfigError("partner_tokens: must be a list of tokens, one per partner business.")
    for n, token in enumerate(tokens, 1):
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(f"partner_tokens: token #{n} is empty; paste each partner's "
                              "token, or remove the entry.")
        if any(c.isspace() for c in token.strip()):
            raise ConfigError(f"partner_tokens: token #{n} contains whitespace; paste the "
                              "token alone.")
        if token.strip() == access_token:
            raise ConfigError(f"partner_tokens: token #{n} is access_token itself; a partner "
                              "token is one the partner generates in its own business.")


def check_start_date(value: str) -> None:
    """A date-time, and not in the future: a run would read nothing and still move its
    bookmarks there. A day of slack, for accounts whose day is ahead of UTC's."""
    try:  # the parser the SDK applies to start_date when it reads the first bookmark
        start = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"start_date: {value!r} is not a date-time; use e.g. "
                          "2024-01-01T00:00:00Z.") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if start.timestamp() > time.time() + START_DATE_SLACK_SECONDS:
        raise ConfigError(f"start_date: {value!r} is in the future; set it to the first day "
                          "to read, today or earlier.")


def check_config(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the first bad setting; runs before any request."""
    token = config.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigError("access_token: missing. Set it to the system user's token (config "
                          "file, or TAP_META_BM_ACCESS_TOKEN with --config ENV).")
    if any(c.isspace() for c in token.strip()):  # a trailing newline of a pasted token is fine
        raise ConfigError("access_token: contains whitespace; paste the token alone.")
    check_partner_tokens(config.get("partner_tokens"), token.strip())
    for name, pattern, what in (
        ("business_ids", BUSINESS_ID, "a numeric business id (Business Settings > Business "
                                      "info)"),
        ("account_ids", ACCOUNT_ID, "an ad account id like act_123 or 123"),
    ):
        values = config.get(name)
        if values is None:
            continue
        if not isinstance(values, list):
            raise ConfigError(f"{name}: must be a list of ids, got {type(values).__name__}.")
        for value in values:
            if isinstance(value, bool) or not re.match(pattern, str(value).strip()):
                raise ConfigError(f"{name}: {value!r} is not {what}.")
    if config.get("start_date") is not None:
        check_start_date(str(config["start_date"]))
    parse_batch_config(config.get("batch_config"))
    parse_shard(config.get("account_shard"))  # for its one-line message, before the schema's
    version = config.get("api_version", DEFAULTS["api_version"])
    if not re.match(API_VERSION, str(version)):
        raise ConfigError(f"api_version: {version!r} must look like v26.0.")
    url = config.get("api_url", DEFAULTS["api_url"])
    parts = urlsplit(str(url))
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"api_url: {url!r} must be an http(s) URL such as "
                          "https://graph.facebook.com.")
    for name, (low, high) in LIMITS.items():
        check_whole_number(name, config.get(name, DEFAULTS[name]), low, high)


def check_whole_number(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        raise ConfigError(f"{name}: {value!r} is text; write the number without quotes "
                          f'("{name}": {value.strip()}).')
    # JSON's decimals arrive as Decimal (the SDK's reader), Meltano's as float.
    number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if not number or value != int(value) or not low <= value <= high:
        shown = str(value) if number else repr(value)
        raise ConfigError(f"{name}: {shown} must be a whole number from {low} to {high}.")


@dataclass(frozen=True)
class BatchSettings:
    """The SDK's `batch_config`, as far as the tap writes it (output.py, BatchFiles)."""

    directory: Path
    prefix: str
    compress: bool
    batch_size: int


def parse_batch_config(raw: Any) -> BatchSettings | None:
    """`batch_config` (the SDK's setting: encoding, storage, batch_size), or None when unset;
    ConfigError for what the tap cannot write: jsonl only (parquet needs pyarrow), to a
    local directory."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("batch_config: must be an object like {\"encoding\": {\"format\": "
                          "\"jsonl\", \"compression\": \"gzip\"}, \"storage\": {\"root\": "
                          "\"file:///path/to/dir\"}}.")
    encoding, storage = raw.get("encoding") or {}, raw.get("storage") or {}
    if encoding.get("format", "jsonl") != "jsonl":
        raise ConfigError(f"batch_config.encoding.format: {encoding.get('format')!r} is not "
                          "written by this tap; use \"jsonl\".")
    compression = encoding.get("compression") or "none"
    if compression not in ("gzip", "none"):
        raise ConfigError(f"batch_config.encoding.compression: {compression!r} must be "
                          "\"gzip\" or \"none\".")
    root = str(storage.get("root") or "")
    if not root.startswith("file://"):
        raise ConfigError(f"batch_config.storage.root: {root!r} must be a local directory "
                          "as a file:// URL (file:///path/to/dir).")
    size = raw.get("batch_size", DEFAULT_BATCH_SIZE)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"batch_config.batch_size: {size!r} must be a whole number of "
                          "records per file, 1 or more.")
    return BatchSettings(Path(url2pathname(urlsplit(root).path)), str(storage.get("prefix") or ""),
                         compression == "gzip", size)
