"""Graph API error envelope -> one classification, and the exceptions the tap raises.

Meta documents that error *messages* change; codes and subcodes do not. So every decision
here is made on `error.code` / `error.error_subcode` / `is_transient`, never on the HTTP status
(400, 403, 429 and 500 all carry the same codes). Three answers share their code with others
and differ only in their text, so they are recognised by it, each as narrowly as the answers
seen allow:
- "reduce the amount of data" (codes 1, 2 and 100, no stable subcode of its own in the cases
  seen); its wording has been stable for a decade and retrying it unchanged can never succeed;
- "Tried accessing nonexisting field (x)" (code 100): Graph stopped reading a field, as it does
  with every version; the request succeeds without it;
- "must be called with a Page Access Token" (code 190, no subcode) and "A page access token is
  required" (code 210): the token is fine, the edge wants the Page's own token instead.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

import msgspec
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError


class Action(enum.Enum):
    """What the tap does about one failed response."""

    TOKEN = "token"  # stop the run: the token itself is bad
    SKIP = "skip"  # skip this asset's edge, carry on with the others
    THROTTLE = "throttle"  # stop calling the throttled object until its block passes
    SHRINK = "shrink"  # halve `limit` for this edge and send again
    RETRY = "retry"  # transient: bounded exponential backoff with jitter
    REQUEST = "request"  # our request is wrong (field, parameter, version): stop
    DROP_FIELD = "drop_field"  # Graph no longer reads a field asked for: ask without it
    PAGE_TOKEN = "page_token"  # this Page edge wants the Page's own token: get it, send again


TOKEN_CODES = frozenset({190, 102, 104})
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
#: Throttles that bind the whole app or token, not the one object the request touched.
APP_WIDE_THROTTLE_CODES = frozenset({4, 341})
TRANSIENT_CODES = frozenset({1, 2})
#: An api_version Graph no longer serves: "(#2635) You are calling a deprecated version of the
#: Ads API. Please update to the latest version: vNN.N." (a request error; the client names
#: the setting to change).
DEPRECATED_VERSION_CODE = 2635
REQUEST_BUG_CODES = frozenset({100, 2500, DEPRECATED_VERSION_CODE})
OBJECT_MISSING_OR_DENIED = (100, 33)
REDUCE_DATA_SUBCODES = frozenset({99, 1487534})
REDUCE_DATA_TEXT = "reduce the amount of data"
NONEXISTING_FIELD = re.compile(r"nonexisting field \(([^()\s]+)\)")
#: How insights refuse a metric Meta retired (facts sheet 3, Insights answers): "(#100) cpp is
#: not valid for fields param" or "(#100) a, b are not valid for fields param".
NOT_VALID_FIELDS = re.compile(r"\(#100\) ([\w, ]+?) (?:is|are) not valid for fields param")
PAGE_TOKEN_TEXT = "page access token"
PAGE_TOKEN_CODES = frozenset({190, 210})
#: How Graph may refuse the system user's token on a Page edge that wants the Page's own
#: (Meta's page/assigned_users reference asks for a Page token): token (190, any subcode),
#: permission (10, 200) and "user not visible" (210) errors.
PAGE_EDGE_REFUSAL_CODES = frozenset({10, 190, 200, 210})

_TOKEN_SUBCODES = {
    458: "the app is not installed for this user",
    459: "the user is checkpointed",
    460: "the password changed",
    463: "the token has expired",
    464: "the user is unconfirmed",
    467: "the token is invalid or was revoked",
    492: "the session is invalid",
}


@dataclass(frozen=True, slots=True)
class GraphError:
    """One failed Graph response, classified."""

    action: Action
    http_status: int
    code: int | None = None
    subcode: int | None = None
    message: str = ""
    user_message: str = ""
    fbtrace_id: str | None = None
    #: The field Graph named, for DROP_FIELD (several, comma-separated, for retired metrics).
    field: str | None = None

    @property
    def reference(self) -> str:
        """`code 190/463, fbtrace_id ABC` — enough for Meta support, nothing secret."""
        code = "no code" if self.code is None else f"code {self.code}"
        if self.subcode is not None:
            code += f"/{self.subcode}"
        trace = f", fbtrace_id {self.fbtrace_id}" if self.fbtrace_id else ""
        return f"HTTP {self.http_status}, {code}{trace}"

    def describe(self, where: str, hint: str | None = None) -> str:
        """One line for a log or an exception: what happened, where, and what to do (`hint`:
        what this edge in particular needs, when a refusal is likely to lack it)."""
        detail = self.user_message or self.message
        if self.action is Action.TOKEN:
            reason = _TOKEN_SUBCODES.get(self.subcode or 0, "the token was rejected")
            return (
                f"Meta rejected the access token ({reason}: {detail}) [{self.reference}]. "
                "Generate a new system-user token in Business Settings > System users and "
                "update access_token."
            )
        if self.action is Action.SKIP:
            return (
                f"no access to {where}: {detail} [{self.reference}]. " + (hint or (
                    "The token's system user needs the asset assigned with a task that allows "
                    "reading it, and the app needs business_management / ads_read."))
            )
        if self.action is Action.PAGE_TOKEN:
            return (
                f"{where} wants a Page access token: {detail} [{self.reference}]. The tap "
                "gets one for Page edges only; elsewhere this is a request bug."
            )
        if self.action in (Action.REQUEST, Action.DROP_FIELD):
            return (
                f"Graph refused the request for {where}: {detail} [{self.reference}]. "
                "Check the field, parameter or api_version it names."
            )
        return f"{where}: {hint}" if hint else f"{where}: {detail} [{self.reference}]"


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _action_for(code: int | None, subcode: int | None, message: str, transient: bool,
                http_status: int) -> Action:
    if code in PAGE_TOKEN_CODES and subcode is None and PAGE_TOKEN_TEXT in message.lower():
        return Action.PAGE_TOKEN
    if code in TOKEN_CODES:
        return Action.TOKEN
    if subcode in REDUCE_DATA_SUBCODES or (
        code in {1, 2, 100} and REDUCE_DATA_TEXT in message.lower()
    ):
        return Action.SHRINK
    if code == 100 and (NONEXISTING_FIELD.search(message) or NOT_VALID_FIELDS.search(message)):
        return Action.DROP_FIELD
    if code in THROTTLE_CODES:
        return Action.THROTTLE
    if code == 10 or (code is not None and 200 <= code <= 299) or (
        (code, subcode) == OBJECT_MISSING_OR_DENIED
    ):
        return Action.SKIP
    if transient or code in TRANSIENT_CODES:
        return Action.RETRY
    if code in REQUEST_BUG_CODES:
        return Action.REQUEST
    return Action.RETRY if http_status >= 500 else Action.REQUEST


def parse_body(body: bytes | str | None) -> Any:
    """The JSON in a Graph body (or header), or None when it is not JSON at all.

    msgspec, the SDK's own JSON library, decodes a page in half the time `json` takes, and
    every record of a sync is decoded once here (or by an edge's own `EdgePolicy.decode`).
    """
    if not body:
        return None
    try:
        return msgspec.json.decode(body)
    except ValueError:  # msgspec.DecodeError, or UnicodeDecodeError for bytes not UTF-8
        return None


def classify_graph_error(http_status: int, payload: Any) -> GraphError | None:
    """Classify one Graph response from its status and parsed body; None means success.

    `payload` is the parsed JSON body (see `parse_body`); None stands for a body that was not
    JSON, which Graph sends when a front end fails (e.g. a 200 "Service Unavailable").
    """
    if not isinstance(payload, dict):
        if 400 <= http_status < 500:  # not Graph answering: a wrong api_url or a proxy
            return GraphError(Action.REQUEST, http_status, message=(
                f"HTTP {http_status} with a body that is not JSON: is api_url a Graph API?"))
        return GraphError(Action.RETRY, http_status, message="response body is not JSON")
    envelope = payload.get("error")
    if envelope is None:
        if http_status >= 400:
            return GraphError(
                Action.RETRY if http_status >= 500 else Action.REQUEST,
                http_status,
                message=f"HTTP {http_status} without a Graph error envelope",
            )
        return None
    if not isinstance(envelope, dict):
        envelope = {"message": str(envelope)}
    code = _as_int(envelope.get("code"))
    subcode = _as_int(envelope.get("error_subcode"))
    message = str(envelope.get("message") or "")
    transient = envelope.get("is_transient") is True
    action = _action_for(code, subcode, message, transient, http_status)
    named = (NONEXISTING_FIELD.search(message) or NOT_VALID_FIELDS.search(message)) \
        if action is Action.DROP_FIELD else None
    return GraphError(
        action=action,
        http_status=http_status,
        code=code,
        subcode=subcode,
        message=message,
        user_message=str(envelope.get("error_user_msg") or ""),
        fbtrace_id=str(envelope["fbtrace_id"]) if envelope.get("fbtrace_id") else None,
        field=named.group(1).replace(" ", "") if named else None,
    )


class TapMetaBMError(Exception):
    """An error the user can act on; `main` prints it as one line and exits non-zero."""


class ConfigError(TapMetaBMError):
    """A setting is missing or malformed; raised before any request is sent."""


class GraphFatalError(TapMetaBMError, FatalAPIError):
    """Token rejected, request malformed, or a fault that outlasted its retries."""

    def __init__(self, error: GraphError, where: str, message: str | None = None) -> None:
        super().__init__(message or error.describe(where))
        self.error = error


class GraphUnreachableError(GraphFatalError):
    """No answer from api_url's host at all: refused, unknown, or silent past its timeouts."""


class GraphRetriableError(RetriableAPIError):
    """A response worth sending again: transient, throttled or too large."""

    def __init__(self, error: GraphError, where: str) -> None:
        super().__init__(error.describe(where))
        self.error = error


class AssetSkipped(Exception):
    """The token cannot read this asset's edge; the run goes on without it."""

    def __init__(self, error: GraphError, where: str, hint: str | None = None) -> None:
        super().__init__(error.describe(where, hint))
        self.error = error
