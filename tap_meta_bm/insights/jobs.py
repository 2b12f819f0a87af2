"""Async report jobs (insights): many in flight, polled in batches, retried, split, never lost.

A report is asked for as `POST /act_{id}/insights` (Graph answers `report_run_id`), polled at
`GET /{report_run_id}` until `async_status` is "Job Completed" (100 % is not done: peers saw
jobs at 100 % still running), then read at `/{report_run_id}/insights` (the SDK's
`AdAccount.get_insights_async` and `AdReportRun`; Meta's Insights API "Asynchronous Requests"
page). `ReportJobs` runs every job of a stream on one scheduler thread:

- jobs start in the order their rows are wanted, as many as the cap and Meta's
  `x-fb-ads-insights-throttle` allow (the governor keeps the header);
- polls go out in Batch API calls, at the time a job should be done: until one job has
  finished, only the oldest job is polled (from its `async_percent_completion`, when it will
  be done); after that every job is first polled at its start plus the learned duration, so
  most jobs are polled once;
- a job that fails, is skipped or is still running after `insights_job_timeout` is run
  again once, as it was; a second failure of any kind, or a first failure for too much data
  (1487534), splits it: halve the date range, and at one day go down from the account to its
  campaigns (listed by a small campaign-level job of that day) and halve those. What still
  fails at one day and one campaign stops the stream, naming the account and the dates; the
  state written so far lets a rerun resume. `PieceState` says where each piece is.

Consumers (the stream's partition workers) wait for an account's jobs in date order and read
each finished job's rows themselves, so no row is held here.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from typing import Any

from tap_meta_bm.edges import MAX_PAGE_SIZE, EdgePolicy, EdgeRead
from tap_meta_bm.errors import Action, AssetSkipped, GraphError, GraphFatalError
from tap_meta_bm.graph import GraphClient
from tap_meta_bm.insights.calendar import REACH_HISTORY_MONTHS
from tap_meta_bm.progress import PROGRESS_SECONDS

#: Jobs in flight at once, every account together (Airbyte caps at 100 too).
MAX_JOBS_IN_FLIGHT = 100
#: The first poll of the first job, before anything is known of how long jobs take. Early:
#: it is one poll per stream (the others wait for what it learns), and small accounts' jobs
#: are often done at once, while their rows would otherwise wait (a CPU-bound sync of 33,667
#: rows spent 0.25 s of its 2.5 s waiting so).
FIRST_POLL_SECONDS = 0.05
MIN_POLL_SECONDS = 0.25
MAX_POLL_SECONDS = 30.0
#: A job not visible yet (100/33 right after it was created) is asked this often at most.
MAX_NOT_VISIBLE_POLLS = 10
TOO_MUCH_DATA = 1487534
DONE, FAILED, SKIPPED = "Job Completed", "Job Failed", "Job Skipped"
POLL_FIELDS = ("async_status", "async_percent_completion", "error_code", "error_subcode",
               "error_message", "error_user_msg")
#: Reach and its related fields, limited over old dates (calendar.REACH_HISTORY_MONTHS);
#: past the day's budget Graph says this.
REACH_FIELDS = frozenset({"reach", "frequency", "cpp"})
REACH_LIMIT_TEXT = "reach-related metric breakdowns are unavailable"


class PieceState(Enum):
    """Where a piece of a report is: WAITING to start, RUNNING as a job, or over: DONE (its
    rows are ready), SPLIT (its children hold them), SKIPPED (Graph would not start its job
    this run, say a throttle that never lifts: its days stay unread) or FAILED (the stream
    stops)."""

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    SPLIT = "split"
    SKIPPED = "skipped"
    FAILED = "failed"


OVER = frozenset({PieceState.DONE, PieceState.SPLIT, PieceState.SKIPPED, PieceState.FAILED})


@dataclass(eq=False)
class Piece:
    """One slice of an account's report: a date range, maybe limited to some campaigns."""

    account_id: str
    since: date
    until: date
    campaign_ids: tuple[str, ...] | None = None
    #: A job that lists the campaigns with data on one day, for the piece it will split.
    lists_campaigns_of: Piece | None = None
    failures: int = 0
    run_id: str | None = None
    started: float = 0.0
    next_poll: float | None = None
    not_visible: int = 0
    state: PieceState = PieceState.WAITING
    children: list[Piece] = field(default_factory=list)
    error: str = ""

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def describe(self) -> str:
        dates = self.since.isoformat() if self.days == 1 else \
            f"{self.since.isoformat()} to {self.until.isoformat()}"
        campaigns = "" if self.campaign_ids is None else \
            f", campaign{'s' if len(self.campaign_ids) > 1 else ''} " \
            f"{', '.join(self.campaign_ids[:3])}{' ...' if len(self.campaign_ids) > 3 else ''}"
        return f"ad account {self.account_id}, {dates}{campaigns}"


@dataclass
class JobCounts:
    started: int = 0
    polls: int = 0
    retried: int = 0
    split: int = 0


def poll_after(elapsed: float, percent: float) -> float:
    """Seconds until a job `percent` done after `elapsed` seconds should be finished."""
    if percent >= 100:
        return MIN_POLL_SECONDS
    if percent <= 0:
        return min(max(elapsed, 2 * MIN_POLL_SECONDS), MAX_POLL_SECONDS)
    return min(max(elapsed * (100 - percent) / percent, MIN_POLL_SECONDS), MAX_POLL_SECONDS)


class ReportJobs:
    """The report jobs of one stream; `add` them per account, then iterate `finished`."""

    def __init__(self, client: GraphClient, *, stream: str, params: tuple[tuple[str, str], ...],
                 fields: tuple[str, ...], level: str, timeout: float,
                 logger: logging.Logger, explicit_fields: frozenset[str] = frozenset(),
                 max_in_flight: int = MAX_JOBS_IN_FLIGHT) -> None:
        self._client = client
        self._stream = stream
        self._params = params
        self._level = level
        self._timeout = timeout
        self._log = logger
        self._max_in_flight = max_in_flight
        # The report's fields live in the job's policy: a metric Graph retires is dropped
        # there, for every job after (recovery.py, _drop_fields), unless the user named it.
        self._post_policy = EdgePolicy(stream=stream, fields=fields, columns={}, paged=False,
                                       page_size=1, explicit_fields=explicit_fields)
        self._poll_policy = EdgePolicy.plain(stream, POLL_FIELDS)
        self._list_policy = EdgePolicy.plain(stream, paged=True, page_size=MAX_PAGE_SIZE)
        self._pending: deque[Piece] = deque()
        self._running: list[Piece] = []
        self._changed = threading.Condition()
        self._estimate: float | None = None
        self._probe: Piece | None = None
        self._fatal: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self.counts = JobCounts()
        #: What counts against the old-reach budget: asked with breakdowns.
        self._reach = [f for f in fields if f in REACH_FIELDS] \
            if dict(params).get("breakdowns") else []
        #: Accounts whose budget is spent: their old jobs go on without reach.
        self._without_reach: set[str] = set()
        #: Per account, the first day that is not old for reach (calendar.old_reach_before).
        self._old_reach_before: dict[str, date] = {}
        self._progress_at = time.monotonic()

    @property
    def limits_reach(self) -> bool:
        """The report asks reach (or frequency, cpp) with breakdowns: old days are limited."""
        return bool(self._reach)

    # -- consumers ------------------------------------------------------------------------
    def add(self, account_id: str, windows: list[tuple[date, date]],
            old_reach_before: date) -> list[Piece]:
        """Queue an account's date windows (in the order they will be read); jobs starting
        before `old_reach_before` count against the account's budget of old reach."""
        self._old_reach_before[account_id] = old_reach_before
        pieces = [Piece(account_id, since, until) for since, until in windows]
        with self._changed:
            self._pending.extend(pieces)
            self._changed.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._schedule, name=f"{self._stream}-jobs",
                                            daemon=True)
            self._thread.start()
        return pieces

    def finished(self, pieces: list[Piece]) -> Iterator[str | None]:
        """The report run ids that together hold `pieces`' rows, in date order, each as soon
        as its job is done; None for a piece whose job was skipped (its rows unread)."""
        for piece in pieces:
            yield from self._finished(piece)

    def _finished(self, piece: Piece) -> Iterator[str | None]:
        with self._changed:
            self._changed.wait_for(lambda: piece.state in OVER
                                   or self._fatal is not None or self._closed)
        # The scheduler's failure first: it is the reason, whichever account asks first.
        if self._fatal is not None and piece.state not in (PieceState.DONE, PieceState.SPLIT):
            self.close()
            raise self._fatal
        if self._closed and piece.state not in OVER:
            # Another account's failure stopped the stream: nothing of this one was read.
            raise GraphFatalError(GraphError(Action.REQUEST, 0, message="stopped"),
                                  self._stream, f"{self._stream}: stopped before "
                                                f"{piece.describe()} was read.")
        if piece.state is PieceState.FAILED:
            # The stream stops here: no more jobs, and no warning after the error's one line.
            self.close()
            raise GraphFatalError(GraphError(Action.REQUEST, 0, message=piece.error),
                                  self._stream, piece.error)
        if piece.state is PieceState.SPLIT:
            for child in piece.children:
                yield from self._finished(child)
        elif piece.state is PieceState.SKIPPED:
            yield None  # its days were not read
        elif piece.run_id is not None:
            yield piece.run_id

    def results(self, run_id: str, account_id: str, policy: EdgePolicy,
                column_values: tuple[Any, ...] = ()) -> EdgeRead:
        """The read of a finished job's rows."""
        return EdgeRead(f"/{run_id}/insights", (), account_id, policy, column_values)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def join(self, timeout: float) -> None:
        """Wait for the scheduler thread to end (after `close`)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the scheduler thread ----------------------------------------------------------------
    def _schedule(self) -> None:
        try:
            while True:
                with self._changed:
                    if self._closed:
                        return
                self._start_what_fits()
                self._say_progress()
                due = self._due()
                if due:
                    self._poll(due)
                    continue
                with self._changed:
                    if self._closed:
                        return
                    self._changed.wait(timeout=self._idle_seconds())
        except BaseException as error:  # handed to every consumer, raised in order there
            with self._changed:
                self._fatal = error
                self._changed.notify_all()

    def status(self) -> str:
        """The jobs now: running, done, waiting to start."""
        with self._changed:
            running, waiting = len(self._running), len(self._pending)
        done = self.counts.started - running
        return f"report jobs: {running} running, {done} done, {waiting} waiting"

    def _say_progress(self) -> None:
        """Once a minute while jobs run: the consumers may be waiting on them, quiet."""
        now = time.monotonic()
        if now - self._progress_at >= PROGRESS_SECONDS and (self._running or self._pending):
            self._progress_at = now
            self._log.info("%s: %s", self._stream, self.status())

    def _idle_seconds(self) -> float:
        polls = [p.next_poll for p in self._running if p.next_poll is not None]
        if polls:
            return max(0.0, min(polls) - time.monotonic())
        return 1.0 if self._pending else 5.0

    def _start_what_fits(self) -> None:
        governor = self._client.governor
        while len(self._running) < self._max_in_flight:
            with self._changed:
                piece = next((p for p in self._pending if self._may_start(p, governor)), None)
                if piece is None:
                    return
                self._pending.remove(piece)
            self._start(piece)

    def _may_start(self, piece: Piece, governor: Any) -> bool:
        # With none of ours running on the account, a usage figure is another client's (or
        # stale): start, and let Meta's answer (a throttle) say otherwise.
        ours = any(p.account_id == piece.account_id for p in self._running)
        return not ours or bool(governor.may_start_report(piece.account_id))

    def _start(self, piece: Piece) -> None:
        params = dict(self._params)
        if piece.lists_campaigns_of is not None:
            params.update({"level": "campaign", "fields": "campaign_id",
                           "time_increment": "all_days"})
            params.pop("breakdowns", None)
            params.pop("action_breakdowns", None)
        params["time_range"] = json.dumps({"since": piece.since.isoformat(),
                                           "until": piece.until.isoformat()},
                                          separators=(",", ":"))
        if piece.campaign_ids is not None:
            params["filtering"] = json.dumps([{"field": "campaign.id", "operator": "IN",
                                               "value": list(piece.campaign_ids)}],
                                             separators=(",", ":"))
        if self._reach_spent(piece):
            params["fields"] = ",".join(f for f in self._post_policy.fields_param.split(",")
                                        if f not in REACH_FIELDS)
        post = EdgeRead(f"/act_{piece.account_id}/insights", tuple(params.items()),
                        piece.account_id, self._post_policy, method="POST")
        try:
            answer = self._client.post(post)
        except AssetSkipped as skipped:
            self._client.note_skipped(post, skipped)
            with self._changed:
                piece.state = PieceState.SKIPPED
                self._changed.notify_all()
            return
        except GraphFatalError as refused:
            if not self._reach_refused(piece, refused.error.message):
                raise
            self._requeue([piece])
            return
        run_id = answer.get("report_run_id") if isinstance(answer, dict) else None
        if not run_id:
            raise GraphFatalError(GraphError(Action.REQUEST, 200, message="no report_run_id"),
                                  self._stream, f"{self._stream}: Graph answered a report job "
                                                f"for {piece.describe()} without a "
                                                "report_run_id.")
        now = time.monotonic()
        piece.run_id, piece.started, piece.state = str(run_id), now, PieceState.RUNNING
        self.counts.started += 1
        if self._estimate is not None:
            piece.next_poll = now + self._estimate
        elif self._probe is None:
            self._probe, piece.next_poll = piece, now + FIRST_POLL_SECONDS
        else:
            piece.next_poll = None  # waits for the probe to say how long jobs take
        self._running.append(piece)

    def _due(self) -> list[Piece]:
        now = time.monotonic()
        return [p for p in self._running if p.next_poll is not None and p.next_poll <= now]

    def _poll(self, due: list[Piece]) -> None:
        reads = [EdgeRead(f"/{p.run_id}", (), p.account_id, self._poll_policy) for p in due]
        answers = self._client.read_many(self._stream, reads)
        self.counts.polls += len(reads)
        now = time.monotonic()
        for piece, answer in zip(due, answers, strict=True):
            if isinstance(answer, GraphError):
                self._not_visible(piece, answer, now)
            else:
                self._progress(piece, answer, now)
        with self._changed:
            self._changed.notify_all()

    def _not_visible(self, piece: Piece, error: GraphError, now: float) -> None:
        piece.not_visible += 1
        if piece.not_visible >= MAX_NOT_VISIBLE_POLLS:
            self._failed(piece, f"could not be polled ({error.describe('its report run')})")
        else:
            piece.next_poll = now + MIN_POLL_SECONDS

    def _progress(self, piece: Piece, node: dict[str, Any], now: float) -> None:
        status = str(node.get("async_status") or "")
        elapsed = now - piece.started
        if status == DONE:
            self._done(piece, elapsed)
        elif status in (FAILED, SKIPPED):
            subcode = node.get("error_subcode")
            detail = node.get("error_user_msg") or node.get("error_message") or ""
            reason = ("failed" if status == FAILED else "was skipped") + (
                f" ({detail}, code {node.get('error_code')}/{subcode})" if detail else "")
            self._failed(piece, reason, too_much=subcode == TOO_MUCH_DATA)
        elif elapsed > self._timeout:
            self._failed(piece, f"still '{status}' after {elapsed:.0f} s "
                                f"(insights_job_timeout)")
        else:
            percent = float(node.get("async_percent_completion") or 0)
            piece.next_poll = now + poll_after(elapsed, percent)

    def _done(self, piece: Piece, elapsed: float) -> None:
        self._running.remove(piece)
        self._estimate = elapsed if self._estimate is None else \
            0.7 * self._estimate + 0.3 * elapsed
        if self._probe is piece:
            self._probe = None
            for waiting in self._running:
                if waiting.next_poll is None:
                    waiting.next_poll = waiting.started + self._estimate
        listed = piece.lists_campaigns_of
        if listed is not None:
            self._split_by_campaigns(listed, self._campaigns_in(piece))
            return
        with self._changed:
            piece.state = PieceState.DONE

    def _failed(self, piece: Piece, reason: str, *, too_much: bool = False) -> None:
        """Once more as it was; then smaller (see the module docstring)."""
        if piece in self._running:
            self._running.remove(piece)
        if self._probe is piece:
            self._probe = None
            waiting = [p for p in self._running if p.next_poll is None]
            if waiting:
                self._probe = waiting[0]
                waiting[0].next_poll = time.monotonic()
        if self._reach_refused(piece, reason):
            self._requeue([piece])  # again, without reach: not a failure of the job
            return
        piece.failures += 1
        if piece.failures == 1 and not too_much:
            self._warn("Report job of %s for %s %s; running it again", self._stream,
                       piece.describe(), reason)
            self.counts.retried += 1
            self._requeue([piece])
            return
        target = piece.lists_campaigns_of
        if target is not None:  # the small job that lists campaigns failed twice
            self._give_up(target, f"listing its campaigns {reason}")
            return
        self._split(piece, reason)

    # -- reach over old dates (REACH_FIELDS) -----------------------------------------------
    def _old_reach(self, piece: Piece) -> bool:
        """The job asks reach with breakdowns from more than 13 months back, in the account's
        own days (the windows were cut there, so a job is old or recent as a whole)."""
        if not self._reach or piece.lists_campaigns_of is not None:
            return False
        return piece.since < self._old_reach_before[piece.account_id]

    def _reach_spent(self, piece: Piece) -> bool:
        """An old-reach job of an account whose budget is spent (Meta's header or refusal)."""
        if not self._old_reach(piece):
            return False
        if piece.account_id not in self._without_reach and \
                self._client.governor.reach_spent(piece.account_id):
            self._reach_refused(piece, "x-fb-ads-insights-reach-throttle at 100 %: "
                                       f"{REACH_LIMIT_TEXT}")
        return piece.account_id in self._without_reach

    def _reach_refused(self, piece: Piece, message: str) -> bool:
        """Graph refused reach for the account (its daily budget is spent): its old jobs go
        on without reach, said once per account. True when that is what happened."""
        if REACH_LIMIT_TEXT not in message.lower() or not self._reach or \
                piece.account_id in self._without_reach:
            return False
        self._without_reach.add(piece.account_id)
        self._warn("%s: ad account %s: Meta's daily budget of reach with breakdowns over "
                   "dates more than %d months back is spent (%s); its jobs for those dates go "
                   "on without %s, null in their rows", self._stream, piece.account_id,
                   REACH_HISTORY_MONTHS, message.strip().rstrip("."), ", ".join(self._reach))
        return True

    def _split(self, piece: Piece, reason: str) -> None:
        if piece.days > 1:
            middle = piece.since + timedelta(days=piece.days // 2 - 1)
            halves = [Piece(piece.account_id, piece.since, middle, piece.campaign_ids),
                      Piece(piece.account_id, middle + timedelta(days=1), piece.until,
                            piece.campaign_ids)]
            self._split_into(piece, halves, reason, "halving its dates")
        elif piece.campaign_ids is None and self._level != "account":
            lister = Piece(piece.account_id, piece.since, piece.until, lists_campaigns_of=piece)
            self._warn("Report job of %s for %s %s; splitting it by campaign",
                       self._stream, piece.describe(), reason)
            self._requeue([lister])
        elif piece.campaign_ids is not None and len(piece.campaign_ids) > 1:
            self._split_into(piece, self._by_campaigns(piece, piece.campaign_ids), reason,
                             "halving its campaigns")
        else:
            self._give_up(piece, reason)

    def _split_into(self, piece: Piece, children: list[Piece], reason: str, how: str) -> None:
        self._warn("Report job of %s for %s %s; %s", self._stream, piece.describe(),
                   reason, how)
        self.counts.split += 1
        with self._changed:
            piece.children, piece.state = children, PieceState.SPLIT
        self._requeue(children)

    def _split_by_campaigns(self, piece: Piece, campaign_ids: list[str]) -> None:
        if not campaign_ids:  # nothing delivered that day: no rows to lose
            with self._changed:
                piece.state = PieceState.DONE
                piece.run_id = None
            return
        self._split_into(piece, self._by_campaigns(piece, tuple(campaign_ids)), "failed",
                         f"reading it by campaign ({len(campaign_ids)} with data)")

    @staticmethod
    def _by_campaigns(piece: Piece, campaign_ids: tuple[str, ...]) -> list[Piece]:
        """The piece's day(s) for each half of `campaign_ids` (one piece for one campaign)."""
        half = max(1, len(campaign_ids) // 2)
        groups = [campaign_ids[:half], campaign_ids[half:]]
        return [Piece(piece.account_id, piece.since, piece.until, group)
                for group in groups if group]

    def _campaigns_in(self, lister: Piece) -> list[str]:
        read = self.results(str(lister.run_id), lister.account_id, self._list_policy)
        return sorted({str(row["campaign_id"]) for row in self._client.records(read)
                       if row.get("campaign_id")})

    def _warn(self, message: str, *args: Any) -> None:
        """A warning of the scheduler, unless the stream already stopped (its error is the
        run's last line)."""
        with self._changed:
            if not self._closed:
                self._log.warning(message, *args)

    def _give_up(self, piece: Piece, reason: str) -> None:
        message = (f"{self._stream}: Meta could not produce the report for {piece.describe()}"
                   f" even after splitting it: the job {reason}. Nothing after this day was "
                   "read for the account; rerun later (the state written lets the rerun resume "
                   "here), or narrow the report (fewer breakdowns or fields).")
        with self._changed:
            piece.state, piece.error = PieceState.FAILED, message

    def _requeue(self, pieces: list[Piece]) -> None:
        """Back to the front: their rows are wanted before anything queued after them."""
        with self._changed:
            for piece in reversed(pieces):
                piece.state, piece.run_id, piece.next_poll = PieceState.WAITING, None, None
                piece.not_visible = 0
                self._pending.appendleft(piece)
            self._changed.notify_all()
