"""GraphStream: the one base class that owns every HTTP concern of the tap.

URL and version, Bearer auth and `appsecret_proof`, `fields=` derived from the selected schema,
cursor paging that never echoes a URL back (Graph's `paging.next` can carry an access token),
the adaptive page size, the retry policy, the rate-limit gate, and turning Graph values into
what the warehouse expects (parents' ids on every row, RFC 3339 UTC timestamps).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import backoff
import requests
from singer_sdk import metrics
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.contrib.msgspec import serialize_jsonl
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams import RESTStream
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_meta_bm.batch import (
    MAX_BATCH,
    FirstPageBatcher,
    batch_answers,
    batch_form,
    form_encode,
)
from tap_meta_bm.concurrency import PartitionPrefetcher
from tap_meta_bm.errors import (
    Action,
    AssetSkipped,
    GraphError,
    GraphFatalError,
    GraphRetriableError,
    classify_graph_error,
    parse_body,
)
from tap_meta_bm.governor import APP
from tap_meta_bm.output import write_record_line

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_meta_bm.tap import TapMetaBM

#: Transient failures (5xx, timeouts, code 1/2) get this many attempts in all per request.
#: Throttles and page-size shrinks do not use them up: they are waits and changes, not faults.
MAX_TRANSIENT_ATTEMPTS = 6
BACKOFF_FACTOR_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
#: Paging parameters worth carrying from `paging.next` when an edge has no `cursors.after`.
PAGING_PARAMS = frozenset({"after", "offset", "until", "since", "__after_id", "__paging_token"})
RETRIABLE_TRANSPORT_ERRORS = (
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
#: How often, at most, finished partitions' bookmarks are emitted mid-stream. A run that dies
#: re-reads at most this much work; it never skips any (state only trails the records).
STATE_INTERVAL_SECONDS = 2.0
_PAYLOAD = "_graph_payload"  # parsed body, kept on the response so it is parsed exactly once
_PREPARED_QUERY = "_graph_query"  # current_query() when a request was prepared


def graph_payload(response: requests.Response) -> Any:
    """The response body as JSON, parsed once per response."""
    if not hasattr(response, _PAYLOAD):
        setattr(response, _PAYLOAD, parse_body(response.content))
    return getattr(response, _PAYLOAD)


def to_rfc3339(value: Any) -> Any:
    """Graph `2024-05-01T12:34:56+0000` or a unix integer -> `2024-05-01T12:34:56+00:00`."""
    if isinstance(value, str):
        if len(value) == 24 and value.endswith("+0000"):  # Graph's usual form: no parsing
            return value[:19] + "+00:00"
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return value


def _rewrite_query(url: str, replace: dict[str, Any], drop: frozenset[str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in replace and k not in drop]
    query.extend((k, str(v)) for k, v in replace.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class GraphCursorPaginator(BaseAPIPaginator[dict[str, str] | None]):
    """Follows `paging.next` until it is absent, carrying only the cursor, never the URL.

    A page may be short or empty and still have `next`; only its absence ends the edge.
    """

    def __init__(self) -> None:
        super().__init__(None)

    @staticmethod
    def _paging(response: requests.Response) -> dict[str, Any]:
        payload = graph_payload(response)
        paging = payload.get("paging") if isinstance(payload, dict) else None
        return paging if isinstance(paging, dict) else {}

    def has_more(self, response: requests.Response) -> bool:
        return bool(self._paging(response).get("next"))

    def continue_if_empty(self, response: requests.Response) -> bool:
        return self.has_more(response)

    def get_next(self, response: requests.Response) -> dict[str, str] | None:
        paging = self._paging(response)
        after = (paging.get("cursors") or {}).get("after")
        if after:
            return {"after": after}
        # Offset- or time-paged edges put their position only in the `next` URL.
        query = parse_qsl(urlsplit(str(paging.get("next"))).query)
        position = {k: v for k, v in query if k in PAGING_PARAMS}
        return position or None


class BearerHeaderAuthenticator(BearerTokenAuthenticator):
    """`Authorization: Bearer <token>`, and nothing else. (The SDK's base class also parses
    and re-encodes every URL's query to add query-string credentials, of which a Bearer
    token has none; that re-encoding was a tenth of the CPU of a sync.)"""

    def authenticate_request(self, request: requests.PreparedRequest
                             ) -> requests.PreparedRequest:
        request.headers.update(self.auth_headers)
        return request


class StreamRequestCounter(metrics.Counter):
    """The SDK's `http_request_count` metric, counted per stream rather than per partition.

    The SDK opens a counter for each partition's requests and logs it as the partition ends:
    a METRIC line per ad account or page and stream (thousands per run, written from the
    fetching threads, a twentieth of a fast sync's CPU), each tagged with a partition that,
    with partitions fetched concurrently, does not describe the requests it counts anyway.
    Here a stream's requests add up in one counter, logged like any SDK counter (every
    `log_interval` seconds while the stream runs) and when the stream ends.
    """

    def __init__(self, stream: str, endpoint: str) -> None:
        super().__init__(metrics.Metric.HTTP_REQUEST_COUNT,
                         {metrics.Tag.STREAM: stream, metrics.Tag.ENDPOINT: endpoint})
        self._lock = threading.Lock()

    def __enter__(self) -> StreamRequestCounter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """A partition ended; the stream's count goes on (see `exit`)."""

    def with_context(self, value: Context | None) -> None:
        """Not tagged with any one partition: several are counted at once."""

    def increment(self, value: int = 1) -> None:
        with self._lock:  # several fetching threads
            super().increment(value)

    def exit(self) -> None:
        with self._lock:
            if self.value:
                self._pop()


@dataclass(frozen=True)
class EdgeVariant:
    """One of several Graph edges read into one stream, and the columns that tell them apart."""

    path: str
    columns: dict[str, str] = field(default_factory=dict)


class GraphStream(RESTStream[dict[str, str] | None]):
    """Base of every stream: one Graph edge (or a few variants of one), paged by cursor."""

    #: Path below the version root; `{business_id}`-style names come from the partition.
    path: str = ""
    #: Several edges into one stream (owned + client ...); overrides `path` when set.
    variants: ClassVar[tuple[EdgeVariant, ...]] = ()
    #: What one partition is (see Directory.partitions): "business", "ad_account",
    #: "business_ad_account", "business_page", "asset_group"; None for no partitions.
    partition_kind: ClassVar[str | None] = None
    #: Columns the tap fills from the partition or variant, never requested from Graph.
    context_columns: ClassVar[tuple[str, ...]] = ()
    #: Schema name -> Graph field name, where the warehouse wants a clearer name.
    graph_names: ClassVar[dict[str, str]] = {}
    #: False for single-object reads such as `/{business_id}`.
    paged: bool = True
    #: Full-table streams keep no per-partition state (and put no partition keys in records).
    state_partitioning_keys: ClassVar[list[str] | None] = []

    #: Records hold only what `fields=` asked for (derived from this schema) plus the context
    #: columns of this schema, in the JSON types Graph sends and the schema declares; the
    #: SDK's per-value conformance pass found nothing to change and was a third of the CPU.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    _tap: TapMetaBM

    def __init__(self, tap: TapMetaBM, **kwargs: Any) -> None:
        super().__init__(tap, **kwargs)
        self._limit = int(self.config["page_size"])
        self._limit_lock = threading.Lock()
        self._partition_list: list[dict[str, Any]] | None = None
        self._prefetcher: PartitionPrefetcher | None = None
        self._batcher: FirstPageBatcher | None = None
        self._state_written_at = time.monotonic()
        #: Graph names of fields Graph stopped reading during this run (see `_drop_field`).
        self._dropped_fields: set[str] = set()
        self._fields_param: str | None = None
        self._fields_lock = threading.Lock()
        #: Set once Graph asked this stream's Page edges for the Page's own token.
        self._wants_page_token = False

    # -- URL, auth, parameters ------------------------------------------------------------
    @property
    def url_base(self) -> str:
        return f"{self.config['api_url'].rstrip('/')}/{self.config['api_version']}"

    @cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        return BearerHeaderAuthenticator(token=self.config["access_token"])

    @property
    def timeout(self) -> int:
        return int(self.config["request_timeout"])

    @property
    def requests_session(self) -> requests.Session:
        # One session per thread: partitions are fetched concurrently.
        sessions = self._tap.http_sessions
        session = getattr(sessions, "session", None)
        if session is None:
            session = sessions.session = requests.Session()
            # Proxy settings are read from the environment once, not on every request
            # (requests rescans os.environ per request: a tenth of the CPU of a fast sync).
            session.proxies.update(requests.utils.get_environ_proxies(self.url_base))
            session.trust_env = False
        return session

    def edge(self, context: Context | None) -> str:
        """The edge a request context reads, e.g. `/act_123/campaigns`."""
        values = dict(context or {})
        return values.pop("edge_path", self.path).format(**values)

    @cached_property
    def _request_counter(self) -> StreamRequestCounter:
        return StreamRequestCounter(
            self.name, self.path or ", ".join(variant.path for variant in self.variants))

    def get_http_request_counter(self) -> StreamRequestCounter:
        return self._request_counter

    def get_url(self, context: Context | None) -> str:
        return self.url_base + self.edge(context)

    @cached_property
    def requested_fields(self) -> tuple[str, ...]:
        """The selected properties (keys and replication key always), in Graph names."""
        mask = self.mask
        names = [
            self.graph_names.get(name, name)
            for name in self.schema["properties"]
            if name not in self.context_columns
            and (name in self._essential_columns or mask.get(("properties", name), False))
        ]
        return tuple(dict.fromkeys(names))

    @cached_property
    def _essential_columns(self) -> frozenset[str]:
        """Columns without which a record cannot be keyed or bookmarked."""
        return frozenset({*self.primary_keys, self.replication_key} - {None})

    @property
    def graph_fields(self) -> str:
        """`fields=`: the requested fields, less any Graph stopped reading during this run."""
        fields = self._fields_param
        if fields is None:
            with self._fields_lock:
                fields = self._fields_param = ",".join(
                    name for name in self.requested_fields if name not in self._dropped_fields)
        return fields

    def edge_params(self, context: Context | None) -> dict[str, Any]:
        """Parameters particular to one stream's edge (filters, `business=` ...)."""
        return {}

    def get_url_params(
        self, context: Context | None, next_page_token: dict[str, str] | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"fields": self.graph_fields}
        if self.paged:
            params["limit"] = self._limit
        params.update(self.edge_params(context))
        if next_page_token:
            params.update(next_page_token)
        proof = self._tap.appsecret_proof
        if proof:
            params["appsecret_proof"] = proof
        return params

    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        # Session.prepare_request also merges session cookies, hooks and settings, none of
        # which this tap sets: half the cost of preparing a request, once per request.
        headers = {**self.requests_session.headers, "User-Agent": self.user_agent,
                   **(kwargs.get("headers") or {})}
        prepared = requests.PreparedRequest()
        prepared.prepare(method=kwargs["method"], url=kwargs["url"],
                         params=kwargs.get("params"), data=kwargs.get("data"),
                         json=kwargs.get("json"), headers=headers, auth=self.authenticator)
        return prepared

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        # Graph's own form: `fields=id,name,...`. Percent-encoding every comma sends the
        # field list through Python's per-character quoting, which cost more CPU than
        # anything else in a request.
        request.safe_query_chars = ","
        return request

    def get_new_paginator(self) -> BaseAPIPaginator | None:
        return GraphCursorPaginator() if self.paged else None

    def _prepare_request(self, *, context: Context | None, page: BaseAPIPaginator
                         ) -> requests.PreparedRequest:
        # The SDK prepares each page here; a first page may already have been answered in a
        # batch, and is then handed back as it was sent.
        if page.current_value is None and self._batcher is not None and context:
            batched = self._batcher.first_page(dict(context))
            if batched is not None:
                return batched
        return self._prepare_alone(context, page)

    def _prepare_alone(self, context: Context | None, page: BaseAPIPaginator
                       ) -> requests.PreparedRequest:
        # Read before the URL is built: if the query changes meanwhile, the request is
        # rewritten when sent rather than sent stale (see `_send_alone`).
        query = self.current_query()
        prepared = super()._prepare_request(context=context, page=page)
        setattr(prepared, _PREPARED_QUERY, query)
        return prepared

    def _send_batch(self, first_pages: list[requests.PreparedRequest]) -> list[Any] | None:
        """One Batch API call; its answers in order, or None to send each page alone."""
        form = form_encode(batch_form(first_pages, self.url_base, self._tap.appsecret_proof))
        request = self.build_prepared_request(
            method="POST", url=f"{self.url_base}/", data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self._tap.governor.wait_turn(APP)
        try:
            response = self.requests_session.send(request, timeout=self.timeout)
        except RETRIABLE_TRANSPORT_ERRORS as exc:
            failure = _one_line(exc)
        else:
            self._tap.governor.observe(response.headers, APP)
            answers = batch_answers(response)
            if answers is not None:
                self._tap.summary.add(self.name, batches=1)
                return answers
            error = classify_graph_error(response.status_code, graph_payload(response))
            if error is not None and error.action is Action.THROTTLE:
                self._tap.governor.throttled(error, APP)  # the pages alone must wait too
            failure = error.describe("a batch call") if error else "not a list of answers"
        self.logger.warning("Batch of %d first pages of %s failed (%s); sending them one by "
                            "one", len(first_pages), self.name, failure)
        return None

    # -- sending, retrying, classifying ---------------------------------------------------
    @staticmethod
    def meter_key(context: Context | None) -> str:
        """The object Meta meters this request against (see governor.py)."""
        context = context or {}
        for name in ("account_id", "page_id", "business_id"):
            if context.get(name):
                return str(context[name])
        return "me"

    def where(self, context: Context | None) -> str:
        """Human name of the edge a request reads, for messages: no URL, no secrets."""
        return f"{self.name} edge {self.edge(context)}"

    def request_decorator(self, func: Any) -> Any:
        """Graph's retry policy (the SDK's default treats every retriable failure alike).

        Transient faults: exponential backoff with full jitter, MAX_TRANSIENT_ATTEMPTS in all.
        Throttles: sent again once the governor lets this object through, however long that is.
        Too much data: sent again at once with half the page size.
        """

        def send_with_retries(prepared: requests.PreparedRequest, context: Context | None
                              ) -> requests.Response:
            delays = backoff.expo(factor=BACKOFF_FACTOR_SECONDS, max_value=BACKOFF_MAX_SECONDS)
            next(delays)
            transient_failures = 0
            while True:
                try:
                    return func(prepared, context)
                except GraphRetriableError as exc:
                    if exc.error.action is not Action.RETRY:
                        continue
                    failure: Exception = exc
                except RETRIABLE_TRANSPORT_ERRORS as exc:
                    failure = exc
                transient_failures += 1
                self._tap.summary.add(self.name, retries=1)
                if transient_failures >= MAX_TRANSIENT_ATTEMPTS:
                    raise self._retries_exhausted(context, failure) from failure
                wait = backoff.full_jitter(next(delays))
                self.logger.warning("Retrying %s in %.1f s: %s", self.where(context), wait,
                                    _one_line(failure))
                time.sleep(wait)

        return send_with_retries

    def _retries_exhausted(self, context: Context | None, failure: Exception
                           ) -> GraphFatalError:
        where = self.where(context)
        error = getattr(failure, "error", None) or GraphError(Action.RETRY, 0,
                                                              message=_one_line(failure))
        return GraphFatalError(error, where, (
            f"{where}: still failing after {MAX_TRANSIENT_ATTEMPTS} attempts: "
            f"{_one_line(failure)}. Meta may be having an outage; rerun later "
            "(the state already written lets the rerun resume)."))

    def _request(self, prepared_request: requests.PreparedRequest, context: Context | None
                 ) -> requests.Response:
        response = self._batcher.answer(prepared_request) if self._batcher else None
        if response is not None:
            return self._checked(response, context)
        return self._exchange(prepared_request, context, self._page_token(context))

    def _exchange(self, prepared_request: requests.PreparedRequest, context: Context | None,
                  page_token: str | None = None) -> requests.Response:
        """Send one request alone (with a Page's token, when given) and check the answer."""
        response = self._send_alone(prepared_request, self.meter_key(context), page_token)
        return self._checked(response, context, sent_with_page_token=page_token is not None)

    def _checked(self, response: requests.Response, context: Context | None,
                 sent_with_page_token: bool = False) -> requests.Response:
        key = self.meter_key(context)
        self._tap.summary.add(self.name, requests=1)
        self._tap.governor.observe(response.headers, key)
        self._raise_for_graph_error(response, context, key, sent_with_page_token)
        return response

    def _send_alone(self, prepared_request: requests.PreparedRequest, key: str,
                    page_token: str | None = None) -> requests.Response:
        waited = self._tap.governor.wait_turn(key)
        if waited:
            self._tap.summary.add(self.name, waits=1, wait_seconds=waited)
        # A page is prepared once; a retry after "reduce the amount of data" (or after Graph
        # refused an optional filter or a field) must go out as the request is now, not as
        # it was. Requests the stream did not prepare from its query go as they were built.
        prepared_query = getattr(prepared_request, _PREPARED_QUERY, None)
        replace, drop = self.current_query() if prepared_query else ({}, frozenset())
        stale = prepared_query is not None and (replace, drop) != prepared_query
        if page_token is not None:
            prepared_request = prepared_request.copy()
            prepared_request.headers["Authorization"] = f"Bearer {page_token}"
            proof = self._tap.proof_for(page_token)
            if proof:  # the proof is of the token that travels
                replace, stale = {**replace, "appsecret_proof": proof}, True
        if stale:
            if page_token is None:
                prepared_request = prepared_request.copy()
            prepared_request.url = _rewrite_query(str(prepared_request.url), replace, drop)
        return self.requests_session.send(
            prepared_request, timeout=self.timeout, allow_redirects=self.allow_redirects
        )

    # -- Page tokens (see page_tokens.py) ----------------------------------------------------
    def _needs_page_token(self, context: Context | None) -> bool:
        return self._wants_page_token and bool((context or {}).get("page_id"))

    def _page_token(self, context: Context | None) -> str | None:
        """The Page's own token for a Page edge that wants one; None: the system user's."""
        if not self._needs_page_token(context):
            return None
        page_id = str((context or {})["page_id"])
        token = self._tap.page_tokens.get(page_id, self._read_page_token)
        if token is None:
            raise AssetSkipped(GraphError(Action.SKIP, 200, message=(
                f"Graph wants Page {page_id}'s own access token, and the system user cannot "
                "get it: it holds no task on the Page (assign the Page to the system user "
                "with Manage, and grant pages_manage_metadata)")), self.where(context))
        return token

    def _read_page_token(self, page_id: str) -> str | None:
        """`GET /{page_id}?fields=access_token`, with the system user's token."""
        params = {"fields": "access_token"}
        proof = self._tap.appsecret_proof
        if proof:
            params["appsecret_proof"] = proof
        prepared = self.build_prepared_request(method="GET", url=f"{self.url_base}/{page_id}",
                                               params=params)
        context = {"page_id": page_id, "edge_path": "/{page_id}"}
        response = self.request_decorator(self._exchange)(prepared, context)
        token = graph_payload(response).get("access_token")
        return token if isinstance(token, str) else None

    def _want_page_token(self, error: GraphError, context: Context | None, where: str,
                         sent_with_page_token: bool) -> None:
        """Graph wants a Page token here: from now on this stream's Page edges get one."""
        if not (context or {}).get("page_id"):
            raise GraphFatalError(error, where)  # not a Page edge: a request bug
        if sent_with_page_token:  # the Page's own token was refused as well
            raise AssetSkipped(dataclasses.replace(error, action=Action.SKIP, message=(
                f"Graph refused the Page's own token as well ({error.message})")), where)
        with self._fields_lock:
            first, self._wants_page_token = not self._wants_page_token, True
        if first:
            self.logger.info(
                "Graph wants Page access tokens for %s [%s]: reading each Page's token with "
                "the system user's token (kept in memory only, never written)", self.name,
                error.reference)

    def current_query(self) -> tuple[dict[str, Any], frozenset[str]]:
        """Query parameters to set and to drop on every request as it is sent."""
        replace: dict[str, Any] = {"fields": self.graph_fields}
        if self.paged:
            replace["limit"] = self._limit
        return replace, frozenset()

    def recover_from_request_error(self, error: GraphError, request: requests.PreparedRequest
                                   ) -> bool:
        """True when the stream changed its request so that sending again can succeed."""
        return False

    def _raise_for_graph_error(self, response: requests.Response, context: Context | None,
                               key: str, sent_with_page_token: bool = False) -> None:
        error = classify_graph_error(response.status_code, graph_payload(response))
        if error is None:
            return
        where = self.where(context)
        if error.action is Action.TOKEN:
            fatal = GraphFatalError(error, where)
            self._tap.governor.halt(fatal)
            raise fatal
        if error.action is Action.DROP_FIELD:
            self._drop_field(error, response.request, where)
            raise GraphRetriableError(error, where)
        if error.action is Action.PAGE_TOKEN:
            self._want_page_token(error, context, where, sent_with_page_token)
            raise GraphRetriableError(error, where)
        if error.action is Action.REQUEST:
            if self.recover_from_request_error(error, response.request):
                raise GraphRetriableError(error, where)
            raise GraphFatalError(error, where)
        if error.action is Action.SKIP:
            raise AssetSkipped(error, where)
        if error.action is Action.THROTTLE:
            self._tap.governor.throttled(error, key)
        elif error.action is Action.SHRINK:
            sent = dict(parse_qsl(urlsplit(str(response.request.url)).query)).get("limit")
            self._shrink_page(error, where, int(sent or self._limit))
        raise GraphRetriableError(error, where)

    def _drop_field(self, error: GraphError, request: requests.PreparedRequest, where: str
                    ) -> None:
        """Graph stopped reading a field (Meta removes and renames fields with every version):
        ask without it for the rest of the run, in every partition and batch, and say so once.
        Records already read keep it; the column is null from here on."""
        name = str(error.field)
        sent = dict(parse_qsl(urlsplit(str(request.url)).query)).get("fields", "").split(",")
        if name not in sent:  # not a field this request asked for: nothing to drop
            raise GraphFatalError(error, where)
        column = next((c for c, g in self.graph_names.items() if g == name), name)
        version = self.config["api_version"]
        if column in self._essential_columns:
            role = "replication key" if column == self.replication_key else "key"
            raise GraphFatalError(error, where, (
                f"{where}: Graph {version} no longer reads '{name}', the {role} of stream "
                f"{self.name}, so the stream cannot be synced [{error.reference}]. Pin "
                "api_version to the version that worked, or deselect the stream."))
        with self._fields_lock:
            first = name not in self._dropped_fields
            self._dropped_fields.add(name)
            self._fields_param = None
        if first:
            self.logger.warning(
                "Graph %s no longer reads field '%s' of stream %s [%s]; reading %s without it "
                "for the rest of the run: the column stays null; deselect it or pin "
                "api_version", version, name, self.name, error.reference, self.name)
            self._tap.summary.dropped_field(self.name, column)

    def _shrink_page(self, error: GraphError, where: str, sent_limit: int) -> None:
        """Half the page size that failed. Concurrent requests sent at the same size fail
        together: they must halve it once, not once each."""
        with self._limit_lock:
            if sent_limit <= 1:
                raise GraphFatalError(error, f"{where} (even limit=1 is too much data; "
                                             "deselect heavy fields of this stream)")
            if self._limit <= sent_limit // 2:
                return  # another request already shrank it below the size that failed
            self._limit = limit = max(1, sent_limit // 2)
        self._tap.summary.add(self.name, shrinks=1)
        self.logger.warning("Graph asked for less data on %s: page size now %d for the rest "
                            "of the run", where, limit)

    def validate_response(self, response: requests.Response) -> None:
        """Errors are classified in `_request`, where the partition is known."""

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        payload = graph_payload(response)
        if not self.paged:
            return [payload]
        data = payload.get("data")
        return data if isinstance(data, list) else []

    # -- partitions and records -----------------------------------------------------------
    @property
    def partitions(self) -> list[dict[str, Any]] | None:
        if self.partition_kind is None:
            return None
        if self._partition_list is None:
            self._partition_list = self._tap.directory.partitions(self.partition_kind)
        return self._partition_list

    def _finish(self, record: dict[str, Any], columns: dict[str, Any]) -> dict[str, Any]:
        for schema_name, graph_name in self.graph_names.items():
            if graph_name in record:
                record[schema_name] = record.pop(graph_name)
        for name in self.context_columns:
            record[name] = columns.get(name)
        for name in self._timestamp_properties:
            value = record.get(name)
            if value is not None:
                record[name] = to_rfc3339(value)
        return record

    def _process_record(self, record: dict[str, Any], child_context: Context | None = None,
                        partition_context: Context | None = None) -> None:
        # No stream has child streams (partitions come from the Directory), so all the SDK
        # does here is add the state partition's keys to the record, and those are context
        # columns, which `_finish` put in every record already.
        if not self._partition_keys_are_columns:
            for key, value in (partition_context or {}).items():
                record.setdefault(key, value)

    @cached_property
    def _partition_keys_are_columns(self) -> bool:
        return set(self.state_partitioning_keys or ()) <= set(self.context_columns)

    # -- RECORD messages ------------------------------------------------------------------
    @cached_property
    def _plain_record_alias(self) -> str | None:
        """The stream name to emit under when records leave exactly as fetched, apart from
        deselected top-level properties; None when a stream map, flattening or a deselected
        nested property needs the SDK's per-record machinery."""
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            return None
        if maps[0].flattening_enabled:
            return None
        if any(len(crumb) > 2 and not selected for crumb, selected in self.mask.items()):
            return None
        return maps[0].stream_alias

    @cached_property
    def _deselected_properties(self) -> tuple[str, ...]:
        return tuple(name for name in self.schema["properties"]
                     if not self.mask.get(("properties", name), True))

    def _write_record_message(self, record: dict[str, Any]) -> None:
        # The SDK's path (a selection walk, a conformance pass, a map, a message object and
        # its dict per record) cost more CPU than fetching the record. Without maps, the
        # message is the record with the selection applied: written in the same encoding.
        alias = self._plain_record_alias
        if alias is None:
            super()._write_record_message(record)
            return
        for name in self._deselected_properties:
            record.pop(name, None)
        message: dict[str, Any] = {"type": "RECORD", "stream": alias, "record": record}
        if self._stream_version is not None:
            message["version"] = self._stream_version
        message["time_extracted"] = datetime.now(UTC)
        write_record_line(serialize_jsonl(message))
        self.state_manager.is_flushed = False

    @cached_property
    def _timestamp_properties(self) -> tuple[str, ...]:
        return tuple(
            name for name, prop in self.schema["properties"].items()
            if prop.get("format") == "date-time"
        )

    def request_contexts(self, context: Context | None) -> list[dict[str, Any]]:
        """What one partition reads: the partition with each edge variant's path and columns."""
        base = dict(context or {})
        return [{**base, **variant.columns, "edge_path": variant.path}
                for variant in self.variants or (EdgeVariant(self.path),)]

    def fetch(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """All records of one partition, finished; an edge the token cannot read is skipped."""
        for request_context in self.request_contexts(context):
            try:
                for record in self.request_records(request_context):
                    yield self._finish(record, request_context)
            except AssetSkipped as skipped:
                self.logger.warning("Skipping %s", skipped)
                self._tap.summary.skipped(self.name, f"{self.where(request_context)}: "
                                                     f"{skipped.error.reference} "
                                                     f"{skipped.error.message}")

    def source_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Where a partition's records come from: prefetched concurrently, or fetched now."""
        partitions = self.partitions or []
        if self.partition_kind and not context:
            return iter(())  # a partitioned stream with no partitions (a business with no pages)
        workers = int(self.config["max_workers"])
        if context is not None and self._batcher is None and len(partitions) > 1:
            self.prepare_partitions(partitions)
            self._batcher = FirstPageBatcher(
                [request_context for partition in partitions
                 for request_context in self.request_contexts(partition)],
                prepare=lambda c: self._prepare_alone(c, GraphCursorPaginator()),
                send=self._send_batch,
                # A Page token never travels in a batch (it would sit in the batch's body).
                may_batch=lambda c: not self._needs_page_token(c)
                and self._tap.governor.clear(self.meter_key(c)),
                # One worker means one call at a time: a batch's calls run concurrently at Meta.
                size=MAX_BATCH if workers > 1 else 1,
            )
        if context is None or workers <= 1 or len(partitions) <= 1:
            return self.fetch(context)
        if self._prefetcher is None or context not in self._prefetcher:
            self._prefetcher = PartitionPrefetcher(self.fetch, partitions, workers,
                                                   page_records=self._limit if self.paged else 1)
        return self._prefetcher.records(dict(context))

    def prepare_partitions(self, partitions: list[dict[str, Any]]) -> None:
        """Main-thread work every partition needs before any of its requests is prepared
        (by a worker, or ahead of time for a batch)."""

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        # Partitions before this one are finalized by now: make their state durable, so a run
        # that dies later resumes from here. Not after every partition: the SDK deep-copies
        # the whole state per STATE message, which would cost more than the sync itself.
        now = time.monotonic()
        if now - self._state_written_at >= STATE_INTERVAL_SECONDS:
            self._write_state_message()
            self._state_written_at = now
        count = 0
        try:
            for record in self.source_records(context):
                count += 1
                yield record
        except BaseException:
            if self._prefetcher is not None:
                self._prefetcher.cancel()
            self._request_counter.exit()
            self._write_state_message()
            raise
        finally:
            self._tap.summary.add(self.name, records=count)
        if context == (self.partitions or [None])[-1]:
            # The stream is done: let its buffers, index and batched pages go.
            self._prefetcher = self._batcher = None
            self._request_counter.exit()


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__

