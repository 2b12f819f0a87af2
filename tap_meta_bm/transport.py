"""One request to Graph: sessions, credentials on the wire, sending, and reading the answer.

The token travels in the `Authorization: Bearer` header, and in the POST body of a Batch API
call (Meta's batch reference: the body's `access_token` is what the sub-requests run as);
never in a URL. With an app secret, every request carries the `appsecret_proof` of the token
that travels. Nothing here decides what a failure means (recovery.py) or when to send
(governor.py): the client (graph.py) asks, this sends.
"""

from __future__ import annotations

import email.utils
import errno
import hashlib
import hmac
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
import urllib3

from tap_meta_bm.batch import batch_form, form_encode
from tap_meta_bm.edges import EdgeRead

RETRIABLE_TRANSPORT_ERRORS = (
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
#: How requests reports what urllib3 raises while a body is read (`Response.iter_content`).
_BODY_ERRORS: tuple[tuple[type[Exception], type[requests.RequestException]], ...] = (
    (urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError),
    (urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError),
    (urllib3.exceptions.ReadTimeoutError, requests.exceptions.ConnectionError),
    (urllib3.exceptions.SSLError, requests.exceptions.SSLError),
)


@dataclass(frozen=True)
class Endpoint:
    """Where Graph is and how long the tap waits for it: what a message about a host that
    does not answer names."""

    api_url: str
    api_version: str
    timeout: float
    connect_timeout: float

    @property
    def url_base(self) -> str:
        return f"{self.api_url}/{self.api_version}"

    @property
    def host(self) -> str:
        return urlsplit(self.api_url).netloc

    @property
    def hostname(self) -> str:
        return str(urlsplit(self.api_url).hostname)

    @property
    def port(self) -> int:
        parts = urlsplit(self.api_url)
        return parts.port or (443 if parts.scheme == "https" else 80)


class Transport:
    """Thread-safe: a session per thread, nothing else that changes but Graph's clock."""

    def __init__(self, endpoint: Endpoint, *, access_token: str, app_secret: str | None,
                 user_agent: str) -> None:
        self.endpoint = endpoint
        self.url_base = endpoint.url_base
        self._token = access_token
        self._app_secret = app_secret
        self._user_agent = user_agent
        self._sessions = threading.local()
        self.appsecret_proof = self.proof_for(access_token)
        #: Graph's clock less this machine's, from the first answer's `Date` header.
        self._clock_offset: float | None = None

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

    def prepare(self, read: EdgeRead, query: dict[str, str], token: str | None = None
                ) -> requests.PreparedRequest:
        """`read`'s request with `query`, as `token` sends it (None: the system user's)."""
        proof = self.appsecret_proof if token is None else self.proof_for(token)
        if proof:
            query["appsecret_proof"] = proof  # the proof is of the token that travels
        headers = {"Authorization": f"Bearer {token or self._token}",
                   "User-Agent": self._user_agent}
        prepared = requests.PreparedRequest()
        if read.method == "POST":
            prepared.prepare(method="POST", url=f"{self.url_base}{read.path}", data=query,
                             headers=headers)
            return prepared
        # Graph's own form: `fields=id,name,...`; percent-encoding every comma sent the field
        # list through Python's per-character quoting, the costliest step of a request.
        prepared.prepare(method="GET", url=f"{self.url_base}{read.path}?"
                                           f"{urlencode(query, safe=',')}", headers=headers)
        return prepared

    def prepare_batch(self, first_pages: list[requests.PreparedRequest]
                      ) -> requests.PreparedRequest:
        """A Batch API call of the system user's first pages: its token in the header and, as
        the sub-requests need it, in the form (batch.batch_form)."""
        form = form_encode(batch_form(first_pages, self.url_base, self.appsecret_proof,
                                      self._token))
        request = requests.PreparedRequest()
        request.prepare(method="POST", url=f"{self.url_base}/", data=form, headers={
            "Authorization": f"Bearer {self._token}", "User-Agent": self._user_agent,
            "Content-Type": "application/x-www-form-urlencoded"})
        return request

    def send(self, request: requests.PreparedRequest) -> requests.Response:
        endpoint = self.endpoint
        return send_and_read(self.session, request,
                             (endpoint.connect_timeout, endpoint.timeout))

    def graph_time(self, local: float) -> float:
        """A moment of this machine's clock in Graph's: the calendar of a run (which days
        insights read, when a bookmark is settled) is Meta's, not a skewed local clock's.
        Unchanged until Graph has answered once."""
        return local + (self._clock_offset or 0.0)

    def learn_clock(self, response: requests.Response) -> None:
        if self._clock_offset is not None:
            return
        try:
            sent = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError, IndexError):
            return
        self._clock_offset = sent.timestamp() - time.time()


def sent_query(request: requests.PreparedRequest) -> dict[str, str]:
    """What a request asked: its URL's query, or a POST's form (a report job's parameters)."""
    return dict(parse_qsl(str(request.body or "") if request.method == "POST"
                          else urlsplit(str(request.url)).query))


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

