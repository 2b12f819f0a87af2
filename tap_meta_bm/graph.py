"""GraphClient: the one place the tap talks to Graph.

Streams describe what to read as plain `EdgeRead` values (a path, its parameters, the object
Meta meters it against) and the client does everything else: per-thread sessions, the Bearer
header and `appsecret_proof`, the governor's pacing, error classification and the one policy
for each class (retry, wait, halve the page, leave out a field Graph dropped, fetch a Page
token, skip, stop), cursor paging that never echoes a URL back (Graph's `paging.next` can
carry an access token), first pages in Batch API calls, and request counting. It is
thread-safe and holds no SDK object: worker threads call it, and only it.

What a stream learns during a run (the page size that works, fields Graph stopped reading, a
parameter Graph refused, that its Page edges want Page tokens) lives in that stream's
`EdgePolicy`, shared by all its reads and threads.
"""

from __future__ import annotations

import email.utils
import errno
import hashlib
import hmac
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import backoff
import requests
import urllib3

from tap_meta_bm.batch import (
    MAX_BATCH,
    FirstPageBatcher,
    batch_answers,
    batch_form,
    form_encode,
    sub_response,
)
from tap_meta_bm.errors import (
    DEPRECATED_VERSION_CODE,
    PAGE_EDGE_REFUSAL_CODES,
    Action,
    AssetSkipped,
    GraphError,
    GraphFatalError,
    GraphRetriableError,
    GraphUnreachableError,
    classify_graph_error,
    parse_body,
)
from tap_meta_bm.governor import APP, Governor, ThrottledTooLong
from tap_meta_bm.page_tokens import PageTokens
from tap_meta_bm.summary import RunSummary

#: Transient failures (5xx, timeouts, code 1/2) get this many attempts in all per request.
#: Throttles and page-size shrinks do not use them up: they are waits and changes, not faults.
MAX_TRANSIENT_ATTEMPTS = 6
#: Meta's header on a call to an api_version about to expire (facts sheet 3).
VERSION_WARNING_HEADER = "X-Ad-Api-Version-Warning"
BACKOFF_FACTOR_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
#: A host that does not accept a connection (`connect_timeout`), or accepts it and then sends
#: nothing (`request_timeout`), is tried this many times in all, not MAX_TRANSIENT_ATTEMPTS:
#: a silent server would otherwise cost six read timeouts, half an hour at the defaults.
CONNECT_ATTEMPTS = 3
SILENT_ATTEMPTS = 2
#: Paging parameters worth carrying from `paging.next` when an edge has no `cursors.after`.
PAGING_PARAMS = frozenset({"after", "offset", "until", "since", "__after_id", "__paging_token"})
RETRIABLE_TRANSPORT_ERRORS = (
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
Page = dict[str, Any]
#: How requests reports what urllib3 raises while a body is read (`Response.iter_content`).
_BODY_ERRORS: tuple[tuple[type[Exception], type[requests.RequestException]], ...] = (
    (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError),
    (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError),
    (urllib3.exceptions.ReadTimeoutError, requests.exceptions.ConnectionError),
    (urllib3.exceptions.SSLError, requests.exceptions.SSLError),
)


#: The column of every full-table record that names the read which produced it (the run's
#: `read_id`). A warehouse keeps a full-table stream's rows from its latest complete read on
#: (stream `complete_reads`), whatever its loader does with ACTIVATE_VERSION.
READ_ID = "_read_id"
#: The largest page the tap asks for: Graph's largest commonly accepted `limit` (edges cut
#: larger ones down, or refuse them). The default of `page_size`, its bound, and the page of
#: the tap's own reads (report results, the doctor's probes).
MAX_PAGE_SIZE = 500


class EdgePolicy:
    """How one stream asks Graph, and what the run taught it; shared by its threads.

    `fields`, `keys` and `replication_key` are Graph names; `columns` maps a Graph name to
    the column it fills, for messages; `added_columns` name the values each read adds to its
    records; `optional_params` may be left out if Graph refuses them, and `optional_fields`
    (fields that need permissions of their own) if Graph refuses the edge while asked for them.
    """

    def __init__(self, *, stream: str, fields: tuple[str, ...], columns: Mapping[str, str],
                 paged: bool, page_size: int, added_columns: tuple[str, ...] = (),
                 keys: frozenset[str] = frozenset(),
                 replication_key: str | None = None,
                 optional_params: Mapping[str, str] | None = None,
                 optional_fields: Mapping[str, str] | None = None,
                 access_hint: str | None = None, reports_usage: bool = True,
                 decode: Callable[[bytes], Any] = parse_body,
                 explicit_fields: frozenset[str] = frozenset()) -> None:
        self.stream = stream
        #: Fields the user named (a custom insights report's): Graph refusing one is fatal,
        #: with a message naming it, rather than a column silently null.
        self.explicit_fields = explicit_fields
        #: A body to its JSON (None when not JSON): an edge may turn Graph's text into
        #: numbers in the same pass (insights).
        self.decode = decode
        #: Its answers' x-fb-ads-insights-throttle counts (governor.observe).
        self.reports_usage = reports_usage
        self.paged = paged
        self.keys = keys
        self.replication_key = replication_key
        self.added_columns = added_columns
        self.optional_params = dict(optional_params or {})
        self.optional_fields = dict(optional_fields or {})
        self.access_hint = access_hint
        self._fields = fields
        self._columns = dict(columns)
        self._lock = threading.Lock()
        self.limit = page_size
        self.dropped: list[str] = []
        self.refused: set[str] = set()
        #: Set once Graph asked this stream's Page edges for the Page's own token.
        self.wants_page_token = False
        self.fields_param = ",".join(fields)

    @classmethod
    def plain(cls, stream: str, fields: tuple[str, ...] = (), *, paged: bool = False,
              page_size: int = 1) -> EdgePolicy:
        """A read the tap itself builds (a Page token, a report job, a doctor probe): no
        schema behind it, so no columns to name."""
        return cls(stream=stream, fields=fields, columns={}, paged=paged, page_size=page_size)

    def probe(self) -> EdgePolicy:
        """The same read, one row at a time (the doctor's probes)."""
        return EdgePolicy(stream=self.stream, fields=tuple(f for f in self._fields
                                                           if f not in self.dropped),
                          columns=self._columns, paged=self.paged, page_size=1,
                          added_columns=self.added_columns,
                          optional_params=self.optional_params,
                          optional_fields=self.optional_fields)

    def column(self, graph_name: str) -> str:
        return self._columns.get(graph_name, graph_name)

    def query(self, read: EdgeRead, position: Mapping[str, str] | None) -> dict[str, str]:
        """The query one request of `read` sends now (credentials aside)."""
        fields = self.fields_param
        extra = [name for name in read.edge_fields if name not in self.dropped]
        if extra:
            fields = ",".join([*filter(None, [fields]), *extra])
        query = {"fields": fields} if fields else {}
        if self.paged:
            query["limit"] = str(self.limit)
        refused = self.refused
        query.update((k, v) for k, v in read.params if k not in refused)
        if position:
            query.update(position)
        return query

    def shrink(self, sent_limit: int) -> int | None:
        """Halve the page size that failed; the new size, or None when another request sent
        at the same size already halved it (concurrent requests fail together)."""
        with self._lock:
            if self.limit <= sent_limit // 2:
                return None
            self.limit = max(1, sent_limit // 2)
            return self.limit

    def drop(self, name: str) -> bool:
        """Leave a field out from now on; True the first time."""
        with self._lock:
            if name in self.dropped:
                return False
            self.dropped.append(name)
            self.fields_param = ",".join(f for f in self._fields if f not in self.dropped)
            return True

    def refuse(self, name: str) -> bool:
        """Leave an optional parameter out from now on; True the first time."""
        with self._lock:
            first = name not in self.refused
            self.refused = self.refused | {name}
            return first

    def want_page_token(self) -> bool:
        """From now on Page edges are read with Page tokens; True the first time."""
        with self._lock:
            first, self.wants_page_token = not self.wants_page_token, True
            return first


@dataclass(frozen=True, eq=False, slots=True)
class EdgeRead:
    """One node or edge to read, in plain values: what a worker thread is handed. (A stream
    holds one per partition while it runs: thousands, hence the slots.)"""

    path: str  # below the version root, e.g. /act_123/campaigns
    params: tuple[tuple[str, str], ...]  # the edge's own parameters (filtering, business ...)
    meter_key: str  # the object Meta meters it against (governor.py)
    policy: EdgePolicy
    #: The values the tap adds to each record it returns, for `policy.added_columns`.
    column_values: tuple[Any, ...] = ()
    page_id: str | None = None  # a Page edge: it may be read with the Page's own token
    #: POST only to create what Graph then reads (report jobs): parameters go in the body.
    method: str = "GET"
    #: Whose token reads it: None for the system user's; else the name a partner's token is
    #: known by in the client (`GraphClient.add_credential`), never the token itself.
    credential: str | None = None
    #: Fields this edge alone reads, asked beside the stream's (EdgeVariant.edge_fields);
    #: one Graph stops reading is dropped for the whole stream, as any field is.
    edge_fields: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """For messages: no URL, no secrets."""
        return f"{self.policy.stream} edge {self.path}"

    @property
    def partition(self) -> dict[str, str] | None:
        """The rows this read answers for, by the columns it adds to them (its partition's
        and variant's, not `_read_id`); None for a read without any: the whole stream."""
        found = {name: str(value) for name, value in
                 zip(self.policy.added_columns, self.column_values, strict=False)
                 if value is not None and name != READ_ID}
        return found or None


def next_position(page: Page) -> dict[str, str] | None:
    """Where the next page starts, or None at the end; only `paging.next`'s absence ends an
    edge (a page may be short or empty and still have one)."""
    paging = page.get("paging") if isinstance(page, dict) else None
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    after = (paging.get("cursors") or {}).get("after")
    if after:
        return {"after": after}
    # Offset- or time-paged edges put their position only in the `next` URL.
    position = {k: v for k, v in parse_qsl(urlsplit(str(paging["next"])).query)
                if k in PAGING_PARAMS}
    return position or None


def records_of(page: Page) -> list[dict[str, Any]]:
    data = page.get("data") if isinstance(page, dict) else None
    return data if isinstance(data, list) else []


class GraphClient:
    """One per run; every method may be called from any thread."""

    def __init__(self, *, api_url: str, api_version: str, access_token: str,
                 app_secret: str | None, timeout: float, governor: Governor,
                 summary: RunSummary, logger: logging.Logger, user_agent: str,
                 connect_timeout: float = 10.0) -> None:
        self.url_base = f"{api_url.rstrip('/')}/{api_version}"
        self.api_version = api_version
        self._token = access_token
        self._app_secret = app_secret
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self.governor = governor
        self.summary = summary
        self.logger = logger
        self._user_agent = user_agent
        self._sessions = threading.local()
        self.page_tokens = PageTokens()
        #: Pages whose edges refused the system user's token, and how: read with their own
        #: token from then on.
        self._pages_wanting_token: dict[str, GraphError] = {}
        self.appsecret_proof = self.proof_for(access_token)
        #: Graph's clock less this machine's, from the first answer's `Date` header.
        self._clock_offset: float | None = None
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

    def graph_time(self, local: float) -> float:
        """A moment of this machine's clock in Graph's: the calendar of a run (which days
        insights read, when a bookmark is settled) is Meta's, not a skewed local clock's.
        Unchanged until Graph has answered once."""
        return local + (self._clock_offset or 0.0)

    def _learn_clock(self, response: requests.Response) -> None:
        if self._clock_offset is not None:
            return
        try:
            sent = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError, IndexError):
            return
        self._clock_offset = sent.timestamp() - time.time()

    def _heed_version_warning(self, response: requests.Response) -> None:
        """Meta auto-upgrades a call to a version about to expire and says so in
        X-Ad-Api-Version-Warning (facts sheet 3): one warning a run, in Meta's words."""
        said = response.headers.get(VERSION_WARNING_HEADER)
        if said and not self._version_warned:
            self._version_warned = True
            self.logger.warning("Graph warns about api_version %s: %s Set api_version to a "
                                "current version before this one stops answering.",
                                self.api_version, said)

    def _version_refused(self, error: GraphError, where: str) -> GraphFatalError:
        newest = re.search(r"\bv\d+\.\d+", error.message)
        return GraphFatalError(error, where, (
            f"Graph no longer serves api_version {self.api_version}: {error.message} "
            f"[{error.reference}]. Set api_version to "
            f"{newest.group(0) if newest else 'a current version'} (Marketing API versions "
            "live about a year)."))

    def proof_for(self, token: str) -> str | None:
        """HMAC-SHA256 of a token keyed by the app secret, as Graph requires with it."""
        if not self._app_secret:
            return None
        return hmac.new(self._app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()

    @property
    def session(self) -> requests.Session:
        """This thread's session: connections are reused by every stream on the thread."""
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
            # Proxy settings are read from the environment once, not on every request
            # (requests rescans os.environ per request: a tenth of the CPU of a fast sync).
            session.proxies.update(requests.utils.get_environ_proxies(self.url_base))
            session.trust_env = False
        return session

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
        """One page, through the retry policy: transient faults back off with full jitter,
        MAX_TRANSIENT_ATTEMPTS in all; throttles wait for the governor; anything the policy
        changed (page size, fields, parameters, token) goes out changed."""
        delays = backoff.expo(factor=BACKOFF_FACTOR_SECONDS, max_value=BACKOFF_MAX_SECONDS)
        next(delays)
        transient_failures = 0
        while True:
            try:
                if batched is not None:
                    response, batched = batched, None
                    return self._checked(read, response, page_token=None)
                page_token = self._page_token(read)
                return self._checked(read, self._send(read, position, page_token), page_token)
            except GraphRetriableError as exc:
                if exc.error.action is not Action.RETRY:
                    continue
                failure: Exception = exc
            except RETRIABLE_TRANSPORT_ERRORS as exc:
                self._raise_if_unreachable(read, exc)
                failure = exc
            transient_failures += 1
            self.summary.add(read.policy.stream, retries=1)
            self._raise_if_silent(read, failure, transient_failures)
            if transient_failures >= MAX_TRANSIENT_ATTEMPTS:
                raise _retries_exhausted(read, failure, self.host) from failure
            wait = backoff.full_jitter(next(delays))
            self.logger.warning("Retrying %s in %.1f s: %s", read.where, wait,
                                what_failed(failure, self.host))
            time.sleep(wait)

    @property
    def host(self) -> str:
        return urlsplit(self.url_base).netloc

    def _raise_if_silent(self, read: EdgeRead, failure: Exception, attempts: int,
                         final: bool = False) -> None:
        """A host that did not accept the connection, or sent nothing back, CONNECT_ATTEMPTS
        or SILENT_ATTEMPTS times (or once, when it is `final`): one line naming the host,
        port and timeout."""
        if isinstance(failure, requests.ConnectTimeout):
            limit, what = CONNECT_ATTEMPTS, (
                f"did not accept a connection within connect_timeout "
                f"({self._connect_timeout:g} s)")
        elif isinstance(failure, requests.ReadTimeout):
            limit, what = SILENT_ATTEMPTS, (
                f"accepted the connection but sent no answer within request_timeout "
                f"({self._timeout:g} s)")
        else:
            return
        if attempts >= limit or final:
            parts = urlsplit(self.url_base)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            times = f", {attempts} times in a row," if attempts > 1 else ""
            raise GraphUnreachableError(GraphError(Action.RETRY, 0, message=what), read.where, (
                f"{parts.hostname}:{port} {what}{times} for {read.where}. Check api_url "
                f"({self.url_base.rsplit('/', 1)[0]}) and the network; for a slow but working "
                "Graph, raise that timeout.")) from failure

    def _raise_if_unreachable(self, read: EdgeRead, error: BaseException) -> None:
        """Nothing listening, or no such host: no retry will change that."""
        why = unreachable(error)
        if why:
            raise GraphUnreachableError(GraphError(Action.REQUEST, 0, message=why), read.where, (
                f"cannot reach {self.host} ({why}) for {read.where}. Check api_url "
                f"({self.url_base.rsplit('/', 1)[0]}) and the network."))

    def prepare(self, read: EdgeRead, position: Mapping[str, str] | None,
                token: str | None = None) -> requests.PreparedRequest:
        """The GET for one page of `read`, as it would be sent now."""
        if read.credential is not None:
            token = self._credentials[read.credential]
            proof = self.proof_for(token)
        elif token is None:
            token, proof = self._token, self.appsecret_proof
        else:
            proof = self.proof_for(token)  # the proof is of the token that travels
        query = read.policy.query(read, position)
        if proof:
            query["appsecret_proof"] = proof
        prepared = requests.PreparedRequest()
        headers = {"Authorization": f"Bearer {token}", "User-Agent": self._user_agent}
        if read.method == "POST":
            prepared.prepare(method="POST", url=f"{self.url_base}{read.path}", data=query,
                             headers=headers)
            return prepared
        # Graph's own form: `fields=id,name,...`; percent-encoding every comma sent the field
        # list through Python's per-character quoting, the costliest step of a request.
        prepared.prepare(method="GET", url=f"{self.url_base}{read.path}?"
                                           f"{urlencode(query, safe=',')}", headers=headers)
        return prepared

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
        return send_and_read(self.session, self.prepare(read, position, page_token),
                             (self._connect_timeout, self._timeout))

    def send_batch(self, stream: str, first_pages: list[requests.PreparedRequest],
                   alone: EdgeRead | None = None) -> list[Any] | None:
        """One Batch API call; its answers in order, or None to send each page alone. For a
        read that cannot go alone (`alone`), a host that does not answer raises."""
        form = form_encode(batch_form(first_pages, self.url_base, self.appsecret_proof,
                                      self._token))
        request = requests.PreparedRequest()
        request.prepare(method="POST", url=f"{self.url_base}/", data=form, headers={
            "Authorization": f"Bearer {self._token}", "User-Agent": self._user_agent,
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            self.governor.wait_turn(APP)
        except ThrottledTooLong as exhausted:
            raise self._gave_up("a Batch API call", exhausted) from None
        try:
            response = send_and_read(self.session, request,
                                     (self._connect_timeout, self._timeout))
        except RETRIABLE_TRANSPORT_ERRORS as exc:
            if alone is not None:
                self._raise_if_unreachable(alone, exc)
                self._raise_if_silent(alone, exc, attempts=1, final=True)
            failure = what_failed(exc, self.host)
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
        return read.credential is None and not self._wants_page_token(read) and \
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
        self._learn_clock(response)
        self._heed_version_warning(response)
        self.governor_for(read).observe(response.headers, read.meter_key,
                                        report_usage=read.policy.reports_usage)
        payload = read.policy.decode(response.content)
        error = classify_graph_error(response.status_code, payload)
        if error is None:
            return payload
        self._act_on(read, error, response.request, page_token is not None)
        raise GraphRetriableError(error, read.where)

    def _act_on(self, read: EdgeRead, error: GraphError, sent: requests.PreparedRequest,
                sent_with_page_token: bool) -> None:
        """What a failed answer changes before it is sent again; raises if it is not."""
        where, action = read.where, error.action
        if read.page_id is not None and error.code in PAGE_EDGE_REFUSAL_CODES and (
                not sent_with_page_token or action in (Action.TOKEN, Action.PAGE_TOKEN)):
            # A Page edge: first the Page's own token, then a skip of that Page; never a
            # dead token, which the Page token's own read (not a Page edge) would reveal.
            # A permission refusal of the Page's token is an ordinary skip (below).
            self._want_page_token_for(read, error, sent_with_page_token,
                                      whole_stream=action is Action.PAGE_TOKEN)
            return
        if action is Action.TOKEN and read.credential is not None:
            raise self._refuse_credential(read, error)  # a partner's token: not the run's
        if action is Action.TOKEN:
            fatal = GraphFatalError(error, where)
            self.governor.halt(fatal)
            raise fatal
        if error.code == DEPRECATED_VERSION_CODE:
            raise self._version_refused(error, where)
        # A POST (a report job) carries its parameters in the body.
        query = dict(parse_qsl(str(sent.body or "") if sent.method == "POST"
                               else urlsplit(str(sent.url)).query))
        if action is Action.DROP_FIELD:
            self._drop_field(read, error, query)
        elif action is Action.PAGE_TOKEN:
            self._want_page_token_for(read, error, sent_with_page_token)
        elif action is Action.REQUEST:
            self._refuse_optional(read, error, query)
        elif action is Action.SKIP:
            if not self._drop_optional_fields(read, error, query):
                raise AssetSkipped(error, where, read.policy.access_hint)
        elif action is Action.THROTTLE:
            self._throttled(read, error)
        elif action is Action.SHRINK:
            self._shrink(read, error, int(query.get("limit") or read.policy.limit))

    def _throttled(self, read: EdgeRead, error: GraphError) -> None:
        try:
            self.governor_for(read).throttled(error, read.meter_key)
        except ThrottledTooLong as exhausted:
            raise self._gave_up(read.where, exhausted) from None

    @staticmethod
    def _gave_up(where: str, exhausted: ThrottledTooLong) -> AssetSkipped | GraphFatalError:
        """Past max_throttle_wait, an object's reads are skipped (the run goes on with the
        others); the app's limit ends the run."""
        if exhausted.key == APP:
            return GraphFatalError(exhausted.error, where, f"{exhausted}. Run again later, "
                                                           "or raise max_throttle_wait.")
        return AssetSkipped(exhausted.error, where, f"{exhausted}; skipped for this run "
                                                    "(raise max_throttle_wait to wait longer).")

    def _shrink(self, read: EdgeRead, error: GraphError, sent_limit: int) -> None:
        if sent_limit <= 1:
            raise GraphFatalError(error, f"{read.where} (even limit=1 is too much data; "
                                         "deselect heavy fields of this stream)")
        limit = read.policy.shrink(sent_limit)
        if limit is not None:
            self.summary.add(read.policy.stream, shrinks=1)
            self.logger.warning("Graph asked for less data on %s: page size now %d for the "
                                "rest of the run", read.where, limit)

    def _drop_field(self, read: EdgeRead, error: GraphError, query: dict[str, str]) -> None:
        """Graph stopped reading a field (Meta removes and renames fields with every version,
        and retires insights metrics): ask without it for the rest of the run, in every
        partition and batch, and say so once. Records already read keep it; the column is
        null from here on."""
        for name in str(error.field).split(","):
            self._drop_one_field(read, error, query, name)

    def _drop_one_field(self, read: EdgeRead, error: GraphError, query: dict[str, str],
                        name: str) -> None:
        policy = read.policy
        if name in policy.explicit_fields:
            raise GraphFatalError(error, read.where, (
                f"{read.where}: Graph {self.api_version} no longer reads '{name}', which the "
                f"report of stream {policy.stream} names in insights_reports "
                f"[{error.reference}]. Take it out of the report's fields, or pin "
                "api_version to the version that worked."))
        if name not in query.get("fields", "").split(","):
            raise GraphFatalError(error, read.where)  # not a field it asked for: a request bug
        filters = {param: value for param, value in query.items()
                   if param in policy.optional_params and name in value}
        if filters:
            # The field is also in an optional filter (audiences' undocumented `filtering` on
            # `time_updated`): Graph refused the filter, not the field.
            self._refuse_optional(read, error, filters)
            return
        if name in policy.keys or name == policy.replication_key:
            role = "replication key" if name == policy.replication_key else "key"
            raise GraphFatalError(error, read.where, (
                f"{read.where}: Graph {self.api_version} no longer reads '{name}', the "
                f"{role} of stream {policy.stream}, so the stream cannot be synced "
                f"[{error.reference}]. Pin api_version to the version that worked, or "
                "deselect the stream."))
        if policy.drop(name):
            self.logger.warning(
                "Graph %s no longer reads field '%s' of stream %s [%s]; reading %s without it "
                "for the rest of the run: the column stays null; deselect it or pin "
                "api_version", self.api_version, name, policy.stream, error.reference,
                policy.stream)
            self.summary.dropped_field(policy.stream, policy.column(name))

    def _drop_optional_fields(self, read: EdgeRead, error: GraphError,
                              query: dict[str, str]) -> bool:
        """A permission error on a request that asked for fields needing permissions of their
        own may be those fields' (Meta's Page reference: such fields throw an error since
        v12): ask again without them for the rest of the run. True when there were any to
        leave out; if Graph still refuses, the edge itself is refused."""
        policy = read.policy
        asked = [name for name in query.get("fields", "").split(",")
                 if name in policy.optional_fields]
        for name in asked:
            if policy.drop(name):
                self.logger.warning(
                    "Graph refused %s while asked for '%s' (%s); %s. Reading %s without it "
                    "for the rest of the run: the column stays null", read.where, name,
                    error.reference, policy.optional_fields[name], policy.stream)
                self.summary.dropped_field(policy.stream, policy.column(name))
        return bool(asked)

    def _refuse_optional(self, read: EdgeRead, error: GraphError, query: dict[str, str]
                         ) -> None:
        """Only a request that carried an optional parameter can be mended by leaving it out;
        other threads may hold such requests too, so each is sent again, warned once."""
        carried = [name for name in read.policy.optional_params if name in query]
        if not carried:
            raise GraphFatalError(error, read.where)
        for name in carried:
            if read.policy.refuse(name):
                self.logger.warning("Graph refused the %s parameter on %s (%s); %s", name,
                                    read.policy.stream, error.reference,
                                    read.policy.optional_params[name])

    # -- Page tokens (see page_tokens.py) ---------------------------------------------------------
    def _wants_page_token(self, read: EdgeRead) -> bool:
        return read.page_id is not None and (read.policy.wants_page_token
                                             or read.page_id in self._pages_wanting_token)

    def _page_token(self, read: EdgeRead) -> str | None:
        """The Page's own token for a Page edge that wants one; None: the system user's."""
        if not self._wants_page_token(read):
            return None
        page_id = str(read.page_id)
        token = self.page_tokens.get(page_id, lambda: self._read_page_token(read))
        if token is None:
            why = ("it holds no task on the Page (assign the Page to the system user with "
                   "Manage, and grant pages_manage_metadata)")
            refused = self._pages_wanting_token.get(page_id)
            if refused is not None:  # Graph's own words first: they may name the fix
                raise AssetSkipped(GraphError(
                    Action.SKIP, refused.http_status, refused.code, refused.subcode,
                    f"{refused.message}; and the system user cannot get the Page's own "
                    f"token: {why}", fbtrace_id=refused.fbtrace_id), read.where)
            raise AssetSkipped(GraphError(Action.SKIP, 200, message=(
                f"Graph wants Page {page_id}'s own access token, and the system user cannot "
                f"get it: {why}")), read.where)
        return token

    def _read_page_token(self, read: EdgeRead) -> str | None:
        """`GET /{page_id}?fields=access_token`, with the system user's token."""
        policy = EdgePolicy.plain(read.policy.stream, ("access_token",))
        token_read = EdgeRead(f"/{read.page_id}", (), str(read.page_id), policy)
        token = next(self.pages(token_read)).get("access_token")
        return token if isinstance(token, str) else None

    def _want_page_token_for(self, read: EdgeRead, error: GraphError,
                             sent_with_page_token: bool, whole_stream: bool = True) -> None:
        """The Page's own token for this read, and for the stream's every Page when Graph
        said it wants Page tokens (`whole_stream`); a refusal of the Page's token skips it."""
        if read.page_id is None:
            raise GraphFatalError(error, read.where)  # not a Page edge: a request bug
        if sent_with_page_token:  # the Page's own token was refused as well
            raise AssetSkipped(GraphError(
                Action.SKIP, error.http_status, error.code, error.subcode,
                f"Graph refused the Page's own token as well ({error.message})",
                fbtrace_id=error.fbtrace_id), read.where)
        if not whole_stream:
            self._pages_wanting_token[read.page_id] = error
            self.logger.info("%s refused the system user's token [%s]: trying the Page's own",
                             read.where, error.reference)
        elif read.policy.want_page_token():
            self.logger.info(
                "Graph wants Page access tokens for %s [%s]: reading each Page's token with "
                "the system user's token (kept in memory only, never written)",
                read.policy.stream, error.reference)


def send_and_read(session: requests.Session, request: requests.PreparedRequest,
                  timeout: tuple[float, float]) -> requests.Response:
    """Send, then read the whole body in one call.

    requests reads a body 10 KB at a time: a page of insights (a megabyte) took a hundred
    socket reads, and after each the fetching thread waited for the interpreter lock, which
    the thread writing records gives up every 5 ms. Pages came late, the writer waited for
    them, and a CPU-bound insights sync spent a third of its time so. Failures while reading
    are raised as requests raises them.
    """
    response = session.send(request, timeout=timeout, stream=True)
    try:
        body = response.raw.read(decode_content=True)
    except Exception as failure:
        response.close()
        for raised, reported in _BODY_ERRORS:
            if isinstance(failure, raised):
                raise reported(failure, request=request) from failure
        raise
    # requests has no public way to give a Response the body read for it; `_content` is what
    # its own reading fills (batch.py's sub-responses are built the same way).
    response._content = body
    return response


def _retries_exhausted(read: EdgeRead, failure: Exception, host: str) -> GraphFatalError:
    what = what_failed(failure, host)
    error = getattr(failure, "error", None) or GraphError(Action.RETRY, 0, message=what)
    return GraphFatalError(error, read.where, (
        f"{read.where}: still failing after {MAX_TRANSIENT_ATTEMPTS} attempts: {what}. Meta "
        "may be having an outage; rerun later (the state already written lets the rerun "
        "resume)."))


def what_failed(error: BaseException, host: str) -> str:
    """One line for a failure, never a URL: a transport error's own text quotes the whole
    request URL, `fields=` list and all."""
    if isinstance(error, requests.RequestException):
        kind = "timed out" if isinstance(error, requests.Timeout) else type(error).__name__
        return f"{kind} talking to {host}"
    return one_line(error)


def unreachable(error: BaseException) -> str | None:
    """'connection refused' or 'no such host' when that is what a transport error says."""
    stack: list[BaseException] = [error]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or (
                isinstance(current, OSError) and current.errno == errno.ECONNREFUSED):
            return "connection refused"
        if isinstance(current, socket.gaierror) and current.errno == socket.EAI_NONAME:
            return "no such host"
        related = [current.__cause__, current.__context__, getattr(current, "reason", None),
                   *current.args]
        stack.extend(e for e in related if isinstance(e, BaseException))
    return None


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
