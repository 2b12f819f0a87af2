"""TapMetaBM: a run assembled whole (the Graph client, the directory, the streams, the state
route), its streams in sync order; the settings are settings.py's, the command line cli.py's."""

from __future__ import annotations

from typing import IO, Any, ClassVar

import click
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from typing_extensions import override

from tap_meta_bm.directory import Directory, GrantSource, PartitionKind
from tap_meta_bm.errors import ConfigError
from tap_meta_bm.governor import Governor
from tap_meta_bm.graph import GraphClient
from tap_meta_bm.graph_stream import DirectoryStream, GraphStream, stream_name
from tap_meta_bm.ids import bare_account_id, id_list
from tap_meta_bm.inputs import (
    check_catalog_streams,
    check_state,
    check_unknown_settings,
    read_document,
    warn_nothing_selected,
)
from tap_meta_bm.insights.report import InsightsReport, default_report, parse_report
from tap_meta_bm.insights.stream import InsightsStream
from tap_meta_bm.output import BatchFiles, BufferedRecordWriter, batch_records
from tap_meta_bm.redaction import protect
from tap_meta_bm.run import SyncRun
from tap_meta_bm.sdk_surface import cli_config, route_sdk_state_writes
from tap_meta_bm.settings import (
    CONFIG_SCHEMA,
    DEFAULTS,
    check_config,
    ids_from_environment,
    parse_batch_config,
)
from tap_meta_bm.shards import AccountShard, parse_shard
from tap_meta_bm.state import SdkStateWriter, StateCheckpoints, expand_state
from tap_meta_bm.streams import STREAM_TYPES
from tap_meta_bm.streams.reads import CompleteReadsStream, PartialReadsStream, ReadsStream


class TapMetaBM(Tap):
    """Singer tap for Meta Business Manager."""

    name = "tap-meta-bm"
    message_writer_class = BufferedRecordWriter
    # BATCH: the SDK's `batch_config` setting; the tap writes the batch files itself, on its
    # ordered, state-exact path (output.py), never the SDK's batch path (`get_batch_config`).
    capabilities: ClassVar[list] = [
        PluginCapabilities.BATCH,
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        TapCapabilities.TEST,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        TapCapabilities.ACTIVATE_VERSION,
    ]

    config_jsonschema = CONFIG_SCHEMA

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with `--doctor` in its help. The doctor itself runs before the
        SDK's CLI (cli.py), which takes `--config`, `--catalog` and `--format` in any order."""
        command = super().get_singer_command()
        for param in command.params:
            if param.name == "about_format" and isinstance(param, click.Option):
                param.help = "Output style for --about (json or markdown), or --doctor (json)."
        command.params.append(click.Option(
            ["--doctor"], is_flag=True, expose_value=False,
            help="Check what the token can reach, with the fix for each gap; reads nothing "
                 "else, exits 1 if a selected stream cannot be served."))
        return command

    @classmethod
    @override
    def invoke(cls, *, about: bool = False, about_format: str | None = None,  # type: ignore[override]
               config: Any = None, state: IO[str] | None = None,
               catalog: IO[str] | None = None) -> None:
        """The SDK's `Tap.invoke`, with the state and catalog files parsed once, here, by
        `read_document`: a damaged one is one line naming it (the SDK would parse each
        again after the tap's check)."""
        if about:
            super().invoke(about=True, about_format=about_format)  # prints, then exits
        cls.print_version(print_fn=cls.logger.info)
        values, from_environment = cli_config(config)
        tap = cls(config=values, parse_env_config=from_environment, validate_config=True,
                  state=None if state is None else read_document("--state", state),
                  catalog=None if catalog is None else read_document("--catalog", catalog))
        tap.sync_all()

    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        self.run = SyncRun()
        self._sorted_streams: dict[str, Stream] | None = None
        self._stream_types: list[type[GraphStream | ReadsStream]] | None = None
        if kwargs.get("parse_env_config"):
            ids_from_environment()
        if "state" in kwargs:
            kwargs["state"] = expand_state(kwargs["state"])
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as invalid:
            # The schema's verdict as one line; ours first where it says more.
            check_config(dict(self.config))
            raise ConfigError(f"{invalid.errors[0] if invalid.errors else invalid} (see "
                              "tap-meta-bm --about for every setting).") from None
        route_sdk_state_writes(self, SdkStateWriter(self.run.checkpoints))
        token = self.config.get("access_token")
        partner_tokens = [str(t) for t in self.config.get("partner_tokens") or []]
        protect([token, str(token).strip(), self.config.get("app_secret"), *partner_tokens,
                 *(t.strip() for t in partner_tokens)])
        # Also for --discover (the SDK validates no config there): a misspelt name is caught
        # wherever the config is first used.
        check_unknown_settings(self.config, self.config_jsonschema["properties"], self.logger)
        if validate_config:
            check_config(dict(self.config))
            check_state(kwargs.get("state"), {
                s.name: s.replication_key for s in self.streams.values()}, self.logger)
            if kwargs.get("catalog") is not None:
                check_catalog_streams(kwargs.get("catalog"), self.streams)
                warn_nothing_selected((s.selected for s in self.streams.values()),
                                      self.logger)
        self._start_run()

    def _start_run(self) -> None:
        config = self.config
        batch = parse_batch_config(config.get("batch_config"))
        batch_records(None if batch is None else BatchFiles(
            batch.directory, prefix=batch.prefix, compress=batch.compress,
            batch_size=batch.batch_size, run=str(self.run.read_id)))
        shard = parse_shard(config.get("account_shard"))
        agent = f"{self.name}/{self.plugin_version}" + (f" (shard {shard})" if shard else "")
        client = GraphClient(
            api_url=str(config.get("api_url")), api_version=str(config.get("api_version")),
            access_token=str(config.get("access_token") or "").strip(),
            app_secret=config.get("app_secret") or None,
            timeout=float(config.get("request_timeout") or DEFAULTS["request_timeout"]),
            connect_timeout=float(config.get("connect_timeout") or DEFAULTS["connect_timeout"]),
            governor=Governor(float(config.get("usage_threshold_pct")
                                    or DEFAULTS["usage_threshold_pct"]), self.logger,
                              max_wait_seconds=float(config.get("max_throttle_wait")
                                                     or DEFAULTS["max_throttle_wait"])),
            summary=self.run.summary, logger=self.logger,
            user_agent=agent)
        partners = []
        for n, partner_token in enumerate(config.get("partner_tokens") or [], 1):
            partners.append(f"partner token #{n}")
            client.add_credential(partners[-1], str(partner_token).strip())
        directory = Directory(client, id_list(config.get("business_ids")),
                              frozenset(map(bare_account_id, id_list(config.get("account_ids")))),
                              self.logger, shard, partner_credentials=tuple(partners),
                              summary=self.run.summary)
        for stream in self.streams.values():
            if isinstance(stream, DirectoryStream):
                directory.register(stream.name, stream.edge_reads)
            elif isinstance(stream, GraphStream) and stream.grants_to_partners:
                asset_type, asset_key = stream.grants_to_partners
                directory.register_grants(GrantSource(stream.name, stream.partitions_from
                                                      or PartitionKind.BUSINESS, asset_type,
                                                      asset_key), stream.edge_reads)
        if not partners:
            self._skip_partner_streams()
        if shard:
            self._keep_to_shard(shard)
        self.run.start(client=client, directory=directory, streams=list(self.streams.values()),
                       logger=self.logger)

    def _skip_partner_streams(self) -> None:
        """Without partners' tokens the partner streams have nothing to read: off, so that no
        empty table is taken for "a partner has no people" (effective_access says unknown)."""
        for stream in self.streams.values():
            if isinstance(stream, GraphStream) and stream.reads_as_partner:
                stream.selected = False

    def _keep_to_shard(self, shard: AccountShard) -> None:
        """Deselect what another shard reads: a shard other than 0 syncs only the streams
        split by ad account (the directory still lists businesses and accounts for it)."""
        others = [] if shard.reads_business_streams else [
            stream for stream in self.streams.values()
            if isinstance(stream, GraphStream) and stream.selected
            and not stream.per_ad_account]
        for stream in others:
            stream.selected = False
        self.logger.info("account_shard %s: the ad accounts whose id hashes to %d of %d%s.",
                         shard, shard.index, shard.count,
                         f"; shard 0/{shard.count} reads {', '.join(s.name for s in others)}"
                         if others else "")

    @property
    @override
    def state_writer(self) -> StateCheckpoints:  # type: ignore[override]
        # Not the SDK's StateWriter (that class lives in a private module): the same one
        # method, `write_state`, deciding when a STATE is worth writing (state.py).
        return self.run.checkpoints

    # -- streams ------------------------------------------------------------------------
    @property
    def stream_types(self) -> list[type[GraphStream | ReadsStream]]:
        """STREAM_TYPES, one insights stream per report (ads_insights first), and last the
        record of which reads were complete, and what of them not (streams/reads.py)."""
        if self._stream_types is None:
            self._stream_types = [*STREAM_TYPES, *(
                InsightsStream.for_report(report) for report in insights_reports(
                    dict(self.config), set(map(stream_name, STREAM_TYPES)), self.logger)),
                CompleteReadsStream, PartialReadsStream]
        return self._stream_types

    @override
    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self, run=self.run) for stream_type in self.stream_types]

    @property
    @override
    def streams(self) -> dict[str, Stream]:
        # In stream_types order, not by name: the directory-like streams go first, emit their
        # records and let the directory drop them (see Directory.release).
        if self._sorted_streams is None:
            loaded = super().streams
            order: dict[type, int] = {t: n for n, t in enumerate(self.stream_types)}
            self._sorted_streams = dict(sorted(loaded.items(),
                                               key=lambda item: order[type(item[1])]))
        return self._sorted_streams


def insights_reports(config: dict[str, Any], taken: set[str], logger: Any
                     ) -> list[InsightsReport]:
    """ads_insights and the configured reports, validated; ConfigError on the first mistake."""
    reports = [default_report(config)]
    raw_reports = config.get("insights_reports") or []
    if not isinstance(raw_reports, list):
        raise ConfigError("insights_reports: must be a list of report objects.")
    names = set(taken) | {"ads_insights"}
    for raw in raw_reports:
        report = parse_report(raw, names)
        names.add(report.stream_name)
        reports.append(report)
    for report in reports:
        for warning in report.warnings:
            logger.warning(warning)
    return reports
