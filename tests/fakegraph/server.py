"""The fake Graph API: stdlib HTTP on 127.0.0.1 serving a `Dataset` the way Graph does.

Realism the tap has to cope with: the same edges and field names (what Graph reads on each
node and edge, from `tests/graph_sdk.py`: a write-only, unknown or dropped field answers the
error 100 Graph sends), Page edges that want a Page token, opaque cursors and absolute
`paging.next` URLs that echo an access token, short or empty pages while `next` exists, a
`limit` cap per edge, `filtering` on update times and effective status, archived and deleted
objects hidden by default, Graph timestamps and unix integers, Bearer auth (else 190),
`appsecret_proof`, usage headers from a call budget, and injected faults.

Control endpoints (no auth) under `/__fake/`: `log`, `truth`, `touch`, `clear_log`, and changes of
access at the source: `revoke?asset=&user=`, `set_tasks?asset=&user=&tasks=A,B`,
`remove_user?user=` (also from the command line: `python -m tests.fakegraph.control`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakegraph.data import (
    ACCOUNT_ASSET_EDGES,
    BUSINESS_LIST_EDGES,
    CATALOG_TASKS,
    PAGE_BASE,
    PARTNER_BASE,
    PIXEL_TASKS,
    Dataset,
    _hash,
    status_of,
)
from tests.fakegraph.insights import (
    REPORT_BASE,
    Insights,
    InsightsFaults,
    InsightsRefusal,
    account_today,
)
from tests.fakegraph.partners import partner_of_token, partner_token
from tests.graph_sdk import CONTAINED_ASSET, readable_fields

DEFAULT_TOKEN = "fake-system-user-token"
VERSION = "v26.0"
#: The versions Graph serves (facts sheet 3, Versions): v27.0 is the newest; v25.0 expires on
#: 2027-02-23; v24.0 and older have expired, and Graph answers them with (#2635).
SERVED_VERSIONS = {"v25.0": "2027-02-23", "v26.0": None, "v27.0": None}
LATEST_VERSION = "v27.0"
#: A version about to expire: Graph "may auto-upgrade and add the header
#: X-Ad-Api-Version-Warning" (its text is not documented; this is the fake's).
VERSION_WARNING = "X-Ad-Api-Version-Warning"


def version_refusal(version: str) -> GraphErrorResponse | None:
    """Graph's answer to a call for a version it no longer serves, else None."""
    if version in SERVED_VERSIONS:
        return None
    return GraphErrorResponse(400, 2635, "(#2635) You are calling a deprecated version of the "
                                         "Ads API. Please update to the latest version: "
                                         f"{LATEST_VERSION}.")
DEFAULT_CAP = 500
PAGE_CACHE_ENTRIES = 4000  # pages kept encoded: all of a medium sync, a fraction of a large one
CAPS = {"assigned_users": 100, "customaudiences": 200}


#: The system user the fake's token belongs to (robot-0 of the first business).
ROBOT = "600000000000"
#: What tells one activity-log entry from another (AdActivity has no id), after the account
#: and the time.
ACTIVITY_FIELDS = ("event_type", "object_id", "actor_id", "extra_data")
CHILD_EDGES = {"campaigns": ("campaigns", "Campaign", "campaign"),
               "adsets": ("adsets", "AdSet", "adset"), "ads": ("ads", "Ad", "ad"),
               "customaudiences": ("custom_audiences", "CustomAudience", None),
               "saved_audiences": ("saved_audiences", "SavedAudience", None)}
STATUS_FILTERED = {"campaigns", "adsets", "ads"}


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a tap killed on purpose) is no server error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Encoded(bytes):
    """A JSON body already encoded, with the number of items its page holds."""

    items: int = 0


class GraphErrorResponse(Exception):
    def __init__(self, status: int, code: int, message: str, subcode: int | None = None,
                 headers: dict[str, str] | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.subcode, self.headers = status, code, subcode, headers or {}
        self.transient = transient

    def body(self) -> dict[str, Any]:
        trace = "Fake" + hashlib.sha256(str(self).encode()).hexdigest()[:8]
        error: dict[str, Any] = {"message": str(self), "type": "OAuthException",
                                 "code": self.code, "is_transient": self.transient,
                                 "fbtrace_id": trace}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


@dataclass
class Faults:
    """What goes wrong, and when. Times are seconds (the real API speaks in minutes)."""

    transient_rate: float = 0.0
    throttle_object: str | None = None  # an object key: account id without act_, page id ...
    throttle_at_call: int = 3  # the n-th request to that object starts the block
    throttle_seconds: float = 3.0
    reduce_data_edge: str | None = None  # e.g. "campaigns": limits above the cap fail
    reduce_data_max_limit: int = 100
    denied: set[tuple[str, str]] = field(default_factory=set)  # (node id, edge)
    malformed_at_request: int | None = None
    #: Answer 100 to `filtering` on audience time_updated (undocumented): True with Graph's
    #: "not supported" words; a string, with those words (e.g. "nonexisting field (x)").
    reject_audience_filter: bool | str = False
    expire_token_after: int | None = None
    #: (node type, field): Graph stops reading it, as a new API version does, once this many
    #: calls for that node type were answered (0: from the start), whatever else was asked.
    drop_field: tuple[str, str] | None = None
    drop_field_after: int = 0
    #: `/{page_id}/assigned_users` refuses the system-user token and wants the Page's token.
    page_token_required: bool = False
    #: `/{page_id}/assigned_users` refuses the system-user token with this error (code,
    #: subcode, message), as Graph may where it wants the Page's token; the Page's works.
    page_refusal: tuple[int, int | None, str] | None = None
    #: (node type, field): asking for it fails the whole request with a permission error, as
    #: Meta's Page reference says fields needing a permission the app lacks do (since v12).
    field_needs_permission: set[tuple[str, str]] = field(default_factory=set)
    #: Pages on which the system user holds no task: they do not hand out their Page token.
    pages_without_task: set[str] = field(default_factory=set)
    #: Ad accounts the system user holds no task on: listed by the business, unreadable.
    unassigned_accounts: set[str] = field(default_factory=set)
    #: What `debug_token` says of the token (graph-api-facts-2.md §2g).
    token_type: str = "SYSTEM_USER"
    token_expires_at: int = 0  # unix seconds; 0 = never
    #: debug_token refuses a token that is neither an app token nor an app developer's, as
    #: Meta documents it may (nothing documents a system user's own token as accepted).
    debug_token_wants_app_token: bool = False
    #: Report jobs (tests/fakegraph/insights.py).
    insights: InsightsFaults = field(default_factory=InsightsFaults)
    #: Meta's ad-account score (graph-api-facts-3.md, section 3): (points, window seconds).
    #: A read costs 1 point and a write 3 over a sliding window; a call past the points is
    #: refused with 17/2446079 and blocks the account for `account_score_block` seconds (the
    #: Limited tier: 60 points per 300 s, blocked 300 s; Full: 9,000, blocked 60 s). None:
    #: no score (the account's usage is a share of `object_budget`).
    account_score: tuple[int, float] | None = None
    account_score_block: float = 300.0
    #: Partner business id -> calls its token is answered before Graph refuses it (190/460,
    #: as when the partner revokes the token or its system user loses the assets); 0: at once.
    partner_token_refused_after: dict[str, int] = field(default_factory=dict)
    scopes: tuple[str, ...] = ("business_management", "ads_read", "ads_management",
                               "pages_show_list", "pages_read_engagement",
                               "pages_manage_metadata", "pages_manage_ads", "leads_retrieval",
                               "catalog_management")


@dataclass(frozen=True)
class Caller:
    """Whose token a request carries: the system user's (both None), a Page's, a partner's."""

    page: str | None = None
    partner: str | None = None


@dataclass
class Route:
    node: str  # the node type returned
    object_key: str
    count: int
    get: Callable[[int], dict[str, Any]]
    edge: str
    single: bool = False
    filter_prefix: str | None = None
    owner: str | None = None  # the node type the edge hangs off (None: a node read by id)
    page: str | None = None  # the Page an object belongs to: its Page token may read it
    #: The record's time field and the parameter that bounds it: ("event_time", "since")
    #: for `since=<unix>`, ("created_time", "time_created") for `filtering` on that field.
    time_filter: tuple[str, str] | None = None
    #: Rows whose fields were chosen when the report was asked for (report results).
    raw: bool = False
    #: Extra response headers (x-fb-ads-insights-throttle).
    headers: dict[str, str] = field(default_factory=dict)
    #: What identifies its pages in the page cache, when not the path (a report's rows are
    #: the same whichever job asked for them).
    cache_key: str | None = None


class FakeGraph:
    """The server and its state; `start()` serves it on a thread, `url` says where."""

    def __init__(self, scale: str = "small", *, seed: int = 1, latency_ms: float = 0.0,
                 token: str = DEFAULT_TOKEN, app_secret: str | None = None,
                 faults: Faults | None = None, app_budget: int = 10_000_000,
                 object_budget: int = 1_000_000) -> None:
        self.data = Dataset(scale, seed)
        self.latency = latency_ms / 1000
        self.token = token
        self.app_secret = app_secret
        self.faults = faults or Faults()
        self.insights = Insights(self.data, _hash, self.faults.insights)
        self.app_budget, self.object_budget = app_budget, object_budget
        self.log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._calls_per_object: dict[str, int] = {}
        self._node_calls: dict[str, int] = {}  # calls per node type (Faults.drop_field)
        self._partner_calls: dict[str, int] = {}  # calls per partner token
        self._blocked_until: dict[str, float] = {}
        #: Per ad account: (when, points) of the calls in the score's window, and until when
        #: the score blocks it (Faults.account_score).
        self._scores: dict[str, deque[tuple[float, int]]] = {}
        self._score_blocked: dict[str, float] = {}
        self._rng = random.Random(seed)
        self._pages: dict[tuple, Encoded] = {}
        self.round_trips = 0  # HTTP requests received; a batch is one, its calls are many
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeGraph:
        graph = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm and
                # the client's delayed ACK add 40 ms to every response.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                graph.handle(self)

            def do_POST(self) -> None:
                if re.fullmatch(r"/v\d+\.\d+", urlsplit(self.path).path.rstrip("/")):
                    graph.handle_batch(self)
                else:
                    graph.handle_post(self)

            def log_message(self, *args: Any) -> None:
                return

        self._server = QuietServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- HTTP -------------------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path.startswith("/__fake/"):
            self._send(request, 200, self.control(parts.path.removeprefix("/__fake/"), params))
            return
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.round_trips += 1
        self._send(request, *self._call(request, parts.path, params))

    def _call(self, request: BaseHTTPRequestHandler, path: str, params: dict[str, str],
              batch_token: str | None = None, **tags: Any) -> tuple[int, Any, dict[str, str]]:
        """One Graph call, alone or inside a batch: answered and logged."""
        status, body, headers = 200, None, {}
        entry = {"path": path, "params": params, "t": time.monotonic(),
                 "agent": request.headers.get("User-Agent", ""), **tags}
        version = path.strip("/").split("/")[0]
        try:
            refused = version_refusal(version)
            if refused is not None:
                raise refused
            if tags.get("method") == "POST":
                body, headers = self._start_report(request, path, params, entry)
            else:
                body, headers = self.answer(request, path, params, entry, batch_token)
            if SERVED_VERSIONS[version]:
                headers = {**headers, VERSION_WARNING: (
                    f"Graph API {version} will be deprecated on {SERVED_VERSIONS[version]}; "
                    f"upgrade to {LATEST_VERSION}.")}
        except GraphErrorResponse as error:
            status, body, headers = error.status, error.body(), error.headers
            entry["code"] = error.code
        entry["status"] = status
        with self._lock:
            entry["n"] = len(self.log) + 1
            self.log.append(entry)
        return status, body, headers

    def handle_batch(self, request: BaseHTTPRequestHandler) -> None:
        """`POST /{version}/` with `batch=[{"method","relative_url"}]`: each sub-request is a
        call of its own (logged, metered, faulted), answered as `{"code","headers","body"}`."""
        form = self._arrived_form(request)
        try:
            calls = self._batch_calls(urlsplit(request.path).path, form)
        except GraphErrorResponse as error:
            self._send(request, error.status, error.body(), error.headers)
            return
        answers = []
        version = urlsplit(request.path).path.strip("/")
        for call in calls:
            parts = urlsplit(f"/{version}/{call['relative_url']}")
            params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            if "appsecret_proof" in form:
                params["appsecret_proof"] = form["appsecret_proof"]
            # Sub-requests use their own token or the batch's `access_token` parameter
            # (Meta's batch reference), not the batch call's Authorization header.
            status, body, headers = self._call(request, parts.path, params,
                                               batch_token=form.get("access_token", ""),
                                               batch=True)
            answers.append({
                "code": status,
                "headers": [{"name": k, "value": v}
                            for k, v in {"facebook-api-version": version, **headers}.items()],
                "body": body.decode() if isinstance(body, bytes) else json.dumps(body),
            })
        self._send(request, 200, answers)

    def handle_post(self, request: BaseHTTPRequestHandler) -> None:
        """`POST /act_{id}/insights` (parameters in the body, as the SDK sends them): a report
        job; any other POST is refused, as the tap must not write."""
        parts = urlsplit(request.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        params.update(self._arrived_form(request))
        self._send(request, *self._call(request, parts.path, params, method="POST"))

    def _arrived_form(self, request: BaseHTTPRequestHandler) -> dict[str, str]:
        """A POST's form body, read after the network's latency, counted as a round trip."""
        length = int(request.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(request.rfile.read(length).decode(),
                                              keep_blank_values=True).items()}
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.round_trips += 1
        return form

    def _start_report(self, request: BaseHTTPRequestHandler, path: str,
                      params: dict[str, str], entry: dict[str, Any]
                      ) -> tuple[Any, dict[str, str]]:
        with self._lock:
            number = len(self.log) + 1
        caller = self._authenticate(request, params, number)
        entry["page_token"] = caller.page is not None
        if caller.partner is not None:
            raise GraphErrorResponse(403, 200, "(#200) Permissions error")
        segments = path.strip("/").split("/")
        if len(segments) != 3 or segments[0] not in SERVED_VERSIONS or \
                segments[2] != "insights" or \
                not segments[1].startswith("act_"):
            raise GraphErrorResponse(400, 100, f"(#100) Unsupported post request to {path}")
        account_id = segments[1].removeprefix("act_")
        a = self.data.account_index(account_id)
        if a is None:
            raise GraphErrorResponse(400, 100, f"(#100) Unsupported post request. Object with "
                                               f"ID '{segments[1]}' does not exist", subcode=33)
        entry["object"] = account_id
        headers = self._meter(account_id, entry)
        if account_id in self.faults.unassigned_accounts:
            raise GraphErrorResponse(403, 200, "(#200) The user does not have permission to "
                                               f"access ad account {account_id}",
                                     headers=headers)
        try:
            job = self.insights.start(a, account_id, self.insights.parse(
                a, params, self._insights_readable()))
        except InsightsRefusal as refusal:
            raise refused(refusal, {**headers, **self.insights.throttle_header(account_id),
                                    **self.insights.reach_header(account_id)}) from None
        entry["report_run_id"] = job.run_id
        return {"report_run_id": job.run_id}, {**headers,
                                              **self.insights.throttle_header(account_id),
                                              **self.insights.reach_header(account_id)}

    @staticmethod
    def _batch_calls(path: str, form: dict[str, str]) -> list[dict[str, str]]:
        refused = version_refusal(path.strip("/"))
        if refused is not None:
            raise refused
        try:
            calls = json.loads(form.get("batch", ""))
        except ValueError:
            raise GraphErrorResponse(400, 100, "The parameter batch is required") from None
        if not isinstance(calls, list) or not all(
                isinstance(c, dict) and c.get("method") == "GET"
                and isinstance(c.get("relative_url"), str) for c in calls):
            raise GraphErrorResponse(400, 100, "Each batch entry needs method GET and a "
                                               "relative_url")
        if len(calls) > 50:
            raise GraphErrorResponse(400, 100, "Too many requests in batch message. Maximum "
                                               "batch size is 50")
        return calls

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: Any,
              headers: dict[str, str] | None = None) -> None:
        if isinstance(body, Encoded):
            raw, content_type = bytes(body), "application/json"
        elif isinstance(body, bytes):
            raw, content_type = body, "text/plain"
        else:
            raw, content_type = json.dumps(body).encode(), "application/json"
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(raw)))
        request.send_header("facebook-api-version", VERSION)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(raw)

    # -- one Graph request --------------------------------------------------------------------
    def answer(self, request: BaseHTTPRequestHandler, path: str, params: dict[str, str],
               entry: dict[str, Any], batch_token: str | None = None
               ) -> tuple[Any, dict[str, str]]:
        with self._lock:
            number = len(self.log) + 1
        caller = self._authenticate(request, params, number, batch_token, entry)
        segments = path.strip("/").split("/")
        refused = version_refusal(segments[0] if segments else "")
        if refused is not None:
            raise refused
        entry["page_token"] = caller.page is not None
        entry["partner"] = caller.partner
        if caller.partner is not None:
            route = self.partner_route(caller.partner, segments[1:], params)
        else:
            route = self.route(segments[1:], params)
        self._authorize(route, caller.page)
        entry["object"] = route.object_key
        headers = {**self._meter(route.object_key, entry), **route.headers}
        faults = self.faults
        if (route.object_key, route.edge) in faults.denied:
            raise GraphErrorResponse(403, 200, "(#200) The user does not have permission to "
                                               f"access {route.edge} of {route.object_key}",
                                     headers=headers)
        if faults.malformed_at_request == number:
            return b"Service Unavailable", headers
        if faults.transient_rate and self._rng.random() < faults.transient_rate:
            raise GraphErrorResponse(500, 2, "An unexpected error has occurred. Please retry "
                                             "your request later.", headers=headers,
                                     transient=True)
        fields = [] if route.raw else self._fields(route, params)
        if route.node == "DebugToken":
            return route.get(0), headers
        if route.single:
            return self._project(route.get(0), fields), headers
        limit = min(int(params.get("limit", 25)), CAPS.get(route.edge, DEFAULT_CAP))
        if (faults.reduce_data_edge == route.edge
                and int(params.get("limit", 25)) > faults.reduce_data_max_limit):
            raise GraphErrorResponse(500, 1, "Please reduce the amount of data you're asking "
                                             "for, then retry your request", subcode=99,
                                     headers=headers)
        # Identical requests get identical pages until something is touched: benchmarks warm
        # the server once and then measure the tap, not the generator.
        # (and per partner: what a partner's token reads is not what ours reads)
        key = (route.cache_key or path, tuple(sorted(params.items())), entry.get("partner"))
        cached = self._pages.get(key)
        if cached is None:
            page_body = self._page(route, params, fields, limit, path)
            cached = Encoded(json.dumps(page_body).encode())
            cached.items = len(page_body["data"])
            with self._lock:  # bounded: the large scale must stay cheap in memory
                if len(self._pages) < PAGE_CACHE_ENTRIES:
                    self._pages[key] = cached
        entry["items"] = cached.items
        return cached, headers

    def _authenticate(self, request: BaseHTTPRequestHandler, params: dict[str, str],
                      number: int, batch_token: str | None = None,
                      entry: dict[str, Any] | None = None) -> Caller:
        """Checks the token (and its proof); says whose it is."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else \
            params.get("access_token")
        if batch_token is not None:  # a batch sub-request: its own token or the batch's
            token = params.get("access_token") or batch_token
            if not token:
                raise GraphErrorResponse(400, 104, "An access token is required to request "
                                                   "this resource.")
        if not token:
            raise GraphErrorResponse(400, 190, "An active access token must be used to query "
                                               "information about the current user.")
        page_id = self.data.page_of_token(token)
        partner = partner_of_token(token, self.data.seed)
        if partner is not None and self.data.partner_index(partner) is None:
            partner = None
        if token != self.token and page_id is None and partner is None:
            raise GraphErrorResponse(400, 190, "Invalid OAuth access token - Cannot parse "
                                               "access token", subcode=467)
        if partner is not None:
            if entry is not None:
                entry["partner"] = partner
            self._refuse_partner_token_if_revoked(partner)
        expire = self.faults.expire_token_after
        if expire is not None and number > expire:
            raise GraphErrorResponse(400, 190, "Error validating access token: Session has "
                                               "expired on Tuesday, 24-Nov-26 10:00:00 PST.",
                                     subcode=463)
        if self.app_secret:
            proof = params.get("appsecret_proof")
            if not proof:
                raise GraphErrorResponse(400, 100, "API calls from the server require an "
                                                   "appsecret_proof argument")
            expected = hmac.new(self.app_secret.encode(), token.encode(),
                                hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof, expected):
                raise GraphErrorResponse(400, 100, "Invalid appsecret_proof provided in the "
                                                   "API argument")
        return Caller(page_id, partner)

    def _refuse_partner_token_if_revoked(self, partner: str) -> None:
        allowed = self.faults.partner_token_refused_after.get(partner)
        with self._lock:
            used = self._partner_calls[partner] = self._partner_calls.get(partner, 0) + 1
        if allowed is not None and used > allowed:
            raise GraphErrorResponse(400, 190, "Error validating access token: The session "
                                               "has been invalidated because the user changed "
                                               "their password or Facebook has changed the "
                                               "session for security reasons.", subcode=460)

    # -- a partner's token (tests/fakegraph/partners.py) ---------------------------------------
    def partner_token(self, partner_id: str) -> str:
        return partner_token(partner_id, self.data.seed)

    def partner_route(self, partner: str, segments: list[str], params: dict[str, str]) -> Route:
        """What a partner's system-user token reads: itself, its business, its business's
        people, and its people on the assets of ours shared with it; nothing else of ours."""
        data = self.data
        node = segments[0] if segments else ""
        edge = segments[1] if len(segments) > 1 else ""
        robot = data.partner_robot(partner)
        if node == "me" and edge == "":
            return Route("User", partner, 1, lambda _: {"id": robot["id"],
                                                        "name": robot["name"]}, edge,
                         single=True)
        if node == "me" and edge == "businesses":
            return Route("Business", partner, 1, lambda _: data.partner_node(partner), edge,
                         owner="User")
        if node == partner and edge == "business_users":
            people = data.partner_people(partner)
            return Route("BusinessUser", partner, len(people), people.__getitem__, edge,
                         owner="Business")
        if node == partner and edge == "system_users":
            return Route("SystemUser", partner, 1, lambda _: robot, edge, owner="Business")
        if edge == "assigned_users" and node:
            if params.get("business") != partner:
                raise GraphErrorResponse(400, 100, "(#100) Param business must be a valid "
                                                   "business")
            users = data.partner_assigned(partner, node)
            if users is not None:
                owner = {"act": "AdAccount", "3": "Page", "91": "AdsPixel"}
                node_type = next((t for prefix, t in owner.items() if node.startswith(prefix)),
                                 "ProductCatalog")
                return Route("AssignedUser", node.removeprefix("act_"), len(users),
                             users.__getitem__, edge, owner=node_type)
        raise GraphErrorResponse(403, 200, "(#200) Permissions error")

    def _authorize(self, route: Route, page_of_token: str | None) -> None:
        """A Page token reads its own page's edges only; with `page_token_required`, a
        page's `assigned_users` reads with nothing else (Meta's reference asks for one)."""
        if page_of_token is not None and page_of_token not in (route.object_key, route.page):
            raise GraphErrorResponse(400, 190, "(#190) The Page access token was not issued "
                                               f"for object {route.object_key}")
        wants_page_token = route.node in ("LeadgenForm", "Lead") or (
            route.owner == "Page" and route.edge == "agencies") or (
            self.faults.page_token_required and route.owner == "Page"
            and route.edge == "assigned_users")
        if page_of_token is None and wants_page_token:
            raise GraphErrorResponse(400, 190, "(#190) This method must be called with a "
                                               "Page Access Token")
        refusal = self.faults.page_refusal
        if refusal and page_of_token is None and route.owner == "Page" and \
                route.edge == "assigned_users":
            code, subcode, message = refusal
            raise GraphErrorResponse(403 if code != 190 else 400, code, message, subcode)

    def _score(self, key: str, entry: dict[str, Any], now: float) -> dict[str, str]:
        """The ad-account score (Faults.account_score): its X-Ad-Account-Usage header, or
        Graph's refusal once the call would pass it."""
        points, window = self.faults.account_score or (0, 0.0)
        cost = 3 if entry.get("method") == "POST" else 1
        with self._lock:
            spent = self._scores.setdefault(key, deque())
            while spent and spent[0][0] <= now - window:
                spent.popleft()
            score = sum(c for _, c in spent)
            blocked = self._score_blocked.get(key, 0.0) > now
            if not blocked and score + cost > points:
                self._score_blocked[key] = now + self.faults.account_score_block
                blocked = True
            if not blocked:
                spent.append((now, cost))
                score += cost
            left = max(self._score_blocked.get(key, 0.0) - now, 0.0)
            reset = spent[-1][0] + window - now if spent else 0.0
        usage = {"acc_id_util_pct": round(min(100.0, 100 * score / points), 2),
                 "reset_time_duration": round(max(reset, left), 1),
                 "ads_api_access_tier": "development_access"}
        headers = {"X-Ad-Account-Usage": json.dumps(usage)}
        if blocked:
            entry["score_refused"] = True
            buc = {key: [{"type": "ads_management", "call_count": 100, "total_cputime": 0,
                          "total_time": 0, "estimated_time_to_regain_access":
                              round(left / 60, 4), "ads_api_access_tier":
                              "development_access"}]}
            raise GraphErrorResponse(400, 17, "(#17) User request limit reached", subcode=2446079,
                                     headers={**headers, "X-Business-Use-Case-Usage":
                                              json.dumps(buc)})
        return headers

    def _meter(self, key: str, entry: dict[str, Any]) -> dict[str, str]:
        now = time.monotonic()
        faults = self.faults
        score = self._score(key, entry, now) if faults.account_score is not None and \
            key.isdigit() and self.data.account_index(key) is not None else {}
        with self._lock:
            calls = self._calls_per_object[key] = self._calls_per_object.get(key, 0) + 1
            total = len(self.log) + 1
            blocked_until = self._blocked_until.get(key, 0.0)
            if blocked_until > now:
                entry["while_blocked"] = True
            elif key == faults.throttle_object and calls == faults.throttle_at_call:
                blocked_until = self._blocked_until[key] = now + faults.throttle_seconds
        app_pct = min(100, round(100 * total / self.app_budget, 2))
        object_pct = min(100, round(100 * calls / self.object_budget, 2))
        remaining_minutes = max(0.0, blocked_until - now) / 60
        usage_type = "pages" if key.startswith("3") else "ads_management"
        headers = {
            "X-App-Usage": json.dumps({"call_count": app_pct, "total_time": app_pct / 2,
                                       "total_cputime": app_pct / 2}),
            "X-Business-Use-Case-Usage": json.dumps({key: [{
                "type": usage_type, "call_count": 100 if remaining_minutes else object_pct,
                "total_cputime": object_pct, "total_time": object_pct,
                "estimated_time_to_regain_access": round(remaining_minutes, 4),
                "ads_api_access_tier": "standard_access"}]}),
        }
        if remaining_minutes:
            raise GraphErrorResponse(400, 80004, "There have been too many calls to this "
                                                 "ad-account. Wait a bit and try again.",
                                     subcode=2446079, headers=headers)
        return {**headers, **score}

    def _fields(self, route: Route, params: dict[str, str]) -> list[str]:
        # Graph tolerates a Python list's repr (`['id', 'name']`), which some taps send.
        # Without `fields`, a node answers its default fields (a report run: all of them).
        defaults = {"AdReportRun": ",".join(sorted(readable_fields("AdReportRun"))),
                    "AdAccount": "id,account_id"}.get(route.node, "id")
        requested = [f.strip(" []'\"") for f in params.get("fields", defaults).split(",")]
        requested = [f for f in requested if f]
        if route.node == "DebugToken":  # not a node of the SDK: it answers what it has
            return [f for f in requested]
        readable = readable_fields(route.node, route.owner, route.edge or None)
        dropped = self.faults.drop_field
        if dropped and dropped[0] == route.node:
            with self._lock:
                self._node_calls[route.node] = answered = self._node_calls.get(route.node, 0) + 1
            if answered > self.faults.drop_field_after:
                readable = readable - {dropped[1]}
        unknown = [f for f in requested if f not in readable]
        if any((route.node, f) in self.faults.field_needs_permission for f in requested):
            raise GraphErrorResponse(403, 10, "(#10) Application does not have permission "
                                              "for this action")
        if unknown:
            raise GraphErrorResponse(400, 100, f"(#100) Tried accessing nonexisting field "
                                               f"({unknown[0]}) on node type ({route.node})")
        return requested

    @staticmethod
    def _project(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        if not fields:  # report results: the fields were chosen with the report
            return record
        return {f: record[f] for f in fields if f in record}

    def _page(self, route: Route, params: dict[str, str], fields: list[str], limit: int,
              path: str) -> dict[str, Any]:
        offset = 0
        if params.get("after"):
            try:
                offset = json.loads(base64.urlsafe_b64decode(params["after"]))["o"]
            except (ValueError, KeyError):
                raise GraphErrorResponse(400, 100, "(#100) Invalid cursor") from None
        keep = self._filter(route, params) if not route.raw else (lambda _: True)
        window = range(offset, min(offset + limit, route.count))
        data = [self._project(r, fields) for r in map(route.get, window) if keep(r)]
        body: dict[str, Any] = {"data": data}
        end = window.stop
        if end < route.count:
            cursor = base64.urlsafe_b64encode(json.dumps({"o": end}).encode()).decode()
            before = base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()
            query = {k: v for k, v in params.items() if k != "after"}
            query.update({"access_token": self.token, "after": cursor})
            body["paging"] = {"cursors": {"before": before, "after": cursor},
                              "next": f"{self.url}{path}?"
                                      + urlencode(query)}
        return body

    def _filter(self, route: Route, params: dict[str, str]) -> Callable[[dict], bool]:
        statuses = {"ACTIVE", "PAUSED", "IN_PROCESS", "WITH_ISSUES"}
        if "effective_status" in params:
            statuses = set(json.loads(params["effective_status"])) - {"DELETED"}
        since: int | None = None
        time_field = "updated_time"
        if route.time_filter and route.time_filter[1] == "since" and "since" in params:
            time_field, since = route.time_filter[0], int(params["since"]) - 1  # inclusive
        for rule in json.loads(params.get("filtering", "[]")):
            name = rule.get("field", "")
            if route.time_filter and name == route.time_filter[1] and \
                    rule.get("operator") == "GREATER_THAN":
                since, time_field = int(rule["value"]), route.time_filter[0]
            elif route.filter_prefix and name == f"{route.filter_prefix}.updated_time" and \
                    rule.get("operator") == "GREATER_THAN":
                since = int(rule["value"])
            elif (route.node in ("CustomAudience", "SavedAudience") and name == "time_updated"
                  and rule.get("operator") == "GREATER_THAN"
                  and not self.faults.reject_audience_filter):
                since, time_field = int(rule["value"]), "time_updated"
            elif isinstance(self.faults.reject_audience_filter, str):
                raise GraphErrorResponse(400, 100, self.faults.reject_audience_filter)
            else:
                raise GraphErrorResponse(400, 100, f"(#100) Filtering field {name} with "
                                                   "operation is not supported")
        check_status = route.edge in STATUS_FILTERED

        def keep(record: dict[str, Any]) -> bool:
            if check_status and record["effective_status"] not in statuses:
                return False
            if since is not None:
                value = record[time_field]
                return (value if isinstance(value, int) else _unix(value)) > since
            return True

        return keep

    # -- routing -------------------------------------------------------------------------------
    def route(self, segments: list[str], params: dict[str, str]) -> Route:
        data = self.data
        node = segments[0] if segments else ""
        edge = segments[1] if len(segments) > 1 else ""
        missing = GraphErrorResponse(400, 100, f"(#100) Unsupported get request. Object with ID "
                                               f"'{node}' does not exist", subcode=33)
        if node == "me" and edge == "businesses":
            ids = data.business_ids()
            return Route("Business", "me", len(ids), lambda i: data.business(i), edge,
                         owner="User")
        if node == "me" and edge == "":
            return Route("User", "me", 1, lambda _: self.identity(), edge, single=True)
        if node == "me" and edge == "adaccounts":  # what peers find their account with
            count = data.scale.businesses * data.scale.accounts
            return Route("AdAccount", "me", count, data.ad_account, edge, owner="User")
        if node == "me" and edge == "permissions":  # Permission: {permission, status}
            granted = [{"permission": scope, "status": "granted"}
                       for scope in self.faults.scopes]
            return Route("Permission", "me", len(granted), granted.__getitem__, edge,
                         owner="User")
        if node == "debug_token" and edge == "":
            if self.faults.debug_token_wants_app_token:
                # Meta: "You must provide an app access token, or a user access token that is
                # an owner or developer of the app" (debug_token reference).
                raise GraphErrorResponse(400, 100, "(#100) You must provide an app access "
                                                   "token, or a user access token that is an "
                                                   "owner or developer of the app")
            return Route("DebugToken", "app", 1, lambda _: self.debug_token(params), edge,
                         single=True)
        if node == ROBOT and edge == "assigned_pages":
            pages = [{"id": data.page(p)["id"], "name": data.page(p)["name"]}
                     for b in range(data.scale.businesses) for rel in ("OWNED", "CLIENT")
                     for p in data.page_indexes(b, rel)
                     if data.page(p)["id"] not in self.faults.pages_without_task]
            return Route("Page", node, len(pages), pages.__getitem__, edge, owner="SystemUser")
        if node.startswith("act_"):
            a = data.account_index(node.removeprefix("act_"))
            if a is None:
                raise missing
            key = node.removeprefix("act_")
            if key in self.faults.unassigned_accounts and edge:
                raise GraphErrorResponse(403, 200, "(#200) The user does not have permission "
                                                   f"to access ad account {key}")
            if edge in CHILD_EDGES:
                kind, node_type, prefix = CHILD_EDGES[edge]
                return Route(node_type, key, data.child_count(kind),
                             lambda i: data.child(kind, a, i), edge, filter_prefix=prefix,
                             owner="AdAccount")
            if edge == "assigned_users":
                return self._assigned(params, a, key, "AdAccount",
                                      data.scale.assigned_per_account)
            if edge == "insights":
                return self._sync_insights(a, key, params)
            if edge == "":
                return Route("AdAccount", key, 1, lambda _: data.ad_account(a), edge,
                             single=True)
            return self._account_route(a, key, edge)
        if not node.isdigit():
            raise missing
        if int(node) >= REPORT_BASE and node in self.insights.jobs:
            return self._report_route(node, edge)
        if (b := data.business_index(node)) is not None:
            return self._business_route(b, node, edge)
        if (p := data.page_index(node)) is not None:
            if edge == "assigned_users":
                return self._assigned(params, p, node, "Page", data.scale.assigned_per_page)
            if edge == "":
                return Route("Page", node, 1, lambda _: self._page_node(p), edge, single=True)
            if edge == "leadgen_forms":
                forms = data.lead_forms(p)
                return Route("LeadgenForm", node, len(forms), forms.__getitem__, edge,
                             owner="Page", page=node)
            if edge == "agencies":  # Meta: a Page token of someone with MANAGE on the Page
                return self._agencies(node, "Page", edge, page=node)
        if (form := data.form_index(node)) is not None and edge == "leads":
            leads = data.leads(*form)
            return Route("Lead", node, len(leads), leads.__getitem__, edge, owner="LeadgenForm",
                         page=str(PAGE_BASE + form[0]), time_filter=("created_time",
                                                                      "time_created"))
        for kind, node_type, tasks, per in (
                ("pixels", "AdsPixel", PIXEL_TASKS, data.scale.assigned_per_pixel),
                ("catalogs", "ProductCatalog", CATALOG_TASKS, data.scale.assigned_per_catalog)):
            if (n := data.asset_index(kind, node)) is not None and edge == "assigned_users":
                client = n % data.asset_total(kind) >= getattr(data.scale, f"owned_{kind}")
                return self._asset_assigned(params, node, node_type, tasks, per, client)
            if n is not None and edge == ("shared_agencies" if kind == "pixels" else "agencies"):
                return self._agencies(node, node_type, edge)
        if (person := data.person(node)) is not None and \
                edge == "assigned_business_asset_groups":
            groups = data.group_assignments(node)
            return Route("BusinessAssetGroup", node, len(groups), groups.__getitem__, edge,
                         owner="SystemUser" if person[2] else "BusinessUser")
        if (g := data.group_index(node)) is not None and edge.startswith("contained_"):
            items = data.group_contents(g, edge)
            return Route(CONTAINED_ASSET, node, len(items), items.__getitem__, edge,
                         owner="BusinessAssetGroup")
        raise missing

    def _business_route(self, b: int, node: str, edge: str) -> Route:
        data = self.data
        if edge == "":
            return Route("Business", node, 1, lambda _: data.business(b), edge, single=True)
        relationship = "OWNED" if edge.startswith("owned_") else "CLIENT"
        if edge in ("owned_ad_accounts", "client_ad_accounts"):
            indexes = data.account_indexes(b, relationship)
            return Route("AdAccount", node, len(indexes),
                         lambda i: self._listed_account(indexes[i]), edge, owner="Business")
        if edge in ("owned_pages", "client_pages"):
            indexes = data.page_indexes(b, relationship)
            return Route("Page", node, len(indexes), lambda i: data.page(indexes[i]), edge,
                         owner="Business")
        people = data.business_users(b) if edge == "business_users" else []
        simple = {
            "business_users": ("BusinessUser", len(people), people.__getitem__),
            "system_users": ("SystemUser", data.scale.system_users,
                             lambda i: data.system_user(b, i)),
            "business_asset_groups": ("BusinessAssetGroup", data.scale.asset_groups,
                                      lambda i: data.asset_group(b * data.scale.asset_groups
                                                                 + i)),
        }
        if edge in simple:
            node_type, count, get = simple[edge]
            return Route(node_type, node, count, get, edge, owner="Business")
        if edge in BUSINESS_LIST_EDGES:
            node_type, method, _ = BUSINESS_LIST_EDGES[edge]
            items = getattr(data, method)(b)
            return Route(node_type, node, len(items), items.__getitem__, edge, owner="Business")
        if edge in ("agencies", "clients"):
            items = data.partners(b, "AGENCY" if edge == "agencies" else "CLIENT")
            return Route("Business", node, len(items), items.__getitem__, edge,
                         owner="Business")
        for kind, node_type, get in (("pixels", "AdsPixel", data.pixel),
                                     ("product_catalogs", "ProductCatalog", data.catalog),
                                     ("apps", "Application", data.app)):
            if edge in (f"owned_{kind}", f"client_{kind}"):
                indexes = data.asset_indexes(kind.removeprefix("product_"), b, relationship)
                return Route(node_type, node, len(indexes),
                             lambda i, get=get, indexes=indexes: get(indexes[i]), edge,
                             owner="Business")
        if edge == "owned_instagram_accounts":
            return Route("IGUser", node, data.scale.instagram_accounts,
                         lambda i: data.instagram_account(b, i), edge, owner="Business")
        if edge in ("owned_instagram_assets", "client_instagram_assets"):
            items = data.instagram_assets(b, relationship)
            return Route("InstagramBusinessAsset", node, len(items), items.__getitem__, edge,
                         owner="Business")
        raise GraphErrorResponse(400, 100, f"(#100) Unknown path components: /{edge}")

    def _assigned(self, params: dict[str, str], index: int, key: str, owner_type: str,
                  per_asset: int) -> Route:
        if "business" not in params:
            raise GraphErrorResponse(400, 100, "(#100) The parameter business is required")
        owner = self.data.business_index(params["business"])
        if owner is None:
            raise GraphErrorResponse(400, 100, "(#100) Param business must be a valid business")
        salt = "account" if owner_type == "AdAccount" else "page"
        items = self.data.assigned_users(owner, index, per_asset, salt)
        return Route("AssignedUser", key, len(items), items.__getitem__, "assigned_users",
                     owner=owner_type)

    def _insights_readable(self) -> frozenset[str]:
        """What insights read now: a metric Meta retired (Faults.drop_field on AdsInsights)
        is refused as Meta refuses one, "(#100) cpp is not valid for fields param"."""
        readable = readable_fields("AdsInsights", "AdAccount", "insights")
        dropped = self.faults.drop_field
        return readable - {dropped[1]} if dropped and dropped[0] == "AdsInsights" else readable

    def _sync_insights(self, a: int, key: str, params: dict[str, str]) -> Route:
        """`GET /act_{id}/insights`: the same rows, answered at once."""
        try:
            request = self.insights.parse(a, params, self._insights_readable())
        except InsightsRefusal as refusal:
            raise refused(refusal) from None
        rows = self.insights.rows(a, request)
        return Route("AdsInsights", key, len(rows), rows.__getitem__, "insights",
                     owner="AdAccount", raw=True)

    def _report_route(self, run_id: str, edge: str) -> Route:
        """`GET /{report_run_id}` (the job) and `GET /{report_run_id}/insights` (its rows)."""
        job = self.insights.jobs[run_id]
        headers = self.insights.throttle_header(job.account_id)
        try:
            if edge == "":
                node = self.insights.report_run(job)
                return Route("AdReportRun", job.account_id, 1, lambda _: node, edge,
                             single=True, headers=headers)
            if edge == "insights":
                rows = self.insights.results(job)
                return Route("AdsInsights", job.account_id, len(rows), rows.__getitem__,
                             edge, owner="AdReportRun", raw=True, headers=headers,
                             cache_key=self.insights.request_key(job))
        except InsightsRefusal as refusal:
            raise refused(refusal, headers) from None
        raise GraphErrorResponse(400, 100, f"(#100) Unknown path components: /{edge}")

    def _listed_account(self, a: int) -> dict[str, Any]:
        account = self.data.ad_account(a)
        if account["account_id"] in self.faults.unassigned_accounts:
            account["user_tasks"] = []  # the business lists it; its system user has no task
        return account

    def identity(self) -> dict[str, Any]:
        return {"id": ROBOT, "name": "robot-0"}

    def debug_token(self, params: dict[str, str]) -> dict[str, Any]:
        """`GET /debug_token?input_token=`: the token's own metadata (facts §2g)."""
        faults = self.faults
        if params.get("input_token") != self.token:
            return {"data": {"is_valid": False, "error": {"code": 190,
                                                          "message": "Invalid OAuth token"}}}
        return {"data": {"app_id": "1234567890", "type": faults.token_type,
                         "application": "Acme Data Sync", "is_valid": True,
                         "data_access_expires_at": faults.token_expires_at,
                         "expires_at": faults.token_expires_at, "issued_at": 1700000000,
                         "scopes": list(faults.scopes), "user_id": ROBOT,
                         "granular_scopes": [{"scope": s} for s in faults.scopes]}}

    def _account_route(self, a: int, key: str, edge: str) -> Route:
        """The ad account's other edges: assets, its activity log, its agencies."""
        data = self.data
        if edge in ACCOUNT_ASSET_EDGES:
            kind, node_type, _ = ACCOUNT_ASSET_EDGES[edge]
            return Route(node_type, key, data.child_count(kind),
                         lambda i: data.account_asset(kind, a, i), edge, owner="AdAccount")
        if edge == "activities":
            return Route("AdActivity", key, data.activity_count(),
                         lambda i: data.activity(a, i), edge, owner="AdAccount",
                         time_filter=("event_time", "since"))
        if edge == "agencies":
            agencies = data.agencies_of_account(a)
            return Route("Business", key, len(agencies), agencies.__getitem__, edge,
                         owner="AdAccount")
        if edge == "adspixels":  # the pixels of the business that owns the account
            b = a // data.scale.accounts
            owned = data.asset_indexes("pixels", b, "OWNED") \
                if a % data.scale.accounts < data.scale.owned_accounts else range(0)
            return Route("AdsPixel", key, len(owned), lambda i: data.pixel(owned[i]), edge,
                         owner="AdAccount")
        raise GraphErrorResponse(400, 100, f"(#100) Unknown path components: /{edge}")

    def _asset_assigned(self, params: dict[str, str], asset_id: str, owner_type: str,
                        tasks: list[str], per_asset: int, client: bool) -> Route:
        if "business" not in params:
            raise GraphErrorResponse(400, 100, "(#100) The parameter business is required")
        owner = self.data.business_index(params["business"])
        if owner is None:
            raise GraphErrorResponse(400, 100, "(#100) Param business must be a valid business")
        items = self.data.asset_assigned_users(owner, asset_id, per_asset, tasks, client)
        return Route("AssignedUser", asset_id, len(items), items.__getitem__, "assigned_users",
                     owner=owner_type)

    def _agencies(self, asset_id: str, owner_type: str, edge: str, page: str | None = None
                  ) -> Route:
        """Partner businesses an asset is shared with (Business nodes: no edge fields are
        documented on the Page, pixel and catalog edges)."""
        partners = [self.data.partner_node(g.partner_id)
                    for g in self.data.grants_of_asset(asset_id)]
        return Route("Business", asset_id, len(partners), partners.__getitem__, edge,
                     owner=owner_type, page=page)

    def _page_node(self, p: int) -> dict[str, Any]:
        page = self.data.page(p)
        if page["id"] in self.faults.pages_without_task:
            page.pop("access_token")  # Graph leaves out what the caller may not see
        return page

    # -- control ---------------------------------------------------------------------------------
    def control(self, command: str, params: dict[str, str]) -> Any:
        if command == "log":
            with self._lock:
                return list(self.log)
        if command == "clear_log":
            with self._lock:
                self.log.clear()
            return {"ok": True}
        if command == "touch":
            return self.touch(params["kind"], int(params["count"]))
        if command in ("revoke", "set_tasks", "remove_user", "unshare"):
            refused = self.change_access(command, params)
            return {"ok": True} if refused is None else {"error": refused}
        if command == "truth":
            return {k: sorted(map(list, v)) for k, v in self.truth(
                include_archived=params.get("include_archived") == "true",
                insights_since=params.get("insights_since")).items()}
        raise KeyError(command)

    def change_access(self, command: str, params: dict[str, str]) -> str | None:
        """A grant revoked, a grant's tasks changed, a person removed from the business, an
        asset no longer shared with a partner, as an admin does in Business Settings; cached
        pages are dropped. What Business Settings
        could not do (a grant or a person that is not there) changes nothing: the reason."""
        data = self.data
        held = {(asset.removeprefix("act_"), user) for _, _, asset, user in self.access_truth()}
        for b in range(len(data.business_ids())):  # partners' people, on our assets
            held |= {(grant.asset_id.removeprefix("act_"), user["id"]) for grant in data.grants(b)
                     for user in data.partner_assigned(grant.partner_id, grant.asset_id) or []}
        if command == "remove_user":
            if params["user"] not in {user for _, user in held}:
                return f"user {params['user']} holds no task on any asset now"
            data.removed_users.add(params["user"])
        elif command == "unshare":
            asset, partner = params["asset"], params["partner"]
            if partner not in {g.partner_id for g in data.grants_of_asset(asset)}:
                return f"{asset} is not shared with partner {partner} now"
            data.unshared.add((asset, partner))
        else:
            grant = (params["asset"].removeprefix("act_"), params["user"])
            if grant not in held:
                return f"user {params['user']} holds no task on {params['asset']} now"
            if command == "revoke":
                data.revoked.add(grant)
            else:
                data.changed_tasks[grant] = [t for t in params["tasks"].split(",") if t]
        with self._lock:
            self._pages.clear()
        return None

    def touch(self, kind: str, count: int) -> list[str]:
        """Bump `count` objects of `kind` (see Dataset.touch); cached pages are dropped."""
        touched = self.data.touch(kind, count)
        with self._lock:
            self._pages.clear()
        return touched

    def truth(self, *, include_archived: bool = False, insights_since: str | None = None,
              partners: tuple[str, ...] = ()) -> dict[str, set[tuple[str, ...]]]:
        """The primary keys a complete sync of every business must emit, per stream
        (ads_insights: from `insights_since`, else the 28 days before the account's today,
        through its today; the partner streams: of the `partners` whose tokens it holds)."""
        data, scale = self.data, self.data.scale
        denied = self.faults.denied
        out: dict[str, set[tuple[str, ...]]] = {}

        def add(stream: str, *key: str) -> None:
            out.setdefault(stream, set()).add(tuple(key))

        visible = {"ACTIVE", "PAUSED"} | ({"ARCHIVED"} if include_archived else set())
        for b, bid in enumerate(data.business_ids()):
            add("businesses", bid)
            for relationship in ("OWNED", "CLIENT"):
                edge = f"{relationship.lower()}_ad_accounts"
                if (bid, edge) in denied:
                    continue
                for a in data.account_indexes(b, relationship):
                    account = str(data.ad_account(a)["account_id"])
                    add("ad_accounts", bid, f"act_{account}")
                    for graph_edge, (kind, _, _) in CHILD_EDGES.items():
                        if (account, graph_edge) in denied:
                            continue
                        for i in range(data.child_count(kind)):
                            if kind in ("campaigns", "adsets", "ads") and \
                                    status_of(i) not in visible:
                                continue
                            add(kind, data.child_id(kind, a, i))
                    if (account, "assigned_users") not in denied:
                        for user in data.assigned_users(b, a, scale.assigned_per_account,
                                                        "account"):
                            add("ad_account_assignments", bid, account, user["id"])
                    if (account, "insights") not in denied and \
                            account not in self.faults.unassigned_accounts:
                        self._insights_truth(add, a, insights_since)
                    self._account_truth(add, a, account, bid, denied)
            for relationship in ("OWNED", "CLIENT"):
                if (bid, f"{relationship.lower()}_pages") in denied:
                    continue
                for p in data.page_indexes(b, relationship):
                    page_id = data.page(p)["id"]
                    add("pages", bid, page_id)
                    if (page_id, "assigned_users") not in denied:
                        for user in data.assigned_users(b, p, scale.assigned_per_page, "page"):
                            add("page_assignments", bid, page_id, user["id"])
                    if (page_id, "leadgen_forms") in denied:
                        continue
                    for form in data.lead_forms(p):
                        add("lead_forms", form["id"])
                        if (form["id"], "leads") not in denied:
                            for lead in data.leads(p, int(form["id"][-2:])):
                                add("leads", lead["id"])
            self._business_assets_truth(add, b, bid, denied)
            for user in data.business_users(b):
                add("business_users", bid, user["id"])
                for group in data.group_assignments(user["id"]):
                    add("asset_group_assignments", bid, user["id"], group["id"])
            for s in range(scale.system_users):
                robot = data.system_user(b, s)["id"]
                add("system_users", bid, robot)
                for group in data.group_assignments(robot):
                    add("asset_group_assignments", bid, robot, group["id"])
            for edge, (_, method, stream) in BUSINESS_LIST_EDGES.items():
                if (bid, edge) not in denied:
                    for item in getattr(data, method)(b):
                        add(stream, bid, item["id"])
            for relationship in ("AGENCY", "CLIENT"):
                for partner in data.partners(b, relationship):
                    add("partners", bid, partner["id"])
            self._grants_truth(add, b, bid, partners)
            for n in range(scale.asset_groups):
                group = data.asset_group(b * scale.asset_groups + n)
                add("business_asset_groups", bid, group["id"])
                for edge, asset_type in (("contained_adaccounts", "AD_ACCOUNT"),
                                         ("contained_pages", "PAGE")):
                    for asset in data.group_contents(b * scale.asset_groups + n, edge):
                        add("business_asset_group_assets", group["id"], asset_type,
                            asset["id"])
        return out


    def _grants_truth(self, add: Callable[..., None], b: int, bid: str,
                      partners: tuple[str, ...]) -> None:
        """Our assets' grants to partners, and what the partners' tokens read of them."""
        data = self.data
        streams = {"PAGE": ("page_agencies", "page_id"), "PIXEL": ("pixel_agencies", ""),
                   "PRODUCT_CATALOG": ("catalog_agencies", "")}
        for grant in data.grants(b):
            if grant.asset_type in streams:
                add(streams[grant.asset_type][0], bid, grant.asset_id, grant.partner_id)
            if grant.partner_id in partners:
                for user in data.partner_assigned(grant.partner_id, grant.asset_id) or []:
                    add("partner_assignments", grant.partner_id, grant.asset_type,
                        grant.asset_id, user["id"])
        for partner in partners:
            if data.partner_index(partner) is not None and \
                    int(partner) - 100 * b - PARTNER_BASE in range(data.scale.agencies):
                for person in data.partner_people(partner):
                    add("partner_business_users", partner, person["id"])
                add("partner_system_users", partner, data.partner_robot(partner)["id"])

    def partner_access_truth(self, partners: tuple[str, ...]
                             ) -> dict[tuple[str, str, str, str], str]:
        """What the partners' people hold on our assets, as their tokens read it:
        (partner, asset type, asset id, user) -> tasks, sorted and comma-joined."""
        out: dict[tuple[str, str, str, str], str] = {}
        for b in range(self.data.scale.businesses):
            for grant in self.data.grants(b):
                if grant.partner_id in partners:
                    for user in self.data.partner_assigned(grant.partner_id,
                                                           grant.asset_id) or []:
                        out[grant.partner_id, grant.asset_type, grant.asset_id, user["id"]] = \
                            ",".join(sorted(user["tasks"]))
        return out

    def access_truth(self) -> dict[tuple[str, str, str, str], str]:
        """Every direct grant a complete sync reads: (business, asset type, asset id as the
        tap writes it, user) -> its tasks, sorted and comma-joined."""
        data, scale = self.data, self.data.scale
        grants: dict[tuple[str, str, str, str], str] = {}
        for b, bid in enumerate(data.business_ids()):
            for relationship in ("OWNED", "CLIENT"):
                for a in data.account_indexes(b, relationship):
                    account = data.ad_account(a)["id"]
                    for user in data.assigned_users(b, a, scale.assigned_per_account,
                                                    "account"):
                        grants[bid, "AD_ACCOUNT", account, user["id"]] = user["tasks"]
                for p in data.page_indexes(b, relationship):
                    for user in data.assigned_users(b, p, scale.assigned_per_page, "page"):
                        grants[bid, "PAGE", data.page(p)["id"], user["id"]] = user["tasks"]
                for kind, asset_type, get, tasks, per in (
                        ("pixels", "PIXEL", data.pixel, PIXEL_TASKS, scale.assigned_per_pixel),
                        ("catalogs", "PRODUCT_CATALOG", data.catalog, CATALOG_TASKS,
                         scale.assigned_per_catalog)):
                    for n in data.asset_indexes(kind, b, relationship):
                        asset_id = get(n)["id"]
                        for user in data.asset_assigned_users(b, asset_id, per, tasks,
                                                              relationship == "CLIENT"):
                            grants[bid, asset_type, asset_id, user["id"]] = user["tasks"]
        return {grant: ",".join(sorted(tasks)) for grant, tasks in grants.items()}

    def _insights_truth(self, add: Callable[..., None], a: int, since: str | None) -> None:
        today = account_today(self.data.ad_account(a)["timezone_name"])
        day = date.fromisoformat(since) if since else today - timedelta(days=28)
        while day <= today:
            for i in range(self.data.scale.ads):
                if self.insights.ad_day(a, i, day.isoformat()) is not None:
                    add("ads_insights", self.data.child_id("ads", a, i), day.isoformat())
            day += timedelta(days=1)

    def _account_truth(self, add: Callable[..., None], a: int, account: str, bid: str,
                       denied: set[tuple[str, str]]) -> None:
        data = self.data
        for edge, (kind, _, stream) in ACCOUNT_ASSET_EDGES.items():
            if (account, edge) not in denied:
                for i in range(data.child_count(kind)):
                    add(stream, data.account_asset(kind, a, i)["id"])
        if (account, "agencies") not in denied:
            for agency in data.agencies_of_account(a):
                add("ad_account_agencies", account, agency["id"])
        if (account, "adspixels") not in denied and \
                a % data.scale.accounts < data.scale.owned_accounts:
            for n in data.asset_indexes("pixels", a // data.scale.accounts, "OWNED"):
                add("ad_account_pixels", account, data.pixel(n)["id"])
        if (account, "activities") not in denied:  # no id: the entries themselves
            for i in range(data.activity_count()):
                entry = data.activity(a, i)
                add("ad_activities", account, entry["event_time"].replace("+0000", "+00:00"),
                    *(entry[k] for k in ACTIVITY_FIELDS))

    def _business_assets_truth(self, add: Callable[..., None], b: int, bid: str,
                               denied: set[tuple[str, str]]) -> None:
        data = self.data
        for kind, stream, get, assigned, tasks, per in (
                ("pixels", "pixels", data.pixel, "pixel_assignments", PIXEL_TASKS,
                 data.scale.assigned_per_pixel),
                ("catalogs", "product_catalogs", data.catalog, "catalog_assignments",
                 CATALOG_TASKS, data.scale.assigned_per_catalog),
                ("apps", "apps", data.app, None, [], 0)):
            for relationship in ("OWNED", "CLIENT"):  # the edges are owned_/client_<stream>
                if (bid, f"{relationship.lower()}_{stream}") in denied:
                    continue
                for n in data.asset_indexes(kind, b, relationship):
                    asset_id = get(n)["id"]
                    add(stream, bid, asset_id)
                    if assigned and (asset_id, "assigned_users") not in denied:
                        for user in data.asset_assigned_users(b, asset_id, per, tasks,
                                                              relationship == "CLIENT"):
                            add(assigned, bid, asset_id, user["id"])
        if (bid, "owned_instagram_accounts") not in denied:
            for n in range(data.scale.instagram_accounts):
                add("instagram_accounts", bid, data.instagram_account(b, n)["id"])
        for relationship in ("OWNED", "CLIENT"):
            if (bid, f"{relationship.lower()}_instagram_assets") not in denied:
                for asset in data.instagram_assets(b, relationship):
                    add("instagram_assets", bid, asset["id"])


def refused(refusal: InsightsRefusal, headers: dict[str, str] | None = None
            ) -> GraphErrorResponse:
    """An insights refusal as Graph answers it ("Loading Async Ads Report Failed" is
    `is_transient`)."""
    return GraphErrorResponse(refusal.status, refusal.code, str(refusal), refusal.subcode,
                              headers=headers, transient=refusal.subcode == 1815107)


def _unix(graph_time: str) -> int:
    return int(datetime.strptime(graph_time, "%Y-%m-%dT%H:%M:%S%z").timestamp())
