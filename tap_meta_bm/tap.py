"""TapMetaBM: the config contract, its validation, the stream registry and the CLI entry."""

from __future__ import annotations

import hashlib
import hmac
import re
import sys
import threading
import time
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlsplit

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_meta_bm.directory import Directory, bare_account_id
from tap_meta_bm.errors import ConfigError, TapMetaBMError
from tap_meta_bm.governor import Governor
from tap_meta_bm.output import BufferedRecordWriter, EncodedStateWriter
from tap_meta_bm.page_tokens import PageTokens
from tap_meta_bm.redaction import protect, redact
from tap_meta_bm.runtime import tune_process
from tap_meta_bm.streams import STREAM_TYPES
from tap_meta_bm.summary import RunSummary

DEFAULTS: dict[str, Any] = {
    "include_archived": False,
    "api_url": "https://graph.facebook.com",
    "api_version": "v26.0",
    # Graph's largest commonly accepted `limit`; halved automatically on "reduce the amount of
    # data", so a heavy edge costs a few retries, never a failed run.
    "page_size": 500,
    # Chosen by benchmarks/run.py (medium scale, 50 ms latency): 1 -> 94 s (one request at a
    # time); 2 to 16 -> about 5 s, since first pages ride 50 to a batch. Later pages of large
    # accounts still travel alone, one per worker: 16 overlaps those while keeping calls in
    # flight modest for Meta's per-app limits; the governor paces all of them.
    "max_workers": 16,
    "request_timeout": 300,
    "usage_threshold_pct": 75,
}
API_VERSION = re.compile(r"^v\d{1,3}\.\d$")
NUMERIC_ID = re.compile(r"^\d+$")


def _setting(name: str, kind: th.JSONTypeHelper, description: str, **extra: Any
             ) -> th.Property:
    return th.Property(name, kind, description=description, default=DEFAULTS.get(name), **extra)


class TapMetaBM(Tap):
    """Singer tap for Meta Business Manager."""

    name = "tap-meta-bm"
    message_writer_class = BufferedRecordWriter
    # BATCH is left out: records must go through the ordered, state-exact path.
    capabilities: ClassVar[list] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        TapCapabilities.TEST,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    config_jsonschema = th.PropertiesList(
        th.Property("access_token", th.StringType, required=True, secret=True,
                    description="System-user access token; sent only as "
                                "`Authorization: Bearer`."),
        th.Property("business_ids", th.ArrayType(th.StringType),
                    description="Business ids to extract (numeric). Default: every business "
                                "of `/me/businesses`."),
        th.Property("app_secret", th.StringType, secret=True,
                    description="App secret; when set every request carries "
                                "`appsecret_proof`."),
        th.Property("start_date", th.DateTimeType,
                    description="Lower bound for incremental streams on a first run."),
        th.Property("account_ids", th.ArrayType(th.StringType),
                    description="Only these ad accounts' children (with or without `act_`); "
                                "also the way to shard a huge business across jobs."),
        _setting("include_archived", th.BooleanType,
                 "Also list ARCHIVED campaigns, ad sets and ads."),
        _setting("api_url", th.StringType, "Graph base URL (proxies, tests)."),
        _setting("api_version", th.StringType, "Graph API version, `vNN.N`."),
        _setting("page_size", th.IntegerType,
                 "First `limit` tried per page (1-500); halved automatically when Graph asks "
                 "for less data."),
        _setting("max_workers", th.IntegerType,
                 "Ad accounts / pages fetched concurrently (fewer while their pages would not "
                 "fit the 2,000-record read-ahead budget); above 1, their first pages also "
                 "travel up to 50 per Batch API call (1 = one request at a time)."),
        _setting("request_timeout", th.IntegerType, "Seconds before one request times out."),
        _setting("usage_threshold_pct", th.NumberType,
                 "Start pacing requests when a usage header passes this percentage (1-100)."),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.summary = RunSummary()
        #: Unix second the run started: no read of this run can precede it (incremental.py).
        self.run_started = int(time.time())
        super().__init__(*args, **kwargs)
        self._state_writer = EncodedStateWriter(self.message_writer)
        self.directory = Directory(self)
        self.governor = Governor(float(self.config["usage_threshold_pct"]), self.logger)
        #: One HTTP session per thread, shared by every stream: connections are reused.
        self.http_sessions = threading.local()
        self.page_tokens = PageTokens()

    # -- config -----------------------------------------------------------------------
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        for name, value in DEFAULTS.items():
            if self._config.get(name) is None:
                self._config[name] = value
        # The SDK validates (with or without raising) in every constructor, before any log
        # line that could carry the config: the one place to register the secrets.
        protect([self._config.get("access_token"), self._config.get("app_secret")])
        if raise_errors:
            check_config(self._config)
        return super()._validate_config(raise_errors=raise_errors)

    @cached_property
    def business_ids(self) -> list[str]:
        return [str(b) for b in self.config.get("business_ids") or []]

    @cached_property
    def account_ids(self) -> frozenset[str]:
        return frozenset(bare_account_id(str(a)) for a in self.config.get("account_ids") or [])

    @cached_property
    def appsecret_proof(self) -> str | None:
        """The proof of the system user's token (see `proof_for`)."""
        return self.proof_for(self.config["access_token"])

    def proof_for(self, token: str) -> str | None:
        """HMAC-SHA256 of a token keyed by the app secret, as Graph requires with it."""
        secret = self.config.get("app_secret")
        if not secret:
            return None
        return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()

    # -- streams ------------------------------------------------------------------------
    def discover_streams(self) -> list:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def load_streams(self) -> list:
        # Sync in STREAM_TYPES order, not by name: the directory-like streams go first, emit
        # their records and let the directory drop them (see Directory.release).
        return sorted(super().load_streams(), key=lambda s: STREAM_TYPES.index(type(s)))

    def sync_all(self) -> None:
        try:
            super().sync_all()
        finally:
            for line in self.summary.lines():
                self.logger.info(line)


def check_config(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the first bad setting; runs before any request."""
    token = config.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigError("access_token: missing. Set it to the system user's token (config "
                          "file, or TAP_META_BM_ACCESS_TOKEN with --config ENV).")
    if any(c.isspace() for c in token):
        raise ConfigError("access_token: contains whitespace; paste the token alone.")
    for name, pattern, what in (
        ("business_ids", NUMERIC_ID, "a numeric business id (Business Settings > Business info)"),
        ("account_ids", re.compile(r"^(act_)?\d+$"), "an ad account id like act_123 or 123"),
    ):
        values = config.get(name)
        if values is None:
            continue
        if not isinstance(values, list):
            raise ConfigError(f"{name}: must be a list of ids, got {type(values).__name__}.")
        for value in values:
            if isinstance(value, bool) or not pattern.match(str(value)):
                raise ConfigError(f"{name}: {value!r} is not {what}.")
    if config.get("start_date") is not None:
        try:  # the parser the SDK applies to start_date when it reads the first bookmark
            datetime.fromisoformat(str(config["start_date"]))
        except ValueError:
            raise ConfigError(f"start_date: {config['start_date']!r} is not a date-time; "
                              "use e.g. 2024-01-01T00:00:00Z.") from None
    version = str(config.get("api_version"))
    if not API_VERSION.match(version):
        raise ConfigError(f"api_version: {version!r} must look like v26.0.")
    url = urlsplit(str(config.get("api_url")))
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise ConfigError(f"api_url: {config.get('api_url')!r} must be an http(s) URL such "
                          "as https://graph.facebook.com.")
    for name, low, high in (("page_size", 1, 500), ("max_workers", 1, 64),
                            ("request_timeout", 1, 3600), ("usage_threshold_pct", 1, 100)):
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
            low <= value <= high
        ):
            raise ConfigError(f"{name}: {value!r} must be a number from {low} to {high}.")


def main() -> None:
    """Console entry: the SDK's CLI, with the tap's own errors printed as one plain line."""
    tune_process()
    try:
        TapMetaBM.cli()
    except TapMetaBMError as error:
        print(f"tap-meta-bm: error: {redact(str(error))}", file=sys.stderr)
        sys.exit(1)
