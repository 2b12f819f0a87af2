"""Ad insights: one stream per report (`ads_insights`, and each of `insights_reports`).

Rows come from async report jobs (jobs.py), one set of jobs per ad account, over the
account's own calendar days. The key is the level's id, `date_start` and one column per
breakdown, so breakdown rows never collapse. Each run re-reads `lookback_days` before the
bookmark (conversions are attributed days later) and targets upsert by the key; the bookmark
of an account is the last day read, written only once its rows are out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_meta_bm.concurrency import STOP_SECONDS, PartitionReader
from tap_meta_bm.directory import PartitionKind
from tap_meta_bm.edges import MAX_PAGE_SIZE, EdgePolicy, EdgeRead
from tap_meta_bm.errors import AssetSkipped
from tap_meta_bm.graph_stream import GraphStream
from tap_meta_bm.insights.calendar import (
    RETENTION_MONTHS,
    account_today,
    months_before,
    old_reach_before,
    windows,
)
from tap_meta_bm.insights.decoding import page_decoder
from tap_meta_bm.insights.jobs import Piece, ReportJobs
from tap_meta_bm.insights.report import InsightsReport, report_schema
from tap_meta_bm.state import bookmark_of, set_bookmark

#: Rows read ahead of the one being written, every account together: an insights row with
#: its action lists is ten times a typical record, and the read-ahead is most of the memory.
READ_AHEAD_ROWS = 1000


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
        #: A report with opt-in breakdowns: the accounts that answered rows, and those that
        #: answered none though they delivered, with why.
        self._answered: set[str] = set()
        self._not_opted_in: dict[str, str] = {}
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
        day = self.account_today(str((context or {}).get("account_id"))).isoformat()
        return {**dict(self.report.params()),
                "time_range": json.dumps({"since": day, "until": day}, separators=(",", ":"))}

    # -- plan -------------------------------------------------------------------------------
    def account_today(self, account_id: str) -> date:
        """The account's day when the run started, in its own time zone, by Graph's clock."""
        return account_today(self.run.directory.account_timezone(account_id),
                             self.run.client.graph_time(float(self.run.run_started)))

    def account_range(self, context: Context) -> tuple[date, date]:
        """The days this run reads for one account (module docstring), in its time zone."""
        account_id = str(context["account_id"])
        today = self.account_today(account_id)
        earliest = months_before(today, RETENTION_MONTHS) + timedelta(days=1)
        bookmark = bookmark_of(self.get_context_state(context), self.replication_key)
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
        custom = report.name != "ads_insights"
        jobs = self._jobs = ReportJobs(
            self.run.client, stream=self.name, params=report.params(),
            fields=tuple(self.graph_fields.split(",")), level=report.level,
            timeout=float(self.config["insights_job_timeout"]), logger=self.logger,
            explicit_fields=frozenset(report.fields) if custom else frozenset())
        days = 0
        for partition in partitions:
            since, until = self.account_range(partition)
            account_id = str(partition["account_id"])
            if since > until:  # nothing to read (a start_date ahead of the account's day)
                self._pieces[account_id] = []
                continue
            self._read_through[account_id] = until
            old_before = old_reach_before(self.account_today(account_id))
            self._pieces[account_id] = jobs.add(account_id, windows(
                since, until, int(self.config["insights_job_days"]), report.time_increment,
                split_at=old_before if jobs.limits_reach else None), old_before)
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
                          page_size=self.page_size,
                          added_columns=self.context_columns, reports_usage=False,
                          decode=page_decoder(self.report))

    def _rows_of(self, partition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        assert self._jobs is not None
        account_id = str(partition["account_id"])
        policy = self.results_policy
        client = self.run.client
        watch = bool(self.report.opt_in_breakdowns)
        for run_id in self._jobs.finished(self._pieces[account_id]):
            if run_id is None:  # its job was refused (and said so): its days stay unread
                self._unread_jobs[account_id] = self._unread_jobs.get(account_id, 0) + 1
                continue
            read = self._jobs.results(run_id, account_id, policy,
                                      (partition.get("business_id"),))
            rows = client.records_or_skip(read)
            try:
                yield from self._noting_rows(account_id, rows) if watch else rows
            except AssetSkipped as skipped:
                client.note_skipped(read, skipped)
                self._unread_jobs[account_id] = self._unread_jobs.get(account_id, 0) + 1
        if watch and account_id not in self._answered and account_id not in self._unread_jobs:
            self._check_opt_in(account_id)

    def _noting_rows(self, account_id: str, rows: Iterator[dict[str, Any]]
                     ) -> Iterator[dict[str, Any]]:
        """`rows`, noting that the account answered some: at its first row only, the rest
        passed on as they come."""
        first = next(rows, None)
        if first is not None:
            self._answered.add(account_id)
            yield first
            yield from rows

    @cached_property
    def delivery_policy(self) -> EdgePolicy:
        return EdgePolicy.plain(self.name, ("impressions",), paged=True,
                                page_size=MAX_PAGE_SIZE)

    def _check_opt_in(self, account_id: str) -> None:
        """An account whose report answered no rows, by a breakdown Meta may want an opt-in
        for: did it deliver at all over those days? One synchronous read without the
        breakdowns says; if it did (or Graph will not say), the empty answer is the missing
        opt-in, not days without delivery, and the bookmark must not pass them."""
        pieces = self._pieces.get(account_id) or []
        if not pieces:
            return
        since, until = min(p.since for p in pieces), max(p.until for p in pieces)
        time_range = json.dumps({"since": since.isoformat(), "until": until.isoformat()},
                                separators=(",", ":"))
        read = EdgeRead(f"/act_{account_id}/insights",
                        (("level", "account"), ("time_range", time_range)), account_id,
                        self.delivery_policy)
        client = self.run.client
        try:
            delivered = sum(int(row.get("impressions") or 0)
                            for row in client.records_or_skip(read))
        except AssetSkipped as skipped:
            client.note_skipped(read, skipped)
            delivered = None
        if delivered == 0:
            return  # no delivery: nothing to break down
        breakdowns = ", ".join(self.report.opt_in_breakdowns)
        did = (f"it delivered {delivered} impressions from {since} to {until}"
               if delivered is not None else "Graph would not say whether it delivered")
        self._not_opted_in[account_id] = (
            f"{breakdowns} answered no rows, yet {did}: most ad accounts need Meta's opt-in "
            f"for {breakdowns} since 2026-08-03 (Marketing API changes of 2026-05-08; README, "
            "Insights)")

    @override
    def make_reader(self, partitions: list[dict[str, Any]]) -> PartitionReader:
        """Each account's rows, read from its finished report jobs; the jobs' scheduler
        stops with the reader."""
        if self._jobs is None:  # not started early
            self.starting(partitions)
        reader = PartitionReader(self._rows_of, partitions, int(self.config["max_workers"]),
                                 buffer_records=READ_AHEAD_ROWS,
                                 page_records=self.results_policy.limit)
        if self._jobs is not None:
            reader.owns(self._jobs)
        return reader

    @override
    def start_early(self) -> None:
        """Every account's report jobs start when the run does: they run at Meta while the
        streams before this one are read (benchmarks/agency.py: 3,000 accounts' jobs are
        most of the run), so this stream's turn mostly reads finished jobs."""
        if self._jobs is None:
            self.starting(self.partitions or [])

    @override
    def stop_reading(self) -> None:
        super().stop_reading()
        if self._jobs is not None:  # started early, with no reader yet to own them
            self._jobs.close()
            self._jobs.join(STOP_SECONDS)

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
        kept = bookmark_of(state, self.replication_key)
        self.state_manager.finalize_state(state)
        unread = self._unread_jobs.get(account_id)
        why = (f"the rows of {unread} finished report job(s) could not be read" if unread
               else self._not_opted_in.get(account_id))
        if why:
            self._keep_bookmark(state, account_id, why, kept)
            return
        read_through = self._read_through.get(account_id)
        if read_through is None:
            return  # no day was read: the bookmark stays where it was
        set_bookmark(state, self.replication_key, read_through.isoformat())

    def _keep_bookmark(self, state: dict[str, Any], account_id: str, why: str,
                       kept: Any) -> None:
        """The account's bookmark as it was (none on a first run): the days not read lie
        after it, so the next run reads them again."""
        set_bookmark(state, self.replication_key, kept or None)
        where = f"at {kept}" if kept else "with none (its first run starts again)"
        self.logger.warning(
            "%s: ad account %s: %s; its bookmark stays %s, so the next run reads those days "
            "again", self.name, account_id, why, where)
        self.run.summary.kept_bookmark(self.name, f"ad account {account_id} {where}")

    @override
    def log_sync_costs(self) -> None:
        if self._jobs is not None:
            counts = self._jobs.counts
            self.logger.info("%s: %d report jobs (%d run again, %d split), %d polls",
                             self.name, counts.started, counts.retried, counts.split,
                             counts.polls)
        super().log_sync_costs()
