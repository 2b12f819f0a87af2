"""GraphClient: the one place the tap talks to Graph.

Streams describe what to read as plain `EdgeRead` values (edges.py: a path, its parameters,
the object Meta meters it against) and the client does everything else: the governor's
pacing, the token each read travels with (the system user's, a partner's, a Page's), sending
(transport.py), the recovery decision for a failed answer (recovery.py) carried out, cursor
paging that never echoes a URL back (Graph's `paging.next` can carry an access token), first
pages in Batch API calls, and request counting. It is thread-safe and holds no SDK object:
worker threads call it, and only it.

What a stream learns during a run (the page size that works, fields Graph stopped reading, a
parameter Graph refused, that its Page edges want Page tokens) lives in that stream's
`EdgePolicy`, shared by all its reads and threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from tap_meta_bm.batch import MAX_BATCH, FirstPageBatcher, batch_answers, sub_response
from tap_meta_bm.edges import EdgeRead, Page, next_position, records_of
from tap_meta_bm.errors import (
    Action,
    AssetSkipped,
    GraphError,
    GraphFatalError,
    GraphRetriableError,
    classify_graph_error,
    parse_body,
)
from tap_meta_bm.governor import APP, Governor, ThrottledTooLong
from tap_meta_bm.page_tokens import PageTokens
from tap_meta_bm.recovery import (
    DropFields,
    End,
    LeaveOut,
    RefuseCredential,
    Retry,
    RetryPolicy,
    Shrink,
    Step,
    StopRun,
    UsePageToken,
    Wait,
    decide,
)
from tap_meta_bm.summary import RunSummary
from tap_meta_bm.transport import (
    RETRIABLE_TRANSPORT_ERRORS,
    Endpoint,
    Transport,
    sent_query,
    what_failed,
)

#: Meta's header on a call to an api_version about to expire (facts sheet 3).
VERSION_WARNING_HEADER = "X-Ad-Api-Version-Warning"


class GraphClient:
    """One per run; every method may be called from any thread."""

    def __init__(self, *, api_url: str, api_version: str, access_token: str,
                 app_secret: str | None, timeout: float, governor: Governor,
                 summary: RunSummary, logger: logging.Logger, user_agent: str,
                 connect_timeout: float = 10.0, retry: RetryPolicy | None = None) -> None:
        self.endpoint = Endpoint(api_url.rstrip("/"), api_version, timeout, connect_timeout)
        self.transport = Transport(self.endpoint, access_token=access_token,
                                   app_secret=app_secret, user_agent=user_agent)
        self.api_version = api_version
        self.retry = retry or RetryPolicy()
        self.governor = governor
        self.summary = summary
        self.logger = logger
        self.page_tokens = PageTokens(lambda read: next(self.pages(read)), logger)
        self.graph_time = self.transport.graph_time
        #: Graph's warning that api_version is about to expire: said once per run.
        self._version_warned = False
        #: Partners' tokens by the name reads know them by, each with a governor of its own
        #: (its own usage and blocks), and those Graph refused, with why.
        self._credentials: dict[str, str] = {}
        self._governors: dict[str, Governor] = {}
        self._refused: dict[str, GraphError] = {}

    # -- partners' tokens ------------------------------------------------------------------
    def add_credential(self, name: str, token: str) -> None:
        """A partner's token, read with by EdgeReads whose `credential` is `name`."""
        self._credentials[name] = token
        self._governors.setdefault(name, Governor(
            self.governor.threshold_pct, self.logger,
            max_wait_seconds=self.governor.max_wait_seconds))

    def name_credential(self, name: str, business_id: str) -> None:
        """The partner token known as `name` belongs to `business_id`: reads of that
        partner name it so (one token, one governor)."""
        self._credentials[business_id] = self._credentials[name]
        self._governors[business_id] = self._governors[name]

    def refused_credential(self, name: str) -> GraphError | None:
        return self._refused.get(name)

    def governor_for(self, read: EdgeRead) -> Governor:
        return self.governor if read.credential is None else self._governors[read.credential]

    def _refuse_credential(self, read: EdgeRead, error: GraphError) -> AssetSkipped:
        """A partner's token Graph refused (revoked, expired): its reads are skipped from now
        on, without a request, and the run goes on; said once."""
        name = str(read.credential)
        if name not in self._refused:
            self._refused[name] = error
            self.logger.warning(
                "Graph refused the partner token of %s [%s]: %s. Its people and their access "
                "are not read this run and stay as last read (nothing of them is marked "
                "deleted); ask the partner for a new token (README, Partners' people)",
                name, error.reference, error.message.rstrip("."))
        return AssetSkipped(GraphError(Action.SKIP, error.http_status, error.code,
                                       error.subcode, f"the partner token of {name} was "
                                                      f"refused ({error.message})",
                                       fbtrace_id=error.fbtrace_id), read.where)

    def _heed_version_warning(self, response: requests.Response) -> None:
        """Meta auto-upgrades a call to a version about to expire and says so in
        X-Ad-Api-Version-Warning (facts sheet 3): one warning a run, in Meta's words."""
        said = response.headers.get(VERSION_WARNING_HEADER)
        if said and not self._version_warned:
            self._version_warned = True
            self.logger.warning("Graph warns about api_version %s: %s Set api_version to a "
                                "current version before this one stops answering.",
                                self.api_version, said)

    # -- reading ------------------------------------------------------------------------------
    def pages(self, read: EdgeRead, batcher: FirstPageBatcher | None = None
              ) -> Iterator[Page]:
        """Every page of an edge (the one body of a node), parsed, in order."""
        position: dict[str, str] | None = None
        batched = batcher.first_page(read) if batcher is not None else None
        while True:
            page = self._read(read, position, batched)
            batched = None
            yield page
            if not read.policy.paged:
                return
            position = next_position(page)
            if position is None:
                return

    def records(self, read: EdgeRead, batcher: FirstPageBatcher | None = None
                ) -> Iterator[dict[str, Any]]:
        """Every record of an edge with the read's columns added; an edge the token cannot
        read is skipped, with one warning and a line in the summary."""
        try:
            yield from self.records_or_skip(read, batcher)
        except AssetSkipped as skipped:
            self.note_skipped(read, skipped)

    def records_or_skip(self, read: EdgeRead, batcher: FirstPageBatcher | None = None
                        ) -> Iterator[dict[str, Any]]:
        """`records`, raising AssetSkipped for the caller to account for (after
        `note_skipped`) where a skip costs more than the edge's rows."""
        columns = dict(zip(read.policy.added_columns, read.column_values, strict=True))
        for page in self.pages(read, batcher):
            for record in records_of(page) if read.policy.paged else [page]:
                record.update(columns)
                yield record

    def note_skipped(self, read: EdgeRead, skipped: AssetSkipped) -> None:
        """One warning and a line in the summary for an edge the token cannot read (a
        refused partner token was warned of once already)."""
        if read.credential is None or read.credential not in self._refused:
            self.logger.warning("Skipping %s", skipped)
        self.summary.skipped(read.policy.stream, f"{read.where}: {skipped.error.reference} "
                                                 f"{skipped.error.message}", read.partition)

    def _read(self, read: EdgeRead, position: dict[str, str] | None,
              batched: requests.Response | None) -> Page:
        """One page, through the recovery policy: transient faults back off (RetryPolicy);
        throttles wait for the governor; anything a recovery step changed (page size, fields,
        parameters, token) goes out changed."""
        delays = self.retry.delays()
        transient_failures = 0
        while True:
            try:
                if batched is not None:
                    response, batched = batched, None
                    return self._checked(read, response, page_token=None)
                page_token = self.page_tokens.token_for(read)
                return self._checked(read, self._send(read, position, page_token), page_token)
            except GraphRetriableError as exc:
                if exc.error.action is not Action.RETRY:
                    continue
                failure: Exception = exc
            except RETRIABLE_TRANSPORT_ERRORS as exc:
                failure = exc
            transient_failures += 1
            given_up = self.retry.give_up(read.where, failure, transient_failures,
                                          self.endpoint)
            if given_up is not None:
                raise given_up from failure
            wait = next(delays)
            self.summary.add(read.policy.stream, retries=1)
            self.logger.warning("Retrying %s in %.1f s: %s", read.where, wait,
                                what_failed(failure, self.endpoint.host))
            time.sleep(wait)

    def prepare(self, read: EdgeRead, position: Mapping[str, str] | None,
                token: str | None = None) -> requests.PreparedRequest:
        """The request for one page of `read`, as it would be sent now: with a partner's
        token for a partner's read, else `token` (a Page's) or the system user's."""
        if read.credential is not None:
            token = self._credentials[read.credential]
        return self.transport.prepare(read, read.policy.query(read, position), token)

    def _send(self, read: EdgeRead, position: dict[str, str] | None,
              page_token: str | None) -> requests.Response:
        if read.credential is not None and read.credential in self._refused:
            raise self._refuse_credential(read, self._refused[read.credential])
        try:
            waited = self.governor_for(read).wait_turn(read.meter_key)
        except ThrottledTooLong as exhausted:
            raise self._gave_up(read.where, exhausted) from None
        if waited:
            self.summary.add(read.policy.stream, waits=1, wait_seconds=waited)
        return self.transport.send(self.prepare(read, position, page_token))

    def send_batch(self, stream: str, first_pages: list[requests.PreparedRequest],
                   alone: EdgeRead | None = None) -> list[Any] | None:
        """One Batch API call; its answers in order, or None to send each page alone. For a
        read that cannot go alone (`alone`), a host that does not answer raises."""
        request = self.transport.prepare_batch(first_pages)
        try:
            self.governor.wait_turn(APP)
        except ThrottledTooLong as exhausted:
            raise self._gave_up("a Batch API call", exhausted) from None
        try:
            response = self.transport.send(request)
        except RETRIABLE_TRANSPORT_ERRORS as exc:
            given_up = None if alone is None else self.retry.give_up(
                alone.where, exc, 1, self.endpoint, final=True)
            if given_up is not None:
                raise given_up from exc
            failure = what_failed(exc, self.endpoint.host)
        else:
            self.governor.observe(response.headers, APP)
            answers = batch_answers(response)
            if answers is not None:
                self.summary.add(stream, batches=1)
                return answers
            error = classify_graph_error(response.status_code, parse_body(response.content))
            if error is not None and error.action is Action.THROTTLE:
                self.governor.throttled(error, APP)  # the pages alone must wait too
            failure = error.describe("a batch call") if error else "not a list of answers"
        self.logger.warning("Batch of %d first pages of %s failed (%s); sending them one by "
                            "one", len(first_pages), stream, failure)
        return None

    def read_in_body(self, read: EdgeRead) -> Page:
        """One node read as a one-call Batch API request, so that its parameters travel in
        the POST body and never in a URL (`debug_token` takes a token as its input). A host
        that does not answer raises GraphUnreachableError at once."""
        prepared = self.prepare(read, None)
        answers = self.send_batch(read.policy.stream, [prepared], alone=read) or [None]
        response = sub_response(prepared, answers[0])
        if response is None:
            raise GraphFatalError(GraphError(Action.RETRY, 0, message="no answer"),
                                  read.where, f"{read.where}: Graph did not answer.")
        return self._checked(read, response, page_token=None)

    def may_batch(self, read: EdgeRead) -> bool:
        """Batching saves round trips, not quota: nothing the governor holds back, and never
        a Page token or a partner's (a batch carries the system user's token in its body)."""
        return read.credential is None and not self.page_tokens.wanted(read) and \
            self.governor.clear(read.meter_key)

    def post(self, read: EdgeRead) -> Page:
        """One POST (`read.method`), through the same policy as a page: a report job."""
        return self._read(read, None, None)

    def read_many(self, stream: str, reads: list[EdgeRead]) -> list[Page | GraphError]:
        """Single nodes (report jobs being polled), up to MAX_BATCH per Batch API call. Each
        answer is the node, or the error it got when asking again later may help (transient,
        throttled, not visible yet); anything fatal raises."""
        answers: list[Page | GraphError] = []
        for start in range(0, len(reads), MAX_BATCH):
            group = reads[start:start + MAX_BATCH]
            prepared = [self.prepare(read, None) for read in group]
            batched = self.send_batch(stream, prepared) if len(group) > 1 else None
            for n, read in enumerate(group):
                response = sub_response(prepared[n], batched[n]) \
                    if batched is not None and n < len(batched) else None
                answers.append(self._node_or_error(read, response))
        return answers

    def _node_or_error(self, read: EdgeRead, response: requests.Response | None
                       ) -> Page | GraphError:
        try:
            if response is None:  # not batched, or not answered inside the batch
                return self._read(read, None, None)
            return self._checked(read, response, page_token=None)
        except (GraphRetriableError, AssetSkipped) as failed:
            return failed.error

    # -- answers ------------------------------------------------------------------------------
    def _checked(self, read: EdgeRead, response: requests.Response,
                 page_token: str | None) -> Page:
        self.summary.add(read.policy.stream, requests=1)
        self.transport.learn_clock(response)
        self._heed_version_warning(response)
        self.governor_for(read).observe(response.headers, read.meter_key,
                                        report_usage=read.policy.reports_usage)
        payload = read.policy.decode(response.content)
        error = classify_graph_error(response.status_code, payload)
        if error is None:
            return payload
        for step in decide(read, error, sent_query(response.request), page_token is not None,
                           self.api_version):
            self._carry_out(read, error, step)
        raise GraphRetriableError(error, read.where)

    def _carry_out(self, read: EdgeRead, error: GraphError, step: Step) -> None:
        """One recovery step (recovery.py): what it changes before the request goes out
        again, or the skip or stop it ends in."""
        if isinstance(step, End):
            raise step.failure
        if isinstance(step, StopRun):
            fatal = GraphFatalError(error, read.where)
            self.governor.halt(fatal)
            raise fatal
        if isinstance(step, RefuseCredential):
            raise self._refuse_credential(read, error)
        if isinstance(step, Wait):
            try:
                self.governor_for(read).throttled(error, read.meter_key)
            except ThrottledTooLong as exhausted:
                raise self._gave_up(read.where, exhausted) from None
        elif isinstance(step, Shrink):
            self._shrink(read, step.sent_limit)
        elif isinstance(step, DropFields):
            self._drop_fields(read, error, step)
        elif isinstance(step, LeaveOut):
            self._leave_out(read, error, step)
        elif isinstance(step, UsePageToken):
            self.page_tokens.want(read, error, step.whole_stream)
        else:
            assert isinstance(step, Retry)  # counted and backed off by _read

    @staticmethod
    def _gave_up(where: str, exhausted: ThrottledTooLong) -> AssetSkipped | GraphFatalError:
        """Past max_throttle_wait, an object's reads are skipped (the run goes on with the
        others); the app's limit ends the run."""
        if exhausted.key == APP:
            return GraphFatalError(exhausted.error, where, f"{exhausted}. Run again later, "
                                                           "or raise max_throttle_wait.")
        return AssetSkipped(exhausted.error, where, f"{exhausted}; skipped for this run "
                                                    "(raise max_throttle_wait to wait longer).")

    def _shrink(self, read: EdgeRead, sent_limit: int) -> None:
        limit = read.policy.shrink(sent_limit)
        if limit is not None:
            self.summary.add(read.policy.stream, shrinks=1)
            self.logger.warning("Graph asked for less data on %s: page size now %d for the "
                                "rest of the run", read.where, limit)

    def _drop_fields(self, read: EdgeRead, error: GraphError, step: DropFields) -> None:
        """Ask without the fields for the rest of the run, in every partition and batch, and
        say so once. Records already read keep them; the columns are null from here on."""
        policy = read.policy
        for name in step.names:
            if not policy.drop(name):
                continue
            if step.needed_permission:
                self.logger.warning(
                    "Graph refused %s while asked for '%s' (%s); %s. Reading %s without it "
                    "for the rest of the run: the column stays null", read.where, name,
                    error.reference, policy.optional_fields[name], policy.stream)
            else:
                self.logger.warning(
                    "Graph %s no longer reads field '%s' of stream %s [%s]; reading %s "
                    "without it for the rest of the run: the column stays null; deselect it "
                    "or pin api_version", self.api_version, name, policy.stream,
                    error.reference, policy.stream)
            self.summary.dropped_field(policy.stream, policy.column(name))

    def _leave_out(self, read: EdgeRead, error: GraphError, step: LeaveOut) -> None:
        """Other threads may hold requests with the parameter too: each is sent again, and
        the parameter warned of once."""
        for name in step.params:
            if read.policy.refuse(name):
                self.logger.warning("Graph refused the %s parameter on %s (%s); %s", name,
                                    read.policy.stream, error.reference,
                                    read.policy.optional_params[name])
