"""The fake Graph API: stdlib HTTP on 127.0.0.1 serving a `Dataset` the way Graph does.

The core is here: HTTP (single calls, Batch API calls, report-job POSTs), the token and its
`appsecret_proof` (Bearer header, a batch's body; else 190), which token may read what (Page
edges that want a Page token, a partner's token), rate limits (metering.py), what a read
answers (reading.py: only readable fields, opaque cursors, `paging.next` URLs that echo the
token, filters), a page cache, the call log, injected faults (faults.py) and the control
endpoints. Each family of edges answers its own paths from the facts and says what a complete
sync of it emits (families/: people and access, assets, ads, insights, leads).

Control endpoints (no auth) under `/__fake/`: `log`, `truth`, `touch`, `clear_log`, and changes of
access at the source: `revoke?asset=&user=`, `set_tasks?asset=&user=&tasks=A,B`,
`remove_user?user=`, `unshare?asset=&partner=` (also from the command line: `python -m
tests.fakegraph.control`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakegraph.data import Dataset, _hash
from tests.fakegraph.families.ads import AdsEdges
from tests.fakegraph.families.assets import AssetEdges
from tests.fakegraph.families.insights import InsightsEdges
from tests.fakegraph.families.leads import LeadsEdges
from tests.fakegraph.families.people import PeopleEdges
from tests.fakegraph.faults import Faults
from tests.fakegraph.insights import Insights
from tests.fakegraph.metering import Meter
from tests.fakegraph.partners import partner_of_token, partner_token
from tests.fakegraph.reading import Reader, project
from tests.fakegraph.routes import (
    Family,
    GraphErrorResponse,
    Route,
    TruthScope,
    missing_object,
    unknown_path,
)

__all__ = ["CAPS", "DEFAULT_CAP", "DEFAULT_TOKEN", "FakeGraph", "Faults"]

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


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a tap killed on purpose) is no server error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Encoded(bytes):
    """A JSON body already encoded, with the number of items its page holds."""

    items: int = 0


@dataclass(frozen=True)
class Caller:
    """Whose token a request carries: the system user's (both None), a Page's, a partner's."""

    page: str | None = None
    partner: str | None = None


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
        self.faults = faults = faults or Faults()
        self.insights = Insights(self.data, _hash, faults.insights)
        self.meter = Meter(faults, app_budget=app_budget, object_budget=object_budget,
                           is_account=lambda key: self.data.account_index(key) is not None)
        self.reader = Reader(faults)
        self.people = PeopleEdges(self.data, faults)
        self.insight_edges = InsightsEdges(self.data, faults, self.insights)
        self.families: tuple[Family, ...] = (
            AssetEdges(self.data, faults, lambda: self.token), AdsEdges(self.data, faults),
            self.people, self.insight_edges, LeadsEdges(self.data, faults))
        self.log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._partner_calls: dict[str, int] = {}  # calls per partner token
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
        a, account_id = self.insight_edges.account_of_post(path)
        entry["object"] = account_id
        headers = self.meter.meter(account_id, entry)
        if account_id in self.faults.unassigned_accounts:
            raise GraphErrorResponse(403, 200, "(#200) The user does not have permission to "
                                               f"access ad account {account_id}",
                                     headers=headers)
        body, headers = self.insight_edges.start(a, account_id, params, headers)
        entry["report_run_id"] = body["report_run_id"]
        return body, headers

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
            route = self.people.partner_route(caller.partner, segments[1:], params)
        else:
            route = self.route(segments[1:], params)
        self._authorize(route, caller.page)
        entry["object"] = route.object_key
        headers = {**self.meter.meter(route.object_key, entry), **route.headers}
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
        fields = [] if route.raw else self.reader.fields(route, params)
        if route.node == "DebugToken":
            return route.get(0), headers
        if route.single:
            return project(route.get(0), fields), headers
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
            page_body = self.reader.page(route, params, fields, limit,
                                         f"{self.url}{path}", self.token)
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

    def partner_token(self, partner_id: str) -> str:
        return partner_token(partner_id, self.data.seed)

    # -- routing -------------------------------------------------------------------------------
    def route(self, segments: list[str], params: dict[str, str]) -> Route:
        """The family that serves `/{node}/{edge}`; Graph's error when none does."""
        data = self.data
        node = segments[0] if segments else ""
        edge = segments[1] if len(segments) > 1 else ""
        if node.startswith("act_"):
            key = node.removeprefix("act_")
            if data.account_index(key) is None:
                raise missing_object(node)
            if key in self.faults.unassigned_accounts and edge:
                raise GraphErrorResponse(403, 200, "(#200) The user does not have permission "
                                                   f"to access ad account {key}")
        elif node not in ("me", "debug_token") and not node.isdigit():
            raise missing_object(node)
        for family in self.families:
            found = family.route(node, edge, params)
            if found is not None:
                return found
        if node.startswith("act_") or data.business_index(node) is not None or \
                node in self.insights.jobs:
            raise unknown_path(edge)
        raise missing_object(node)

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
        """A change of access as an admin makes it (PeopleEdges.change_access); cached pages
        are dropped. What Business Settings could not do changes nothing: the reason."""
        refused = self.people.change_access(command, params)
        if refused is None:
            with self._lock:
                self._pages.clear()
        return refused

    def touch(self, kind: str, count: int) -> list[str]:
        """Bump `count` objects of `kind` (see Dataset.touch); cached pages are dropped."""
        touched = self.data.touch(kind, count)
        with self._lock:
            self._pages.clear()
        return touched

    def truth(self, *, include_archived: bool = False, insights_since: str | None = None,
              partners: tuple[str, ...] = ()) -> dict[str, set[tuple[str, ...]]]:
        """The primary keys a complete sync of every business must emit, per stream, each
        family's own (ads_insights: from `insights_since`, else the 28 days before the
        account's today, through its today; the partner streams: of the `partners` whose
        tokens it holds)."""
        out: dict[str, set[tuple[str, ...]]] = {}

        def add(stream: str, *key: str) -> None:
            out.setdefault(stream, set()).add(tuple(key))

        scope = TruthScope(include_archived, insights_since, partners)
        for family in self.families:
            family.truth(add, scope)
        return out

    def access_truth(self) -> dict[tuple[str, str, str, str], str]:
        return self.people.access_truth()

    def partner_access_truth(self, partners: tuple[str, ...]
                             ) -> dict[tuple[str, str, str, str], str]:
        return self.people.partner_access_truth(partners)
